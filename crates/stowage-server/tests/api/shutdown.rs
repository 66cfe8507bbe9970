//! A stop (SIGTERM) lets the jobs running in the real binary finish within the shutdown timeout,
//! and hands back those that do not, which the next start then ends truthfully.

use std::path::Path;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Child;
use tokio::sync::{mpsc, watch};

use crate::restart::{free_port, read_admin_token, start_with, stop, wait_ready, Server};

/// A target stack that accepts connections and answers none until released, then answers each
/// request with Keboola's 401. Returns its URL, a count of connections, and the release switch.
async fn hanging_target() -> (String, mpsc::UnboundedReceiver<()>, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (connected, connections) = mpsc::unbounded_channel();
    let (release, released) = watch::channel(false);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let _ = connected.send(());
            tokio::spawn(answer_when_released(socket, released.clone()));
        }
    });
    (url, connections, release)
}

async fn answer_when_released(mut socket: TcpStream, mut released: watch::Receiver<bool>) {
    let mut request = vec![0u8; 16 * 1024];
    let _ = socket.read(&mut request).await;
    if released.wait_for(|released| *released).await.is_err() {
        return;
    }
    let body = r#"{"error":"Invalid access token","code":"storage.tokenInvalid","status":"error"}"#;
    let answer = format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(answer.as_bytes()).await;
}

fn serve(data_dir: &Path, port: u16, shutdown_timeout: &str) -> Child {
    start_with(data_dir, port, &["--outbound-allow", "127.0.0.1", "--shutdown-timeout", shutdown_timeout])
}

/// Starts a writer run against `target` and returns its job id once the job is connected there.
async fn start_run(server: &Server, target: &str, connections: &mut mpsc::UnboundedReceiver<()>) -> String {
    let config = server
        .call(
            reqwest::Method::POST,
            "/components/keboola.wr-storage/configs",
            json!({"name": "slow", "configuration": {"parameters": {"url": target, "#token": "1-1-anything"}}}),
        )
        .await;
    let config = config["id"].as_str().unwrap().to_string();
    let row =
        json!({"configuration": {"storage": {"input": {"tables": [{"source": "in.c-src.t", "destination": "t"}]}}}});
    server.call(reqwest::Method::POST, &format!("/components/keboola.wr-storage/configs/{config}/rows"), row).await;
    let job: Value = server
        .client
        .post(format!("{}/queue/jobs", server.root))
        .header("X-StorageApi-Token", &server.admin)
        .json(&json!({"component": "keboola.wr-storage", "config": config, "mode": "run"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    connections.recv().await.expect("the job reaches the target");
    job["id"].as_str().unwrap().to_string()
}

async fn queue_job(server: &Server, id: &str) -> Value {
    let url = format!("{}/queue/jobs/{id}", server.root);
    server.client.get(url).header("X-StorageApi-Token", &server.admin).send().await.unwrap().json().await.unwrap()
}

/// Waits until the server no longer accepts connections: it has begun to stop.
async fn until_closed(root: &str) {
    let client = reqwest::Client::new();
    while client.get(format!("{root}/health/live")).send().await.is_ok() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_stop_lets_a_running_job_finish_and_hands_back_one_that_outlasts_the_timeout() {
    let dir = crate::helpers::test_dir();
    let data_dir = dir.path().join("data");
    let (target, mut connections, release) = hanging_target().await;

    let port = free_port();
    let mut child = serve(&data_dir, port, "30");
    let admin = read_admin_token(&mut child).await;
    let root = format!("http://127.0.0.1:{port}");
    wait_ready(&reqwest::Client::new(), &root).await;
    let server = Server { child, root: root.clone(), admin: admin.clone(), client: reqwest::Client::new() };
    server.call(reqwest::Method::POST, "/buckets", json!({"name": "src"})).await;
    let file = server.upload(b"x\n1\n".to_vec()).await;
    let created = server
        .call(reqwest::Method::POST, "/buckets/in.c-src/tables-async", json!({"name": "t", "dataFileId": file}))
        .await;
    assert_eq!(server.wait(created).await["status"], "success");

    // Within the timeout: the stop waits for the job, which ends with the target's answer.
    let finishing = start_run(&server, &target, &mut connections).await;
    let pid = server.child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    until_closed(&root).await;
    release.send(true).unwrap();
    let (clean, _, log) = stop(server.child).await;
    assert!(clean, "{log}");
    assert!(!log.contains("handed back"), "{log}");
    release.send(false).unwrap();

    // Past the timeout: the job is handed back, and the next start ends it truthfully.
    let port = free_port();
    let root = format!("http://127.0.0.1:{port}");
    let child = serve(&data_dir, port, "1");
    wait_ready(&reqwest::Client::new(), &root).await;
    let server = Server { child, root, admin: admin.clone(), client: reqwest::Client::new() };
    let finished = queue_job(&server, &finishing).await;
    assert_eq!(finished["status"], "error", "{finished}");
    assert_eq!(finished["result"]["message"], "Invalid access token", "it ran to its end: {finished}");
    let outlasting = start_run(&server, &target, &mut connections).await;
    let (clean, _, log) = stop(server.child).await;
    assert!(clean, "{log}");
    assert!(log.contains("jobs still running at the stop were handed back"), "{log}");

    let server = Server::restart(&data_dir, &admin).await;
    let mut job = queue_job(&server, &outlasting).await;
    for _ in 0..400 {
        if job["isFinished"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        job = queue_job(&server, &outlasting).await;
    }
    assert_eq!(job["status"], "error", "{job}");
    assert!(job["result"]["message"].as_str().unwrap().contains("may hold part of its"), "{job}");
}
