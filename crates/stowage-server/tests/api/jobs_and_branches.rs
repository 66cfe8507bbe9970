use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_default_branch_exists_from_the_start() {
    let app = spawn_app().await;
    let list = app.get("/v2/storage/dev-branches", &app.admin).await.expect(200).body;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Main");
    assert_eq!(list[0]["isDefault"], true);
    let id = list[0]["id"].as_i64().unwrap();
    let by_name = app.get("/v2/storage/dev-branches/default", &app.admin).await.expect(200).body;
    let by_id = app.get(&format!("/v2/storage/dev-branches/{id}"), &app.admin).await.expect(200).body;
    assert_eq!(by_name, by_id);
    for field in ["id", "name", "description", "created", "isDefault", "creatorToken"] {
        assert!(by_name.get(field).is_some(), "{field}");
    }
    app.get("/v2/storage/dev-branches/", &app.admin).await.expect(200);
    app.get("/v2/storage/dev-branches/12345", &app.admin).await.expect_error(404, "storage.devBranches.notFound");
}

#[tokio::test]
async fn branch_metadata_is_upserted_by_key_listed_and_deleted() {
    let app = spawn_app().await;
    let path = "/v2/storage/branch/default/metadata";
    assert_eq!(app.get(path, &app.admin).await.expect(200).body, json!([]));
    let body = json!({"metadata": [{"key": "KBC.projectDescription", "value": "first"}]});
    app.post(path, &app.admin, body).await.expect(201);
    let body =
        json!({"metadata": [{"key": "KBC.projectDescription", "value": "second"}, {"key": "other", "value": "x"}]});
    let created = app.post(path, &app.admin, body).await.expect(201).body;
    assert_eq!(created.as_array().unwrap().len(), 2);
    assert_eq!(created[0]["value"], "second");
    assert!(created[0].get("provider").is_none());
    let id = created[1]["id"].as_str().unwrap().to_string();
    app.delete(&format!("{path}/{id}"), &app.admin).await.expect(204);
    let list = app.get(path, &app.admin).await.expect(200).body;
    assert_eq!(list.as_array().unwrap().len(), 1);
    app.delete(&format!("{path}/{id}"), &app.admin).await.expect_error(404, "storage.metadata.notFound");
}

#[tokio::test]
async fn invalid_branch_metadata_is_rejected_and_nothing_changes() {
    let app = spawn_app().await;
    let path = "/v2/storage/branch/default/metadata";
    for body in [
        json!({}),
        json!({"metadata": "x"}),
        json!({"metadata": [{"key": "a b", "value": "v"}]}),
        json!({"metadata": []}),
    ] {
        app.post(path, &app.admin, body).await.expect_error(400, "storage.metadata.validation");
    }
    assert_eq!(app.get(path, &app.admin).await.expect(200).body, json!([]));
}

#[tokio::test]
async fn a_read_only_member_reads_branch_metadata_but_cannot_write_it() {
    let app = spawn_app().await;
    let read_only = app.member_token("ro@example.com", "readOnly").await;
    let path = "/v2/storage/branch/default/metadata";
    app.get(path, &read_only).await.expect(200);
    app.post(path, &read_only, json!({"metadata": [{"key": "k", "value": "v"}]}))
        .await
        .expect_error(403, "accessDenied");
}

#[tokio::test]
async fn an_unknown_branch_in_the_path_is_a_404() {
    let app = spawn_app().await;
    app.get("/v2/storage/branch/999/buckets", &app.admin).await.expect_error(404, "storage.devBranches.notFound");
    app.get("/v2/storage/branch/default/buckets", &app.admin).await.expect(200);
}

#[tokio::test]
async fn jobs_are_listed_newest_first_and_an_unknown_job_is_a_404() {
    let app = spawn_app().await;
    for name in ["j1", "j2"] {
        let id = app.create_bucket(name).await;
        app.delete(&format!("/v2/storage/buckets/{id}?async=1"), &app.admin).await.expect(202);
    }
    let jobs = app.get("/v2/storage/jobs", &app.admin).await.expect(200).body;
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(jobs[0]["id"].as_i64() > jobs[1]["id"].as_i64());
    let job = &jobs[0];
    for field in [
        "id",
        "status",
        "url",
        "tableId",
        "operationName",
        "operationParams",
        "createdTime",
        "startTime",
        "endTime",
        "runId",
        "results",
        "creatorToken",
        "metrics",
    ] {
        assert!(job.get(field).is_some(), "{field}");
    }
    assert_eq!(job["creatorToken"]["description"], "admin@localhost");
    assert!(job.get("error").is_none());
    let page = app.get("/v2/storage/jobs?limit=1&offset=1", &app.admin).await.expect(200).body;
    assert_eq!(page[0]["id"], jobs[1]["id"]);
    app.get("/v2/storage/jobs/424242", &app.admin).await.expect_error(404, "storage.jobs.notFound");
    app.get("/v2/storage/jobs/abc", &app.admin).await.expect_error(404, "notFound");
}
