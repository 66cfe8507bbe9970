use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// The first organization's id and a second project in it with the master token of its admin, who
/// is not an organization member.
async fn second_project(app: &TestApp, email: &str) -> (i64, i64, String) {
    let org = app.get("/manage/organizations", &app.manage).await.expect(200).body[0]["id"].as_i64().unwrap();
    let path = format!("/manage/organizations/{org}/projects");
    let project =
        app.post(&path, &app.manage, json!({"name": "Second"})).await.expect(201).body["id"].as_i64().unwrap();
    (org, project, app.member_token_in(project, email, "admin").await)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_bucket_shared_to_the_organizations_projects_is_listed_for_them_and_for_no_other_organization() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("sales").await;
    let csv = app.upload(&app.admin, "t.csv", b"id,name\n1,a\n".to_vec()).await;
    let path = format!("/v2/storage/buckets/{bucket}/tables-async");
    let job = app.post(&path, &app.admin, json!({"name": "t", "dataFileId": csv})).await.expect(202).body;
    assert_eq!(job["status"], "success");
    let (_, _, second) = second_project(&app, "second@example.com").await;
    let maintainer = app.get("/manage/maintainers", &app.manage).await.expect(200).body[0]["id"].as_i64().unwrap();
    let other_org = app
        .post(&format!("/manage/maintainers/{maintainer}/organizations"), &app.manage, json!({"name": "Other"}))
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    let other_project = app
        .post(&format!("/manage/organizations/{other_org}/projects"), &app.manage, json!({"name": "Far"}))
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    let stranger = app.member_token_in(other_project, "far@example.com", "admin").await;

    let shared =
        app.post(&format!("/v2/storage/buckets/{bucket}/share-organization-project"), &app.admin, json!({})).await;
    let shared = shared.expect(200).body;
    assert_eq!(shared["sharing"], "organization-project");
    assert_eq!(shared["sharingParameters"], json!({}));
    assert!(shared["sharedBy"]["id"].is_number() && shared["sharedBy"]["date"].is_string(), "{shared}");
    let detail = app.get(&format!("/v2/storage/buckets/{bucket}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["sharing"], "organization-project");
    let listed = app.get("/v2/storage/buckets", &app.admin).await.expect(200).body;
    assert_eq!(listed[0]["sharing"], "organization-project");

    let visible = app.get("/v2/storage/shared-buckets", &second).await.expect(200).body;
    assert_eq!(ids(&visible), [bucket.as_str()]);
    assert_eq!(visible[0]["project"], json!({"id": app.project_id, "name": "Main"}));
    assert_eq!(visible[0]["tables"][0]["id"], format!("{bucket}.t"));
    assert_eq!(visible[0]["tables"][0]["rowsCount"], 1);
    assert!(ids(&app.get("/v2/storage/shared-buckets", &stranger).await.expect(200).body).is_empty());

    app.post(&format!("/v2/storage/buckets/{bucket}/share-organization-project"), &app.admin, json!({}))
        .await
        .expect_error(400, "storage.buckets.shareTwice");
    let events = app.get(&format!("/v2/storage/buckets/{bucket}/events"), &app.admin).await.expect(200).body;
    assert!(events.as_array().unwrap().iter().any(|e| e["event"] == "storage.bucketShared"), "{events}");
}

#[tokio::test]
async fn sharing_changes_kind_and_targets_as_jobs_and_who_sees_the_bucket_follows() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("kinds").await;
    let (_, second_id, second) = second_project(&app, "second@example.com").await;
    let share = |kind: &str| format!("/v2/storage/buckets/{bucket}/{kind}?async=1");

    // To the organization: its members only, and the second project's admin is not one.
    let job = app.post(&share("share-organization"), &app.admin, json!({})).await.expect(202).body;
    assert_eq!(
        (job["operationName"].as_str(), job["status"].as_str()),
        (Some("bucketShare"), Some("success")),
        "{job}"
    );
    assert!(ids(&app.get("/v2/storage/shared-buckets", &second).await.expect(200).body).is_empty());
    assert_eq!(ids(&app.get("/v2/storage/shared-buckets", &app.admin).await.expect(200).body), [bucket.as_str()]);

    // PUT share changes the kind.
    let path = format!("/v2/storage/buckets/{bucket}/share?async=1");
    let job = app.put(&path, &app.admin, json!({"sharing": "organization-project"})).await.expect(202).body;
    assert_eq!(job["status"], "success", "{job}");
    assert_eq!(ids(&app.get("/v2/storage/shared-buckets", &second).await.expect(200).body), [bucket.as_str()]);
    app.put(&path, &app.admin, json!({"sharing": "global"}))
        .await
        .expect_error(400, "storage.buckets.invalidSharingType");

    // To chosen projects: only projects of the same organization.
    app.post(&share("share-to-projects"), &app.admin, json!({"targetProjectIds": ["999"]}))
        .await
        .expect_error(400, "storage.buckets.invalidSharingTargets");
    app.post(&share("share-to-projects"), &app.admin, json!({}))
        .await
        .expect_error(400, "storage.buckets.invalidSharingTargets");
    let body = json!({"targetProjectIds": [second_id.to_string()]});
    assert_eq!(app.post(&share("share-to-projects"), &app.admin, body).await.expect(202).body["status"], "success");
    let detail = app.get(&format!("/v2/storage/buckets/{bucket}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["sharingParameters"]["projects"][0]["id"], second_id);
    assert_eq!(ids(&app.get("/v2/storage/shared-buckets", &second).await.expect(200).body), [bucket.as_str()]);

    // To chosen users, by email.
    let third = app.member_token_in(second_id, "third@example.com", "admin").await;
    let body = json!({"targetUsers": ["third@example.com"]});
    assert_eq!(app.post(&share("share-to-users"), &app.admin, body).await.expect(202).body["status"], "success");
    assert_eq!(ids(&app.get("/v2/storage/shared-buckets", &third).await.expect(200).body), [bucket.as_str()]);
    assert!(ids(&app.get("/v2/storage/shared-buckets", &second).await.expect(200).body).is_empty());

    // Unsharing hides it; changing an unshared bucket is refused.
    let job = app.delete(&path, &app.admin).await.expect(202).body;
    assert_eq!((job["operationName"].as_str(), job["status"].as_str()), (Some("bucketUnshare"), Some("success")));
    assert!(ids(&app.get("/v2/storage/shared-buckets", &third).await.expect(200).body).is_empty());
    let refused = app.put(&path, &app.admin, json!({"sharing": "organization"})).await;
    assert_eq!(
        refused.expect_error(400, "storage.bucket.notShared").body["error"],
        format!("The bucket {bucket} is not shared.")
    );
    app.delete(&format!("/v2/storage/buckets/{bucket}/share"), &app.admin)
        .await
        .expect_error(400, "storage.bucket.notShared");
    let detail = app.get(&format!("/v2/storage/buckets/{bucket}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["sharing"], Value::Null);
    assert!(detail.get("sharedBy").is_none());
}

#[tokio::test]
async fn limited_tokens_never_share_and_list_only_with_bucket_management() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("guarded").await;
    let (manager, _) = app.create_token(json!({"description": "m", "canManageBuckets": true})).await;
    let (reader, _) =
        app.create_token(json!({"description": "r", "bucketPermissions": {bucket.clone(): "read"}})).await;
    let guest = app.member_token("guest@example.com", "guest").await;
    for token in [&manager, &reader, &guest] {
        app.post(&format!("/v2/storage/buckets/{bucket}/share-organization-project"), token, json!({}))
            .await
            .expect_error(403, "accessDenied");
    }
    app.get("/v2/storage/shared-buckets", &reader).await.expect_error(403, "accessDenied");
    app.post(&format!("/v2/storage/buckets/{bucket}/share-organization"), &app.admin, json!({})).await.expect(200);
    assert!(ids(&app.get("/v2/storage/shared-buckets", &manager).await.expect(200).body).is_empty());
    app.delete(&format!("/v2/storage/buckets/{bucket}/share"), &manager).await.expect_error(403, "accessDenied");
    let detail = app.get(&format!("/v2/storage/buckets/{bucket}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["sharing"], "organization", "a refused unshare changes nothing");
}
