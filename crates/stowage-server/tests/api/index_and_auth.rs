use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{spawn_app, Payload};

#[tokio::test]
async fn the_index_answers_without_a_token_and_with_a_bogus_one() {
    let app = spawn_app().await;
    for path in ["/v2/storage", "/v2/storage/"] {
        let reply = app.call(Method::GET, path, None, Payload::None).await.expect(200);
        assert_eq!(reply.body["api"], "storage");
        assert_eq!(reply.body["version"], "v2");
        assert!(reply.body["components"].is_array());
        assert!(reply.body["services"].is_array());
        // Keboola's URL templates keep their placeholders in double braces.
        assert_eq!(
            reply.body["urlTemplates"]["orchestrationJob"],
            "/orchestrations/{{orchestrationId}}/jobs/{{jobId}}"
        );
        app.call(Method::GET, path, Some("some-token"), Payload::None).await.expect(200);
    }
}

#[tokio::test]
async fn the_index_leaves_components_out_when_asked() {
    let app = spawn_app().await;
    let reply = app.get("/v2/storage?exclude=components,componentDetails", "x").await.expect(200);
    assert!(reply.body.get("components").is_none());
}

#[tokio::test]
async fn the_index_lists_the_configured_regions() {
    let app = spawn_app_with_region().await;
    let reply = app.get("/v2/storage", "x").await.expect(200);
    assert_eq!(reply.body["stack"]["regions"], json!([{"name": "us", "url": "http://127.0.0.1:1"}]));
}

async fn spawn_app_with_region() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(|config| {
        config.regions = vec![stowage_core::Region { name: "us".into(), url: "http://127.0.0.1:1".into() }];
    })
    .await
}

#[tokio::test]
async fn a_double_slash_or_unknown_path_is_a_json_404_not_a_5xx() {
    let app = spawn_app().await;
    let reply = app.get("/v2/storage//not-a-url", &app.admin).await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
    app.get("/v2/storage/no-such-thing", &app.admin).await.expect_error(404, "notFound");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let app = spawn_app().await;
    app.call(Method::PATCH, "/v2/storage/buckets", Some(&app.admin), Payload::None)
        .await
        .expect_error(405, "methodNotAllowed");
}

#[tokio::test]
async fn verify_shows_the_master_token_with_its_admin_and_owner() {
    let app = spawn_app().await;
    let body = app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200).body;
    assert_eq!(body["id"], json!(crate::helpers::TestApp::token_id(&app.admin)));
    assert_eq!(body["description"], "admin@localhost");
    assert_eq!(body["isMasterToken"], true);
    for flag in ["canManageBuckets", "canManageTokens", "canReadAllFileUploads", "canPurgeTrash"] {
        assert_eq!(body[flag], true, "{flag}");
    }
    assert_eq!(body["isDisabled"], false);
    assert_eq!(body["isExpired"], false);
    assert_eq!(body["expires"], json!(null));
    assert_eq!(body["bucketPermissions"], json!([]));
    assert!(body.get("componentAccess").is_none());
    assert!(body.get("token").is_none(), "verify never shows the secret");
    assert_eq!(body["admin"]["role"], "admin");
    assert_eq!(body["admin"]["isActivated"], false);
    assert_eq!(body["adminOwner"]["email"], "admin@localhost");
    assert_eq!(body["owner"]["id"], app.project_id);
    assert_eq!(body["owner"]["name"], "Main");
    assert_eq!(body["owner"]["region"], "test-stack");
    assert_eq!(body["owner"]["hasRedshift"], false);
    assert!(body["owner"]["dataSizeBytes"].is_i64());
    assert!(body["owner"]["features"].is_array());
    assert!(body["organization"]["id"].is_string());
    assert!(body["uri"].as_str().unwrap().ends_with(&format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap())));
}

#[tokio::test]
async fn verify_lists_every_bucket_as_manage_for_an_admin() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("alpha").await;
    let body = app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200).body;
    assert_eq!(body["bucketPermissions"], json!({ bucket: "manage" }));
}

#[tokio::test]
async fn the_bearer_header_authenticates_like_the_storage_api_header() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/v2/storage/tokens/verify", app.url))
        .header("Authorization", format!("Bearer {}", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn header_names_are_matched_without_regard_to_case() {
    let app = spawn_app().await;
    let address = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET /v2/storage/tokens/verify HTTP/1.1\r\nHost: {address}\r\nX-StorageAPI-Token: {}\r\nConnection: close\r\n\r\n",
        app.admin
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn unknown_tokens_get_401_and_the_message_never_echoes_the_token() {
    let app = spawn_app().await;
    let forged = format!("{}-{}-stowForgedSecretThatIsNotValid000000", app.project_id, 1);
    let tampered = format!("{}x", app.admin);
    for token in ["some-token", forged.as_str(), "1-999-abc", tampered.as_str()] {
        let reply = app.get("/v2/storage/tokens/verify", token).await.expect_error(401, "storage.tokenInvalid");
        assert_eq!(reply.message(), "Invalid access token");
        assert!(!reply.text.contains(token));
    }
}

#[tokio::test]
async fn a_request_without_a_token_gets_401() {
    let app = spawn_app().await;
    let reply = app.call(Method::GET, "/v2/storage/buckets", None, Payload::None).await;
    reply.expect_error(401, "storage.tokenInvalid");
}

#[tokio::test]
async fn the_branch_prefixed_verify_is_identical_to_the_plain_one() {
    let app = spawn_app().await;
    let plain = app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200).body;
    let branch = app.get("/v2/storage/branch/default/tokens/verify", &app.admin).await.expect(200).body;
    let mut plain = plain;
    let mut branch = branch;
    // lastUsed may be written between the two calls.
    plain.as_object_mut().unwrap().remove("lastUsed");
    branch.as_object_mut().unwrap().remove("lastUsed");
    assert_eq!(plain, branch);
}

#[tokio::test]
async fn a_token_shows_when_it_was_last_used() {
    let app = spawn_app().await;
    app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200);
    let body = app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200).body;
    assert!(body["lastUsed"].is_string(), "{body}");
}

#[tokio::test]
async fn booleans_are_accepted_in_every_spelling_and_anything_else_is_a_precise_400() {
    let app = spawn_app().await;
    for (name, query) in [("a", "force=1&async=0"), ("b", "force=True&async=False"), ("c", "force=true&async=false")] {
        let bucket = app.create_bucket(name).await;
        app.delete(&format!("/v2/storage/buckets/{bucket}?{query}"), &app.admin).await.expect(204);
    }
    let bucket = app.create_bucket("d").await;
    let reply = app.delete(&format!("/v2/storage/buckets/{bucket}?async=maybe"), &app.admin).await;
    let reply = reply.expect_error(400, "storage.validation");
    assert_eq!(reply.message(), "Parameter \"async\" must be a boolean (1/0 or true/false), \"maybe\" given.");
    app.get(&format!("/v2/storage/buckets/{bucket}"), &app.admin).await.expect(200);
}

#[tokio::test]
async fn malformed_json_and_unsupported_bodies_get_a_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/v2/storage/buckets", app.url))
        .header("X-StorageApi-Token", &app.admin)
        .header("Content-Type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    let reply = crate::helpers::reply(response).await.expect_error(400, "malformedRequest");
    assert!(reply.message().starts_with("Malformed JSON body"));
    let response = app
        .client
        .post(format!("{}/v2/storage/buckets", app.url))
        .header("X-StorageApi-Token", &app.admin)
        .header("Content-Type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    crate::helpers::reply(response).await.expect_error(400, "malformedRequest");
    let reply = app.post("/v2/storage/buckets", &app.admin, json!(["not", "an", "object"])).await;
    reply.expect_error(400, "malformedRequest");
    let buckets = app.get("/v2/storage/buckets", &app.admin).await.expect(200).body;
    assert_eq!(buckets, json!([]));
}
