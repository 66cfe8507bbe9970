//! Where components may connect: loopback, private and link-local addresses are refused unless the
//! operator allows them, redirects are not followed, and nothing but a Keboola error message from
//! the far side is ever repeated.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{spawn_app, spawn_app_reaching_loopback, spawn_app_with, TestApp};
use crate::transfers::run_job;

/// An HTTP server on `ip` that answers every request with `response` and counts connections.
async fn fake_server(ip: &str, response: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = [0u8; 8192];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, seen)
}

const HTML_404: &str = "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 46\r\nConnection: close\r\n\r\n<html><body>INTERNAL-PAGE-MARKER</body></html>";

async fn info(app: &TestApp, url: &str, token: &str) -> crate::helpers::Reply {
    let body = json!({
        "componentId": "keboola.wr-storage", "action": "info", "configData": {"parameters": {"url": url, "#token": token}}
    });
    app.post("/sync-actions/actions", &app.admin, body).await
}

async fn writer_target(b: &TestApp) -> String {
    let target = b.create_bucket("target").await;
    b.create_token(json!({"bucketPermissions": {&target: "write"}})).await.0
}

#[tokio::test]
async fn a_sync_action_and_a_run_against_loopback_are_refused_by_default_and_work_when_allowed() {
    let (a, b) = (spawn_app().await, spawn_app().await);
    let token = writer_target(&b).await;
    let refused = info(&a, &b.url, &token).await.expect_error(400, "userError");
    assert!(refused.message().contains("may not connect to \"127.0.0.1\""), "{}", refused.text);
    assert!(refused.message().contains("--outbound-allow"), "{}", refused.text);

    a.create_bucket("src").await;
    a.create_table("in.c-src", "t", "x\n1\n", &[]).await;
    let path = "/v2/storage/components/keboola.wr-storage/configs";
    let config = json!({"name": "w", "configuration": {"parameters": {"url": b.url, "#token": token}}});
    let config = a.post(path, &a.admin, config).await.expect(201).body["id"].as_str().unwrap().to_string();
    let row = json!({"name": "t", "configuration": {"storage": {"input": {"tables": [{"source": "in.c-src.t", "destination": "t"}]}}}});
    a.post(&format!("{path}/{config}/rows"), &a.admin, row).await.expect(201);
    let job = run_job(&a, "keboola.wr-storage", &config, &[]).await;
    assert_eq!(job["status"], "error", "{job}");
    assert!(job["result"]["message"].as_str().unwrap().contains("may not connect"), "{job}");
    assert_eq!(b.get("/v2/storage/tables", &b.admin).await.body, json!([]), "nothing reached the target");

    let allowed = spawn_app_reaching_loopback().await;
    let answer = info(&allowed, &b.url, &token).await.expect(200).body;
    assert_eq!(answer["bucket"], "in.c-target");
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_and_the_metadata_address_are_refused() {
    let (a, b) = (spawn_app().await, spawn_app().await);
    let token = writer_target(&b).await;
    let port = b.url.rsplit(':').next().unwrap();
    let by_name = info(&a, &format!("http://localhost:{port}"), &token).await.expect_error(400, "userError");
    assert!(by_name.message().contains("may not connect to \"localhost\""), "{}", by_name.text);
    let metadata = info(&a, "http://169.254.169.254", &token).await.expect_error(400, "userError");
    assert!(metadata.message().contains("may not connect to \"169.254.169.254\""), "{}", metadata.text);
    // Allowing a network opens exactly that network.
    let open = spawn_app_with(|config| config.outbound_allow = vec!["127.0.0.0/8".into()]).await;
    assert_eq!(
        info(&open, &format!("http://localhost:{port}"), &token).await.expect(200).body["bucket"],
        "in.c-target"
    );
    let still = info(&open, "http://169.254.169.254", &token).await.expect_error(400, "userError");
    assert!(still.message().contains("may not connect"), "{}", still.text);
}

#[tokio::test]
async fn a_redirect_is_not_followed_even_to_an_address_the_stack_may_not_reach() {
    let (hidden, visited) = fake_server("127.0.0.2", HTML_404).await;
    let redirect: &'static str = Box::leak(
        format!("HTTP/1.1 302 Found\r\nLocation: {hidden}/v2/storage/tokens/verify\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .into_boxed_str(),
    );
    let (redirecting, _) = fake_server("127.0.0.1", redirect).await;
    let a = spawn_app_with(|config| config.outbound_allow = vec!["127.0.0.1/32".into()]).await;
    let error = info(&a, &redirecting, "some-token").await.expect_error(400, "userError");
    assert_eq!(error.message(), format!("unexpected response from {redirecting} (status 302, content type none)"));
    assert_eq!(visited.load(Ordering::SeqCst), 0, "the redirect target was never contacted");
}

#[tokio::test]
async fn a_foreign_answer_never_appears_in_an_error_an_event_or_a_job_log() {
    let (url, _) = fake_server("127.0.0.1", HTML_404).await;
    let a = spawn_app_reaching_loopback().await;
    let error = info(&a, &url, "some-token").await.expect_error(400, "userError");
    assert_eq!(error.message(), format!("unexpected response from {url} (status 404, content type text/html)"));

    a.create_bucket("src").await;
    a.create_table("in.c-src", "t", "x\n1\n", &[]).await;
    let path = "/v2/storage/components/keboola.wr-storage/configs";
    let config = json!({"name": "w", "configuration": {"parameters": {"url": url, "#token": "some-token"}}});
    let config = a.post(path, &a.admin, config).await.expect(201).body["id"].as_str().unwrap().to_string();
    let row = json!({"name": "t", "configuration": {"storage": {"input": {"tables": [{"source": "in.c-src.t", "destination": "t"}]}}}});
    a.post(&format!("{path}/{config}/rows"), &a.admin, row).await.expect(201);
    let job = run_job(&a, "keboola.wr-storage", &config, &[]).await;
    assert_eq!(job["status"], "error");
    let events: Value = a.get("/v2/storage/events?limit=1000", &a.admin).await.body;
    for text in [job.to_string(), events.to_string(), error.text.clone()] {
        assert!(!text.contains("INTERNAL-PAGE-MARKER") && !text.contains("<html"), "{text}");
    }
    assert!(events.to_string().contains("unexpected response from"), "the job log says what happened");
}

#[tokio::test]
async fn a_stack_url_with_a_query_string_or_fragment_is_refused_with_a_clear_message() {
    let a = spawn_app_reaching_loopback().await;
    for url in [format!("{}/?", a.url), format!("{}/?x=1", a.url), format!("{}/#top", a.url)] {
        let error = info(&a, &url, "some-token").await.expect_error(400, "userError");
        assert!(
            error.message().ends_with("must be a stack's root URL, without a query string (?) or fragment (#)."),
            "{}",
            error.text
        );
    }
}
