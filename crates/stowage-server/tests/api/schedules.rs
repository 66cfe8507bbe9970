//! Schedules: a `keboola.scheduler` configuration activated through `/scheduler/schedules`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_reaching_loopback, spawn_app_with, TestApp};

const WRITER: &str = "keboola.wr-storage";

/// A stack that looks for due schedules every 100 ms and may reach stacks on this machine.
async fn automated_stack() -> TestApp {
    spawn_app_with(|config| {
        config.automation_interval = Duration::from_millis(100);
        config.outbound_allow = vec!["127.0.0.1".into()];
    })
    .await
}

async fn configuration(app: &TestApp, component: &str, body: Value) -> String {
    let path = format!("/v2/storage/components/{component}/configs");
    app.post(&path, &app.admin, body).await.expect(201).body["id"].as_str().unwrap().to_string()
}

/// A scheduler configuration that runs `target` of the writer at `cron_tab`.
async fn scheduler(app: &TestApp, cron_tab: &str, target: &str) -> String {
    let settings = json!({"schedule": {"cronTab": cron_tab, "timezone": "Europe/Prague", "state": "enabled"},
        "target": {"componentId": WRITER, "configurationId": target, "mode": "run"}});
    configuration(app, "keboola.scheduler", json!({"name": "every second", "configuration": settings})).await
}

/// The writer's runs of a configuration, newest first.
async fn runs_of(app: &TestApp, config: &str) -> Vec<Value> {
    let jobs = app.get(&format!("/queue/jobs?component={WRITER}&config={config}"), &app.admin).await.expect(200).body;
    jobs.as_array().unwrap().clone()
}

/// Waits until the configuration has at least `count` runs, the newest finished; returns it.
async fn wait_for_runs(app: &TestApp, config: &str, count: usize) -> Value {
    for _ in 0..300 {
        let runs = runs_of(app, config).await;
        if runs.len() >= count && runs[0]["isFinished"] == true {
            return runs[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("configuration {config} did not get {count} finished runs");
}

#[tokio::test]
async fn a_schedule_a_second_apart_keeps_a_writer_in_sync_and_never_runs_twice_at_once() {
    let (source, target) = (automated_stack().await, spawn_app_reaching_loopback().await);
    let bucket = source.create_bucket("scheduled").await;
    source.create_table(&bucket, "orders", "id,total\n1,10\n", &["id"]).await;
    let into = target.create_bucket("from-schedule").await;
    let (write, _) = target.create_token(json!({"bucketPermissions": {&into: "write"}})).await;
    let writer = configuration(
        &source,
        WRITER,
        json!({"name": "sync", "configuration": {"parameters": {"url": target.url, "#token": write}}}),
    )
    .await;
    let row = json!({"name": "orders", "configuration": {
        "storage": {"input": {"tables": [{"source": format!("{bucket}.orders"), "destination": "orders"}]}},
        "parameters": {"mode": "update"}}});
    source
        .post(&format!("/v2/storage/components/{WRITER}/configs/{writer}/rows"), &source.admin, row)
        .await
        .expect(201);
    let (_, runner) = source
        .create_token(json!({"description": "schedule runner", "componentAccess": [WRITER],
            "bucketPermissions": {&bucket: "read"}}))
        .await;
    let runner_id = runner["id"].as_str().unwrap().to_string();

    let config = scheduler(&source, "* * * * * *", &writer).await;
    let body = json!({"configurationId": config, "runWithTokenId": runner_id});
    let schedule = source.post("/scheduler/schedules", &source.admin, body).await.expect(201).body;
    assert_eq!(schedule["configurationId"], config);
    assert_eq!(schedule["tokenId"], runner_id);
    assert_eq!(
        schedule["schedule"],
        json!({"cronTab": "* * * * * *", "timezone": "Europe/Prague", "state": "enabled"})
    );
    assert_eq!(
        schedule["target"],
        json!({"componentId": WRITER, "configurationId": writer,
        "configurationRowIds": [], "mode": "run"})
    );
    assert!(schedule["nextRun"].as_str().is_some(), "{schedule}");
    let id = schedule["id"].as_str().unwrap().to_string();

    let run = wait_for_runs(&source, &writer, 1).await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["token"]["id"], runner_id);
    assert_eq!(target.get(&format!("/v2/storage/tables/{into}.orders"), &target.admin).await.body["rowsCount"], 1);
    source.import(&format!("{bucket}.orders"), "id,total\n2,20\n", json!({"incremental": true})).await;
    for _ in 0..200 {
        if target.get(&format!("/v2/storage/tables/{into}.orders"), &target.admin).await.body["rowsCount"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(target.get(&format!("/v2/storage/tables/{into}.orders"), &target.admin).await.body["rowsCount"], 2);

    // The last run made to look as if another server still ran it: the schedule skips its turns.
    let detail = source.get(&format!("/scheduler/schedules/{id}"), &source.admin).await.expect(200).body;
    let last = detail["executions"][0]["jobId"].as_str().unwrap().to_string();
    let held = format!(
        "UPDATE jobs SET status = 'processing', lease_owner = 'elsewhere/1', lease_expires = 4102444800 WHERE id = {last}"
    );
    source.execute_on_catalog(&held);
    let before = runs_of(&source, &writer).await.len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(runs_of(&source, &writer).await.len(), before, "no second run while the first has not ended");
    let events = source.get("/v2/storage/events?limit=500", &source.admin).await.expect(200).body;
    let skipped = events.as_array().unwrap().iter().find(|e| e["event"] == "storage.scheduleSkipped").cloned();
    let skipped = skipped.unwrap_or_else(|| panic!("a skipped turn is recorded: {events}"));
    let message = skipped["message"].as_str().unwrap();
    assert!(message.contains(&format!("its previous run (job {last}) has not ended")), "{message}");
    source.execute_on_catalog(&format!("UPDATE jobs SET status = 'success', lease_owner = NULL WHERE id = {last}"));
    wait_for_runs(&source, &writer, before + 1).await;

    source.delete(&format!("/scheduler/schedules/{id}"), &source.admin).await.expect(204);
    source.get(&format!("/scheduler/schedules/{id}"), &source.admin).await.expect_error(404, "scheduler.notFound");
}

#[tokio::test]
async fn runs_a_stopped_stack_missed_make_one_run_not_one_each() {
    let app = automated_stack().await;
    let writer = configuration(&app, WRITER, json!({"name": "hourly"})).await;
    let config = scheduler(&app, "0 * * * *", &writer).await;
    let schedule = app.post("/scheduler/schedules", &app.admin, json!({"configurationId": config})).await.expect(201);
    let id = schedule.body["id"].as_str().unwrap().to_string();
    // Ten hourly turns in the past, as after a stop of ten hours.
    app.execute_on_catalog(&format!("UPDATE schedules SET next_run = next_run - 36000 WHERE id = {id}"));
    let run = wait_for_runs(&app, &writer, 1).await;
    assert_eq!(run["token"]["id"], json!(TestApp::token_id(&app.admin)), "the activating token runs it");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(runs_of(&app, &writer).await.len(), 1, "one run for ten missed turns");
    let detail = app.get(&format!("/scheduler/schedules/{id}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["executions"][0]["jobId"], run["id"]);
    let next = detail["nextRun"].as_str().unwrap().to_string();
    assert!(next.as_str() > detail["executions"][0]["executionTime"].as_str().unwrap(), "{detail}");
    assert!(next.ends_with(":00:00+0000"), "the next whole hour: {next}");
}

#[tokio::test]
async fn a_schedule_is_refused_with_a_precise_message_for_each_mistake() {
    let app = spawn_app().await;
    let writer = configuration(&app, WRITER, json!({"name": "target"})).await;
    let activate = |config: String| {
        let app = &app;
        async move { app.post("/scheduler/schedules", &app.admin, json!({"configurationId": config})).await }
    };
    let bad = |schedule: Value, target: Value| {
        let app = &app;
        async move {
            let body = json!({"name": "bad", "configuration": {"schedule": schedule, "target": target}});
            configuration(app, "keboola.scheduler", body).await
        }
    };
    let target = json!({"componentId": WRITER, "configurationId": writer});

    let reply = activate(bad(json!({"cronTab": "61 * * * *"}), target.clone()).await).await;
    let message = reply.expect_error(400, "scheduler.validation").message().to_string();
    assert!(message.starts_with("Invalid configuration - schedule.cronTab \"61 * * * *\""), "{message}");
    let reply = activate(bad(json!({"cronTab": "0 * * * *", "timezone": "Nowhere/Else"}), target.clone()).await).await;
    reply.expect_error(400, "scheduler.validation");
    let reply = activate(bad(json!({"cronTab": "0 * * * *"}), json!({"configurationId": writer})).await).await;
    assert_eq!(
        reply.expect_error(400, "scheduler.validation").message(),
        "Invalid configuration - target.componentId: this value is required."
    );
    let elsewhere = json!({"componentId": "keboola.ex-db-mysql", "configurationId": "1"});
    let reply = activate(bad(json!({"cronTab": "0 * * * *"}), elsewhere).await).await;
    let message = reply.expect_error(400, "scheduler.validation").message().to_string();
    assert!(message.contains("this stack does not run component \"keboola.ex-db-mysql\""), "{message}");
    let missing = json!({"componentId": WRITER, "configurationId": "999999"});
    activate(bad(json!({"cronTab": "0 * * * *"}), missing).await)
        .await
        .expect_error(404, "storage.configuration.notFound");
    activate("424242".into()).await.expect_error(404, "storage.configuration.notFound");
    let reply = app.post("/scheduler/schedules", &app.admin, json!({})).await;
    reply.expect_error(400, "scheduler.validation");

    let good = bad(json!({"cronTab": "0 6 * * 1-5"}), target.clone()).await;
    let read_only = app.member_token("schedule-viewer@example.com", "readOnly").await;
    let reply = app.post("/scheduler/schedules", &read_only, json!({"configurationId": good})).await;
    assert_eq!(
        reply.expect_error(403, "accessDenied").message(),
        "Schedule manipulation is restricted for your user role \"readOnly\"."
    );
    let (_, runner) = app.create_token(json!({"componentAccess": [WRITER]})).await;
    let runner_id = runner["id"].as_str().unwrap().to_string();
    let body = json!({"configurationId": good, "runWithTokenId": runner_id});
    let schedule = app.post("/scheduler/schedules", &app.admin, body).await.expect(201).body;
    assert_eq!(app.get("/scheduler/schedules", &read_only).await.expect(200).body.as_array().unwrap().len(), 1);
    let refused = app.delete(&format!("/v2/storage/tokens/{runner_id}"), &app.admin).await;
    let message = refused.expect_error(400, "storage.tokens.cannotDeleteDueToOrchestration").message().to_string();
    assert!(message.contains(&format!("used for schedule {}", schedule["id"].as_str().unwrap())), "{message}");
}
