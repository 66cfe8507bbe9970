//! Triggers: the API as Keboola's clients call it, and a writer kept in sync by one.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_reaching_loopback, spawn_app_with, Payload, TestApp};

/// A stack that looks for due triggers every 100 ms and may reach stacks on this machine.
async fn automated_stack() -> TestApp {
    spawn_app_with(|config| {
        config.automation_interval = Duration::from_millis(100);
        config.outbound_allow = vec!["127.0.0.1".into()];
    })
    .await
}

/// The component jobs of a configuration, newest first.
async fn runs_of(app: &TestApp, config: &str) -> Vec<Value> {
    let jobs = app.get("/queue/jobs?component=keboola.wr-storage", &app.admin).await.expect(200).body;
    jobs.as_array().unwrap().iter().filter(|job| job["config"] == config).cloned().collect()
}

/// Waits until the configuration has `count` runs, the newest finished; returns the newest.
async fn wait_for_runs(app: &TestApp, config: &str, count: usize) -> Value {
    for _ in 0..300 {
        let runs = runs_of(app, config).await;
        if runs.len() == count && runs[0]["isFinished"] == true {
            let id = runs[0]["id"].as_str().unwrap();
            return app.get(&format!("/queue/jobs/{id}"), &app.admin).await.expect(200).body;
        }
        assert!(runs.len() <= count, "more runs than expected: {runs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("configuration {config} did not get {count} finished runs");
}

/// Gives the automation several rounds to act, for checks that it did not.
async fn several_rounds() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}

#[tokio::test]
async fn a_trigger_keeps_a_writer_in_sync_once_every_watched_table_was_imported_to() {
    let (source, target) = (automated_stack().await, spawn_app_reaching_loopback().await);
    let bucket = source.create_bucket("sales").await;
    source.create_table(&bucket, "orders", "id,total\n1,10\n", &["id"]).await;
    source.create_table(&bucket, "customers", "id,name\n1,Ann\n", &["id"]).await;
    let into = target.create_bucket("from-source").await;
    let (write, _) = target.create_token(json!({"bucketPermissions": {&into: "write"}})).await;

    let configs = "/v2/storage/components/keboola.wr-storage/configs";
    let body = json!({"name": "sync", "configuration": {"parameters": {"url": target.url, "#token": write}}});
    let config = source.post(configs, &source.admin, body).await.expect(201).body["id"].as_str().unwrap().to_string();
    for name in ["orders", "customers"] {
        let row = json!({"name": name, "configuration": {
            "storage": {"input": {"tables": [{"source": format!("{bucket}.{name}"), "destination": name}]}},
            "parameters": {"mode": "replace"},
        }});
        source.post(&format!("{configs}/{config}/rows"), &source.admin, row).await.expect(201);
    }
    let (_, runner) = source
        .create_token(json!({"description": "sync runner", "componentAccess": ["keboola.wr-storage"],
            "bucketPermissions": {&bucket: "read"}}))
        .await;
    let runner_id = runner["id"].as_str().unwrap().to_string();
    let body = json!({"runWithTokenId": runner_id.parse::<i64>().unwrap(), "component": "keboola.wr-storage",
        "configurationId": config, "coolDownPeriodMinutes": 1,
        "tableIds": [format!("{bucket}.orders"), format!("{bucket}.customers")]});
    let trigger = source.post("/v2/storage/triggers", &source.admin, body).await.expect(201).body;
    let trigger_id = trigger["id"].as_str().unwrap().to_string();

    // Creating a trigger counts as its last run: the cool-down holds the first run too.
    source.import(&format!("{bucket}.orders"), "id,total\n2,20\n", json!({"incremental": true})).await;
    source.import(&format!("{bucket}.customers"), "id,name\n2,Bob\n", json!({"incremental": true})).await;
    several_rounds().await;
    assert!(runs_of(&source, &config).await.is_empty(), "the cool-down holds the run");
    cool_down_passes(&source);
    let run = wait_for_runs(&source, &config, 1).await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["token"]["id"], runner_id, "the run is the trigger's token's: {run}");
    let orders = target.get(&format!("/v2/storage/tables/{into}.orders"), &target.admin).await.expect(200).body;
    assert_eq!(orders["rowsCount"], 2);
    assert_eq!(target.get(&format!("/v2/storage/tables/{into}.customers"), &target.admin).await.body["rowsCount"], 2);
    let events = source.get(&format!("/v2/storage/tokens/{runner_id}/events"), &source.admin).await.expect(200).body;
    let fired = events.as_array().unwrap().iter().find(|e| e["event"] == "storage.triggerFired").cloned();
    let fired = fired.unwrap_or_else(|| panic!("the runner's events show the firing: {events}"));
    assert_eq!(fired["objectId"], trigger_id);
    assert_eq!(fired["params"]["jobId"], run["id"]);
    let after = source.get(&format!("/v2/storage/triggers/{trigger_id}"), &source.admin).await.expect(200).body;
    assert!(after["lastRun"].as_str() >= trigger["lastRun"].as_str(), "{after}");

    // One of the two tables imported to, the cool-down passed: no run until the other is too.
    source.import(&format!("{bucket}.orders"), "id,total\n3,30\n", json!({"incremental": true})).await;
    cool_down_passes(&source);
    several_rounds().await;
    assert_eq!(runs_of(&source, &config).await.len(), 1, "one of two watched tables imported to: no run");
    source.import(&format!("{bucket}.customers"), "id,name\n3,Cid\n", json!({"incremental": true})).await;
    let run = wait_for_runs(&source, &config, 2).await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(target.get(&format!("/v2/storage/tables/{into}.orders"), &target.admin).await.body["rowsCount"], 3);
    cool_down_passes(&source);
    several_rounds().await;
    assert_eq!(runs_of(&source, &config).await.len(), 2, "a trigger fires once for a set of imports");
}

/// Moves every trigger's last run back by its cool-down, as if that had passed.
fn cool_down_passes(app: &TestApp) {
    app.execute_on_catalog("UPDATE triggers SET last_run = last_run - cool_down_minutes * 60");
}

#[tokio::test]
async fn a_trigger_whose_configuration_is_in_the_trash_records_why_it_did_not_run() {
    let app = automated_stack().await;
    let bucket = app.create_bucket("watched").await;
    app.create_table(&bucket, "t", "id\n1\n", &[]).await;
    let configs = "/v2/storage/components/keboola.wr-storage/configs";
    let config = app.post(configs, &app.admin, json!({"name": "gone"})).await.expect(201).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, runner) = app.create_token(json!({"componentAccess": ["keboola.wr-storage"]})).await;
    let body = json!({"runWithTokenId": runner["id"], "component": "keboola.wr-storage", "configurationId": config,
        "coolDownPeriodMinutes": 5, "tableIds": [format!("{bucket}.t")]});
    let trigger = app.post("/v2/storage/triggers", &app.admin, body).await.expect(201).body;
    app.delete(&format!("{configs}/{config}"), &app.admin).await.expect(204);
    app.import(&format!("{bucket}.t"), "id\n2\n", json!({})).await;
    cool_down_passes(&app);
    for _ in 0..100 {
        let events = app.get("/v2/storage/events", &app.admin).await.expect(200).body;
        if let Some(skipped) = events.as_array().unwrap().iter().find(|e| e["event"] == "storage.triggerSkipped") {
            assert_eq!(skipped["objectId"], trigger["id"]);
            let message = skipped["message"].as_str().unwrap();
            assert!(message.contains(&format!("configuration \"{config}\" is in the trash")), "{message}");
            assert!(runs_of(&app, &config).await.is_empty());
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no triggerSkipped event");
}

#[tokio::test]
async fn triggers_are_created_listed_updated_and_deleted_as_keboolas_clients_do_it() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("api").await;
    app.create_table(&bucket, "one", "id\n1\n", &[]).await;
    app.create_table(&bucket, "two", "id\n1\n", &[]).await;
    let (_, runner) = app.create_token(json!({"bucketPermissions": {&bucket: "read"}})).await;
    let runner_id: i64 = runner["id"].as_str().unwrap().parse().unwrap();
    let body = json!({"runWithTokenId": runner_id, "component": "orchestrator", "configurationId": 123,
        "coolDownPeriodMinutes": 10, "tableIds": [format!("{bucket}.one")]});
    let created = app.post("/v2/storage/triggers", &app.admin, body).await.expect(201).body;
    assert_eq!(created["runWithTokenId"], runner_id, "a number, unlike the token id in verify");
    assert_eq!(created["component"], "orchestrator");
    assert_eq!(created["configurationId"], "123");
    assert_eq!(created["coolDownPeriodMinutes"], 10);
    assert_eq!(created["tables"], json!([{"tableId": format!("{bucket}.one")}]));
    let verify = app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200).body;
    assert_eq!(created["creatorToken"], json!({"id": verify["id"], "description": verify["description"]}));
    assert!(created["lastRun"].as_str().is_some_and(|at| at.ends_with("+0000")), "{created}");
    let id = created["id"].as_str().unwrap().to_string();

    // An update sends only what changes, as form strings.
    let path = format!("/v2/storage/triggers/{id}");
    let form = format!("coolDownPeriodMinutes=100&tableIds%5B%5D={bucket}.two&tableIds%5B%5D={bucket}.one");
    let updated = app.call(reqwest::Method::PUT, &path, Some(&app.admin), Payload::Form(form)).await.expect(200);
    assert_eq!(updated.body["coolDownPeriodMinutes"], 100);
    assert_eq!(updated.body["configurationId"], "123");
    assert_eq!(
        updated.body["tables"],
        json!([{"tableId": format!("{bucket}.two")}, {"tableId": format!("{bucket}.one")}])
    );
    assert_eq!(app.get(&path, &app.admin).await.expect(200).body, updated.body);

    let other = json!({"runWithTokenId": runner_id, "component": "keboola.ex-other", "configurationId": "7",
        "coolDownPeriodMinutes": 1, "tableIds": [format!("{bucket}.two")]});
    app.post("/v2/storage/triggers", &app.admin, other).await.expect(201);
    assert_eq!(app.get("/v2/storage/triggers", &app.admin).await.expect(200).body.as_array().unwrap().len(), 2);
    let filtered = app.get("/v2/storage/triggers?component=orchestrator&configurationId=123", &app.admin).await;
    assert_eq!(
        filtered.expect(200).body.as_array().unwrap().iter().map(|t| &t["id"]).collect::<Vec<_>>(),
        [&json!(id)]
    );

    // The token a trigger runs as cannot be deleted while the trigger stands.
    let token_path = format!("/v2/storage/tokens/{runner_id}");
    let refused =
        app.delete(&token_path, &app.admin).await.expect_error(400, "storage.tokens.cannotDeleteDueToOrchestration");
    assert_eq!(
        refused.message(),
        "Cannot delete token, because it's used for event trigger inside component \"orchestrator\" with configuration id \"123\""
    );
    app.delete(&path, &app.admin).await.expect(204);
    app.get(&path, &app.admin).await.expect_error(404, "storage.triggers.notFound");
    let all = app.get("/v2/storage/triggers", &app.admin).await.expect(200).body;
    for trigger in all.as_array().unwrap() {
        app.delete(&format!("/v2/storage/triggers/{}", trigger["id"].as_str().unwrap()), &app.admin).await.expect(204);
    }
    app.delete(&token_path, &app.admin).await.expect(204);
}

#[tokio::test]
async fn a_trigger_is_refused_with_keboolas_messages_for_each_mistake() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("refused").await;
    app.create_table(&bucket, "t", "id\n1\n", &[]).await;
    let (_, runner) = app.create_token(json!({"bucketPermissions": {&bucket: "read"}})).await;
    let valid = json!({"runWithTokenId": runner["id"], "component": "keboola.orchestrator", "configurationId": "1",
        "coolDownPeriodMinutes": 10, "tableIds": [format!("{bucket}.t")]});
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    let post = |token: String, body: Value| {
        let app = &app;
        async move { app.post("/v2/storage/triggers", &token, body).await }
    };
    let admin = app.admin.clone();

    for key in ["component", "configurationId", "coolDownPeriodMinutes", "runWithTokenId", "tableIds"] {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(key);
        let reply = post(admin.clone(), body).await.expect_error(400, "storage.triggers.validation");
        assert_eq!(reply.message(), format!("Missing required query parameter(s) \"{key}\""));
    }
    let reply = post(admin.clone(), with("coolDownPeriodMinutes", json!(0))).await;
    assert_eq!(
        reply.expect_error(400, "storage.triggers.validation").message(),
        "Minimal cool down period is 1 minute"
    );
    let (_, expiring) = app.create_token(json!({"expiresIn": 3600})).await;
    let reply = post(admin.clone(), with("runWithTokenId", expiring["id"].clone())).await;
    assert_eq!(
        reply.expect_error(400, "storage.triggers.validation").message(),
        "The 'runByToken' has expiration set. Use token without expiration."
    );
    let reply = post(admin.clone(), with("runWithTokenId", json!(987654))).await;
    assert_eq!(reply.expect_error(404, "storage.tokens.notFound").message(), "Token with id \"987654\" was not found.");
    let reply = post(admin.clone(), with("tableIds", json!([format!("{bucket}.missing")]))).await;
    reply.expect_error(404, "storage.tables.notFound");
    let reply = post(admin.clone(), with("coolDownPeriodMinutes", json!("soon"))).await;
    reply.expect(400);

    let (manager, _) = app.create_token(json!({"canManageBuckets": true})).await;
    let admin_id = app.get("/v2/storage/tokens/verify", &admin).await.body["id"].clone();
    let reply = post(manager.clone(), with("runWithTokenId", admin_id)).await;
    assert_eq!(
        reply.expect_error(400, "storage.triggers.validation").message(),
        "The 'runByToken' cannot be admin's token when your main token is not admin's"
    );
    post(manager, valid.clone()).await.expect(201);
    let (unrelated, _) =
        app.create_token(json!({"bucketPermissions": {&bucket: "read"}, "componentAccess": ["keboola.wr-db"]})).await;
    let reply = post(unrelated, valid.clone()).await.expect_error(403, "accessDenied");
    assert_eq!(reply.message(), "Your token does not have sufficient privilege.");
    let (narrow, _) = app
        .create_token(json!({"bucketPermissions": {&bucket: "read"}, "componentAccess": ["keboola.orchestrator"]}))
        .await;
    let (_, wide) = app.create_token(json!({"bucketPermissions": {&bucket: "write"}})).await;
    let reply = post(narrow, with("runWithTokenId", wide["id"].clone())).await;
    let message = reply.expect_error(400, "storage.triggers.validation").message().to_string();
    assert!(
        message.contains("has permissions your token does not have"),
        "runs never reach further than their maker: {message}"
    );
    let (blind, _) = app.create_token(json!({"componentAccess": ["keboola.orchestrator"]})).await;
    let reply = post(blind, valid.clone()).await.expect_error(403, "accessDenied");
    assert_eq!(reply.message(), "You don't have access to the resource.");
    let read_only = app.member_token("viewer@example.com", "readOnly").await;
    let reply = post(read_only.clone(), valid.clone()).await.expect_error(403, "accessDenied");
    assert_eq!(reply.message(), "Trigger manipulation is restricted for your user role \"readOnly\".");
    assert_eq!(app.get("/v2/storage/triggers", &read_only).await.expect(200).body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_token_sees_only_the_triggers_whose_tables_it_can_read() {
    let app = spawn_app().await;
    let watched = app.create_bucket("watched").await;
    let other = app.create_bucket("other").await;
    app.create_table(&watched, "secret", "id\n1\n", &[]).await;
    let (_, runner) = app.create_token(json!({"bucketPermissions": {&watched: "read"}})).await;
    let body = json!({"runWithTokenId": runner["id"], "component": "orchestrator", "configurationId": 1,
        "coolDownPeriodMinutes": 10, "tableIds": [format!("{watched}.secret")]});
    let id =
        app.post("/v2/storage/triggers", &app.admin, body).await.expect(201).body["id"].as_str().unwrap().to_string();
    let (outsider, _) = app.create_token(json!({"bucketPermissions": {&other: "read"}})).await;
    let (nobody, _) = app.create_token(json!({})).await;
    let (reader, _) = app.create_token(json!({"bucketPermissions": {&watched: "read"}})).await;
    for token in [&outsider, &nobody] {
        let listed = app.get("/v2/storage/triggers", token).await.expect(200);
        assert_eq!(listed.body, json!([]), "the table's id must not show: {}", listed.text);
        app.get(&format!("/v2/storage/triggers/{id}"), token).await.expect_error(404, "storage.triggers.notFound");
    }
    let listed = app.get("/v2/storage/triggers", &reader).await.expect(200).body;
    assert_eq!(listed[0]["tables"], json!([{"tableId": format!("{watched}.secret")}]));
    app.get(&format!("/v2/storage/triggers/{id}"), &reader).await.expect(200);
    assert_eq!(app.get("/v2/storage/triggers", &app.admin).await.expect(200).body.as_array().unwrap().len(), 1);
}
