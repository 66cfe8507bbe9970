//! The token permission model and lifecycle, one test per rule of spec/tokens.md §3–§4.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

fn bucket_ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_default_token_has_no_permissions_and_names_its_creator() {
    let app = spawn_app().await;
    app.create_bucket("a").await;
    let (secret, body) = app.create_token(json!({})).await;
    let admin_id = TestApp::token_id(&app.admin);
    assert_eq!(body["description"], "Created by admin@localhost");
    assert_eq!(body["expires"], json!(null));
    assert_eq!(body["isMasterToken"], false);
    for flag in ["canManageBuckets", "canManageTokens", "canReadAllFileUploads", "canPurgeTrash"] {
        assert_eq!(body[flag], false, "{flag}");
    }
    assert_eq!(body["bucketPermissions"], json!([]));
    assert!(body.get("componentAccess").is_none());
    assert!(body.get("admin").is_none());
    assert_eq!(body["creatorToken"], json!({"id": admin_id, "description": "admin@localhost"}));
    assert!(body["id"].is_string());
    let (project, rest) = secret.split_once('-').unwrap();
    assert_eq!(project, app.project_id.to_string());
    let (id, random) = rest.split_once('-').unwrap();
    assert_eq!(json!(id), body["id"]);
    assert!(random.starts_with("stow") && random.chars().all(|c| c.is_ascii_alphanumeric()));
}

#[tokio::test]
async fn a_maximal_token_gets_every_flag_it_asked_for_and_manage_on_every_bucket() {
    let app = spawn_app().await;
    let a = app.create_bucket("a").await;
    let b = app.create_bucket("b").await;
    let options = json!({
        "description": "max", "canReadAllFileUploads": true, "canManageBuckets": true, "canPurgeTrash": true,
        "expiresIn": 360, "componentAccess": ["wr-db"],
    });
    let (_, body) = app.create_token(options).await;
    assert_eq!(body["description"], "max");
    assert!(body["expires"].is_string());
    assert_eq!(body["isExpired"], false);
    assert_eq!(body["canManageTokens"], false);
    assert_eq!(body["canManageBuckets"], true);
    assert_eq!(body["canReadAllFileUploads"], true);
    assert_eq!(body["canPurgeTrash"], true);
    assert_eq!(body["bucketPermissions"], json!({a: "manage", b: "manage"}));
    assert_eq!(body["componentAccess"], json!(["wr-db"]));
}

#[tokio::test]
async fn form_encoded_bucket_permissions_and_component_access_are_understood() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("form").await;
    let reply = app
        .post_form(
            "/v2/storage/tokens",
            &app.admin,
            "description=f&bucketPermissions%5Bin.c-form%5D=read&componentAccess%5B%5D=keboola.wr-storage&expiresIn=60",
        )
        .await
        .expect(201);
    assert_eq!(reply.body["bucketPermissions"], json!({bucket: "read"}));
    assert_eq!(reply.body["componentAccess"], json!(["keboola.wr-storage"]));
}

#[tokio::test]
async fn manage_cannot_be_granted_and_a_rejected_update_changes_nothing() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("perm").await;
    let (secret, body) = app.create_token(json!({})).await;
    let path = format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap());
    let read = app.put(&path, &app.admin, json!({"bucketPermissions": {&bucket: "read"}})).await.expect(200).body;
    assert_eq!(read["bucketPermissions"], json!({&bucket: "read"}));
    let write = app.put(&path, &app.admin, json!({"bucketPermissions": {&bucket: "write"}})).await.expect(200).body;
    assert_eq!(write["bucketPermissions"], json!({&bucket: "write"}));
    let reply = app.put(&path, &app.admin, json!({"bucketPermissions": {&bucket: "manage"}})).await;
    reply.expect_error(400, "storage.tokens.invalidPermissions");
    let after = app.get(&path, &app.admin).await.expect(200).body;
    assert_eq!(after["bucketPermissions"], json!({&bucket: "write"}));
    let verify = app.get("/v2/storage/tokens/verify", &secret).await.expect(200).body;
    assert_eq!(verify["bucketPermissions"], json!({&bucket: "write"}));
}

#[tokio::test]
async fn a_grant_on_a_missing_bucket_or_of_manage_creates_no_token() {
    let app = spawn_app().await;
    app.create_bucket("exists").await;
    let before = app.get("/v2/storage/tokens", &app.admin).await.expect(200).body.as_array().unwrap().len();
    for permissions in
        [json!({"out.c-non-existing": "read"}), json!({"in.c-exists": "manage"}), json!({"in.c-exists": "all"})]
    {
        app.post("/v2/storage/tokens", &app.admin, json!({"bucketPermissions": permissions}))
            .await
            .expect_error(400, "storage.tokens.invalidPermissions");
    }
    let after = app.get("/v2/storage/tokens", &app.admin).await.expect(200).body.as_array().unwrap().len();
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_read_grant_lists_and_reads_only_its_bucket_and_changes_nothing() {
    let app = spawn_app().await;
    let granted = app.create_bucket("granted").await;
    let other = app.create_bucket("other").await;
    let (secret, _) = app.create_token(json!({"bucketPermissions": {&granted: "read"}})).await;
    assert_eq!(
        bucket_ids(&app.get("/v2/storage/buckets", &secret).await.expect(200).body),
        std::slice::from_ref(&granted)
    );
    app.get(&format!("/v2/storage/buckets/{granted}"), &secret).await.expect(200);
    app.get(&format!("/v2/storage/buckets/{granted}/events"), &secret).await.expect(200);
    app.get(&format!("/v2/storage/buckets/{other}"), &secret).await.expect_error(403, "accessDenied");
    app.put(&format!("/v2/storage/buckets/{granted}"), &secret, json!({"description": "x"}))
        .await
        .expect_error(403, "accessDenied");
    app.delete(&format!("/v2/storage/buckets/{granted}"), &secret).await.expect_error(403, "accessDenied");
    app.post("/v2/storage/buckets", &secret, json!({"name": "mine"})).await.expect_error(403, "accessDenied");
}

#[tokio::test]
async fn a_write_grant_reads_its_bucket_but_does_not_manage_it() {
    let app = spawn_app().await;
    let granted = app.create_bucket("w").await;
    let (secret, _) = app.create_token(json!({"bucketPermissions": {&granted: "write"}})).await;
    assert_eq!(
        bucket_ids(&app.get("/v2/storage/buckets", &secret).await.expect(200).body),
        std::slice::from_ref(&granted)
    );
    app.get(&format!("/v2/storage/buckets/{granted}"), &secret).await.expect(200);
    app.delete(&format!("/v2/storage/buckets/{granted}"), &secret).await.expect_error(403, "accessDenied");
}

#[tokio::test]
async fn a_token_without_grants_sees_no_bucket() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("hidden").await;
    let (secret, _) = app.create_token(json!({})).await;
    assert_eq!(app.get("/v2/storage/buckets", &secret).await.expect(200).body, json!([]));
    app.get(&format!("/v2/storage/buckets/{bucket}"), &secret).await.expect_error(403, "accessDenied");
    // A missing bucket answers the same as a hidden one: the token learns nothing.
    app.get("/v2/storage/buckets/in.c-missing", &secret).await.expect_error(403, "accessDenied");
}

#[tokio::test]
async fn the_very_next_request_after_a_change_sees_it_however_often_the_token_was_just_read() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("seen").await;
    let (secret, token) = app.create_token(json!({"bucketPermissions": {&bucket: "read"}})).await;
    let id = token["id"].as_str().unwrap().to_string();
    let verify = || app.get("/v2/storage/tokens/verify", &secret);
    for _ in 0..3 {
        assert_eq!(verify().await.expect(200).body["bucketPermissions"], json!({&bucket: "read"}));
    }
    // A new grant, the project's buckets, a refreshed secret and a deleted token: each is seen at once.
    let changed = json!({"bucketPermissions": {&bucket: "write"}});
    app.put(&format!("/v2/storage/tokens/{id}"), &app.admin, changed).await.expect(200);
    assert_eq!(verify().await.expect(200).body["bucketPermissions"], json!({&bucket: "write"}));
    let other = app.create_bucket("other").await;
    let master = app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200).body;
    assert_eq!(master["bucketPermissions"], json!({&bucket: "manage", &other: "manage"}));
    app.delete(&format!("/v2/storage/buckets/{other}"), &app.admin).await.expect(204);
    let master = app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200).body;
    assert_eq!(master["bucketPermissions"], json!({&bucket: "manage"}));
    let refreshed = app.post(&format!("/v2/storage/tokens/{id}/refresh"), &app.admin, json!({})).await.expect(200).body;
    verify().await.expect_error(401, "storage.tokenInvalid");
    let new_secret = refreshed["token"].as_str().unwrap();
    app.get("/v2/storage/tokens/verify", new_secret).await.expect(200);
    app.delete(&format!("/v2/storage/tokens/{id}"), &app.admin).await.expect(204);
    app.get("/v2/storage/tokens/verify", new_secret).await.expect_error(401, "storage.tokenInvalid");
}

#[tokio::test]
async fn a_can_manage_buckets_token_manages_every_bucket_including_new_ones() {
    let app = spawn_app().await;
    let old = app.create_bucket("old").await;
    let (secret, _) = app.create_token(json!({"canManageBuckets": true})).await;
    let new = app.create_bucket("new").await;
    let verify = app.get("/v2/storage/tokens/verify", &secret).await.expect(200).body;
    assert_eq!(verify["bucketPermissions"], json!({&new: "manage", &old: "manage"}));
    assert_eq!(verify["expires"], json!(null));
    let own = app.post("/v2/storage/buckets", &secret, json!({"name": "own"})).await.expect(201).body;
    app.get(&format!("/v2/storage/buckets/{new}"), &secret).await.expect(200);
    app.delete(&format!("/v2/storage/buckets/{old}"), &secret).await.expect(204);
    app.delete(&format!("/v2/storage/buckets/{}", own["id"].as_str().unwrap()), &secret).await.expect(204);
}

#[tokio::test]
async fn updating_a_can_manage_buckets_token_keeps_the_flag_and_its_reach() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("kept").await;
    let (_, body) = app.create_token(json!({"canManageBuckets": true})).await;
    let path = format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap());
    for update in [json!({"description": "d"}), json!({"bucketPermissions": {&bucket: "read"}})] {
        let after = app.put(&path, &app.admin, update).await.expect(200).body;
        assert_eq!(after["canManageBuckets"], true);
        assert_eq!(after["bucketPermissions"], json!({&bucket: "manage"}));
    }
}

#[tokio::test]
async fn a_read_only_member_cannot_create_any_token() {
    let app = spawn_app().await;
    let read_only = app.member_token("ro@example.com", "readOnly").await;
    for body in [json!({}), json!({"description": "d", "expiresIn": 60}), json!({"canManageBuckets": true})] {
        let reply = app.post("/v2/storage/tokens", &read_only, body).await.expect_error(403, "accessDenied");
        assert_eq!(reply.message(), "You don't have access to the resource.");
    }
}

#[tokio::test]
async fn a_guest_creates_only_minimal_tokens() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("g").await;
    let guest = app.member_token("guest@example.com", "guest").await;
    let full = json!({
        "description": "from guest", "expiresIn": 120, "canManageBuckets": true, "canReadAllFileUploads": true,
        "canPurgeTrash": true, "componentAccess": ["wr-db"], "bucketPermissions": {&bucket: "write"},
    });
    let body = app.post("/v2/storage/tokens", &guest, full).await.expect(201).body;
    assert_eq!(body["description"], "from guest");
    assert!(body["expires"].is_string());
    for flag in ["canManageBuckets", "canReadAllFileUploads", "canPurgeTrash"] {
        assert_eq!(body[flag], false, "{flag}");
    }
    assert_eq!(body["bucketPermissions"], json!([]));
    assert!(body.get("componentAccess").is_none());
    let minimal = app.post("/v2/storage/tokens", &guest, json!({})).await.expect(201).body;
    assert_eq!(minimal["description"], "Created by guest@example.com");
    assert_eq!(minimal["expires"], json!(null));
}

#[tokio::test]
async fn an_expiry_below_one_second_is_rejected_with_keboolas_message() {
    let app = spawn_app().await;
    let guest = app.member_token("guest@example.com", "guest").await;
    for token in [&app.admin, &guest] {
        for expires_in in [0, -5] {
            let reply = app.post("/v2/storage/tokens", token, json!({"expiresIn": expires_in})).await;
            let reply = reply.expect_error(400, "storage.tokens.validation");
            assert_eq!(reply.message(), "Minimal expiration must be greater or equal to 1 second(s)");
        }
    }
}

#[tokio::test]
async fn a_token_that_cannot_manage_tokens_lists_and_views_only_itself() {
    let app = spawn_app().await;
    let (secret, body) = app.create_token(json!({})).await;
    let id = body["id"].as_str().unwrap();
    let list = app.get("/v2/storage/tokens", &secret).await.expect(200).body;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], json!(id));
    app.get(&format!("/v2/storage/tokens/{id}"), &secret).await.expect(200);
    let admin_id = TestApp::token_id(&app.admin);
    app.get(&format!("/v2/storage/tokens/{admin_id}"), &secret).await.expect_error(403, "accessDenied");
    let guest = app.member_token("guest@example.com", "guest").await;
    app.get(&format!("/v2/storage/tokens/{admin_id}"), &guest).await.expect_error(403, "accessDenied");
    assert_eq!(app.get("/v2/storage/tokens", &guest).await.expect(200).body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_admin_lists_every_token_with_member_details_and_never_a_secret() {
    let app = spawn_app().await;
    let (secret, _) = app.create_token(json!({"description": "limited"})).await;
    let list = app.get("/v2/storage/tokens", &app.admin).await.expect(200);
    let tokens = list.body.as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0]["admin"], json!({"id": tokens[0]["admin"]["id"], "name": "admin", "role": "admin"}));
    assert!(tokens.iter().all(|t| t.get("token").is_none()));
    assert!(!list.text.contains(&secret) && !list.text.contains(&app.admin));
    let detail = app.get(&format!("/v2/storage/tokens/{}", TestApp::token_id(&secret)), &app.admin).await;
    assert!(detail.expect(200).body.get("token").is_none());
}

#[tokio::test]
async fn a_token_created_by_an_admin_names_that_admin_as_its_owner() {
    let app = spawn_app().await;
    let verify = app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200).body;
    let (_, body) = app.create_token(json!({})).await;
    let detail = app.get(&format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap()), &app.admin).await.expect(200);
    assert_eq!(detail.body["adminOwner"]["id"], verify["admin"]["id"]);
    assert_eq!(detail.body["adminOwner"]["email"], "admin@localhost");
}

#[tokio::test]
async fn master_tokens_cannot_be_modified_deleted_or_shared() {
    let app = spawn_app().await;
    let id = TestApp::token_id(&app.admin);
    let path = format!("/v2/storage/tokens/{id}");
    app.put(&path, &app.admin, json!({"description": "x"}))
        .await
        .expect_error(400, "storage.tokens.cannotModifyMasterToken");
    app.delete(&path, &app.admin).await.expect_error(400, "storage.tokens.cannotModifyMasterToken");
    let share = json!({"recipientEmail": "x@example.com", "message": "hi"});
    app.post(&format!("{path}/share"), &app.admin, share)
        .await
        .expect_error(400, "storage.token.cannotShareMasterToken");
    app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200);
}

#[tokio::test]
async fn a_token_can_delete_itself_and_is_rejected_afterwards() {
    let app = spawn_app().await;
    let (secret, body) = app.create_token(json!({})).await;
    app.delete(&format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap()), &secret).await.expect(204);
    app.get("/v2/storage/tokens/verify", &secret).await.expect_error(401, "storage.tokenInvalid");
}

#[tokio::test]
async fn an_admin_deletes_a_token_and_the_list_shrinks_back() {
    let app = spawn_app().await;
    let before = app.get("/v2/storage/tokens", &app.admin).await.expect(200).body.as_array().unwrap().len();
    let (secret, body) = app.create_token(json!({})).await;
    app.delete(&format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap()), &app.admin).await.expect(204);
    let after = app.get("/v2/storage/tokens", &app.admin).await.expect(200).body.as_array().unwrap().len();
    assert_eq!(before, after);
    app.get("/v2/storage/tokens/verify", &secret).await.expect_error(401, "storage.tokenInvalid");
    app.delete(&format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap()), &app.admin)
        .await
        .expect_error(404, "storage.tokens.notFound");
}

#[tokio::test]
async fn refresh_gives_a_new_secret_under_the_same_id_and_the_old_one_dies_at_once() {
    let app = spawn_app().await;
    let (old, body) = app.create_token(json!({})).await;
    let id = body["id"].as_str().unwrap();
    let refreshed = app.post(&format!("/v2/storage/tokens/{id}/refresh"), &app.admin, json!({})).await.expect(200).body;
    let new = refreshed["token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(refreshed["id"], json!(id));
    assert!(refreshed["refreshed"].as_str().unwrap() > body["created"].as_str().unwrap());
    app.get("/v2/storage/tokens/verify", &old).await.expect_error(401, "storage.tokenInvalid");
    app.get("/v2/storage/tokens/verify", new).await.expect(200);
}

#[tokio::test]
async fn any_token_refreshes_itself_including_a_master_token() {
    let app = spawn_app().await;
    let (limited, body) = app.create_token(json!({})).await;
    let path = format!("/v2/storage/tokens/{}/refresh", body["id"].as_str().unwrap());
    let new_limited =
        app.post(&path, &limited, json!({})).await.expect(200).body["token"].as_str().unwrap().to_string();
    app.get("/v2/storage/tokens/verify", &new_limited).await.expect(200);
    let path = format!("/v2/storage/tokens/{}/refresh", TestApp::token_id(&app.admin));
    let new_admin =
        app.post(&path, &app.admin, json!({})).await.expect(200).body["token"].as_str().unwrap().to_string();
    app.get("/v2/storage/tokens/verify", &app.admin).await.expect_error(401, "storage.tokenInvalid");
    app.get("/v2/storage/tokens/verify", &new_admin).await.expect(200);
}

#[tokio::test]
async fn only_token_managers_refresh_other_tokens_and_never_another_members_master_token() {
    let app = spawn_app().await;
    let (limited, _) = app.create_token(json!({})).await;
    let (_, other) = app.create_token(json!({"canManageBuckets": true})).await;
    let other_path = format!("/v2/storage/tokens/{}/refresh", other["id"].as_str().unwrap());
    let read_only = app.member_token("ro@example.com", "readOnly").await;
    let reply = app.post(&other_path, &limited, json!({})).await.expect_error(403, "accessDenied");
    assert_eq!(reply.message(), "You don't have access to the resource.");
    app.post(&other_path, &read_only, json!({})).await.expect_error(403, "accessDenied");
    let admin_path = format!("/v2/storage/tokens/{}/refresh", TestApp::token_id(&app.admin));
    app.post(&admin_path, &read_only, json!({})).await.expect_error(403, "accessDenied");
    let share = app.member_token("share@example.com", "share").await;
    app.post(&admin_path, &share, json!({})).await.expect_error(403, "accessDenied");
    app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200);
}

#[tokio::test]
async fn permission_changes_take_effect_on_the_next_request() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("live").await;
    let (secret, body) = app.create_token(json!({})).await;
    let path = format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap());
    app.get(&format!("/v2/storage/buckets/{bucket}"), &secret).await.expect_error(403, "accessDenied");
    app.put(&path, &app.admin, json!({"bucketPermissions": {&bucket: "read"}})).await.expect(200);
    app.get(&format!("/v2/storage/buckets/{bucket}"), &secret).await.expect(200);
    app.put(&path, &app.admin, json!({"bucketPermissions": {}})).await.expect(200);
    app.get(&format!("/v2/storage/buckets/{bucket}"), &secret).await.expect_error(403, "accessDenied");
    let flags = app
        .put(&path, &app.admin, json!({"canReadAllFileUploads": true, "canPurgeTrash": true, "componentAccess": ["x"]}))
        .await
        .expect(200)
        .body;
    assert_eq!((flags["canReadAllFileUploads"].clone(), flags["canPurgeTrash"].clone()), (json!(true), json!(true)));
    let verify = app.get("/v2/storage/tokens/verify", &secret).await.expect(200).body;
    assert_eq!(verify["componentAccess"], json!(["x"]));
    assert_eq!(verify["canPurgeTrash"], true);
}

#[tokio::test]
async fn a_grant_dies_with_its_bucket_and_never_passes_to_a_new_bucket_of_the_same_id() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("reborn").await;
    let (secret, _) = app.create_token(json!({"bucketPermissions": {&bucket: "write"}})).await;
    app.delete(&format!("/v2/storage/buckets/{bucket}"), &app.admin).await.expect(204);
    let verify = app.get("/v2/storage/tokens/verify", &secret).await.expect(200).body;
    assert_eq!(verify["bucketPermissions"], json!([]));
    app.create_bucket("reborn").await;
    app.get(&format!("/v2/storage/buckets/{bucket}"), &secret).await.expect_error(403, "accessDenied");
    assert_eq!(app.get("/v2/storage/buckets", &secret).await.expect(200).body, json!([]));
}

#[tokio::test]
async fn an_expiring_token_works_until_its_expiry_and_then_gets_401() {
    let app = spawn_app().await;
    let (secret, body) = app.create_token(json!({"expiresIn": 1})).await;
    assert!(body["expires"].is_string());
    let verify = app.get("/v2/storage/tokens/verify", &secret).await.expect(200).body;
    assert_eq!(verify["isExpired"], false);
    assert!(verify["expires"].is_string());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reply = app.get("/v2/storage/tokens/verify", &secret).await.expect_error(401, "storage.tokenInvalid");
    assert!(!reply.text.contains(&secret));
}

#[tokio::test]
async fn expired_tokens_are_deleted_by_the_background_task_with_an_event() {
    let app = spawn_app_with(|config| config.maintenance_interval = Duration::from_millis(200)).await;
    let (_, body) = app.create_token(json!({"expiresIn": 1, "description": "short-lived"})).await;
    let id = body["id"].as_str().unwrap().to_string();
    let mut deleted = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if app.get(&format!("/v2/storage/tokens/{id}"), &app.admin).await.status == 404 {
            deleted = true;
            break;
        }
    }
    assert!(deleted, "the expired token was not deleted");
    let events = app.events("q=event:storage.tokenExpired").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["objectId"], json!(id));
    assert_eq!(events[0]["params"]["description"], "short-lived");
}

#[tokio::test]
async fn every_token_operation_is_in_the_tokens_feed_newest_first() {
    let app = spawn_app().await;
    let (secret, body) = app.create_token(json!({})).await;
    let id = body["id"].as_str().unwrap();
    app.put(&format!("/v2/storage/tokens/{id}"), &app.admin, json!({"description": "renamed"})).await.expect(200);
    let share = json!({"recipientEmail": "friend@example.com", "message": "here"});
    app.post(&format!("/v2/storage/tokens/{id}/share"), &app.admin, share).await.expect(204);
    let new = app.post(&format!("/v2/storage/tokens/{id}/refresh"), &secret, json!({})).await.expect(200).body;
    let new = new["token"].as_str().unwrap().to_string();
    app.post("/v2/storage/events", &new, json!({"component": "c", "message": "own"})).await.expect(201);
    let feed = app.get(&format!("/v2/storage/tokens/{id}/events"), &app.admin).await.expect(200).body;
    let names: Vec<_> = feed.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["ext.c.", "storage.tokenRefreshed", "storage.tokenShared", "storage.tokenUpdated", "storage.tokenCreated"]
    );
    assert_eq!(feed[2]["params"]["recipientEmail"], "friend@example.com");
    app.delete(&format!("/v2/storage/tokens/{id}"), &app.admin).await.expect(204);
    let deleted = app.events("q=event:storage.tokenDeleted").await;
    assert_eq!(deleted[0]["objectId"], json!(id));
}

#[tokio::test]
async fn a_limited_token_sees_only_the_events_it_made() {
    let app = spawn_app().await;
    app.create_bucket("admin-made").await;
    let (secret, _) = app.create_token(json!({})).await;
    app.post("/v2/storage/events", &secret, json!({"component": "c", "message": "mine"})).await.expect(201);
    let events = app.get("/v2/storage/events", &secret).await.expect(200).body;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["message"], "mine");
    let admin_event = app.events("q=event:storage.bucketCreated").await[0]["id"].clone();
    app.get(&format!("/v2/storage/events/{admin_event}"), &secret).await.expect_error(404, "storage.events.notFound");
    assert!(app.events("").await.len() >= 3, "the admin sees everything");
}

#[tokio::test]
async fn malformed_token_ids_are_not_found() {
    let app = spawn_app().await;
    for path in ["/v2/storage/tokens/foo", "/v2/storage/tokens/-1"] {
        let reply = app.get(path, &app.admin).await.expect_error(404, "notFound");
        assert!(reply.message().contains("resource not found"));
    }
    app.get("/v2/storage/tokens/99999", &app.admin).await.expect_error(404, "storage.tokens.notFound");
    // An id left empty, as `tokens.delete(False)` sends it.
    let reply = app.delete("/v2/storage/tokens/", &app.admin).await.expect_error(404, "notFound");
    assert!(reply.message().contains("resource not found"));
    app.delete("/v2/storage/tokens", &app.admin).await.expect_error(405, "methodNotAllowed");
}

#[tokio::test]
async fn invalid_token_requests_get_precise_400s() {
    let app = spawn_app().await;
    let cases = [
        (json!({"expiresIn": "soon"}), "storage.validation"),
        (json!({"canManageBuckets": "perhaps"}), "storage.validation"),
        (json!({"bucketPermissions": "in.c-x"}), "storage.tokens.invalidPermissions"),
        (json!({"componentAccess": ["bad id!"]}), "storage.tokens.validation"),
        (json!({"description": "x".repeat(1001)}), "storage.tokens.validation"),
    ];
    for (body, code) in cases {
        app.post("/v2/storage/tokens", &app.admin, body).await.expect_error(400, code);
    }
    assert_eq!(app.get("/v2/storage/tokens", &app.admin).await.body.as_array().unwrap().len(), 1);
}
