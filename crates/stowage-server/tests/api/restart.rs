//! The real binary: first start prints secrets once, later starts print none and keep all data,
//! SIGTERM stops it gracefully.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) fn start(data_dir: &Path, port: u16) -> Child {
    start_with(data_dir, port, &["--admin-email", "ops@example.com"])
}

/// Starts the binary with `args` added to `serve`, its stdout and log piped.
pub(crate) fn start_with(data_dir: &Path, port: u16, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .envs(crate::helpers::database_env(data_dir))
        .env_remove("STOWAGE_MANAGE_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts")
}

/// Reads the bootstrap banner from a first start's stdout and returns the admin's token.
pub(crate) async fn read_admin_token(child: &mut Child) -> String {
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains("master Storage API token") {
            let token = lines.next_line().await.unwrap().unwrap().trim().to_string();
            // Keep reading, so the server never writes into a closed pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return token;
        }
    }
    panic!("the first start printed no admin token");
}

/// Starts the binary without capturing its log (for tests that never read it).
pub(crate) fn start_quiet(data_dir: &Path, port: u16) -> Child {
    start_quiet_with(data_dir, port, crate::helpers::database_env(data_dir))
}

fn start_quiet_with(data_dir: &Path, port: u16, database: Vec<(&'static str, String)>) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .envs(database)
        .env_remove("STOWAGE_MANAGE_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts")
}

pub(crate) async fn wait_ready(client: &reqwest::Client, url: &str) {
    for _ in 0..200 {
        if client.get(format!("{url}/v2/storage")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {url} did not come up");
}

/// Sends SIGTERM and returns (exit success, stdout, stderr).
pub(crate) async fn stop(mut child: Child) -> (bool, String, String) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("stops in time").unwrap();
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout).await.unwrap();
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr).await.unwrap();
    }
    (exit.success(), stdout, stderr)
}

/// The real binary on a data dir, with its admin token, for tests that kill and restart it.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) root: String,
    pub(crate) admin: String,
    pub(crate) client: reqwest::Client,
}

impl Server {
    /// Starts an empty data dir and reads the admin token from the first start's banner.
    pub(crate) async fn first_start(data_dir: &Path) -> Self {
        Server::first_start_with(data_dir, crate::helpers::database_env(data_dir)).await
    }

    /// Like [`Server::first_start`], always on the embedded SQLite catalog: for tests that change
    /// its file between a kill and the restart.
    pub(crate) async fn first_start_embedded(data_dir: &Path) -> Self {
        Server::first_start_with(data_dir, Vec::new()).await
    }

    async fn first_start_with(data_dir: &Path, database: Vec<(&'static str, String)>) -> Self {
        let port = free_port();
        let mut child = start_quiet_with(data_dir, port, database);
        let admin = read_admin_token(&mut child).await;
        Server::ready(child, port, admin).await
    }

    /// Starts the binary again on a data dir it used before.
    pub(crate) async fn restart(data_dir: &Path, admin: &str) -> Self {
        let port = free_port();
        Server::ready(start_quiet(data_dir, port), port, admin.to_string()).await
    }

    /// Starts the binary again on a data dir [`Server::first_start_embedded`] began.
    pub(crate) async fn restart_embedded(data_dir: &Path, admin: &str) -> Self {
        let port = free_port();
        Server::ready(start_quiet_with(data_dir, port, Vec::new()), port, admin.to_string()).await
    }

    async fn ready(child: Child, port: u16, admin: String) -> Self {
        let (root, client) = (format!("http://127.0.0.1:{port}"), reqwest::Client::new());
        wait_ready(&client, &root).await;
        Server { child, root, admin, client }
    }

    /// A Storage API request as the admin.
    pub(crate) fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}/v2/storage{path}", self.root)).header("X-StorageApi-Token", &self.admin)
    }

    /// A Storage API call as the admin, with its JSON answer (`Null` when there is none).
    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, body: serde_json::Value) -> serde_json::Value {
        self.api(method, path).json(&body).send().await.unwrap().json().await.unwrap_or_default()
    }

    /// Uploads bytes as a new file (one Put Blob); the file's id.
    pub(crate) async fn upload(&self, bytes: impl Into<reqwest::Body>) -> serde_json::Value {
        let file = self.call(reqwest::Method::POST, "/files/prepare", json!({"name": "upload.csv"})).await;
        let blob = format!("{}{}", self.root, crate::helpers::blob_path(&file["absUploadParams"]));
        let put = self.client.put(blob).header("x-ms-blob-type", "BlockBlob").body(bytes).send().await.unwrap();
        assert_eq!(put.status(), 201);
        file["id"].clone()
    }

    /// Polls a storage job until it ends.
    pub(crate) async fn wait(&self, job: serde_json::Value) -> serde_json::Value {
        let mut job = job;
        for _ in 0..1200 {
            if job["status"] == "success" || job["status"] == "error" {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            job = self.call(reqwest::Method::GET, &format!("/jobs/{}", job["id"]), serde_json::Value::Null).await;
        }
        panic!("job did not finish: {job}");
    }

    /// Stops it with SIGKILL.
    pub(crate) async fn kill(mut self) {
        let pid = self.child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
        self.child.wait().await.unwrap();
    }
}

pub(crate) fn grep_dir(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            hits.extend(grep_dir(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes()) {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[tokio::test]
async fn a_restart_keeps_everything_prints_no_secret_and_sigterm_stops_cleanly() {
    let dir = crate::helpers::test_dir();
    let data_dir = dir.path().join("data");
    let client = reqwest::Client::new();

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut first = start(&data_dir, port);
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let (mut manage, mut admin) = (String::new(), String::new());
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains("Manage API token") {
            manage = lines.next_line().await.unwrap().unwrap().trim().to_string();
        }
        if line.contains("master Storage API token") {
            assert!(line.contains("ops@example.com"));
            admin = lines.next_line().await.unwrap().unwrap().trim().to_string();
            break;
        }
    }
    assert!(!manage.is_empty() && !admin.is_empty());
    wait_ready(&client, &url).await;
    let created = client
        .post(format!("{url}/v2/storage/buckets"))
        .header("X-StorageApi-Token", &admin)
        .json(&json!({"name": "kept"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
        if line.starts_with("=====") {
            break;
        }
    }
    assert!(rest.contains("inside the data dir") && rest.contains("--stack-key-file"), "{rest}");
    let (clean, _, first_log) = stop(first).await;
    assert!(clean, "SIGTERM ends the process with success");
    assert!(first_log.contains("shutting down"));
    assert!(first_log.contains("the stack key is inside the data dir"), "{first_log}");

    // Moved out of the data dir as the first start asks, the key opens everything as before.
    let key_file = dir.path().join("stack.key");
    std::fs::rename(data_dir.join("stack.key"), &key_file).unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let key_flag = key_file.to_str().unwrap();
    let second = start_with(&data_dir, port, &["--admin-email", "ops@example.com", "--stack-key-file", key_flag]);
    wait_ready(&client, &url).await;
    let bucket = client
        .get(format!("{url}/v2/storage/buckets/in.c-kept"))
        .header("X-StorageApi-Token", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(bucket.status(), 200);
    let projects =
        client.get(format!("{url}/manage/projects")).header("X-KBC-ManageApiToken", &manage).send().await.unwrap();
    assert_eq!(projects.status(), 200);
    let (clean, stdout, second_log) = stop(second).await;
    assert!(clean);
    assert!(!stdout.contains(&admin) && !stdout.contains(&manage), "a later start prints no secret: {stdout}");
    assert!(!stdout.contains("shown ONCE"));
    assert!(!second_log.contains("inside the data dir"), "{second_log}");

    for secret in [&admin, &manage] {
        assert!(!first_log.contains(secret.as_str()) && !second_log.contains(secret.as_str()), "secret in the log");
        assert_eq!(grep_dir(&data_dir, secret), Vec::<String>::new(), "secret stored in plain text");
    }
}

#[tokio::test]
async fn a_given_manage_token_is_used_and_not_printed() {
    let dir = crate::helpers::test_dir();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("STOWAGE_MANAGE_TOKEN", "my-own-manage-token-0123456789")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    wait_ready(&client, &url).await;
    let projects = client
        .get(format!("{url}/manage/projects"))
        .header("X-KBC-ManageApiToken", "my-own-manage-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(projects.status(), 200);
    let (_, stdout, stderr) = stop(child).await;
    assert!(!stdout.contains("my-own-manage-token") && !stderr.contains("my-own-manage-token"));
    assert!(stdout.contains("STOWAGE_MANAGE_TOKEN"));
}

#[tokio::test]
async fn a_bad_configuration_stops_with_a_clear_message() {
    let dir = crate::helpers::test_dir();
    let cases: [(&[&str], &str); 7] = [
        (&["--listen", "not-an-address"], "--listen: \"not-an-address\" is not an address"),
        (&["--log-format", "xml"], "--log-format: \"xml\" is not a log format: use text or json"),
        (&["--s3-endpoint", "http://127.0.0.1:9"], "--s3-endpoint is set but --s3-bucket is not"),
        (&["--s3-bucket", "b", "--s3-endpoint", "s3.example.com"], "--s3-endpoint: \"s3.example.com\" is not an http"),
        (&["--database-url", "mysql://root:hunter2@db/x"], "--database-url: the scheme \"mysql\" is not supported"),
        (&["--database-url", "postgres://db/x", "--database-schema", "Bad-Name"], "\"Bad-Name\" is not a schema name"),
        (&["--database-schema", "stowage"], "--database-schema is set but --database-url is not a PostgreSQL URL"),
    ];
    for (flags, expected) in cases {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_stowage"))
            .arg("serve")
            .args(flags)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("STOWAGE_S3_BUCKET")
            .env_remove("STOWAGE_DATABASE_URL")
            .env_remove("STOWAGE_DATABASE_SCHEMA")
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert!(!stderr.contains("hunter2"), "a database password is never shown: {stderr}");
    }
}

#[tokio::test]
async fn no_token_secret_reaches_the_data_dir_or_the_log() {
    let dir = crate::helpers::test_dir();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--log", "debug"])
        .arg("--data-dir")
        .arg(&data_dir)
        .envs(crate::helpers::database_env(&data_dir))
        .env_remove("STOWAGE_MANAGE_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut secrets = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains("token (header") {
            secrets.push(lines.next_line().await.unwrap().unwrap().trim().to_string());
        }
        if secrets.len() == 2 {
            break;
        }
    }
    let (manage, admin) = (secrets[0].clone(), secrets[1].clone());
    let client = reqwest::Client::new();
    wait_ready(&client, &url).await;
    let call = |method: reqwest::Method, path: &str, token: &str, body: serde_json::Value| {
        let header = if path.starts_with("/manage") { "X-KBC-ManageApiToken" } else { "X-StorageApi-Token" };
        client.request(method, format!("{url}{path}")).header(header, token).json(&body).send()
    };
    use reqwest::Method as M;
    call(M::POST, "/v2/storage/buckets", &admin, json!({"name": "b"})).await.unwrap();
    let member = call(M::POST, "/manage/projects/1/users", &manage, json!({"email": "m@example.com", "role": "share"}))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    secrets.push(member["token"]["token"].as_str().unwrap().to_string());
    for options in [json!({}), json!({"bucketPermissions": {"in.c-b": "read"}}), json!({"canManageBuckets": true})] {
        let token =
            call(M::POST, "/v2/storage/tokens", &admin, options).await.unwrap().json::<serde_json::Value>().await;
        let token = token.unwrap();
        let (id, secret) = (token["id"].as_str().unwrap().to_string(), token["token"].as_str().unwrap().to_string());
        call(M::GET, "/v2/storage/tokens/verify", &secret, json!({})).await.unwrap();
        let refreshed = call(M::POST, &format!("/v2/storage/tokens/{id}/refresh"), &secret, json!({})).await.unwrap();
        let refreshed = refreshed.json::<serde_json::Value>().await.unwrap();
        // Shared after the refresh: a link sent before it would no longer work.
        let share = json!({"recipientEmail": "r@example.com", "message": "m"});
        assert_eq!(
            call(M::POST, &format!("/v2/storage/tokens/{id}/share"), &admin, share).await.unwrap().status(),
            204
        );
        secrets.push(secret);
        secrets.push(refreshed["token"].as_str().unwrap().to_string());
    }
    assert_eq!(call(M::GET, "/v2/storage/tokens/verify", "1-1-wrongSecret", json!({})).await.unwrap().status(), 401);
    // A one-time link is a credential too: opening one leaves its secret part out of the log.
    let outbox: Vec<String> = std::fs::read_dir(data_dir.join("outbox"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    let link = crate::helpers::share_link(&outbox[0]);
    assert_eq!(client.get(&link).send().await.unwrap().status(), 200);
    let link_secret = link.rsplit('/').next().unwrap().to_string();
    let (_, _, log) = stop(child).await;
    assert!(log.contains("/tokens/shared/…"), "the opened link is logged without its secret");
    assert!(!log.contains(&link_secret), "a link's secret is in the server log");
    assert!(log.contains("DEBUG") || log.contains("INFO"), "the log was captured");
    assert_eq!(secrets.len(), 9);
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret is in the server log");
        assert_eq!(grep_dir(&data_dir, secret), Vec::<String>::new(), "a secret is stored in plain text");
    }
}

fn recover(data_dir: &Path, email: Option<&str>) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_stowage"));
    command.arg("recover").arg("--data-dir").arg(data_dir).env_remove("STOWAGE_ADMIN_EMAIL");
    command.envs(crate::helpers::database_env(data_dir));
    if let Some(email) = email {
        command.args(["--email", email]);
    }
    command.output().expect("binary runs")
}

/// The line after the one containing `label` in `text`, trimmed.
fn after(text: &str, label: &str) -> String {
    let mut lines = text.lines();
    lines.find(|line| line.contains(label)).unwrap_or_else(|| panic!("no \"{label}\" in {text}"));
    lines.next().unwrap().trim().to_string()
}

#[tokio::test]
async fn stowage_recover_issues_a_new_manage_token_and_console_password_when_the_first_ones_were_lost() {
    let dir = crate::helpers::test_dir();
    let data = dir.path().join("data");
    let refused = recover(&data, None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("holds no stack: run `stowage serve` first"));

    // A first start whose banner nobody kept.
    let port = free_port();
    let child = start_quiet(&data, port);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    wait_ready(&client, &url).await;

    let unknown = recover(&data, Some("nobody@example.com"));
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("User \"nobody@example.com\" not found."));
    let recovered = recover(&data, None);
    assert!(recovered.status.success(), "{}", String::from_utf8_lossy(&recovered.stderr));
    let printed = String::from_utf8(recovered.stdout).unwrap();
    let manage = after(&printed, "Manage API token");
    let password = after(&printed, "Console password of admin@localhost");

    let projects = client.get(format!("{url}/manage/projects")).header("X-KBC-ManageApiToken", &manage).send().await;
    assert_eq!(projects.unwrap().status(), 200, "the new manage token works on the running stack");
    let form = client.get(format!("{url}/console")).send().await.unwrap();
    let cookie = form.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = form.text().await.unwrap();
    let start = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = page[start..].split('"').next().unwrap().to_string();
    let signed_in = client
        .post(format!("{url}/console/sign-in"))
        .header("Cookie", cookie)
        .form(&[("email", "admin@localhost"), ("password", password.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "/console/projects");
    let (stopped, _, _) = stop(child).await;
    assert!(stopped);
    assert!(grep_dir(&data, &manage).is_empty() && grep_dir(&data, &password).is_empty(), "only hashes are kept");
}

#[tokio::test]
async fn json_logs_carry_the_request_id_the_response_returns_and_the_job_id_inside_jobs() {
    let dir = crate::helpers::test_dir();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--log", "debug", "--log-format", "json"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .envs(crate::helpers::database_env(&dir.path().join("data")))
        .env_remove("STOWAGE_MANAGE_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let admin = read_admin_token(&mut child).await;
    let client = reqwest::Client::new();
    wait_ready(&client, &url).await;
    let api = |method: reqwest::Method, path: &str| {
        client.request(method, format!("{url}/v2/storage{path}")).header("X-StorageApi-Token", &admin)
    };
    let answer = api(reqwest::Method::GET, "/tokens/verify").send().await.unwrap();
    let generated = answer.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 32, "a new id: {generated}");
    let answer = api(reqwest::Method::GET, "/buckets").header("X-Request-Id", "lb-7f3a-42").send().await.unwrap();
    assert_eq!(answer.headers()["x-request-id"], "lb-7f3a-42", "a plain id from a proxy is kept");
    let answer = api(reqwest::Method::GET, "/buckets").header("X-Request-Id", "bad id\twith tab").send().await.unwrap();
    assert_ne!(answer.headers()["x-request-id"], "bad id\twith tab", "anything else is replaced");
    api(reqwest::Method::POST, "/buckets").json(&json!({"name": "b"})).send().await.unwrap();
    let job: serde_json::Value =
        api(reqwest::Method::DELETE, "/buckets/in.c-b?async=1").send().await.unwrap().json().await.unwrap();
    assert_eq!(job["status"], "success", "{job}");
    let (_, _, stderr) = stop(child).await;

    let lines: Vec<serde_json::Value> =
        stderr.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"))).collect();
    let of_request = |id: &str| lines.iter().any(|l| l["span"]["name"] == "request" && l["span"]["id"] == id);
    assert!(of_request(&generated), "a line of the first request carries its id");
    assert!(of_request("lb-7f3a-42"));
    let in_job = lines.iter().any(|l| l["span"]["name"] == "job" && l["span"]["id"] == job["id"]);
    assert!(in_job, "a line inside the job carries its id");
}
