//! The writer and the extractor moving tables between two stacks.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app_reaching_loopback, TestApp};

/// Starts a component job and waits for it to end.
pub(crate) async fn run_job(app: &TestApp, component: &str, config: &str, rows: &[&str]) -> Value {
    let body = json!({"component": component, "config": config, "mode": "run", "configRowIds": rows});
    let job = app.post("/queue/jobs", &app.admin, body).await.expect(201).body;
    let id = job["id"].as_str().unwrap().to_string();
    for _ in 0..600 {
        let job = app.get(&format!("/queue/jobs/{id}"), &app.admin).await.expect(200).body;
        if job["isFinished"] == true {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

async fn config(app: &TestApp, component: &str, root: Value) -> String {
    let path = format!("/v2/storage/components/{component}/configs");
    app.post(&path, &app.admin, json!({"name": "transfer", "configuration": root})).await.expect(201).body["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn row(app: &TestApp, component: &str, config: &str, body: Value) -> String {
    let path = format!("/v2/storage/components/{component}/configs/{config}/rows");
    app.post(&path, &app.admin, body).await.expect(201).body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_writer_moves_a_table_and_the_extractor_brings_it_back() {
    let a = spawn_app_reaching_loopback().await;
    let b = spawn_app_reaching_loopback().await;
    let source = a.create_bucket("src").await;
    a.create_table(&source, "people", "id,name\n1,a\n2,b\n3,c\n", &["id"]).await;
    let target = b.create_bucket("target").await;
    let (write_token, _) = b.create_token(json!({"bucketPermissions": {&target: "write"}})).await;

    let writer = config(&a, "keboola.wr-storage", json!({"parameters": {"url": b.url, "#token": write_token}})).await;
    row(&a, "keboola.wr-storage", &writer, json!({
        "name": "people",
        "configuration": {"storage": {"input": {"tables": [{"source": "in.c-src.people", "destination": "people"}]}}, "parameters": {"mode": "replace"}}
    }))
    .await;
    let job = run_job(&a, "keboola.wr-storage", &writer, &[]).await;
    assert_eq!(job["status"], "success", "{job}");
    let messages: Vec<&str> =
        job["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.starts_with("Authorized for project \"Main\"")), "{messages:?}");
    assert!(!job.to_string().contains(&write_token));
    let copied = b.get(&format!("/v2/storage/tables/{target}.people"), &b.admin).await.expect(200).body;
    assert_eq!(copied["rowsCount"], 3);
    assert_eq!(copied["primaryKey"], json!(["id"]));

    let (read_token, _) = b.create_token(json!({"bucketPermissions": {&target: "read"}})).await;
    let extractor = config(&a, "keboola.ex-storage", json!({"parameters": {"url": b.url, "#token": read_token}})).await;
    row(
        &a,
        "keboola.ex-storage",
        &extractor,
        json!({"name": "people", "configuration": {"parameters": {"tableName": "people", "fullSync": true}}}),
    )
    .await;
    let job = run_job(&a, "keboola.ex-storage", &extractor, &[]).await;
    assert_eq!(job["status"], "success", "{job}");
    let back = a
        .get(&format!("/v2/storage/tables/in.c-keboola-ex-storage-{extractor}.people"), &a.admin)
        .await
        .expect(200)
        .body;
    assert_eq!(back["rowsCount"], 3);
    assert_eq!(back["primaryKey"], json!(["id"]));
    assert_eq!(
        a.preview(&format!("in.c-keboola-ex-storage-{extractor}.people"), "").await,
        "\"id\",\"name\"\n\"1\",\"a\"\n\"2\",\"b\"\n\"3\",\"c\"\n"
    );
}

/// Two stacks: A with a source bucket, B with a target bucket and tokens for it.
struct Pair {
    a: TestApp,
    b: TestApp,
    target: String,
    write_token: String,
}

async fn pair() -> Pair {
    let a = spawn_app_reaching_loopback().await;
    let b = spawn_app_reaching_loopback().await;
    a.create_bucket("src").await;
    let target = b.create_bucket("target").await;
    let (write_token, _) = b.create_token(json!({"bucketPermissions": {&target: "write"}})).await;
    Pair { a, b, target, write_token }
}

impl Pair {
    async fn writer(&self, token: &str) -> String {
        config(&self.a, "keboola.wr-storage", json!({"parameters": {"url": self.b.url, "#token": token}})).await
    }

    async fn writer_row(&self, config_id: &str, source: &str, destination: &str, parameters: Value) -> String {
        let table = json!({"source": source, "destination": destination});
        self.writer_row_with(config_id, table, parameters).await
    }

    async fn writer_row_with(&self, config_id: &str, table: Value, parameters: Value) -> String {
        let body = json!({"name": table["destination"], "configuration": {"storage": {"input": {"tables": [table]}}, "parameters": parameters}});
        row(&self.a, "keboola.wr-storage", config_id, body).await
    }

    async fn target_preview(&self, name: &str) -> String {
        self.b.preview(&format!("{}.{name}", self.target), "").await
    }

    async fn target_table(&self, name: &str) -> Value {
        self.b.get(&format!("/v2/storage/tables/{}.{name}", self.target), &self.b.admin).await.body
    }
}

fn error_of(job: &Value) -> String {
    assert_eq!(job["status"], "error", "{job}");
    job["result"]["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_writer_creates_replaces_updates_and_recreates_target_tables() {
    let p = pair().await;
    p.a.create_table("in.c-src", "t", "id,name\n1,a\n2,b\n", &["id"]).await;
    p.a.create_table("in.c-src", "log", "msg\nx\n", &[]).await;
    let writer = p.writer(&p.write_token).await;
    let replace = p.writer_row(&writer, "in.c-src.t", "t", json!({"mode": "replace"})).await;
    let append = p.writer_row(&writer, "in.c-src.log", "log", json!({"mode": "update"})).await;
    assert_eq!(run_job(&p.a, "keboola.wr-storage", &writer, &[]).await["status"], "success");
    assert_eq!(p.target_preview("t").await, "\"id\",\"name\"\n\"1\",\"a\"\n\"2\",\"b\"\n");
    // A new table is loaded once, even in update mode without a key (the original loaded it twice).
    assert_eq!(p.target_preview("log").await, "\"msg\"\n\"x\"\n");

    p.a.import("in.c-src.t", "id,name\n3,c\n", json!({"incremental": 0})).await;
    assert_eq!(run_job(&p.a, "keboola.wr-storage", &writer, &[&replace]).await["status"], "success");
    assert_eq!(p.target_preview("t").await, "\"id\",\"name\"\n\"3\",\"c\"\n");
    assert_eq!(run_job(&p.a, "keboola.wr-storage", &writer, &[&append]).await["status"], "success");
    assert_eq!(p.target_preview("log").await, "\"msg\"\n\"x\"\n\"x\"\n");

    // Recreate resets a target whose structure no longer matches.
    p.b.create_table(&p.target, "wide", "id,boo\n1,z\n", &["id"]).await;
    p.a.create_table("in.c-src", "wide", "id,name\n7,n\n", &["name"]).await;
    let mismatch = p.writer_row(&writer, "in.c-src.wide", "wide", json!({"mode": "replace"})).await;
    let message = error_of(&run_job(&p.a, "keboola.wr-storage", &writer, &[&mismatch]).await);
    assert_eq!(message, "Primary key in the destination table \"wide\" - [\"id\"] does not match the primary key in the source table - [\"name\"].");
    let recreate = p.writer_row(&writer, "in.c-src.wide", "wide", json!({"mode": "recreate"})).await;
    assert_eq!(run_job(&p.a, "keboola.wr-storage", &writer, &[&recreate]).await["status"], "success");
    let wide = p.target_table("wide").await;
    assert_eq!(wide["columns"], json!(["id", "name"]));
    assert_eq!(wide["primaryKey"], json!(["name"]));
}

#[tokio::test]
async fn the_legacy_incremental_flag_appends_and_a_structure_mismatch_passes_storages_message() {
    let p = pair().await;
    p.b.create_table(&p.target, "t", "id,name\n1,foo\n4,foobar\n", &[]).await;
    p.a.create_table("in.c-src", "t", "id,name\n1,Bar\n2,Kochba\n3,Foo\n", &[]).await;
    let writer = p.writer(&p.write_token).await;
    let legacy = p.writer_row(&writer, "in.c-src.t", "t", json!({"incremental": true})).await;
    assert_eq!(run_job(&p.a, "keboola.wr-storage", &writer, &[&legacy]).await["status"], "success");
    assert_eq!(p.target_table("t").await["rowsCount"], 5);

    p.b.create_table(&p.target, "boo", "id,boo\n1,x\n", &["id"]).await;
    p.a.create_table("in.c-src", "boo", "id,name\n1,y\n", &["id"]).await;
    let wrong = p.writer_row(&writer, "in.c-src.boo", "boo", json!({"incremental": false})).await;
    let message = error_of(&run_job(&p.a, "keboola.wr-storage", &writer, &[&wrong]).await);
    assert!(
        message
            .starts_with("Some columns are missing in the csv file. Missing columns: boo. Expected columns: id,boo."),
        "{message}"
    );
    assert_eq!(p.target_preview("boo").await, "\"id\",\"boo\"\n\"1\",\"x\"\n");
}

#[tokio::test]
async fn an_adaptive_update_moves_only_rows_changed_since_the_last_successful_run() {
    let p = pair().await;
    p.a.create_table("in.c-src", "t", "id,v\n1,a\n2,b\n", &["id"]).await;
    let writer = p.writer(&p.write_token).await;
    let table = json!({"source": "in.c-src.t", "destination": "t", "changed_since": "adaptive"});
    p.writer_row_with(&writer, table, json!({"mode": "update"})).await;
    // Times have one-second resolution and the marker is inclusive (a row written in the second of
    // the previous run is sent again, which an update makes harmless): let that second pass.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(run_job(&p.a, "keboola.wr-storage", &writer, &[]).await["status"], "success");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    p.a.import("in.c-src.t", "id,v\n2,changed\n", json!({"incremental": 1})).await;
    assert_eq!(run_job(&p.a, "keboola.wr-storage", &writer, &[]).await["status"], "success");
    assert_eq!(p.target_preview("t").await, "\"id\",\"v\"\n\"1\",\"a\"\n\"2\",\"changed\"\n");
    let imports = p.b.events("q=event:storage.tableImportDone").await;
    assert_eq!(imports[0]["params"]["rowsInFile"], 1, "the second run sent only the changed row");
}

#[tokio::test]
async fn disabled_rows_are_skipped_rows_run_in_order_and_one_row_runs_alone() {
    let p = pair().await;
    for name in ["one", "two", "three"] {
        p.a.create_table("in.c-src", name, "x\n1\n", &[]).await;
    }
    let writer = p.writer(&p.write_token).await;
    let one = p.writer_row(&writer, "in.c-src.one", "one", json!({})).await;
    let two = p.writer_row(&writer, "in.c-src.two", "two", json!({})).await;
    let three = p.writer_row(&writer, "in.c-src.three", "three", json!({})).await;
    let config_path = format!("/v2/storage/components/keboola.wr-storage/configs/{writer}");
    p.a.put(&format!("{config_path}/rows/{two}"), &p.a.admin, json!({"isDisabled": true})).await.expect(200);
    p.a.put(&config_path, &p.a.admin, json!({"rowsSortOrder": [three, two, one]})).await.expect(200);
    let job = run_job(&p.a, "keboola.wr-storage", &writer, &[]).await;
    let processed: Vec<String> = job["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str().filter(|m| m.starts_with("Processing")).map(str::to_string))
        .collect();
    assert_eq!(processed, ["Processing table \"three\".", "Processing table \"one\"."]);
    p.b.get(&format!("/v2/storage/tables/{}.two", p.target), &p.b.admin)
        .await
        .expect_error(404, "storage.tables.notFound");
    let single = run_job(&p.a, "keboola.wr-storage", &writer, &[&two]).await;
    assert_eq!(single["status"], "success");
    assert_eq!(single["configRowIds"], json!([two]));
    p.b.get(&format!("/v2/storage/tables/{}.two", p.target), &p.b.admin).await.expect(200);
}

#[tokio::test]
async fn every_wrong_token_fails_with_the_specs_message_and_writes_nothing() {
    let p = pair().await;
    p.a.create_table("in.c-src", "t", "x\n1\n", &[]).await;
    let other = p.b.create_bucket("other").await;
    let (two_buckets, _) = p.b.create_token(json!({"bucketPermissions": {&p.target: "write", &other: "read"}})).await;
    let (read_only, _) = p.b.create_token(json!({"bucketPermissions": {&p.target: "read"}})).await;
    let (manage_all, _) = p.b.create_token(json!({"canManageBuckets": true})).await;
    let (nothing, _) = p.b.create_token(json!({})).await;
    let cases = [
        ("invalid".to_string(), "Invalid access token".to_string()),
        (two_buckets, "The token must have write permissions to a single bucket only.".to_string()),
        (nothing, "The token must have write permissions to a single bucket only.".to_string()),
        (manage_all, "The token must have write permissions to a single bucket only.".to_string()),
        (p.b.admin.clone(), "The token must have write permissions to a single bucket only.".to_string()),
        (read_only, format!("The token must have only write permissions to the bucket \"{}\".", p.target)),
    ];
    for (token, message) in cases {
        let writer = p.writer(&token).await;
        p.writer_row(&writer, "in.c-src.t", "t", json!({})).await;
        assert_eq!(error_of(&run_job(&p.a, "keboola.wr-storage", &writer, &[]).await), message);
    }
    assert_eq!(p.b.get("/v2/storage/tables", &p.b.admin).await.body, json!([]));

    let writer = config(
        &p.a,
        "keboola.wr-storage",
        json!({"parameters": {"url": p.b.url, "#token": p.write_token, "mode": "funky"}}),
    )
    .await;
    p.writer_row(&writer, "in.c-src.t", "t", json!({})).await;
    let message = error_of(&run_job(&p.a, "keboola.wr-storage", &writer, &[]).await);
    assert_eq!(
        message,
        "Invalid configuration for path \"root.parameters.mode\": Mode must be one of \"recreate, replace, update\""
    );
    let writer = config(&p.a, "keboola.wr-storage", json!({"parameters": {"url": p.b.url}})).await;
    p.writer_row(&writer, "in.c-src.t", "t", json!({})).await;
    assert_eq!(
        error_of(&run_job(&p.a, "keboola.wr-storage", &writer, &[]).await),
        "Missing \"parameters.#token\" in configuration."
    );
}

#[tokio::test]
async fn the_writers_info_action_names_the_target_and_the_token_stays_secret() {
    let p = pair().await;
    let writer = p.writer(&p.write_token).await;
    let stored =
        p.a.get(&format!("/v2/storage/components/keboola.wr-storage/configs/{writer}"), &p.a.admin).await.expect(200);
    assert!(!stored.text.contains(&p.write_token));
    let sealed = stored.body["configuration"]["parameters"]["#token"].clone();
    let info =
        p.a.post(
            "/sync-actions/actions",
            &p.a.admin,
            json!({
                "componentId": "keboola.wr-storage", "action": "info", "configId": writer,
                "configData": {"parameters": {"url": p.b.url, "#token": sealed}}
            }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(info, json!({"projectId": 1, "projectName": "Main", "bucket": p.target}));
    let invalid = p.a.post("/sync-actions/actions", &p.a.admin, json!({
        "componentId": "keboola.wr-storage", "action": "info", "configData": {"parameters": {"url": p.b.url, "#token": "invalid"}}
    }))
    .await;
    assert_eq!(invalid.expect_error(400, "userError").message(), "Invalid access token");
    let missing =
        p.a.post(
            "/sync-actions/actions",
            &p.a.admin,
            json!({
                "componentId": "keboola.wr-storage", "action": "info", "configData": {"parameters": {"url": p.b.url}}
            }),
        )
        .await;
    assert_eq!(missing.expect_error(400, "userError").message(), "Missing \"parameters.#token\" in configuration.");
    let events = p.a.get("/v2/storage/events?limit=1000", &p.a.admin).await;
    assert!(!events.text.contains(&p.write_token));
}

struct Source {
    p: Pair,
    read_token: String,
}

async fn source() -> Source {
    let p = pair().await;
    let (read_token, _) = p.b.create_token(json!({"bucketPermissions": {&p.target: "read"}})).await;
    Source { p, read_token }
}

impl Source {
    async fn extractor(&self, parameters: Value) -> String {
        let config_id = config(
            &self.p.a,
            "keboola.ex-storage",
            json!({"parameters": {"url": self.p.b.url, "#token": self.read_token}}),
        )
        .await;
        row(
            &self.p.a,
            "keboola.ex-storage",
            &config_id,
            json!({"name": "r", "configuration": {"parameters": parameters}}),
        )
        .await;
        config_id
    }
}

#[tokio::test]
async fn the_extractor_pulls_a_table_with_the_manifest_rules_of_the_spec() {
    let s = source().await;
    s.p.b.create_table(&s.p.target, "some-table-1", "id,name\n1,a\n2,b\n3,c\n", &["id"]).await;
    let basic = s.extractor(json!({"tableName": "some-table-1"})).await;
    assert_eq!(run_job(&s.p.a, "keboola.ex-storage", &basic, &[]).await["status"], "success");
    let table =
        s.p.a
            .get(&format!("/v2/storage/tables/in.c-keboola-ex-storage-{basic}.some-table-1"), &s.p.a.admin)
            .await
            .expect(200)
            .body;
    assert_eq!(table["rowsCount"], 3);
    assert_eq!(table["primaryKey"], json!([]), "the source key is not carried over by default");

    let explicit = s.extractor(json!({"tableName": "some-table-1", "primaryKey": ["name", "id"]})).await;
    run_job(&s.p.a, "keboola.ex-storage", &explicit, &[]).await;
    let table =
        s.p.a
            .get(&format!("/v2/storage/tables/in.c-keboola-ex-storage-{explicit}.some-table-1"), &s.p.a.admin)
            .await
            .body;
    assert_eq!(table["primaryKey"], json!(["name", "id"]));

    let full = s.extractor(json!({"tableName": "some-table-1", "fullSync": true, "primaryKey": ["ignored", "garbage"], "incremental": true})).await;
    run_job(&s.p.a, "keboola.ex-storage", &full, &[]).await;
    let table =
        s.p.a.get(&format!("/v2/storage/tables/in.c-keboola-ex-storage-{full}.some-table-1"), &s.p.a.admin).await.body;
    assert_eq!(table["primaryKey"], json!(["id"]));
}

#[tokio::test]
async fn the_extractor_pulls_only_changed_rows_incrementally_and_copies_metadata() {
    let s = source().await;
    let table = format!("{}.t", s.p.target);
    s.p.b.create_table(&s.p.target, "t", "id,foo\n1,a\n2,b\n3,c\n", &["id"]).await;
    let body = json!({"provider": "testing", "metadata": [{"key": "some-key", "value": "some-value"}],
        "columnsMetadata": {"foo": [{"key": "another-key", "value": "another-value"}]}});
    s.p.b.post(&format!("/v2/storage/tables/{table}/metadata"), &s.p.b.admin, body).await.expect(201);
    let config_id = s
        .extractor(json!({"tableName": "t", "incremental": true, "primaryKey": ["id"], "extractMetadata": true}))
        .await;
    assert_eq!(run_job(&s.p.a, "keboola.ex-storage", &config_id, &[]).await["status"], "success");
    let local = format!("in.c-keboola-ex-storage-{config_id}.t");
    let detail = s.p.a.get(&format!("/v2/storage/tables/{local}"), &s.p.a.admin).await.expect(200).body;
    assert_eq!(detail["metadata"][0]["key"], "some-key");
    assert_eq!(detail["metadata"][0]["provider"], "keboola.ex-storage");
    assert_eq!(detail["columnMetadata"]["foo"][0]["value"], "another-value");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let marker = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    s.p.b.import(&table, "id,foo\n5,x\n6,y\n", json!({"incremental": 1})).await;
    let path = format!("/v2/storage/components/keboola.ex-storage/configs/{config_id}/rows");
    let rows = s.p.a.get(&path, &s.p.a.admin).await.body;
    let row_id = rows[0]["id"].as_str().unwrap();
    let parameters =
        json!({"tableName": "t", "incremental": true, "primaryKey": ["id"], "changedSince": marker.to_string()});
    s.p.a
        .put(&format!("{path}/{row_id}"), &s.p.a.admin, json!({"configuration": {"parameters": parameters}}))
        .await
        .expect(200);
    assert_eq!(run_job(&s.p.a, "keboola.ex-storage", &config_id, &[]).await["status"], "success");
    let imports = s.p.a.events(&format!("q=event:storage.tableImportDone%20AND%20objectId:{local}")).await;
    assert_eq!(imports[0]["params"]["rowsInFile"], 2, "only the rows changed since the marker came over");
    assert_eq!(s.p.a.get(&format!("/v2/storage/tables/{local}"), &s.p.a.admin).await.body["rowsCount"], 5);
}

#[tokio::test]
async fn the_extractor_refuses_wrong_tokens_and_missing_tables_with_the_specs_messages() {
    let s = source().await;
    let t = &s.p.target;
    let (two, _) =
        s.p.b
            .create_token(json!({"bucketPermissions": {t: "read", &s.p.b.create_bucket("second").await: "read"}}))
            .await;
    let cases = [
        ("invalid".to_string(), json!({"tableName": "x"}), "Invalid access token".to_string()),
        (
            s.p.write_token.clone(),
            json!({"tableName": "x"}),
            format!("The token must have read-only permissions to the bucket \"{t}\"."),
        ),
        (
            two,
            json!({"tableName": "x"}),
            "The token must have read-only permissions to a single bucket only.".to_string(),
        ),
        (s.read_token.clone(), json!({}), "The tableName parameter must be provided.".to_string()),
        (
            s.read_token.clone(),
            json!({"tableName": "non-existent-table"}),
            format!("The table \"non-existent-table\" was not found in the bucket \"{t}\""),
        ),
        (
            s.read_token.clone(),
            json!({"tableName": "x", "bucket": "y"}),
            "Unrecognized option \"bucket\" under \"root.parameters\".".to_string(),
        ),
    ];
    for (token, parameters, message) in cases {
        let config_id =
            config(&s.p.a, "keboola.ex-storage", json!({"parameters": {"url": s.p.b.url, "#token": token}})).await;
        row(&s.p.a, "keboola.ex-storage", &config_id, json!({"configuration": {"parameters": parameters}})).await;
        let actual = error_of(&run_job(&s.p.a, "keboola.ex-storage", &config_id, &[]).await);
        assert!(actual.starts_with(&message), "{actual} vs {message}");
    }
    assert_eq!(s.p.a.get("/v2/storage/tables", &s.p.a.admin).await.body, json!([]));
}

#[tokio::test]
async fn the_extractors_sync_actions_list_and_describe_the_source() {
    let s = source().await;
    s.p.b.create_table(&s.p.target, "some-table-5", "id\n1\n", &["id"]).await;
    s.p.b.create_table(&s.p.target, "some-table-6", "id\n1\n", &["id"]).await;
    let action = |name: &str, token: &str| json!({"componentId": "keboola.ex-storage", "action": name, "configData": {"parameters": {"url": s.p.b.url, "#token": token}}});
    let info =
        s.p.a.post("/sync-actions/actions", &s.p.a.admin, action("sourceInfo", &s.read_token)).await.expect(200).body;
    assert_eq!(
        info["tables"],
        json!([{"name": "some-table-5", "primaryKey": ["id"]}, {"name": "some-table-6", "primaryKey": ["id"]}])
    );
    assert_eq!(info["project"], json!({"projectId": 1, "projectName": "Main", "bucket": s.p.target}));
    let list = s.p.a.post("/sync-actions/actions", &s.p.a.admin, action("list", &s.read_token)).await.expect(200).body;
    assert_eq!(list["tables"], info["tables"]);
    let project =
        s.p.a.post("/sync-actions/actions", &s.p.a.admin, action("info", &s.read_token)).await.expect(200).body;
    assert_eq!(project, info["project"]);
    let invalid = s.p.a.post("/sync-actions/actions", &s.p.a.admin, action("list", "invalid")).await;
    assert_eq!(invalid.expect_error(400, "userError").message(), "Invalid access token");
    let unknown = s.p.a.post("/sync-actions/actions", &s.p.a.admin, action("explode", &s.read_token)).await;
    unknown.expect_error(400, "userError");
}

#[tokio::test]
async fn a_job_can_be_terminated_and_jobs_are_listed_by_configuration() {
    let p = pair().await;
    p.a.create_table("in.c-src", "t", "x\n1\n", &[]).await;
    let writer = p.writer(&p.write_token).await;
    p.writer_row(&writer, "in.c-src.t", "t", json!({})).await;
    run_job(&p.a, "keboola.wr-storage", &writer, &[]).await;
    let listed =
        p.a.get(&format!("/queue/jobs?component=keboola.wr-storage&config={writer}"), &p.a.admin)
            .await
            .expect(200)
            .body;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let id = listed[0]["id"].as_str().unwrap();
    p.a.post(&format!("/queue/jobs/{id}/kill"), &p.a.admin, json!({}))
        .await
        .expect_error(400, "storage.configuration.validation");
    p.a.get("/queue/jobs/999", &p.a.admin).await.expect_error(404, "queue.jobNotFound");
}

#[tokio::test]
async fn a_running_job_is_terminated_on_request() {
    let a = spawn_app_reaching_loopback().await;
    a.create_bucket("src").await;
    a.create_table("in.c-src", "t", "x\n1\n", &[]).await;
    // Nothing listens there: the writer keeps retrying, so the job is still running when killed.
    let closed = format!("http://127.0.0.1:{}", crate::restart::free_port());
    let writer = config(&a, "keboola.wr-storage", json!({"parameters": {"url": closed, "#token": "1-2-x"}})).await;
    row(
        &a,
        "keboola.wr-storage",
        &writer,
        json!({"configuration": {"storage": {"input": {"tables": [{"source": "in.c-src.t"}]}}}}),
    )
    .await;
    let job = a
        .post("/queue/jobs", &a.admin, json!({"component": "keboola.wr-storage", "config": writer}))
        .await
        .expect(201)
        .body;
    let id = job["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = a.post(&format!("/queue/jobs/{id}/kill"), &a.admin, json!({})).await.expect(202).body;
    assert_eq!(killed["desiredStatus"], "terminating");
    let mut job = Value::Null;
    for _ in 0..100 {
        job = a.get(&format!("/queue/jobs/{id}"), &a.admin).await.expect(200).body;
        if job["isFinished"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(job["status"], "terminated", "{job}");
}

#[tokio::test]
async fn the_legacy_bucket_parameter_is_ignored_and_recreate_creates_a_missing_table() {
    let p = pair().await;
    p.a.create_table("in.c-src", "t", "id,name\n1,a\n", &[]).await;
    let writer = config(
        &p.a,
        "keboola.wr-storage",
        json!({"parameters": {"url": p.b.url, "#token": p.write_token, "bucket": "in.c-elsewhere"}}),
    )
    .await;
    let row = p.writer_row(&writer, "in.c-src.t", "t", json!({"mode": "recreate"})).await;
    assert_eq!(run_job(&p.a, "keboola.wr-storage", &writer, &[&row]).await["status"], "success");
    let table = p.target_table("t").await;
    assert_eq!(table["columns"], json!(["id", "name"]));
    assert_eq!(table["primaryKey"], json!([]), "an empty source key gives an empty target key");
}

#[tokio::test]
async fn update_mode_appends_to_a_table_without_a_key() {
    let p = pair().await;
    p.b.create_table(&p.target, "t", "id,name\n1,foo\n4,foobar\n", &[]).await;
    p.a.create_table("in.c-src", "t", "id,name\n1,Bar\n2,Kochba\n3,Foo\n", &[]).await;
    let writer = p.writer(&p.write_token).await;
    p.writer_row(&writer, "in.c-src.t", "t", json!({"mode": "update"})).await;
    assert_eq!(run_job(&p.a, "keboola.wr-storage", &writer, &[]).await["status"], "success");
    assert_eq!(p.target_table("t").await["rowsCount"], 5);
}

#[tokio::test]
async fn the_extractor_refuses_tokens_that_manage_or_reach_no_bucket() {
    let s = source().await;
    let (manage_all, _) = s.p.b.create_token(json!({"canManageBuckets": true})).await;
    let (nothing, _) = s.p.b.create_token(json!({})).await;
    // Stack B has one bucket, so tokens that manage every bucket list exactly that one, as `manage`.
    let wrong_permission = format!("The token must have read-only permissions to the bucket \"{}\".", s.p.target);
    let cases = [
        (manage_all, wrong_permission.clone()),
        (s.p.b.admin.clone(), wrong_permission),
        (nothing, "The token must have read-only permissions to a single bucket only.".to_string()),
    ];
    for (token, expected) in cases {
        let parameters = json!({"parameters": {"url": s.p.b.url, "#token": token}});
        let config_id = config(&s.p.a, "keboola.ex-storage", parameters).await;
        let body = json!({"configuration": {"parameters": {"tableName": "x"}}});
        row(&s.p.a, "keboola.ex-storage", &config_id, body).await;
        assert_eq!(error_of(&run_job(&s.p.a, "keboola.ex-storage", &config_id, &[]).await), expected);
    }
}

/// A listener that keeps every byte sent to it: where an attacker would point a configuration.
async fn listening_attacker() -> (String, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = received.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                while let Ok(read) = stream.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                    kept.lock().unwrap().extend_from_slice(&buffer[..read]);
                }
            });
        }
    });
    (url, received)
}

#[tokio::test]
async fn a_sealed_token_opens_only_in_its_configuration_beside_its_url_so_it_cannot_be_aimed_elsewhere() {
    let p = pair().await;
    p.a.create_table("in.c-src", "t", "id\n1\n", &[]).await;
    let (attacker, received) = listening_attacker().await;
    let victim = p.writer(&p.write_token).await;
    let path = format!("/v2/storage/components/keboola.wr-storage/configs/{victim}");
    let stored = p.a.get(&path, &p.a.admin).await.expect(200).body;
    let sealed = stored["configuration"]["parameters"]["#token"].clone();
    let (component_token, _) = p.a.create_token(json!({"componentAccess": ["keboola.wr-storage"]})).await;

    // A sync action with the victim's ciphertext beside another address, with or without its id.
    for config_id in [json!(victim), json!(null)] {
        let body = json!({"componentId": "keboola.wr-storage", "action": "info", "configId": config_id,
            "configData": {"parameters": {"url": attacker, "#token": sealed}}});
        let refused = p.a.post("/sync-actions/actions", &component_token, body).await;
        let refused = refused.expect_error(400, "storage.configuration.validation");
        assert!(refused.message().contains("cannot be decrypted here"), "{}", refused.text);
    }
    // The ciphertext in a configuration of the token's own, created or updated.
    let body = json!({"name": "mine", "configuration": {"parameters": {"url": attacker, "#token": sealed}}});
    let configs = "/v2/storage/components/keboola.wr-storage/configs";
    let refused = p.a.post(configs, &component_token, body).await.expect_error(400, "storage.configuration.validation");
    assert!(refused.message().contains("encrypted for another configuration"), "{}", refused.text);
    let own = config(&p.a, "keboola.wr-storage", json!({"parameters": {"url": attacker}})).await;
    let body = json!({"configuration": {"parameters": {"url": attacker, "#token": sealed}}});
    p.a.put(&format!("{configs}/{own}"), &component_token, body)
        .await
        .expect_error(400, "storage.configuration.validation");
    // The victim's own URL changed, its ciphertext sent back: the secret is dropped, not re-aimed.
    let body = json!({"configuration": {"parameters": {"url": attacker, "#token": sealed}}});
    let changed = p.a.put(&path, &component_token, body).await.expect(200).body;
    assert!(changed["configuration"]["parameters"].get("#token").is_none(), "{changed}");
    p.writer_row(&victim, "in.c-src.t", "t", json!({})).await;
    let run = run_job(&p.a, "keboola.wr-storage", &victim, &[]).await;
    assert_eq!(error_of(&run), "Missing \"parameters.#token\" in configuration.");
    // A row that points elsewhere does not receive the root's token either.
    let rooted = p.writer(&p.write_token).await;
    let row = json!({"name": "elsewhere", "configuration": {"parameters": {"url": attacker},
        "storage": {"input": {"tables": [{"source": "in.c-src.t", "destination": "t"}]}}}});
    p.a.post(&format!("{configs}/{rooted}/rows"), &p.a.admin, row).await.expect(201);
    let run = run_job(&p.a, "keboola.wr-storage", &rooted, &[]).await;
    assert!(error_of(&run).contains("cannot be decrypted here"), "{run}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let received = received.lock().unwrap().clone();
    assert!(!String::from_utf8_lossy(&received).contains(&p.write_token), "the token reached the attacker");
}
