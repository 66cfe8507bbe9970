//! Sharing a token by email (outbox delivery) and the one-time page behind the link.

use serde_json::json;

use crate::helpers::{share_link, spawn_app, TestApp};

async fn shared_token(app: &TestApp) -> (String, String, String) {
    let bucket = app.create_bucket("shared-data").await;
    let (secret, body) =
        app.create_token(json!({"description": "for-partner", "bucketPermissions": {&bucket: "read"}})).await;
    let id = body["id"].as_str().unwrap().to_string();
    let share = json!({"recipientEmail": "partner@example.com", "message": "Here is read access to our sales data."});
    app.post(&format!("/v2/storage/tokens/{id}/share"), &app.admin, share).await.expect(204);
    (secret, id, bucket)
}

#[tokio::test]
async fn sharing_mails_the_message_and_a_link_but_never_the_token() {
    let app = spawn_app().await;
    let (secret, id, _) = shared_token(&app).await;
    let mails = app.outbox();
    assert_eq!(mails.len(), 1);
    let mail = crate::helpers::mail_text(&mails[0]);
    assert!(mail.contains("To: partner@example.com"), "{mail}");
    assert!(mail.contains("Here is read access to our sales data."));
    assert!(share_link(&mails[0]).starts_with(&format!("{}/tokens/shared/", app.url)));
    assert!(!mail.contains(&secret), "the mail must not carry the token");
    let events = app.events("q=event:storage.tokenShared").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["objectId"], json!(id));
    assert_eq!(events[0]["params"]["recipientEmail"], "partner@example.com");
}

#[tokio::test]
async fn the_link_shows_the_token_once_with_a_welcome_naming_project_and_buckets() {
    let app = spawn_app().await;
    let (secret, _, bucket) = shared_token(&app).await;
    let link = share_link(&app.outbox()[0]);
    for _ in 0..2 {
        let page = app.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), 200, "opening the page does not use the link up");
        let html = page.text().await.unwrap();
        assert!(html.contains("Show the token") && !html.contains(&secret));
    }
    let revealed = app.client.post(&link).send().await.unwrap();
    assert_eq!(revealed.status(), 200);
    assert_eq!(revealed.headers()["cache-control"], "no-store");
    let html = revealed.text().await.unwrap();
    assert!(html.contains(&secret));
    assert!(
        html.contains("Welcome") && html.contains("Main") && html.contains(&bucket) && html.contains("for-partner")
    );
    app.get("/v2/storage/tokens/verify", &secret).await.expect(200);
    for again in [app.client.post(&link).send().await.unwrap(), app.client.get(&link).send().await.unwrap()] {
        assert_eq!(again.status(), 410);
        let html = again.text().await.unwrap();
        assert!(html.contains("no longer available") && !html.contains(&secret));
    }
}

#[tokio::test]
async fn a_link_to_a_deleted_token_is_no_longer_available() {
    let app = spawn_app().await;
    let (_, id, _) = shared_token(&app).await;
    let link = share_link(&app.outbox()[0]);
    app.delete(&format!("/v2/storage/tokens/{id}"), &app.admin).await.expect(204);
    assert_eq!(app.client.post(&link).send().await.unwrap().status(), 410);
}

#[tokio::test]
async fn refreshing_a_token_revokes_the_links_sent_before_so_they_never_reveal_the_new_secret() {
    let app = spawn_app().await;
    let (old_secret, id, _) = shared_token(&app).await;
    let link = share_link(&app.outbox()[0]);
    let refreshed = app.post(&format!("/v2/storage/tokens/{id}/refresh"), &app.admin, json!({})).await.expect(200);
    let new_secret = refreshed.body["token"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    for opened in [app.client.get(&link).send().await.unwrap(), app.client.post(&link).send().await.unwrap()] {
        assert_eq!(opened.status(), 410);
        let html = opened.text().await.unwrap();
        assert!(!html.contains(&new_secret) && !html.contains(&old_secret));
    }
    // A link sent after the refresh works, for the new secret.
    let share = json!({"recipientEmail": "partner@example.com", "message": "The new one."});
    app.post(&format!("/v2/storage/tokens/{id}/share"), &app.admin, share).await.expect(204);
    let link = share_link(&app.outbox()[1]);
    let revealed = app.client.post(&link).send().await.unwrap().text().await.unwrap();
    assert!(revealed.contains(&new_secret));
}

#[tokio::test]
async fn an_unknown_link_is_no_longer_available() {
    let app = spawn_app().await;
    let page = app.client.get(format!("{}/tokens/shared/made-up", app.url)).send().await.unwrap();
    assert_eq!(page.status(), 410);
}

#[tokio::test]
async fn a_share_without_recipient_or_message_is_rejected_and_sends_nothing() {
    let app = spawn_app().await;
    let (_, body) = app.create_token(json!({})).await;
    let path = format!("/v2/storage/tokens/{}/share", body["id"].as_str().unwrap());
    for share in [
        json!({"message": "m"}),
        json!({"recipientEmail": "x@example.com"}),
        json!({"recipientEmail": "no", "message": "m"}),
    ] {
        app.post(&path, &app.admin, share).await.expect_error(400, "storage.tokens.validation");
    }
    assert!(app.outbox().is_empty());
    assert!(app.events("q=event:storage.tokenShared").await.is_empty());
}

#[tokio::test]
async fn a_limited_token_cannot_share_even_itself() {
    let app = spawn_app().await;
    let (secret, body) = app.create_token(json!({})).await;
    let share = json!({"recipientEmail": "x@example.com", "message": "m"});
    app.post(&format!("/v2/storage/tokens/{}/share", body["id"].as_str().unwrap()), &secret, share)
        .await
        .expect_error(403, "accessDenied");
    assert!(app.outbox().is_empty());
}
