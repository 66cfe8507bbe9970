//! `spawn_app()`: a stack on port 0 with its own temp data dir, and typed request helpers.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stowage_server::config::Config;
use stowage_server::startup::Application;

/// A running stack plus the secrets its bootstrap created.
pub(crate) struct TestApp {
    pub(crate) url: String,
    /// Where `/metrics` is served (a listener of its own).
    pub(crate) metrics_url: String,
    pub(crate) client: reqwest::Client,
    pub(crate) manage: String,
    pub(crate) admin: String,
    /// The admin's console password, printed at first start.
    pub(crate) admin_password: String,
    pub(crate) project_id: i64,
    /// Holds the stack's data dir (`<this>/data`) for as long as the stack runs.
    pub(crate) data_dir: tempfile::TempDir,
    /// The PostgreSQL database and schema of the catalog, when the suite runs on one.
    database: Option<(String, String)>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A stack on the test database leaves no schema behind (a local database would otherwise grow by
/// a few hundred schemas a run).
impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.database.clone() {
            drop_test_schemas(url, schema);
        }
    }
}

/// A temporary dir for stacks a test starts as processes of their own: the test database's schemas
/// of the stacks whose data dir is this dir or one right below it go with it.
pub(crate) struct TestDir(tempfile::TempDir);

pub(crate) fn test_dir() -> TestDir {
    TestDir(tempfile::tempdir().expect("temp dir"))
}

impl std::ops::Deref for TestDir {
    type Target = tempfile::TempDir;
    fn deref(&self) -> &tempfile::TempDir {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let below = std::fs::read_dir(self.0.path()).into_iter().flatten().flatten().map(|entry| entry.path());
        let below = below.filter(|path| path.is_dir());
        for dir in std::iter::once(self.0.path().to_path_buf()).chain(below) {
            if let Some((url, schema)) = test_database(&dir) {
                drop_test_schemas(url, schema);
            }
        }
    }
}

/// Drops a stack's schemas. The stack may still run (a test's runtime drops it last) and a job of
/// it may hold a lock in them, which made one drop in ten give up after its 1 s timeout: the
/// sessions holding one are ended first.
fn drop_test_schemas(url: String, schema: String) {
    // The synchronous client cannot run on the test's runtime thread.
    let dropped = std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
        client.batch_execute(&format!(
            "SET lock_timeout = '10s';
             SELECT pg_terminate_backend(l.pid) FROM pg_locks l
                 JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname IN ('{schema}', '{schema}_tables') AND l.pid <> pg_backend_pid();
             DROP SCHEMA IF EXISTS {schema} CASCADE;
             DROP SCHEMA IF EXISTS {schema}_tables CASCADE"
        ))
    });
    if let Ok(Err(error)) = dropped.join() {
        eprintln!("a test schema was left behind: {error}");
    }
}

/// A response's status and parsed body (`Null` when the body is empty or not JSON).
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) content_type: String,
    pub(crate) body: Value,
    pub(crate) text: String,
}

impl Reply {
    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub(crate) fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        self
    }

    /// Asserts a Keboola error body with this status and code.
    #[track_caller]
    pub(crate) fn expect_error(self, status: u16, code: &str) -> Self {
        let reply = self.expect(status);
        assert_eq!(reply.body["code"], code, "body: {}", reply.text);
        assert_eq!(reply.body["status"], "error");
        assert!(reply.body["exceptionId"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(reply.body["error"].as_str().is_some_and(|message| !message.is_empty()));
        reply
    }

    /// The error message of an error body.
    pub(crate) fn message(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// A request body.
pub(crate) enum Payload {
    None,
    Json(Value),
    Form(String),
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A stack whose components may reach other stacks on this machine, as an operator allows loopback
/// with `--outbound-allow 127.0.0.1` (by default they may not).
pub(crate) async fn spawn_app_reaching_loopback() -> TestApp {
    spawn_app_with(|config| config.outbound_allow = vec!["127.0.0.1".into()]).await
}

/// The S3-compatible bucket the suite runs against when `STOWAGE_TEST_S3_BUCKET` names one (CI
/// starts a real S3 server), with `STOWAGE_TEST_S3_ENDPOINT` and the `AWS_*` credentials; each
/// stack keeps its files below a prefix of its own.
fn test_s3() -> Option<stowage_core::blobs::S3Settings> {
    let bucket = std::env::var("STOWAGE_TEST_S3_BUCKET").ok().filter(|bucket| !bucket.is_empty())?;
    Some(stowage_core::blobs::S3Settings {
        bucket,
        endpoint: std::env::var("STOWAGE_TEST_S3_ENDPOINT").ok(),
        prefix: Some(format!("test-{}", uuid::Uuid::now_v7().simple())),
        ..Default::default()
    })
}

/// The PostgreSQL database the suite runs against when `STOWAGE_TEST_DATABASE_URL` names one (CI
/// starts a real server): each stack's catalog gets a schema of its own, named after its data dir,
/// so a restart on the same dir finds it again.
pub(crate) fn test_database(data_dir: &std::path::Path) -> Option<(String, String)> {
    let url = std::env::var("STOWAGE_TEST_DATABASE_URL").ok().filter(|url| !url.is_empty())?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data_dir.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    Some((url, format!("t{hash:016x}")))
}

/// The environment that points a `stowage` binary serving `data_dir` at the test database, if any.
pub(crate) fn database_env(data_dir: &std::path::Path) -> Vec<(&'static str, String)> {
    match test_database(data_dir) {
        Some((url, schema)) => vec![("STOWAGE_DATABASE_URL", url), ("STOWAGE_DATABASE_SCHEMA", schema)],
        None => Vec::new(),
    }
}

pub(crate) async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    // A stack's warnings and errors (an internal error's cause, say) go to the output of the test
    // that runs it, which is printed when the test fails.
    let _ = tracing_subscriber::fmt().with_test_writer().with_ansi(false).with_env_filter("stowage=warn").try_init();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(data_dir.path().join("data"), "127.0.0.1:0".parse().unwrap());
    config.stack_name = "test-stack".into();
    config.s3 = test_s3();
    let database = test_database(&config.data_dir);
    config.database =
        database.clone().map(|(url, schema)| stowage_server::config::Database { url: url.into(), schema });
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    adjust(&mut config);
    let (app, bootstrapped) = Application::build(&config).await.expect("stack builds");
    let bootstrapped = bootstrapped.expect("first start bootstraps");
    let url = app.public_url();
    let metrics_url = format!("http://{}/metrics", app.metrics_addr().expect("a metrics listener"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        url,
        metrics_url,
        client: reqwest::Client::new(),
        manage: bootstrapped.generated_manage_token.expect("generated manage token"),
        admin: bootstrapped.admin_token,
        admin_password: bootstrapped.admin_password,
        project_id: bootstrapped.project_id,
        data_dir,
        database,
        _stop: stop,
    }
}

impl TestApp {
    /// Runs one statement on the stack's catalog itself (its SQLite file or its PostgreSQL
    /// schema), for what no API can do, like letting time pass; returns the rows it changed.
    pub(crate) fn execute_on_catalog(&self, sql: &str) -> u64 {
        match &self.database {
            None => {
                let catalog = rusqlite::Connection::open(self.data_dir.path().join("data").join("catalog.sqlite"));
                let catalog = catalog.unwrap();
                catalog.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
                catalog.execute(sql, []).unwrap() as u64
            }
            Some((url, schema)) => {
                let (url, sql) = (url.clone(), format!("SET search_path TO {schema}; {sql}"));
                // The synchronous client cannot run on the test's runtime thread.
                let run = std::thread::spawn(move || {
                    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                    let messages = client.simple_query(&sql).unwrap();
                    messages
                        .iter()
                        .map(|message| match message {
                            postgres::SimpleQueryMessage::CommandComplete(rows) => *rows,
                            _ => 0,
                        })
                        .sum()
                });
                run.join().unwrap()
            }
        }
    }

    /// Sends a request; `token` goes in `X-StorageApi-Token` (or the manage header for `/manage`).
    pub(crate) async fn call(&self, method: Method, path: &str, token: Option<&str>, payload: Payload) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            let header = if path.starts_with("/manage") { "X-KBC-ManageApiToken" } else { "X-StorageApi-Token" };
            request = request.header(header, token);
        }
        request = match payload {
            Payload::None => request,
            Payload::Json(value) => request.json(&value),
            Payload::Form(text) => request.header("Content-Type", "application/x-www-form-urlencoded").body(text),
        };
        let response = request.send().await.expect("request sent");
        reply(response).await
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), Payload::None).await
    }

    pub(crate) async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Payload::Json(body)).await
    }

    pub(crate) async fn post_form(&self, path: &str, token: &str, form: &'static str) -> Reply {
        self.call(Method::POST, path, Some(token), Payload::Form(form.to_string())).await
    }

    pub(crate) async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Payload::Json(body)).await
    }

    pub(crate) async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Payload::Json(body)).await
    }

    pub(crate) async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), Payload::None).await
    }

    /// Creates a bucket `in.c-<name>` as the admin and returns its id.
    pub(crate) async fn create_bucket(&self, name: &str) -> String {
        let reply =
            self.post("/v2/storage/buckets", &self.admin, json!({ "name": name, "stage": "in" })).await.expect(201);
        reply.body["id"].as_str().unwrap().to_string()
    }

    /// Adds a member with `role` to the bootstrap project; returns their master token secret.
    pub(crate) async fn member_token(&self, email: &str, role: &str) -> String {
        self.member_token_in(self.project_id, email, role).await
    }

    /// Adds a member with `role` to a project; returns their master token secret.
    pub(crate) async fn member_token_in(&self, project_id: i64, email: &str, role: &str) -> String {
        let path = format!("/manage/projects/{project_id}/users");
        let reply = self.post(&path, &self.manage, json!({ "email": email, "role": role })).await.expect(201);
        reply.body["token"]["token"].as_str().unwrap().to_string()
    }

    /// Creates a limited token as the admin; returns (secret, response body).
    pub(crate) async fn create_token(&self, options: Value) -> (String, Value) {
        let body = self.post("/v2/storage/tokens", &self.admin, options).await.expect(201).body;
        (body["token"].as_str().unwrap().to_string(), body)
    }

    /// Uploads bytes as a new file with `token`; returns the file id.
    pub(crate) async fn upload(&self, token: &str, name: &str, bytes: Vec<u8>) -> i64 {
        let file = self.post("/v2/storage/files/prepare", token, json!({"name": name})).await.expect(201).body;
        let url = format!("{}{}", self.url, blob_path(&file["absUploadParams"]));
        let put = self.client.put(url).header("x-ms-blob-type", "BlockBlob").body(bytes).send().await.unwrap();
        assert_eq!(put.status(), 201);
        file["id"].as_i64().unwrap()
    }

    /// Creates a table from CSV text as the admin and waits for the job; returns the job.
    pub(crate) async fn create_table(&self, bucket: &str, name: &str, csv: &str, primary_key: &[&str]) -> Value {
        let file = self.upload(&self.admin, "data.csv", csv.as_bytes().to_vec()).await;
        let body = json!({"name": name, "dataFileId": file, "primaryKey": primary_key.join(",")});
        let job = self.post(&format!("/v2/storage/buckets/{bucket}/tables-async"), &self.admin, body).await.expect(202);
        self.wait_job(job.body).await
    }

    /// Imports CSV text into a table as the admin; returns the finished job.
    pub(crate) async fn import(&self, table: &str, csv: &str, options: Value) -> Value {
        let file = self.upload(&self.admin, "data.csv", csv.as_bytes().to_vec()).await;
        let mut body = options;
        body["dataFileId"] = json!(file);
        let job = self.post(&format!("/v2/storage/tables/{table}/import-async"), &self.admin, body).await.expect(202);
        self.wait_job(job.body).await
    }

    /// Polls a job until it ends.
    pub(crate) async fn wait_job(&self, job: Value) -> Value {
        let mut job = job;
        for _ in 0..600 {
            if job["status"] == "success" || job["status"] == "error" {
                return job;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            job = self.get(&format!("/v2/storage/jobs/{}", job["id"]), &self.admin).await.expect(200).body;
        }
        panic!("job did not finish: {job}");
    }

    /// Exports a table with these options and returns the file's bytes.
    pub(crate) async fn export(&self, table: &str, options: Value) -> Vec<u8> {
        let job =
            self.post(&format!("/v2/storage/tables/{table}/export-async"), &self.admin, options).await.expect(202);
        let job = self.wait_job(job.body).await;
        assert_eq!(job["status"], "success", "{job}");
        let id = &job["results"]["file"]["id"];
        let response = self
            .client
            .get(format!("{}/v2/storage/files/{id}/download", self.url))
            .header("X-StorageApi-Token", &self.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap().to_vec()
    }

    /// A table's preview as CSV text.
    pub(crate) async fn preview(&self, table: &str, query: &str) -> String {
        self.get(&format!("/v2/storage/tables/{table}/data-preview?{query}"), &self.admin).await.expect(200).text
    }

    /// The mails in the outbox, oldest first, as text.
    pub(crate) fn outbox(&self) -> Vec<String> {
        let dir = self.data_dir.path().join("data").join("outbox");
        let mut paths: Vec<_> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries.map(|entry| entry.unwrap().path()).collect(),
            Err(_) => return vec![],
        };
        paths.sort();
        paths.iter().map(|path| std::fs::read_to_string(path).unwrap()).collect()
    }

    /// The id of a token secret.
    pub(crate) fn token_id(secret: &str) -> String {
        secret.split('-').nth(1).unwrap().to_string()
    }

    /// Events of the project, newest first, as the admin sees them.
    pub(crate) async fn events(&self, query: &str) -> Vec<Value> {
        let reply = self.get(&format!("/v2/storage/events?{query}"), &self.admin).await.expect(200);
        reply.body.as_array().unwrap().clone()
    }
}

pub(crate) async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, content_type, body, text }
}

/// The body of a mail with quoted-printable soft breaks and escapes undone.
pub(crate) fn mail_text(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let mut out = String::new();
    let mut chars = joined.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '=' {
            let hex: String = chars.clone().take(2).collect();
            if let Ok(byte) = u8::from_str_radix(&hex, 16) {
                out.push(byte as char);
                chars.next();
                chars.next();
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The share link in a mail.
pub(crate) fn share_link(mail: &str) -> String {
    let text = mail_text(mail);
    let start = text.find("http://").expect("a link in the mail");
    text[start..].split_whitespace().next().unwrap().to_string()
}

/// `/abs/<container>/<blob>?<sas>` from a prepare's `absUploadParams` (or a detail's `absPath`).
pub(crate) fn blob_path(params: &Value) -> String {
    let connection = params["absCredentials"]["SASConnectionString"].as_str().unwrap();
    let sas = connection.split("SharedAccessSignature=").nth(1).unwrap();
    format!("/abs/{}/{}?{sas}", params["container"].as_str().unwrap(), params["blobName"].as_str().unwrap())
}
