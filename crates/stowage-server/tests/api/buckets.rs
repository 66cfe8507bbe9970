use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, Payload};

#[tokio::test]
async fn a_new_bucket_gets_the_c_prefix_and_the_stage_in_its_id() {
    let app = spawn_app().await;
    let reply = app.post_form("/v2/storage/buckets", &app.admin, "name=py-test-buckets&stage=in&description=d").await;
    let body = reply.expect(201).body;
    assert_eq!(body["id"], "in.c-py-test-buckets");
    assert_eq!(body["name"], "c-py-test-buckets");
    assert_eq!(body["displayName"], "py-test-buckets");
    assert_eq!(body["stage"], "in");
    assert_eq!(body["description"], "d");
    assert_eq!(body["backend"], "sqlite");
    assert!(body["uri"].as_str().unwrap().ends_with("/v2/storage/buckets/in.c-py-test-buckets"));
}

#[tokio::test]
async fn a_json_body_creates_a_bucket_like_a_form_does() {
    let app = spawn_app().await;
    let body = app
        .post("/v2/storage/buckets", &app.admin, json!({"name": "j", "stage": "out", "displayName": "Jay"}))
        .await
        .expect(201)
        .body;
    assert_eq!(body["id"], "out.c-j");
    assert_eq!(body["displayName"], "Jay");
}

#[tokio::test]
async fn a_link_request_is_refused_and_creates_no_plain_bucket_in_its_place() {
    let app = spawn_app().await;
    let source = app.create_bucket("shared").await;
    let form = Payload::Form(format!("name=linked&stage=in&sourceProjectId=1&sourceBucketId={source}"));
    let reply = app
        .call(Method::POST, "/v2/storage/buckets", Some(&app.admin), form)
        .await
        .expect_error(400, "storage.buckets.validation")
        .body;
    assert!(reply["error"].as_str().unwrap().contains("sourceBucketId"), "{reply}");
    app.get("/v2/storage/buckets/in.c-linked", &app.admin).await.expect(404);
}

#[tokio::test]
async fn bucket_detail_shows_tables_as_an_array_and_the_list_as_a_url() {
    let app = spawn_app().await;
    let id = app.create_bucket("shapes").await;
    let detail = app.get(&format!("/v2/storage/buckets/{id}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["tables"], json!([]));
    assert_eq!(detail["attributes"], json!([]));
    assert_eq!(detail["metadata"], json!([]));
    let list = app.get("/v2/storage/buckets", &app.admin).await.expect(200).body;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["tables"], json!(format!("{}/v2/storage/buckets/{id}/tables", app.url)));
    assert_eq!(list[0]["attributes"], json!([]));
    for field in ["created", "lastChangeDate", "isReadOnly", "dataSizeBytes", "rowsCount", "backendPath", "sharing"] {
        assert!(list[0].get(field).is_some(), "{field}");
    }
}

#[tokio::test]
async fn the_include_parameter_chooses_attributes_and_metadata() {
    let app = spawn_app().await;
    app.create_bucket("inc").await;
    let none = app.get("/v2/storage/buckets?include=", &app.admin).await.expect(200).body;
    assert!(none[0].get("attributes").is_none());
    assert!(none[0].get("metadata").is_none());
    let with = app.get("/v2/storage/buckets?include=metadata,linkedBuckets", &app.admin).await.expect(200).body;
    assert_eq!(with[0]["metadata"], json!([]));
}

#[tokio::test]
async fn invalid_bucket_names_and_stages_are_rejected_with_keboolas_messages() {
    let app = spawn_app().await;
    let cases = [
        (json!({"name": "a b"}), "Invalid data - name: Only alphanumeric characters dash and underscores are allowed."),
        (json!({"name": ""}), "Invalid data - name: This value should not be blank."),
        (
            json!({"name": "x".repeat(97)}),
            "Invalid data - name: This value is too long. It should have 96 characters or less.",
        ),
        (
            json!({"name": "ok", "displayName": "$$$$$"}),
            "Invalid data - displayName: Only alphanumeric characters dash and underscores are allowed.",
        ),
        (
            json!({"name": "ok", "stage": "sys"}),
            "Invalid data - stage: \"sys\" is not a valid stage, use \"in\" or \"out\".",
        ),
    ];
    for (body, message) in cases {
        let reply =
            app.post("/v2/storage/buckets", &app.admin, body).await.expect_error(400, "storage.buckets.validation");
        assert_eq!(reply.message(), message);
    }
    let reply = app.post("/v2/storage/buckets", &app.admin, json!({"name": "b", "backend": "redshit"})).await;
    reply.expect_error(400, "storage.buckets.validation");
    assert_eq!(app.get("/v2/storage/buckets", &app.admin).await.body, json!([]));
}

#[tokio::test]
async fn a_second_bucket_with_the_same_name_or_display_name_is_rejected() {
    let app = spawn_app().await;
    app.post("/v2/storage/buckets", &app.admin, json!({"name": "dup", "displayName": "Shown"})).await.expect(201);
    app.post("/v2/storage/buckets", &app.admin, json!({"name": "dup", "displayName": "Other"}))
        .await
        .expect_error(400, "storage.buckets.alreadyExists");
    let reply = app.post("/v2/storage/buckets", &app.admin, json!({"name": "dup2", "displayName": "Shown"})).await;
    let reply = reply.expect_error(400, "storage.buckets.alreadyExists");
    assert_eq!(reply.message(), "The display name \"Shown\" already exists in project.");
    app.post("/v2/storage/buckets", &app.admin, json!({"name": "dup", "stage": "out"})).await.expect(201);
}

#[tokio::test]
async fn updating_a_bucket_changes_its_display_name_and_description() {
    let app = spawn_app().await;
    let id = app.create_bucket("upd").await;
    let path = format!("/v2/storage/buckets/{id}");
    let body = app
        .put(&path, &app.admin, json!({"displayName": "Romanov-Bucket", "description": "new"}))
        .await
        .expect(200)
        .body;
    assert_eq!(body["displayName"], "Romanov-Bucket");
    assert_eq!(body["description"], "new");
    assert!(body["updated"].is_string());
    let reply = app.put(&path, &app.admin, json!({"displayName": "Romanov-Bucket"})).await;
    assert_eq!(
        reply.expect_error(400, "storage.buckets.alreadyExists").message(),
        "The display name \"Romanov-Bucket\" already exists in project."
    );
    app.put(&path, &app.admin, json!({"displayName": "$$$$$"})).await.expect_error(400, "storage.buckets.validation");
    let detail = app.get(&path, &app.admin).await.expect(200).body;
    assert_eq!(detail["displayName"], "Romanov-Bucket");
}

#[tokio::test]
async fn a_missing_bucket_is_a_404_with_keboolas_message() {
    let app = spawn_app().await;
    let reply =
        app.get("/v2/storage/buckets/in.c-missing", &app.admin).await.expect_error(404, "storage.buckets.notFound");
    assert_eq!(
        reply.message(),
        format!("The bucket \"in.c-missing\" was not found in the project \"{}\"", app.project_id)
    );
    app.get("/v2/storage/buckets/not-a-bucket-id", &app.admin).await.expect_error(404, "storage.buckets.notFound");
    app.put("/v2/storage/buckets/in.c-missing", &app.admin, json!({"description": "x"}))
        .await
        .expect_error(404, "storage.buckets.notFound");
}

#[tokio::test]
async fn deleting_a_bucket_synchronously_answers_204() {
    let app = spawn_app().await;
    let id = app.create_bucket("gone").await;
    let reply = app.delete(&format!("/v2/storage/buckets/{id}"), &app.admin).await.expect(204);
    assert!(reply.text.is_empty());
    app.get(&format!("/v2/storage/buckets/{id}"), &app.admin).await.expect_error(404, "storage.buckets.notFound");
}

#[tokio::test]
async fn deleting_a_bucket_asynchronously_answers_a_finished_job_as_json() {
    let app = spawn_app().await;
    let id = app.create_bucket("later").await;
    let reply = app.delete(&format!("/v2/storage/buckets/{id}?force=True&async=True"), &app.admin).await.expect(202);
    assert!(reply.content_type.starts_with("application/json"));
    assert_eq!(reply.body["operationName"], "bucketDelete");
    assert_eq!(reply.body["status"], "success");
    let job_id = reply.body["id"].as_i64().unwrap();
    let job = app.get(&format!("/v2/storage/jobs/{job_id}"), &app.admin).await.expect(200).body;
    assert_eq!(job["status"], "success");
    assert_eq!(job["operationParams"]["bucketId"], json!(id));
    app.get(&format!("/v2/storage/buckets/{id}"), &app.admin).await.expect_error(404, "storage.buckets.notFound");
}

#[tokio::test]
async fn deleting_a_missing_bucket_is_a_synchronous_404_even_when_async() {
    let app = spawn_app().await;
    let reply = app.delete("/v2/storage/buckets/in.c-nope?force=True&async=True", &app.admin).await;
    reply.expect_error(404, "storage.buckets.notFound");
    let jobs = app.get("/v2/storage/jobs", &app.admin).await.expect(200).body;
    assert_eq!(jobs, json!([]));
}

#[tokio::test]
async fn a_read_only_member_sees_buckets_but_cannot_change_them() {
    let app = spawn_app().await;
    let id = app.create_bucket("ro").await;
    let read_only = app.member_token("viewer@example.com", "readOnly").await;
    let list = app.get("/v2/storage/buckets", &read_only).await.expect(200).body;
    assert_eq!(list.as_array().unwrap().len(), 1);
    app.get(&format!("/v2/storage/buckets/{id}"), &read_only).await.expect(200);
    let verify = app.get("/v2/storage/tokens/verify", &read_only).await.expect(200).body;
    assert_eq!(verify["bucketPermissions"], json!({ id.clone(): "read" }));
    let denied =
        app.post("/v2/storage/buckets", &read_only, json!({"name": "x"})).await.expect_error(403, "accessDenied");
    assert_eq!(denied.message(), "You don't have access to the resource.");
    app.put(&format!("/v2/storage/buckets/{id}"), &read_only, json!({"description": "x"}))
        .await
        .expect_error(403, "accessDenied");
    app.delete(&format!("/v2/storage/buckets/{id}"), &read_only).await.expect_error(403, "accessDenied");
    app.get(&format!("/v2/storage/buckets/{id}"), &app.admin).await.expect(200);
}

#[tokio::test]
async fn a_new_bucket_with_the_id_of_a_deleted_one_starts_empty() {
    let app = spawn_app().await;
    let id = app.create_bucket("again").await;
    app.call(Method::DELETE, &format!("/v2/storage/buckets/{id}"), Some(&app.admin), Payload::None).await.expect(204);
    let body = app.post("/v2/storage/buckets", &app.admin, json!({"name": "again", "description": "second"})).await;
    assert_eq!(body.expect(201).body["description"], "second");
    let events = app.get(&format!("/v2/storage/buckets/{id}/events"), &app.admin).await.expect(200).body;
    let names: Vec<_> = events.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["storage.bucketCreated", "storage.bucketDeleted", "storage.bucketCreated"]);
}
