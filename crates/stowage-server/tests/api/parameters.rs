//! Parameters that many routes share are checked by one parser: every list route answers a
//! malformed `limit` or `offset` alike, and a primary key may not name a column twice anywhere.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_list_route_refuses_a_malformed_limit_or_offset_and_pages_with_a_good_one() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("paged").await;
    app.create_bucket("other").await;
    app.create_table(&bucket, "t", "id,name\n1,a\n", &["id"]).await;
    let configs = "/v2/storage/components/keboola.wr-storage/configs";
    let config = app.post(configs, &app.admin, json!({"name": "c"})).await.expect(201).body["id"].clone();
    let config = config.as_str().unwrap().to_string();
    app.post(&format!("{configs}/{config}/rows"), &app.admin, json!({"name": "r"})).await.expect(201);
    let metadata = json!({"provider": "user", "metadata": [{"key": "k", "value": "v"}]});
    app.post(&format!("/v2/storage/buckets/{bucket}/metadata"), &app.admin, metadata.clone()).await.expect(201);
    app.post("/v2/storage/tables/in.c-paged.t/metadata", &app.admin, metadata.clone()).await.expect(201);
    app.post("/v2/storage/columns/in.c-paged.t.id/metadata", &app.admin, metadata).await.expect(201);
    let project = app.project_id;
    let lists = [
        "/v2/storage/buckets".to_string(),
        "/v2/storage/tables".into(),
        format!("/v2/storage/buckets/{bucket}/tables"),
        "/v2/storage/tokens".into(),
        "/v2/storage/files".into(),
        "/v2/storage/jobs".into(),
        "/v2/storage/events".into(),
        format!("/v2/storage/buckets/{bucket}/events"),
        "/v2/storage/tables/in.c-paged.t/events".into(),
        "/v2/storage/tokens/1/events".into(),
        "/v2/storage/dev-branches".into(),
        "/v2/storage/metadata".into(),
        format!("/v2/storage/buckets/{bucket}/metadata"),
        "/v2/storage/tables/in.c-paged.t/metadata".into(),
        "/v2/storage/columns/in.c-paged.t.id/metadata".into(),
        "/v2/storage/components".into(),
        configs.into(),
        format!("{configs}/{config}/rows"),
        format!("{configs}/{config}/metadata"),
        "/queue/jobs".into(),
        "/manage/projects".into(),
        format!("/manage/projects/{project}/users"),
    ];
    let mut failures = Vec::new();
    for list in &lists {
        let token = if list.starts_with("/manage") { &app.manage } else { &app.admin };
        let whole = app.get(list, token).await;
        if whole.status != 200 || !whole.body.is_array() {
            failures.push(format!("{list}: not a list ({}): {}", whole.status, whole.text));
            continue;
        }
        for (query, message) in [
            ("limit=abc", "Parameter \"limit\" must be an integer, \"abc\" given."),
            ("offset=-5", "Parameter \"offset\" must not be negative, -5 given."),
            ("limit=0", "Parameter \"limit\" must be"),
            ("offset=x", "Parameter \"offset\" must be an integer, \"x\" given."),
        ] {
            let reply = app.get(&format!("{list}?{query}"), token).await;
            if reply.status != 400 || !reply.message().starts_with(message) {
                failures.push(format!("{list}?{query}: {} {}", reply.status, reply.text));
            }
        }
        let page = app.get(&format!("{list}?limit=1&offset=0"), token).await;
        let items = page.body.as_array().map(Vec::len);
        if page.status != 200 || items != Some(whole.body.as_array().unwrap().len().min(1)) {
            failures.push(format!("{list}?limit=1: {} {}", page.status, page.text));
        }
    }
    assert!(failures.is_empty(), "list routes that differ:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn a_primary_key_naming_a_column_twice_is_refused_when_creating_a_table_and_when_setting_a_key() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("keys").await;
    let file = app.upload(&app.admin, "t.csv", b"id,name\n1,a\n".to_vec()).await;
    let path = format!("/v2/storage/buckets/{bucket}/tables-async");
    for key in [json!("id,id"), json!(["id", "ID"]), json!("id, id")] {
        let reply = app.post(&path, &app.admin, json!({"name": "t", "dataFileId": file, "primaryKey": key})).await;
        let reply = reply.expect_error(400, "storage.tables.validation");
        assert!(reply.message().starts_with("Parameter \"primaryKey\" names the column \""), "{}", reply.text);
        assert!(reply.message().to_lowercase().contains("\"id\" more than once"), "{}", reply.text);
    }
    assert_eq!(app.get(&format!("/v2/storage/buckets/{bucket}/tables"), &app.admin).await.body, json!([]));

    app.create_table(&bucket, "t", "id,name\n1,a\n", &[]).await;
    let reply = app
        .post("/v2/storage/tables/in.c-keys.t/primary-key", &app.admin, json!({"columns": ["name", "name"]}))
        .await
        .expect_error(400, "storage.tables.validation");
    assert_eq!(reply.message(), "Parameter \"columns\" names the column \"name\" more than once.");
    let table: Value = app.get("/v2/storage/tables/in.c-keys.t", &app.admin).await.body;
    assert_eq!(table["primaryKey"], json!([]));
}
