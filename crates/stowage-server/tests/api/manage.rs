use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, Payload, TestApp};

#[tokio::test]
async fn the_manage_api_creates_lists_shows_and_deletes_projects() {
    let app = spawn_app().await;
    let created = app.post("/manage/projects", &app.manage, json!({"name": "Analytics"})).await.expect(201).body;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["name"], "Analytics");
    let list = app.get("/manage/projects", &app.manage).await.expect(200).body;
    let names: Vec<_> = list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Main", "Analytics"]);
    app.get(&format!("/manage/projects/{id}"), &app.manage).await.expect(200);
    app.delete(&format!("/manage/projects/{id}"), &app.manage).await.expect(204);
    app.get(&format!("/manage/projects/{id}"), &app.manage).await.expect_error(404, "manage.projects.notFound");
    app.delete(&format!("/manage/projects/{id}"), &app.manage).await.expect_error(404, "manage.projects.notFound");
}

#[tokio::test]
async fn a_project_needs_a_name() {
    let app = spawn_app().await;
    app.post("/manage/projects", &app.manage, json!({})).await.expect_error(400, "manage.projects.validation");
    app.post("/manage/projects", &app.manage, json!({"name": "   "}))
        .await
        .expect_error(400, "manage.projects.validation");
    assert_eq!(app.get("/manage/projects", &app.manage).await.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_manage_api_rejects_missing_wrong_and_storage_tokens() {
    let app = spawn_app().await;
    app.call(Method::GET, "/manage/projects", None, Payload::None).await.expect_error(401, "manage.tokenInvalid");
    let reply = app.get("/manage/projects", "wrong").await.expect_error(401, "manage.tokenInvalid");
    assert!(!reply.text.contains("wrong\""));
    app.get("/manage/projects", &app.admin).await.expect_error(401, "manage.tokenInvalid");
}

#[tokio::test]
async fn adding_a_member_returns_their_master_token_once() {
    let app = spawn_app().await;
    let project = app.post("/manage/projects", &app.manage, json!({"name": "P"})).await.expect(201).body;
    let id = project["id"].as_i64().unwrap();
    let reply = app
        .post(
            &format!("/manage/projects/{id}/users"),
            &app.manage,
            json!({"email": "Ann@Example.com", "role": "share"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(reply["email"], "ann@example.com");
    assert_eq!(reply["role"], "share");
    let secret = reply["token"]["token"].as_str().unwrap();
    assert!(secret.starts_with(&format!("{id}-")));
    assert_eq!(reply["token"]["description"], "ann@example.com");
    assert_eq!(reply["token"]["isMasterToken"], true);
    let verify = app.get("/v2/storage/tokens/verify", secret).await.expect(200).body;
    assert_eq!(verify["owner"]["id"], id);
    assert_eq!(verify["admin"]["role"], "share");
    assert_eq!(verify["canManageTokens"], true);
    let users = app.get(&format!("/manage/projects/{id}/users"), &app.manage).await.expect(200).body;
    assert_eq!(
        users,
        json!([{
            "id": reply["id"], "email": "ann@example.com", "name": "ann", "role": "share", "created": reply["created"]
        }])
    );
    assert!(!users.to_string().contains(secret), "listing members never shows a secret");
}

#[tokio::test]
async fn each_role_gives_its_master_token_the_flags_of_the_spec() {
    let app = spawn_app().await;
    let expected = [
        ("admin", true, true, true, true),
        ("share", true, true, true, true),
        ("guest", true, false, true, false),
        ("readOnly", false, false, true, false),
    ];
    for (role, buckets, tokens, files, trash) in expected {
        let secret = app.member_token(&format!("{role}@example.com"), role).await;
        let verify = app.get("/v2/storage/tokens/verify", &secret).await.expect(200).body;
        assert_eq!(verify["isMasterToken"], true, "{role}");
        assert_eq!(verify["admin"]["role"], role);
        assert_eq!(verify["canManageBuckets"], buckets, "{role}");
        assert_eq!(verify["canManageTokens"], tokens, "{role}");
        assert_eq!(verify["canReadAllFileUploads"], files, "{role}");
        assert_eq!(verify["canPurgeTrash"], trash, "{role}");
    }
}

#[tokio::test]
async fn a_member_cannot_be_added_twice_and_bad_input_is_rejected() {
    let app = spawn_app().await;
    let path = format!("/manage/projects/{}/users", app.project_id);
    app.post(&path, &app.manage, json!({"email": "admin@localhost", "role": "guest"}))
        .await
        .expect_error(400, "manage.projects.userAlreadyMember");
    app.post(&path, &app.manage, json!({"email": "not-an-email", "role": "guest"}))
        .await
        .expect_error(400, "manage.users.validation");
    let reply = app.post(&path, &app.manage, json!({"email": "x@example.com", "role": "owner"})).await;
    let reply = reply.expect_error(400, "manage.users.validation");
    assert_eq!(reply.message(), "Invalid data - role: \"owner\" is not one of admin, guest, readOnly, share.");
    app.post("/manage/projects/999/users", &app.manage, json!({"email": "x@example.com", "role": "guest"}))
        .await
        .expect_error(404, "manage.projects.notFound");
    let users = app.get(&path, &app.manage).await.expect(200).body;
    assert_eq!(users.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn removing_a_member_deletes_their_master_token() {
    let app = spawn_app().await;
    let secret = app.member_token("leaving@example.com", "admin").await;
    app.get("/v2/storage/tokens/verify", &secret).await.expect(200);
    let path = format!("/manage/projects/{}/users/leaving@example.com", app.project_id);
    app.delete(&path, &app.manage).await.expect(204);
    app.get("/v2/storage/tokens/verify", &secret).await.expect_error(401, "storage.tokenInvalid");
    app.delete(&path, &app.manage).await.expect_error(404, "manage.projects.userNotFound");
    let events = app.events("q=event:storage.tokenDeleted").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["objectId"], json!(TestApp::token_id(&secret)));
}

#[tokio::test]
async fn a_user_can_be_a_member_of_several_projects_with_one_token_each() {
    let app = spawn_app().await;
    let other = app.post("/manage/projects", &app.manage, json!({"name": "Other"})).await.expect(201).body;
    let other_id = other["id"].as_i64().unwrap();
    let here = app.member_token("both@example.com", "guest").await;
    let there = app.member_token_in(other_id, "both@example.com", "admin").await;
    let here_verify = app.get("/v2/storage/tokens/verify", &here).await.expect(200).body;
    let there_verify = app.get("/v2/storage/tokens/verify", &there).await.expect(200).body;
    assert_eq!(here_verify["admin"]["id"], there_verify["admin"]["id"]);
    assert_eq!(here_verify["admin"]["role"], "guest");
    assert_eq!(there_verify["admin"]["role"], "admin");
    assert_eq!(there_verify["owner"]["id"], other_id);
}

#[tokio::test]
async fn deleting_a_project_revokes_its_tokens_and_hides_its_data() {
    let app = spawn_app().await;
    let project = app.post("/manage/projects", &app.manage, json!({"name": "Doomed"})).await.expect(201).body;
    let id = project["id"].as_i64().unwrap();
    let secret = app.member_token_in(id, "owner@example.com", "admin").await;
    app.post("/v2/storage/buckets", &secret, json!({"name": "data"})).await.expect(201);
    app.delete(&format!("/manage/projects/{id}"), &app.manage).await.expect(204);
    app.get("/v2/storage/buckets", &secret).await.expect_error(401, "storage.tokenInvalid");
    app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200);
}

#[tokio::test]
async fn projects_are_isolated_from_each_other() {
    let app = spawn_app().await;
    let project = app.post("/manage/projects", &app.manage, json!({"name": "Second"})).await.expect(201).body;
    let other = app.member_token_in(project["id"].as_i64().unwrap(), "second@example.com", "admin").await;
    let id = app.create_bucket("private").await;
    app.get(&format!("/v2/storage/buckets/{id}"), &other).await.expect_error(404, "storage.buckets.notFound");
    assert_eq!(app.get("/v2/storage/buckets", &other).await.expect(200).body, json!([]));
    let events = app.get("/v2/storage/events", &other).await.expect(200).body;
    assert!(events.as_array().unwrap().iter().all(|e| e["objectId"] != json!(id)));
}
