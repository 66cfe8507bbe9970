//! A client of another stack's public Storage API (another Stowage, or Keboola itself), as the
//! writer and extractor use it: exactly what any external client would do.
//!
//! Inside the stack it connects only where the operator's [`Policy`] allows, follows no redirects,
//! and bounds every call (connect and read timeouts, the size of a JSON answer). Failures become
//! user errors: the far side's own message when it answers with a Keboola error body (`Invalid
//! access token`, bounded in length), otherwise "unexpected response from URL (status, content
//! type)": nothing else the far side sends is repeated, and never the token or a SAS. Server
//! errors and network failures are retried a few times; client errors are not.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};
use stowage_types::{Code, Error, Result, Upstream};

use crate::outbound::{self, Policy};

/// Size of one uploaded block.
pub const BLOCK_BYTES: usize = 8 * 1024 * 1024;
const ATTEMPTS: u32 = 5;
/// The largest JSON answer read from the far side.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// The longest message of the far side's error body that is passed on.
const MAX_MESSAGE_CHARS: usize = 500;

fn user_error(message: impl Into<String>) -> Error {
    Error::new(Code::ComponentUserError, message)
}

/// A Storage API endpoint and a token for it.
pub struct Remote {
    client: reqwest::Client,
    policy: Arc<Policy>,
    base: String,
    token: String,
    /// The header the token goes in: `X-StorageApi-Token`, or `X-KBC-ManageApiToken`.
    header: &'static str,
}

/// What the far side answered to a JSON call.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    content_type: String,
    /// The body, when it was JSON (`Null` when empty).
    json: Option<Value>,
}

impl Remote {
    /// A client for `url` (a stack root such as `https://connection.keboola.com/`) that may
    /// connect anywhere: for the CLI, which acts as its own user.
    pub fn new(url: &str, token: &str) -> Result<Self> {
        Remote::guarded(url, token, &Arc::new(Policy::open()))
    }

    /// A client for `url` that connects only where `policy` allows: for the stack itself.
    pub fn guarded(url: &str, token: &str, policy: &Arc<Policy>) -> Result<Self> {
        let base = url.trim().trim_end_matches('/').to_string();
        let parsed = Url::parse(&base)
            .map_err(|_| user_error(format!("The url \"{base}\" is not an http:// or https:// address.")))?;
        policy.check_url(&parsed)?;
        if parsed.query().is_some() || parsed.fragment().is_some() || base.contains(['?', '#']) {
            return Err(user_error(format!(
                "The url \"{}\" must be a stack's root URL, without a query string (?) or fragment (#).",
                outbound::shown(&parsed)
            )));
        }
        let client = policy.client()?;
        Ok(Remote { client, policy: policy.clone(), base, token: token.to_string(), header: "X-StorageApi-Token" })
    }

    /// A client of the manage API (`/manage/...`) with a manage token.
    pub fn manage(url: &str, token: &str) -> Result<Self> {
        Ok(Remote { header: "X-KBC-ManageApiToken", ..Remote::new(url, token)? })
    }

    /// Whether the stack runs on this machine (a loopback address or `localhost`), where moving
    /// bytes costs less than compressing them.
    pub fn is_on_this_machine(&self) -> bool {
        let Some(url) = Url::parse(&self.base).ok() else { return false };
        let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The root URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Sends a request, retrying server errors and network failures; 4xx answers are returned.
    /// `shown` names the destination in errors.
    async fn send(&self, shown: &str, build: impl Fn() -> reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            match build().send().await {
                Ok(response)
                    if response.status().is_server_error() && response.status() != StatusCode::NOT_IMPLEMENTED =>
                {
                    last = format!("it answered {}", response.status());
                }
                Ok(response) => return Ok(response),
                Err(error) => {
                    if let Some(refused) = refusal(&error) {
                        return Err(user_error(refused));
                    }
                    last = transport_failure(&error);
                }
            }
        }
        Err(user_error(format!("Request to {shown} failed: {last}.")).from_upstream(Upstream::Unavailable))
    }

    /// Calls `/v2/storage/{path}`.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Answer> {
        self.call_root(method, &format!("/v2/storage/{path}"), body).await
    }

    /// Calls any path below the root (`/queue/jobs`, `/manage/projects`, ...); a non-2xx answer is
    /// a user error with the stack's message.
    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let answer = self.call_root(method, path, body).await?;
        self.json(answer)
    }

    /// Like [`Remote::request`], with the answer's headers.
    pub async fn request_with_headers(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(Value, reqwest::header::HeaderMap)> {
        let mut answer = self.call_root(method, path, body).await?;
        let headers = std::mem::take(&mut answer.headers);
        Ok((self.json(answer)?, headers))
    }

    async fn call_root(&self, method: Method, path: &str, body: Option<Value>) -> Result<Answer> {
        let url = format!("{}{path}", self.base);
        let mut response = self
            .send(&self.base, || {
                let request = self.client.request(method.clone(), &url).header(self.header, &self.token);
                match &body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("none")
            .chars()
            .take(100)
            .collect::<String>();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| {
            user_error(format!("Reading the answer of {} failed: {}.", self.base, transport_failure(&error)))
                .from_upstream(Upstream::Unavailable)
        })? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(user_error(format!(
                    "The answer of {} is larger than {} MiB, the most this stack reads.",
                    self.base,
                    MAX_ANSWER_BYTES >> 20
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let json = if bytes.iter().all(u8::is_ascii_whitespace) {
            Some(Value::Null)
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        Ok(Answer { status, headers, content_type, json })
    }

    /// The JSON of a successful answer; anything else is a user error.
    fn json(&self, answer: Answer) -> Result<Value> {
        match answer.json {
            Some(value) if answer.status.is_success() => Ok(value),
            _ => Err(self.failure(&answer)),
        }
    }

    /// The error for an answer that is not what was asked for: the far side's message when it sent
    /// a Keboola error body, otherwise only its status and content type.
    fn failure(&self, answer: &Answer) -> Error {
        let message = answer.json.as_ref().and_then(|body| body["error"].as_str()).filter(|m| !m.trim().is_empty());
        let error = match message {
            Some(message) if !answer.status.is_success() => user_error(bounded(message)),
            _ => user_error(format!(
                "unexpected response from {} (status {}, content type {})",
                self.base,
                answer.status.as_u16(),
                answer.content_type
            )),
        };
        error.from_upstream(Upstream::Status(answer.status.as_u16()))
    }

    /// Like [`Remote::call`], but any non-2xx or non-JSON answer is a user error.
    async fn expect(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        self.request(method, &format!("/v2/storage/{path}"), body).await
    }

    /// An absolute URL the far side handed out (file credentials), checked against the policy.
    fn checked(&self, url: String) -> Result<(String, String)> {
        let parsed = Url::parse(&url).map_err(|_| user_error("The stack returned a file URL that is not valid."))?;
        self.policy.check_url(&parsed)?;
        Ok((outbound::shown(&parsed), url))
    }

    /// `tokens/verify`.
    pub async fn verify(&self) -> Result<Value> {
        self.expect(Method::GET, "tokens/verify", None).await
    }

    /// A table's detail, or `None` when it does not exist.
    pub async fn table(&self, id: &str) -> Result<Option<Value>> {
        let answer = self.call(Method::GET, &format!("tables/{id}"), None).await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            _ => self.json(answer).map(Some),
        }
    }

    /// Tables of a bucket.
    pub async fn bucket_tables(&self, bucket: &str) -> Result<Value> {
        self.expect(Method::GET, &format!("buckets/{bucket}/tables"), None).await
    }

    /// Metadata of a table or of a column (`columns/{table}.{column}`).
    pub async fn metadata(&self, path: &str) -> Result<Value> {
        self.expect(Method::GET, &format!("{path}/metadata"), None).await
    }

    /// Deletes a table; a missing one is fine.
    pub async fn delete_table(&self, id: &str) -> Result<()> {
        let answer = self.call(Method::DELETE, &format!("tables/{id}?async=1"), None).await?;
        match answer.status {
            StatusCode::NOT_FOUND | StatusCode::NO_CONTENT => Ok(()),
            StatusCode::ACCEPTED => self.wait(self.json(answer)?).await.map(|_| ()),
            status if status.is_success() => Ok(()),
            _ => Err(self.failure(&answer)),
        }
    }

    /// Creates a table from an uploaded file and waits for it.
    pub async fn create_table(&self, bucket: &str, name: &str, file_id: i64, primary_key: &[String]) -> Result<Value> {
        let body = json!({
            "name": name, "dataFileId": file_id, "delimiter": ",", "enclosure": "\"", "escapedBy": "",
            "primaryKey": primary_key.join(","),
        });
        let job = self.expect(Method::POST, &format!("buckets/{bucket}/tables-async"), Some(body)).await?;
        self.wait(job).await
    }

    /// Loads an uploaded file into a table and waits for it.
    pub async fn import(&self, table_id: &str, file_id: i64, incremental: bool) -> Result<Value> {
        let body = json!({
            "dataFileId": file_id, "incremental": if incremental { 1 } else { 0 },
            "delimiter": ",", "enclosure": "\"", "escapedBy": "",
        });
        let job = self.expect(Method::POST, &format!("tables/{table_id}/import-async"), Some(body)).await?;
        self.wait(job).await
    }

    /// Exports the columns of a table, in order, gzipped or not, and returns the file id.
    pub async fn export(
        &self,
        table_id: &str,
        columns: &[String],
        changed_since: Option<&str>,
        gzip: bool,
    ) -> Result<i64> {
        let mut body = json!({ "gzip": if gzip { 1 } else { 0 }, "columns": columns.join(",") });
        if let Some(since) = changed_since {
            body["changedSince"] = json!(since);
        }
        let job = self.expect(Method::POST, &format!("tables/{table_id}/export-async"), Some(body)).await?;
        let job = self.wait(job).await?;
        job["results"]["file"]["id"].as_i64().ok_or_else(|| user_error("The export job named no file."))
    }

    /// Polls a job until it ends; a failed job is a user error with its message.
    pub async fn wait(&self, job: Value) -> Result<Value> {
        let mut job = job;
        let started = tokio::time::Instant::now();
        loop {
            match job["status"].as_str() {
                Some("success") => return Ok(job),
                Some("error") => {
                    let message = job["error"]["message"].as_str().unwrap_or("The job failed.");
                    return Err(user_error(bounded(message)).from_upstream(Upstream::JobFailed));
                }
                _ => {}
            }
            tokio::time::sleep(poll_delay(started)).await;
            let id = job["id"].clone();
            job = self
                .expect(
                    Method::GET,
                    &format!(
                        "jobs/{}",
                        id.as_i64().map(|i| i.to_string()).unwrap_or_else(|| id.as_str().unwrap_or("").to_string())
                    ),
                    None,
                )
                .await?;
        }
    }

    /// Uploads a stream as a new file (`files/prepare`, then Azure blocks) and returns its id.
    pub async fn upload(
        &self,
        name: &str,
        tags: &[&str],
        body: impl Stream<Item = Result<Bytes>> + Unpin,
    ) -> Result<i64> {
        let file = self
            .expect(
                Method::POST,
                "files/prepare",
                Some(json!({ "name": name, "tags": tags, "federationToken": 1, "isPublic": 0 })),
            )
            .await?;
        let params = &file["absUploadParams"];
        if params.is_null() {
            let provider = file["provider"].as_str().unwrap_or("unknown");
            return Err(user_error(format!(
                "The stack stores files in \"{provider}\"; this component uploads only to Azure-compatible file storage."
            )));
        }
        let (shown, blob) = self.checked(blob_url(
            params["absCredentials"]["SASConnectionString"].as_str().unwrap_or_default(),
            params["container"].as_str().unwrap_or_default(),
            params["blobName"].as_str().unwrap_or_default(),
        )?)?;
        // Two blocks go up at once while the next one fills, so the stream's producer (an export
        // and its compression) never waits for a round trip.
        let (shown, blob) = (&shown, &blob);
        let ids: Vec<String> = blocks(body)
            .enumerate()
            .map(|(index, block)| async move {
                let (id, block) = (base64_block_id(index), block?);
                let url = format!(
                    "{blob}&comp=block&blockid={}",
                    id.replace('=', "%3D").replace('+', "%2B").replace('/', "%2F")
                );
                let response = self.send(shown, || self.client.put(&url).body(block.clone())).await?;
                if !response.status().is_success() {
                    return Err(user_error(format!(
                        "Uploading a block failed: the file storage answered {}.",
                        response.status()
                    ))
                    .from_upstream(Upstream::Status(response.status().as_u16())));
                }
                Ok(id)
            })
            .buffered(2)
            .try_collect()
            .await?;
        let list: String = ids.iter().map(|id| format!("<Latest>{id}</Latest>")).collect();
        let xml = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>{list}</BlockList>");
        let response = self.send(shown, || self.client.put(format!("{blob}&comp=blocklist")).body(xml.clone())).await?;
        if !response.status().is_success() {
            return Err(user_error(format!(
                "Committing the upload failed: the file storage answered {}.",
                response.status()
            ))
            .from_upstream(Upstream::Status(response.status().as_u16())));
        }
        file["id"].as_i64().ok_or_else(|| user_error("files/prepare returned no file id."))
    }

    /// Streams a file's bytes (through its Azure download credentials).
    pub async fn download(&self, file_id: i64) -> Result<impl Stream<Item = Result<Bytes>> + Send + Unpin + 'static> {
        let file = self.expect(Method::GET, &format!("files/{file_id}?federationToken=1"), None).await?;
        if file["isSliced"].as_bool() == Some(true) {
            return Err(user_error("The export is sliced; this stack downloads only whole files."));
        }
        let path = &file["absPath"];
        if path.is_null() {
            return Err(user_error("The stack offers no Azure-compatible download for this file."));
        }
        let (shown, url) = self.checked(blob_url(
            file["absCredentials"]["SASConnectionString"].as_str().unwrap_or_default(),
            path["container"].as_str().unwrap_or_default(),
            path["name"].as_str().unwrap_or_default(),
        )?)?;
        let response = self.send(&shown, || self.client.get(&url)).await?;
        if !response.status().is_success() {
            return Err(user_error(format!(
                "Downloading the file failed: the file storage answered {}.",
                response.status()
            ))
            .from_upstream(Upstream::Status(response.status().as_u16())));
        }
        Ok(response.bytes_stream().map_err(|error| {
            user_error(format!("Downloading the file failed: {}.", transport_failure(&error)))
                .from_upstream(Upstream::Unavailable)
        }))
    }
}

/// `{BlobEndpoint}/{container}/{blob}?{SAS}` from a connection string.
fn blob_url(connection: &str, container: &str, blob: &str) -> Result<String> {
    let mut endpoint = None;
    let mut sas = None;
    for part in connection.split(';') {
        if let Some(value) = part.strip_prefix("BlobEndpoint=") {
            endpoint = Some(value.trim_end_matches('/'));
        } else if let Some(value) = part.strip_prefix("SharedAccessSignature=") {
            sas = Some(value);
        }
    }
    match (endpoint, sas) {
        (Some(endpoint), Some(sas)) if !container.is_empty() && !blob.is_empty() => {
            Ok(format!("{endpoint}/{container}/{blob}?{sas}"))
        }
        _ => Err(user_error("The stack returned file credentials this component does not understand.")),
    }
}

/// How long to wait before asking again about a job that started at `started`: a job that ends
/// is seen within an eighth of its time, and no later than a second after (about 30 requests in
/// its first 10 s, then one a second).
pub fn poll_delay(started: tokio::time::Instant) -> Duration {
    (started.elapsed() / 8).clamp(Duration::from_millis(25), Duration::from_secs(1))
}

/// A stream cut into blocks of [`BLOCK_BYTES`] (the last one shorter); an empty stream is one
/// empty block, since a blob needs at least one.
fn blocks(body: impl Stream<Item = Result<Bytes>> + Unpin) -> impl Stream<Item = Result<Bytes>> {
    futures::stream::unfold((body, 0usize, false), |(mut body, sent, ended)| async move {
        if ended {
            return None;
        }
        let mut pending = Vec::with_capacity(BLOCK_BYTES);
        loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    pending.extend_from_slice(&chunk);
                    if pending.len() >= BLOCK_BYTES {
                        return Some((Ok(Bytes::from(pending)), (body, sent + 1, false)));
                    }
                }
                Some(Err(error)) => return Some((Err(error), (body, sent, true))),
                None if pending.is_empty() && sent > 0 => return None,
                None => return Some((Ok(Bytes::from(pending)), (body, sent + 1, true))),
            }
        }
    })
}

fn base64_block_id(index: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("block-{index:08}"))
}

/// A message of the far side, cut to a length that fits an error.
fn bounded(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_string(),
    }
}

/// The policy's refusal, when that is why a request could not be sent.
fn refusal(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<outbound::Refused>() {
            return Some(refused.to_string());
        }
        source = cause.source();
    }
    None
}

/// What went wrong in transport, without the URL (a SAS in a URL is a credential).
fn transport_failure(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {} seconds", outbound::READ_TIMEOUT.as_secs())
    } else if error.is_connect() {
        format!(
            "it cannot be reached (the connection was refused or not opened within {} seconds)",
            outbound::CONNECT_TIMEOUT.as_secs()
        )
    } else if error.is_redirect() {
        "it answered with a redirect, which this stack does not follow".to_string()
    } else {
        let text = error.to_string();
        match error.url() {
            Some(url) => text.replace(url.as_str(), "<url>"),
            None => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn block_sizes(chunks: Vec<Result<Bytes>>) -> Vec<std::result::Result<usize, Code>> {
        blocks(futures::stream::iter(chunks)).map(|block| block.map(|b| b.len()).map_err(|e| e.code)).collect().await
    }

    #[tokio::test]
    async fn a_stream_is_cut_into_full_blocks_and_a_short_last_one_and_nothing_is_one_empty_block() {
        let mib = |n: usize| Ok(Bytes::from(vec![b'x'; n << 20]));
        assert_eq!(block_sizes(vec![]).await, vec![Ok(0)]);
        assert_eq!(block_sizes(vec![mib(3), mib(3), mib(3), mib(3)]).await, vec![Ok(9 << 20), Ok(3 << 20)]);
        assert_eq!(block_sizes(vec![mib(8)]).await, vec![Ok(8 << 20)], "no empty block after a full one");
        let failed = vec![mib(3), Err(Error::new(Code::CsvInvalid, "cut")), mib(3)];
        assert_eq!(block_sizes(failed).await, vec![Err(Code::CsvInvalid)], "a failure ends the blocks");
    }

    #[test]
    fn a_stack_on_a_loopback_address_or_localhost_is_on_this_machine() {
        let here = |url| Remote::new(url, "t").unwrap().is_on_this_machine();
        for url in ["http://127.0.0.1:8000", "http://127.9.0.1", "http://[::1]:80/", "http://LocalHost:1"] {
            assert!(here(url), "{url}");
        }
        for url in [
            "https://connection.keboola.com",
            "http://10.0.0.1:8000",
            "http://[2001:db8::1]",
            "http://localhost.example",
        ] {
            assert!(!here(url), "{url}");
        }
    }

    #[test]
    fn connection_strings_become_blob_urls() {
        let url = blob_url("BlobEndpoint=http://h/abs;SharedAccessSignature=sv=1&sig=x", "c", "1/f.csv").unwrap();
        assert_eq!(url, "http://h/abs/c/1/f.csv?sv=1&sig=x");
        assert!(blob_url("garbage", "c", "b").is_err());
    }

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        let json = if body.is_empty() { Some(Value::Null) } else { serde_json::from_str(body).ok() };
        let status = StatusCode::from_u16(status).unwrap();
        Answer { status, headers: Default::default(), content_type: content_type.into(), json }
    }

    #[test]
    fn a_keboola_error_body_passes_its_message_and_nothing_else_is_echoed() {
        let remote = Remote::new("http://stack.example.com", "t").unwrap();
        let body = r#"{"error": "Invalid access token", "code": "storage.tokenInvalid"}"#;
        let error = remote.failure(&answer(401, "application/json", body));
        assert_eq!(error.message, "Invalid access token");
        assert_eq!(error.code, Code::ComponentUserError);
        let error = remote.failure(&answer(404, "text/html", "<html>secret internal page</html>"));
        assert_eq!(
            error.message,
            "unexpected response from http://stack.example.com (status 404, content type text/html)"
        );
        let error = remote.json(answer(200, "text/plain", "hello")).unwrap_err();
        assert!(error.message.starts_with("unexpected response") && !error.message.contains("hello"));
        let long = format!(r#"{{"error": "{}"}}"#, "x".repeat(5000));
        assert_eq!(remote.failure(&answer(400, "application/json", &long)).message.chars().count(), 501);
    }

    #[test]
    fn a_stack_url_with_a_query_or_fragment_is_refused() {
        for url in ["http://stack.example.com/?", "http://stack.example.com/?x=1", "http://stack.example.com/#f"] {
            let error = Remote::new(url, "t").err().unwrap();
            assert!(error.message.contains("without a query string"), "{url}: {}", error.message);
        }
    }
}
