//! The share flow end to end through a real SMTP server on loopback (Python's aiosmtpd, which
//! `.ci/run` installs): the stack sends the mail, the test reads it from the server's maildir and
//! follows the link with an HTTP client.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{share_link, spawn_app_with};

#[tokio::test]
async fn a_shared_token_arrives_by_smtp_and_its_link_reveals_it_once() {
    let maildir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _server = tokio::process::Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path().join("mail"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 -m aiosmtpd (pip install aiosmtpd)");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let app = spawn_app_with(|config| {
        config.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
        config.mail_from = "stack@example.com".into();
    })
    .await;
    let bucket = app.create_bucket("smtp").await;
    let (secret, body) = app.create_token(json!({"bucketPermissions": {&bucket: "write"}})).await;
    let share = json!({"recipientEmail": "partner@example.com", "message": "Sent over SMTP."});
    app.post(&format!("/v2/storage/tokens/{}/share", body["id"].as_str().unwrap()), &app.admin, share)
        .await
        .expect(204);
    assert!(app.outbox().is_empty(), "with SMTP configured nothing goes to the outbox");

    let new_dir = maildir.path().join("mail").join("new");
    let mut mails = Vec::new();
    for _ in 0..100 {
        if let Ok(entries) = std::fs::read_dir(&new_dir) {
            mails = entries.map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap()).collect();
            if !mails.is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mails.len(), 1, "one mail delivered");
    let mail = crate::helpers::mail_text(&mails[0]);
    assert!(
        mail.contains("partner@example.com") && mail.contains("stack@example.com") && mail.contains("Sent over SMTP.")
    );
    assert!(!mail.contains(&secret));
    let link = share_link(&mails[0]);
    let revealed = app.client.post(&link).send().await.unwrap();
    assert_eq!(revealed.status(), 200);
    assert!(revealed.text().await.unwrap().contains(&secret));
    assert_eq!(app.client.post(&link).send().await.unwrap().status(), 410);
}
