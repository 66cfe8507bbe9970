//! What an attacker or a careless client sends: nesting without end, sign-ins by the hundred,
//! ranges and names at the edge of their types. Each is answered with a 4xx, and the stack lives on
//! with its data readable.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Payload};
use crate::restart::{free_port, read_admin_token, start, wait_ready};

/// `a[a][a]...=1` with `levels` brackets.
fn nested_key(levels: usize) -> String {
    format!("a{}=1", "[a]".repeat(levels))
}

/// A JSON value `levels` objects deep.
fn nested_json(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, _| json!({ "a": inner }))
}

#[tokio::test]
async fn a_request_nested_thousands_of_levels_deep_is_refused_and_the_process_lives_on() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(data.path(), port);
    let token = read_admin_token(&mut server).await;
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &url).await;
    let deep = nested_key(4_000);
    let form = |path: &str| {
        client
            .post(format!("{url}{path}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-StorageApi-Token", &token)
            .body(deep.clone())
    };
    let requests = [
        client.get(format!("{url}/v2/storage?{}", nested_key(3_000))),
        form("/console/sign-in"),
        form("/console/sign-in-token"),
        form("/v2/storage/events"),
    ];
    for request in requests {
        let response = request.send().await.expect("the server answers");
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "malformedRequest", "{body}");
        assert_eq!(body["error"], "Malformed request: the parameter \"a\" nests deeper than 64 levels.");
    }
    // PHP's limit: 64 levels are a parameter like any other.
    let index = client.get(format!("{url}/v2/storage?{}", nested_key(64))).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(server.try_wait().unwrap().is_none(), "the server is still running");
}

#[tokio::test]
async fn an_event_nested_too_deep_is_refused_on_both_paths_and_the_feed_stays_readable() {
    let app = spawn_app().await;
    let (limited, _) = app.create_token(json!({"description": "no permissions"})).await;
    let form = format!("message=deep&component=probe&params{}=1", "[a]".repeat(129));
    let refused = app.call(reqwest::Method::POST, "/v2/storage/events", Some(&limited), Payload::Form(form)).await;
    refused.expect_error(400, "malformedRequest");
    for levels in [65, 100] {
        let body = json!({"message": "deep", "component": "probe", "params": nested_json(levels)});
        let refused = app.post("/v2/storage/events", &limited, body).await.expect_error(400, "malformedRequest");
        assert_eq!(refused.message(), "Malformed request: the parameter \"params\" nests deeper than 64 levels.");
    }
    // A JSON-encoded string inside a form is held to the same limit.
    let encoded = serde_json::to_string(&nested_json(100)).unwrap();
    let form = format!("message=deep&component=probe&params={}", urlencode(&encoded));
    let refused = app.call(reqwest::Method::POST, "/v2/storage/events", Some(&limited), Payload::Form(form)).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let accepted = json!({"message": "deep enough", "component": "probe", "params": nested_json(64)});
    let id =
        app.post("/v2/storage/events", &limited, accepted).await.expect(201).body["id"].as_str().unwrap().to_string();
    app.get("/v2/storage/events", &limited).await.expect(200);
    let feed = app.get("/v2/storage/events", &app.admin).await.expect(200);
    let stored = feed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["id"].as_i64().is_some_and(|found| found.to_string() == id))
        .unwrap_or_else(|| panic!("{id} not in {}", feed.text));
    assert_eq!(stored["params"], nested_json(64));
    app.get(&format!("/v2/storage/events/{id}"), &app.admin).await.expect(200);
    let token_id = crate::helpers::TestApp::token_id(&limited);
    app.get(&format!("/v2/storage/tokens/{token_id}/events"), &app.admin).await.expect(200);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
}

#[tokio::test]
async fn failed_sign_ins_at_once_keep_no_memory_and_one_address_is_held_back_before_the_hash() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(data.path(), port);
    read_admin_token(&mut server).await;
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &url).await;
    let pid = server.id().unwrap();
    let before = rss_mib(pid);
    let attempt = |n: usize| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let page = client.get(format!("{url}/console")).send().await.unwrap();
            let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
            let html = page.text().await.unwrap();
            let start = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
            let csrf = html[start..].split('"').next().unwrap().to_string();
            let email = format!("guess{n}@example.com");
            let form = [("email", email.as_str()), ("password", "not the password"), ("csrf", &csrf)];
            let response = client.post(format!("{url}/console/sign-in")).header("Cookie", cookie).form(&form);
            let response = response.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    // Sixteen at once grew the server by about 900 MiB when each hash took memory of its own.
    let answers = futures::future::join_all((0..16).map(attempt)).await;
    assert!(answers.iter().all(|(status, _)| *status == 401), "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    let grown = rss_mib(pid) - before;
    assert!(grown < 100.0, "the server grew by {grown:.0} MiB over 16 failed sign-ins");
    // The address has used up most of its allowance: a few more, each for a new email, and it
    // is refused before any password is checked.
    let mut statuses = Vec::new();
    for n in 16..30 {
        statuses.push(attempt(n).await);
    }
    let refused = statuses.iter().position(|(status, _)| *status == 429).expect("the address is held back");
    assert!(refused <= 5, "refused only after {refused} more");
    assert!(
        statuses[refused].1.contains("Too many sign-ins from your address: try again in"),
        "{}",
        statuses[refused].1
    );
    assert!(server.try_wait().unwrap().is_none());
    server.kill().await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn a_preview_naming_one_column_many_times_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    app.create_bucket("probe").await;
    app.create_table("in.c-probe", "t", "id,name\n1,a\n", &[]).await;
    let columns = vec!["id"; 2_001].join(",");
    let refused = app
        .get(&format!("/v2/storage/tables/in.c-probe.t/data-preview?columns={columns}"), &app.admin)
        .await
        .expect_error(400, "storage.validation");
    assert_eq!(refused.message(), "The column \"id\" is given more than once in \"columns\".");
    app.get("/v2/storage/tables/in.c-probe.t/data-preview?columns=name,id", &app.admin).await.expect(200);
}

/// Whether the server closes `stream` within `limit` while the client trickles a byte of an
/// unfinished header every 100 ms.
async fn closed_while_trickling(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = tokio::time::Instant::now() + limit;
    let mut buffer = [0u8; 1024];
    while tokio::time::Instant::now() < deadline {
        if stream.write_all(b"X").await.is_err() {
            return true;
        }
        let read = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer)).await;
        if let Ok(Ok(0) | Err(_)) = read {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_header_or_sits_idle_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = crate::restart::start_with(data.path(), port, &["--header-timeout", "1"]);
    read_admin_token(&mut server).await;
    wait_ready(&reqwest::Client::new(), &format!("http://127.0.0.1:{port}")).await;
    let mut trickling = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    trickling.write_all(b"GET /v2/storage HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
    assert!(closed_while_trickling(&mut trickling, Duration::from_secs(15)).await, "the trickle kept its connection");
    // A keep-alive connection that answered a request and then sits idle goes too.
    let mut idle = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    idle.write_all(b"GET /v2/storage HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut answer = vec![0u8; 64 * 1024];
    let read = idle.read(&mut answer).await.unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"));
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match idle.read(&mut answer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    assert!(closed.await.is_ok(), "the idle connection stayed open");
    // The server still serves.
    wait_ready(&reqwest::Client::new(), &format!("http://127.0.0.1:{port}")).await;
}

#[tokio::test]
async fn a_request_too_long_or_too_broken_to_read_gets_the_keboola_error_body_with_its_status() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let address = app.url.trim_start_matches("http://").to_string();
    let long_url = format!("GET /v2/storage?{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let long_header = format!("GET /v2/storage HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(500_000));
    let broken = "GET /v2/storage HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".to_string();
    for (request, status, code) in [
        (long_url, "414", "requestTooLarge"),
        (long_header, "431", "requestTooLarge"),
        (broken, "400", "malformedRequest"),
    ] {
        let mut connection = tokio::net::TcpStream::connect(&address).await.unwrap();
        // The server may answer and close before the whole request is sent.
        let _ = connection.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = connection.read_to_end(&mut answer).await;
        let answer = String::from_utf8(answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], code);
        assert_eq!(body["status"], "error");
        assert!(body["error"].as_str().unwrap().starts_with("The request"), "{body}");
    }
    // The stack serves on.
    assert_eq!(app.client.get(format!("{}/v2/storage", app.url)).send().await.unwrap().status(), 200);
}
