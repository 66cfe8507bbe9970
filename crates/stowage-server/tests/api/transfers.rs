//! The writer and the extractor moving tables between two stacks.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

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
    let a = spawn_app().await;
    let b = spawn_app().await;
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
