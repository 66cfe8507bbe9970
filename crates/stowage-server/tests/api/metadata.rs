//! Bucket, table and column metadata.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn table_metadata_is_upserted_by_provider_and_key() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("m").await;
    app.create_table(&bucket, "t", "a,b\n1,2\n", &[]).await;
    let path = "/v2/storage/tables/in.c-m.t/metadata";
    app.post(path, &app.admin, json!({"provider": "prov", "metadata": [{"key": "k", "value": "v1"}]}))
        .await
        .expect(201);
    let reply = app
        .post(path, &app.admin, json!({"provider": "prov", "metadata": [{"key": "k", "value": "v2"}]}))
        .await
        .expect(201);
    assert_eq!(reply.body["metadata"].as_array().unwrap().len(), 1);
    assert_eq!(reply.body["metadata"][0]["value"], "v2");
    assert_eq!(reply.body["metadata"][0]["provider"], "prov");
    app.post(path, &app.admin, json!({"provider": "other", "metadata": [{"key": "k", "value": "x"}]}))
        .await
        .expect(201);
    let list = app.get(path, &app.admin).await.expect(200).body;
    assert_eq!(list.as_array().unwrap().len(), 2);
    for field in ["id", "key", "value", "provider", "timestamp"] {
        assert!(list[0].get(field).is_some(), "{field}");
    }
    let detail = app.get("/v2/storage/tables/in.c-m.t", &app.admin).await.expect(200).body;
    assert_eq!(detail["metadata"].as_array().unwrap().len(), 2);
    let id = list[0]["id"].as_str().unwrap();
    app.delete(&format!("{path}/{id}"), &app.admin).await.expect(204);
    assert_eq!(app.get(path, &app.admin).await.body.as_array().unwrap().len(), 1);
    app.delete(&format!("{path}/{id}"), &app.admin).await.expect_error(404, "storage.metadata.notFound");
}

#[tokio::test]
async fn columns_metadata_is_accepted_in_all_three_shapes() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("m").await;
    app.create_table(&bucket, "t", "a,b\n1,2\n", &[]).await;
    let path = "/v2/storage/tables/in.c-m.t/metadata";
    let shapes = [
        json!([[{"key": "k1", "value": "list", "columnName": "a"}]]),
        json!({"0": [{"key": "k2", "value": "index", "columnName": "a"}]}),
        json!({"b": [{"key": "k3", "value": "named"}]}),
    ];
    for shape in shapes {
        let body = json!({"provider": "prov", "columnsMetadata": shape});
        app.post(path, &app.admin, body).await.expect(201);
    }
    let detail = app.get("/v2/storage/tables/in.c-m.t", &app.admin).await.expect(200).body;
    let column_metadata = &detail["columnMetadata"];
    assert_eq!(column_metadata["a"].as_array().unwrap().len(), 2);
    assert_eq!(column_metadata["b"][0]["value"], "named");
    let column = app.get("/v2/storage/columns/in.c-m.t.b/metadata", &app.admin).await.expect(200).body;
    assert_eq!(column[0]["key"], "k3");
    let reply = app
        .post(path, &app.admin, json!({"provider": "p", "columnsMetadata": {"ghost": [{"key": "k", "value": "v"}]}}))
        .await;
    reply.expect_error(400, "storage.metadata.validation");
}

#[tokio::test]
async fn bucket_metadata_is_listed_with_the_bucket() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("m").await;
    let path = format!("/v2/storage/buckets/{bucket}/metadata");
    let created = app
        .post(&path, &app.admin, json!({"provider": "user", "metadata": [{"key": "KBC.description", "value": "d"}]}))
        .await;
    assert_eq!(created.expect(201).body[0]["key"], "KBC.description");
    let list = app.get("/v2/storage/buckets?include=metadata", &app.admin).await.expect(200).body;
    assert_eq!(list[0]["metadata"][0]["value"], "d");
    let detail = app.get(&format!("/v2/storage/buckets/{bucket}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["metadata"][0]["provider"], "user");
}

#[tokio::test]
async fn invalid_metadata_is_rejected_and_nothing_is_stored() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("m").await;
    let path = format!("/v2/storage/buckets/{bucket}/metadata");
    for body in [
        json!({"metadata": [{"key": "k", "value": "v"}]}),
        json!({"provider": "p", "metadata": [{"key": "bad key", "value": "v"}]}),
        json!({"provider": "p", "metadata": "nope"}),
        json!({"provider": "p", "metadata": []}),
    ] {
        app.post(&path, &app.admin, body).await.expect_error(400, "storage.metadata.validation");
    }
    assert_eq!(app.get(&path, &app.admin).await.expect(200).body, json!([]));
}

#[tokio::test]
async fn a_read_grant_reads_metadata_but_cannot_write_or_delete_it() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("m").await;
    app.create_table(&bucket, "t", "a\n1\n", &[]).await;
    let created = app
        .post(
            "/v2/storage/tables/in.c-m.t/metadata",
            &app.admin,
            json!({"provider": "p", "metadata": [{"key": "k", "value": "v"}]}),
        )
        .await
        .expect(201);
    let id = created.body["metadata"][0]["id"].as_str().unwrap().to_string();
    let (reader, _) = app.create_token(json!({"bucketPermissions": {&bucket: "read"}})).await;
    app.get("/v2/storage/tables/in.c-m.t/metadata", &reader).await.expect(200);
    app.get(&format!("/v2/storage/buckets/{bucket}/metadata"), &reader).await.expect(200);
    app.get("/v2/storage/columns/in.c-m.t.a/metadata", &reader).await.expect(200);
    let body = json!({"provider": "p", "metadata": [{"key": "k", "value": "x"}]});
    app.post("/v2/storage/tables/in.c-m.t/metadata", &reader, body.clone()).await.expect_error(403, "accessDenied");
    app.post(&format!("/v2/storage/buckets/{bucket}/metadata"), &reader, body.clone())
        .await
        .expect_error(403, "accessDenied");
    app.post("/v2/storage/columns/in.c-m.t.a/metadata", &reader, body).await.expect_error(403, "accessDenied");
    app.delete(&format!("/v2/storage/tables/in.c-m.t/metadata/{id}"), &reader).await.expect_error(403, "accessDenied");
}

#[tokio::test]
async fn a_deleted_table_takes_its_metadata_with_it() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("m").await;
    app.create_table(&bucket, "t", "a\n1\n", &[]).await;
    let body = json!({"provider": "p", "metadata": [{"key": "k", "value": "v"}], "columnsMetadata": {"a": [{"key": "c", "value": "v"}]}});
    app.post("/v2/storage/tables/in.c-m.t/metadata", &app.admin, body).await.expect(201);
    app.delete("/v2/storage/tables/in.c-m.t", &app.admin).await.expect(204);
    app.create_table(&bucket, "t", "a\n1\n", &[]).await;
    let detail = app.get("/v2/storage/tables/in.c-m.t", &app.admin).await.expect(200).body;
    assert_eq!(detail["metadata"], json!([]));
    assert_eq!(detail["columnMetadata"], json!([]));
}
