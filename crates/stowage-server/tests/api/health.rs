//! Liveness and readiness, as a load balancer asks for them: no token, and 503 while a part the
//! stack needs does not answer.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn a_live_stack_is_ready_when_its_catalog_and_object_store_answer() {
    let app = spawn_app().await;
    let live = reqwest::get(format!("{}/health/live", app.url)).await.unwrap();
    assert_eq!(live.status(), 200);
    assert_eq!(live.json::<serde_json::Value>().await.unwrap(), json!({"status": "ok"}));
    let ready = reqwest::get(format!("{}/health/ready", app.url)).await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body, json!({"status": "ok", "catalog": "ok", "objectStore": "ok"}));
}

#[tokio::test]
async fn a_stack_whose_object_store_fails_is_live_but_not_ready() {
    // On local disk (also when the suite runs against S3), where the test can break the store.
    let app = spawn_app_with(|config| config.s3 = None).await;
    // The folder of file bytes becomes a plain file: every object-store call fails.
    let blobs = app.data_dir.path().join("data").join("blobs");
    std::fs::remove_dir_all(&blobs).unwrap();
    std::fs::write(&blobs, b"not a folder").unwrap();
    let ready = reqwest::get(format!("{}/health/ready", app.url)).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body, json!({"status": "unavailable", "catalog": "ok", "objectStore": "unavailable"}));
    let live = reqwest::get(format!("{}/health/live", app.url)).await.unwrap();
    assert_eq!(live.status(), 200);
}
