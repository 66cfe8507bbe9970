//! Components, configurations and rows: spec §3.6/§7, tokens §4.4–4.5, events §5.4.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const WR: &str = "/v2/storage/components/keboola.wr-storage/configs";

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    app.post(WR, token, body).await.expect(201).body
}

#[tokio::test]
async fn a_token_without_component_access_cannot_list_or_configure_components() {
    let app = spawn_app().await;
    let config = create(&app, &app.admin, json!({"name": "c"})).await;
    let (secret, _) = app.create_token(json!({})).await;
    app.get("/v2/storage/components", &secret).await.expect_error(403, "accessDenied");
    app.post(WR, &secret, json!({"name": "x"})).await.expect_error(403, "accessDenied");
    app.post(&format!("{WR}/{}/rows", config["id"].as_str().unwrap()), &secret, json!({"name": "r"}))
        .await
        .expect_error(403, "accessDenied");
}

#[tokio::test]
async fn component_access_opens_exactly_one_component_and_takes_effect_at_once() {
    let app = spawn_app().await;
    create(&app, &app.admin, json!({"name": "other-config"})).await;
    let (secret, body) = app.create_token(json!({"componentAccess": ["keboola.ex-storage"]})).await;
    let listed = app.get("/v2/storage/components", &secret).await.expect(200).body;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], "keboola.ex-storage");
    assert_eq!(listed[0]["configurations"], json!([]));
    let ex = "/v2/storage/components/keboola.ex-storage/configs";
    let config = app.post(ex, &secret, json!({"name": "mine"})).await.expect(201).body;
    let path = format!("{ex}/{}", config["id"].as_str().unwrap());
    app.get(&path, &secret).await.expect(200);
    app.put(&path, &secret, json!({"name": "renamed"})).await.expect(200);
    app.delete(&path, &secret).await.expect(204);
    app.get(&path, &secret).await.expect_error(404, "storage.configuration.notFound");
    app.get(WR, &secret).await.expect_error(403, "accessDenied");
    app.post(WR, &secret, json!({"name": "x"})).await.expect_error(403, "accessDenied");
    let token_path = format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap());
    app.put(&token_path, &app.admin, json!({"componentAccess": ["keboola.wr-storage"]})).await.expect(200);
    app.get(WR, &secret).await.expect(200);
    app.get(ex, &secret).await.expect_error(403, "accessDenied");
}

#[tokio::test]
async fn a_manage_buckets_token_configures_any_component() {
    let app = spawn_app().await;
    let (secret, _) = app.create_token(json!({"canManageBuckets": true})).await;
    create(&app, &secret, json!({"name": "any"})).await;
    app.post("/v2/storage/components/keboola.ex-storage/configs", &secret, json!({"name": "x"})).await.expect(201);
}

#[tokio::test]
async fn a_read_only_member_reads_configurations_but_cannot_change_them() {
    let app = spawn_app().await;
    let config = create(&app, &app.admin, json!({"name": "c"})).await;
    let read_only = app.member_token("ro@example.com", "readOnly").await;
    app.get("/v2/storage/components", &read_only).await.expect(200);
    let path = format!("{WR}/{}", config["id"].as_str().unwrap());
    app.get(&path, &read_only).await.expect(200);
    app.post(WR, &read_only, json!({"name": "x"})).await.expect_error(403, "accessDenied");
    app.put(&path, &read_only, json!({"name": "x"})).await.expect_error(403, "accessDenied");
    app.delete(&path, &read_only).await.expect_error(403, "accessDenied");
}

#[tokio::test]
async fn a_deleted_configuration_goes_to_the_trash_and_purging_needs_can_purge_trash() {
    let app = spawn_app().await;
    let (secret, body) = app.create_token(json!({"canManageBuckets": true})).await;
    let config = create(&app, &secret, json!({"name": "trashy"})).await;
    let path = format!("{WR}/{}", config["id"].as_str().unwrap());
    app.delete(&path, &secret).await.expect(204);
    app.get(&path, &secret).await.expect_error(404, "storage.configuration.notFound");
    let trash = app.get(&format!("{WR}?isDeleted=true"), &secret).await.expect(200).body;
    assert_eq!(trash[0]["isDeleted"], true);
    app.delete(&path, &secret).await.expect_error(403, "accessDenied");
    let restored = app.post(&format!("{path}/restore"), &secret, json!({})).await.expect(200).body;
    assert_eq!(restored["isDeleted"], false);
    app.get(&path, &secret).await.expect(200);
    app.delete(&path, &secret).await.expect(204);
    let token_path = format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap());
    app.put(&token_path, &app.admin, json!({"canPurgeTrash": true})).await.expect(200);
    app.delete(&path, &secret).await.expect(204);
    assert_eq!(app.get(&format!("{WR}?isDeleted=true"), &secret).await.body, json!([]));
    let names: Vec<String> = app.events("").await.iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    assert!(names.contains(&"storage.componentConfigurationPurged".to_string()));
    assert!(names.contains(&"storage.componentConfigurationRestored".to_string()));
}

#[tokio::test]
async fn secret_values_are_sealed_at_rest_and_never_shown() {
    let app = spawn_app().await;
    let secret = "target-token-value-0123456789";
    let config = create(
        &app,
        &app.admin,
        json!({"name": "w", "configuration": {"parameters": {"#token": secret, "url": "http://x"}}}),
    )
    .await;
    let sealed = config["configuration"]["parameters"]["#token"].as_str().unwrap().to_string();
    assert!(sealed.starts_with("KBC::ConfigSecure::"), "{sealed}");
    assert_eq!(config["configuration"]["parameters"]["url"], "http://x");
    let path = format!("{WR}/{}", config["id"].as_str().unwrap());
    let detail = app.get(&path, &app.admin).await.expect(200);
    assert!(!detail.text.contains(secret));
    // Sending the ciphertext back unchanged keeps it and is not a change.
    let same =
        app.put(&path, &app.admin, json!({"configuration": detail.body["configuration"]})).await.expect(200).body;
    assert_eq!(same["version"], 1);
    assert_eq!(same["configuration"]["parameters"]["#token"], json!(sealed));
    // A new secret in place of the sealed one is a change, even when nothing else differs.
    let replaced = app
        .put(
            &path,
            &app.admin,
            json!({"configuration": {"parameters": {"#token": "another-token", "url": "http://x"}}}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(replaced["version"], 2);
    let resealed = replaced["configuration"]["parameters"]["#token"].as_str().unwrap();
    assert!(resealed.starts_with("KBC::ConfigSecure::") && resealed != sealed, "{resealed}");
    let detail = app.get(&path, &app.admin).await.expect(200);
    assert_eq!(detail.body["configuration"]["parameters"]["#token"], resealed, "the new secret was stored");
    let row = app
        .post(
            &format!("{path}/rows"),
            &app.admin,
            json!({"name": "r", "configuration": {"parameters": {"#password": secret}}}),
        )
        .await
        .expect(201);
    assert!(!row.text.contains(secret));
    let events = app.get("/v2/storage/events", &app.admin).await.expect(200);
    assert!(!events.text.contains(secret));
    let data = app.data_dir.path().join("data");
    let mut leaks = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && std::fs::read(&path).unwrap().windows(secret.len()).any(|w| w == secret.as_bytes()) {
            leaks.push(path);
        }
    }
    assert!(leaks.is_empty(), "secret stored in plain text: {leaks:?}");
}

#[tokio::test]
async fn every_real_change_bumps_the_version_and_a_no_op_records_nothing() {
    let app = spawn_app().await;
    let config = create(&app, &app.admin, json!({"name": "v", "configuration": {"a": 1}})).await;
    assert_eq!(config["version"], 1);
    let path = format!("{WR}/{}", config["id"].as_str().unwrap());
    let changed = app
        .put(&path, &app.admin, json!({"configuration": {"a": 2}, "changeDescription": "bump"}))
        .await
        .expect(200)
        .body;
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["currentVersion"]["changeDescription"], "bump");
    let before = app.events("q=event:storage.componentConfigurationChanged").await.len();
    let same = app.put(&path, &app.admin, json!({"configuration": {"a": 2}})).await.expect(200).body;
    assert_eq!(same["version"], 2);
    assert_eq!(app.events("q=event:storage.componentConfigurationChanged").await.len(), before);
    let row = app.post(&format!("{path}/rows"), &app.admin, json!({"name": "r"})).await.expect(201).body;
    assert_eq!(row["version"], 1);
    assert_eq!(app.get(&path, &app.admin).await.body["version"], 3);
    let row_path = format!("{path}/rows/{}", row["id"].as_str().unwrap());
    let row = app.put(&row_path, &app.admin, json!({"isDisabled": true})).await.expect(200).body;
    assert_eq!((row["version"].clone(), row["isDisabled"].clone()), (json!(2), json!(true)));
    assert_eq!(app.get(&path, &app.admin).await.body["version"], 4);
}

#[tokio::test]
async fn configuration_events_carry_keboolas_names_messages_and_params() {
    let app = spawn_app().await;
    let config = create(&app, &app.admin, json!({"name": "Nightly"})).await;
    let id = config["id"].as_str().unwrap().to_string();
    app.post(&format!("{WR}/{id}/rows"), &app.admin, json!({"name": "orders"})).await.expect(201);
    let events = app.events("").await;
    let row_event = &events[0];
    assert_eq!(row_event["event"], "storage.componentConfigurationRowCreated");
    assert_eq!(row_event["message"], "Created component configuration row \"orders\" (keboola.wr-storage)");
    assert_eq!(row_event["objectType"], "componentConfigurationRow");
    assert_eq!(row_event["params"]["configuration"]["configurationId"], json!(id));
    let created = &events[1];
    assert_eq!(created["event"], "storage.componentConfigurationCreated");
    assert_eq!(created["message"], "Created component configuration \"Nightly\" (keboola.wr-storage)");
    assert_eq!(created["objectType"], "componentConfiguration");
    assert_eq!(created["objectId"], json!(id));
    assert_eq!(
        created["params"],
        json!({"component": "keboola.wr-storage", "configurationId": id, "name": "Nightly", "version": 1})
    );
}

#[tokio::test]
async fn rows_follow_rows_sort_order_which_must_name_every_row() {
    let app = spawn_app().await;
    let config = create(&app, &app.admin, json!({"name": "ordered"})).await;
    let path = format!("{WR}/{}", config["id"].as_str().unwrap());
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        ids.push(
            app.post(&format!("{path}/rows"), &app.admin, json!({"name": name})).await.expect(201).body["id"].clone(),
        );
    }
    let order = json!([ids[2], ids[0], ids[1]]);
    let updated = app.put(&path, &app.admin, json!({"rowsSortOrder": order})).await.expect(200).body;
    let names: Vec<_> = updated["rows"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["c", "a", "b"]);
    app.put(&path, &app.admin, json!({"rowsSortOrder": [ids[0]]}))
        .await
        .expect_error(400, "storage.configuration.validation");
    let rows = app.get(&format!("{path}/rows"), &app.admin).await.expect(200).body;
    assert_eq!(rows[0]["name"], "c");
    app.delete(&format!("{path}/rows/{}", ids[2].as_str().unwrap()), &app.admin).await.expect(204);
    assert_eq!(app.get(&path, &app.admin).await.body["rowsSortOrder"], json!([ids[0], ids[1]]));
}

#[tokio::test]
async fn the_component_list_shows_configuration_rows_and_state_only_when_included() {
    let app = spawn_app().await;
    create(&app, &app.admin, json!({"name": "c", "configuration": {"x": 1}, "state": {"s": 1}})).await;
    let plain = app.get("/v2/storage/components", &app.admin).await.expect(200).body;
    let summary = &plain[0]["configurations"][0];
    for hidden in ["configuration", "rows", "state"] {
        assert!(summary.get(hidden).is_none(), "{hidden}");
    }
    for field in ["id", "name", "type", "uri", "configurations", "flags", "data"] {
        assert!(plain[0].get(field).is_some(), "{field}");
    }
    let full = app
        .get("/v2/storage/branch/default/components?include=configuration,rows,state", &app.admin)
        .await
        .expect(200)
        .body;
    let summary = &full[0]["configurations"][0];
    assert_eq!(summary["configuration"], json!({"x": 1}));
    assert_eq!(summary["state"], json!({"s": 1}));
    assert_eq!(summary["rows"], json!([]));
}

#[tokio::test]
async fn state_is_set_without_a_new_version_and_metadata_has_no_provider() {
    let app = spawn_app().await;
    let config = create(&app, &app.admin, json!({"name": "s"})).await;
    let path = format!("{WR}/{}", config["id"].as_str().unwrap());
    let after = app.put(&format!("{path}/state"), &app.admin, json!({"state": {"last": 5}})).await.expect(200).body;
    assert_eq!(after["state"], json!({"last": 5}));
    assert_eq!(after["version"], 1);
    let metadata =
        app.post(&format!("{path}/metadata"), &app.admin, json!({"metadata": [{"key": "k", "value": "v"}]})).await;
    let metadata = metadata.expect(201).body;
    assert_eq!(metadata[0]["key"], "k");
    assert!(metadata[0].get("provider").is_none());
    assert_eq!(app.get(&format!("{path}/metadata"), &app.admin).await.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_configuration_requests_get_precise_400s_and_unknown_components_404() {
    let app = spawn_app().await;
    app.get("/v2/storage/components/-not-an-id/configs", &app.admin)
        .await
        .expect_error(404, "storage.components.notFound");
    app.post(WR, &app.admin, json!({})).await.expect_error(400, "storage.configuration.validation");
    app.post(WR, &app.admin, json!({"name": "x", "configuration": "not json"}))
        .await
        .expect_error(400, "storage.configuration.validation");
    app.post(WR, &app.admin, json!({"name": "x", "configurationId": "bad id!"}))
        .await
        .expect_error(400, "storage.configuration.validation");
    create(&app, &app.admin, json!({"name": "x", "configurationId": "fixed"})).await;
    app.post(WR, &app.admin, json!({"name": "y", "configurationId": "fixed"}))
        .await
        .expect_error(400, "storage.configuration.alreadyExists");
    let huge = "x".repeat(4 * 1024 * 1024 + 1);
    app.post(WR, &app.admin, json!({"name": "big", "configuration": {"blob": huge}}))
        .await
        .expect_error(400, "storage.configuration.validation");
    app.get(&format!("{WR}/fixed/rows/404"), &app.admin).await.expect_error(404, "storage.configurationRow.notFound");
}

#[tokio::test]
async fn components_declared_in_the_stack_configuration_store_configurations() {
    let app = spawn_app_with(|config| {
        config.components = vec![stowage_core::ComponentDef {
            id: "acme.ex-api".into(),
            name: "ACME".into(),
            kind: "extractor".into(),
            runnable: false,
        }];
    })
    .await;
    app.post("/v2/storage/components/acme.ex-api/configs", &app.admin, json!({"name": "kept"})).await.expect(201);
    let listed = app.get("/v2/storage/components?componentType=extractor", &app.admin).await.expect(200).body;
    assert_eq!(listed[0]["id"], "acme.ex-api");
    assert_eq!(listed[0]["hasRun"], false);
}

#[tokio::test]
async fn any_component_keeps_configurations_and_running_one_the_stack_cannot_run_is_a_400() {
    let app = spawn_app().await;
    let path = "/v2/storage/components/keboola.runner-config-test/configs";
    // Unknown until it has a configuration, as Keboola answers for an id its portal does not list.
    app.get(path, &app.admin).await.expect_error(404, "storage.components.notFound");
    let created = app
        .post(path, &app.admin, json!({"name": "Test", "configuration": {"parameters": {"#secret": "s", "n": 1}}}))
        .await
        .expect(201)
        .body;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(created["configuration"]["parameters"]["#secret"].as_str().unwrap().starts_with("KBC::ConfigSecure::"));
    let row = app.post(&format!("{path}/{id}/rows"), &app.admin, json!({"name": "r"})).await.expect(201).body;
    assert_eq!(row["name"], "r");
    app.put(&format!("{path}/{id}/state"), &app.admin, json!({"state": {"at": 1}})).await.expect(200);

    let component = app.get("/v2/storage/components/keboola.runner-config-test", &app.admin).await.expect(200).body;
    assert_eq!(
        (component["id"].as_str(), component["type"].as_str()),
        (Some("keboola.runner-config-test"), Some("other"))
    );
    assert_eq!(component["configurations"][0]["id"], id.as_str());
    let listed = app.get("/v2/storage/components", &app.admin).await.expect(200).body;
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"keboola.runner-config-test"), "{ids:?}");

    let run = app
        .post(
            "/queue/jobs",
            &app.admin,
            json!({"component": "keboola.runner-config-test", "config": id, "mode": "run"}),
        )
        .await;
    let run = run.expect_error(400, "storage.configuration.validation");
    assert!(run.message().contains("does not run component \"keboola.runner-config-test\""), "{}", run.message());
    assert!(run.message().contains("keboola.wr-storage"), "{}", run.message());

    app.delete(&format!("{path}/{id}"), &app.admin).await.expect(204);
    assert_eq!(app.get(path, &app.admin).await.expect(200).body, json!([]), "its configuration is in the trash");
    app.post(&format!("{path}/{id}/restore"), &app.admin, json!({})).await.expect(200);
    assert_eq!(app.get(path, &app.admin).await.body[0]["id"], id.as_str());
}

#[tokio::test]
async fn every_version_is_kept_and_can_be_shown_rolled_back_to_and_copied() {
    let app = spawn_app().await;
    let config = create(&app, &app.admin, json!({"name": "v1", "configuration": {"a": 1, "#s": "secret"}})).await;
    let path = format!("{WR}/{}", config["id"].as_str().unwrap());
    let row = app.post(&format!("{path}/rows"), &app.admin, json!({"name": "r", "configuration": {"x": 1}})).await;
    let row = row.expect(201).body["id"].as_str().unwrap().to_string();
    app.put(&path, &app.admin, json!({"name": "v3", "configuration": {"a": 3}, "changeDescription": "third"}))
        .await
        .expect(200);
    app.put(&format!("{path}/rows/{row}"), &app.admin, json!({"configuration": {"x": 4}})).await.expect(200);
    app.put(&format!("{path}/state"), &app.admin, json!({"state": {"cursor": 9}})).await.expect(200);

    let versions = app.get(&format!("{path}/versions"), &app.admin).await.expect(200).body;
    let numbers: Vec<i64> = versions.as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, vec![4, 3, 2, 1], "newest first; a state change makes no version");
    assert_eq!(versions[1]["changeDescription"], "third");
    assert_eq!(versions[0]["creatorToken"]["id"].to_string(), TestApp::token_id(&app.admin));
    let first = app.get(&format!("{path}/versions/1"), &app.admin).await.expect(200).body;
    assert_eq!((first["name"].as_str(), first["configuration"]["a"].as_i64()), (Some("v1"), Some(1)));
    assert!(
        first["configuration"]["#s"].as_str().unwrap().starts_with("KBC::ConfigSecure::"),
        "sealed in versions too"
    );
    assert_eq!(first["rows"], json!([]));
    let second = app.get(&format!("{path}/versions/2"), &app.admin).await.expect(200).body;
    assert_eq!(second["rows"][0]["configuration"], json!({"x": 1}));
    app.get(&format!("{path}/versions/99"), &app.admin)
        .await
        .expect_error(404, "storage.configurationVersion.notFound");

    let rolled = app.post(&format!("{path}/versions/2/rollback"), &app.admin, json!({})).await.expect(201).body;
    assert_eq!((rolled["version"].as_i64(), rolled["name"].as_str()), (Some(5), Some("v1")));
    assert_eq!(rolled["configuration"]["a"], 1);
    assert_eq!(rolled["changeDescription"], "Rollback to version 2");
    assert_eq!(rolled["rows"][0]["configuration"], json!({"x": 1}));
    assert_eq!(rolled["state"], json!({"cursor": 9}), "a rollback leaves the state");
    let events = app.events("q=event:storage.componentConfigurationRolledBack").await;
    assert_eq!(events[0]["params"]["sourceConfiguration"]["version"], 2);

    let copy = app.post(&format!("{path}/versions/3/create"), &app.admin, json!({"name": "copied"})).await;
    let copy = copy.expect(201).body;
    assert_ne!(copy["id"], config["id"]);
    assert_eq!((copy["name"].as_str(), copy["version"].as_i64()), (Some("copied"), Some(1)));
    assert_eq!(copy["configuration"]["a"], 3);
    assert_eq!(copy["rows"][0]["name"], "r");
    let copied = app.get(&format!("{WR}/{}/versions", copy["id"].as_str().unwrap()), &app.admin).await.body;
    assert_eq!(copied.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_rows_versions_are_listed_shown_rolled_back_to_and_copied() {
    let app = spawn_app().await;
    let configs = "/v2/storage/components/keboola.runner-config-test/configs";
    let config = app.post(configs, &app.admin, json!({"name": "versioned"})).await.expect(201).body;
    let config = config["id"].as_str().unwrap().to_string();
    let rows = format!("{configs}/{config}/rows");
    let body = json!({"name": "first", "configuration": {"parameters": {"n": 1}}});
    let row = app.post(&rows, &app.admin, body).await.expect(201).body["id"].as_str().unwrap().to_string();
    let body = json!({"name": "second", "configuration": {"parameters": {"n": 2}}, "changeDescription": "n is 2"});
    app.put(&format!("{rows}/{row}"), &app.admin, body).await.expect(200);

    let versions = format!("{rows}/{row}/versions");
    let listed = app.get(&versions, &app.admin).await.expect(200).body;
    let numbers: Vec<i64> = listed.as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [2, 1], "newest first");
    assert_eq!(listed[0]["changeDescription"], "n is 2");
    assert_eq!(listed[0]["name"], "second");
    assert!(listed[0].get("configuration").is_none(), "the list leaves the configuration out");
    let first = app.get(&format!("{versions}/1"), &app.admin).await.expect(200).body;
    assert_eq!(
        (first["name"].clone(), first["configuration"].clone()),
        (json!("first"), json!({"parameters": {"n": 1}}))
    );

    let rolled = app.post(&format!("{versions}/1/rollback"), &app.admin, json!({})).await.expect(201).body;
    assert_eq!(rolled["version"], 3);
    assert_eq!(rolled["configuration"], json!({"parameters": {"n": 1}}));
    assert_eq!(rolled["changeDescription"], format!("Rollback of row {row} to version 1"));

    let copied = app.post(&format!("{versions}/2/create"), &app.admin, json!({})).await.expect(201).body;
    assert_ne!(copied["id"], json!(row));
    assert_eq!((copied["version"].clone(), copied["name"].clone()), (json!(1), json!("second")));
    let other = app.post(configs, &app.admin, json!({"name": "target"})).await.expect(201).body;
    let other = other["id"].as_str().unwrap();
    let body = json!({"targetConfigId": other, "changeDescription": "brought over"});
    let moved = app.post(&format!("{versions}/1/create"), &app.admin, body).await.expect(201).body;
    let target_rows = app.get(&format!("{configs}/{other}/rows"), &app.admin).await.expect(200).body;
    assert_eq!(target_rows[0]["id"], moved["id"]);
    assert_eq!(target_rows[0]["configuration"], json!({"parameters": {"n": 1}}));

    app.get(&format!("{versions}/9"), &app.admin).await.expect_error(404, "storage.configurationVersion.notFound");
    app.get(&format!("{rows}/nope/versions"), &app.admin).await.expect_error(404, "storage.configurationRow.notFound");
}
