//! A client of another stack's public Storage API (another Stowage, or Keboola itself), as the
//! writer and extractor use it: exactly what any external client would do.
//!
//! Failures become user errors carrying the other stack's own message (`Invalid access token`,
//! `Some columns are missing ...`), never the token. Server errors and network failures are
//! retried a few times; client errors are not.

use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stowage_types::{Code, Error, Result};

/// Size of one uploaded block.
pub const BLOCK_BYTES: usize = 8 * 1024 * 1024;
const ATTEMPTS: u32 = 5;

fn user_error(message: impl Into<String>) -> Error {
    Error::new(Code::ComponentUserError, message)
}

/// A Storage API endpoint and a token for it.
pub struct Remote {
    client: reqwest::Client,
    base: String,
    token: String,
    /// The header the token goes in: `X-StorageApi-Token`, or `X-KBC-ManageApiToken`.
    header: &'static str,
}

impl Remote {
    /// A client for `url` (a stack root such as `https://connection.keboola.com/`).
    pub fn new(url: &str, token: &str) -> Result<Self> {
        let base = url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(user_error(format!("The url \"{base}\" is not an http:// or https:// address.")));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .user_agent(concat!("Stowage/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::internal)?;
        Ok(Remote { client, base, token: token.to_string(), header: "X-StorageApi-Token" })
    }

    /// A client of the manage API (`/manage/...`) with a manage token.
    pub fn manage(url: &str, token: &str) -> Result<Self> {
        Ok(Remote { header: "X-KBC-ManageApiToken", ..Remote::new(url, token)? })
    }

    /// The root URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Sends a request, retrying server errors and network failures; 4xx answers are returned.
    async fn send(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            match build().send().await {
                Ok(response)
                    if response.status().is_server_error() && response.status() != StatusCode::NOT_IMPLEMENTED =>
                {
                    last = format!("the stack answered {}", response.status());
                }
                Ok(response) => return Ok(response),
                Err(error) => last = format!("the stack cannot be reached: {}", without_url(&error)),
            }
        }
        Err(user_error(format!("Request to {} failed: {last}.", self.base)))
    }

    /// Calls `/v2/storage/{path}` and returns its JSON (or `Null` for an empty answer).
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<(StatusCode, Value)> {
        self.call_root(method, &format!("/v2/storage/{path}"), body).await
    }

    /// Calls any path below the root (`/queue/jobs`, `/manage/projects`, ...); a non-2xx answer is
    /// a user error with the stack's message.
    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let (status, value) = self.call_root(method, path, body).await?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(api_error(status, &value))
        }
    }

    async fn call_root(&self, method: Method, path: &str, body: Option<Value>) -> Result<(StatusCode, Value)> {
        let url = format!("{}{path}", self.base);
        let response = self
            .send(|| {
                let request = self.client.request(method.clone(), &url).header(self.header, &self.token);
                match &body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| user_error(format!("Reading the answer failed: {}", without_url(&error))))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    /// Like [`Remote::call`], but any non-2xx answer is a user error with the stack's message.
    async fn expect(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let (status, value) = self.call(method, path, body).await?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(api_error(status, &value))
        }
    }

    /// `tokens/verify`.
    pub async fn verify(&self) -> Result<Value> {
        self.expect(Method::GET, "tokens/verify", None).await
    }

    /// A table's detail, or `None` when it does not exist.
    pub async fn table(&self, id: &str) -> Result<Option<Value>> {
        let (status, value) = self.call(Method::GET, &format!("tables/{id}"), None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => Ok(Some(value)),
            status => Err(api_error(status, &value)),
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
        let (status, value) = self.call(Method::DELETE, &format!("tables/{id}?async=1"), None).await?;
        match status {
            StatusCode::NOT_FOUND | StatusCode::NO_CONTENT => Ok(()),
            StatusCode::ACCEPTED => self.wait(value).await.map(|_| ()),
            status if status.is_success() => Ok(()),
            status => Err(api_error(status, &value)),
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

    /// Exports a table (gzipped, all columns in order) and returns the file id.
    pub async fn export(&self, table_id: &str, columns: &[String], changed_since: Option<&str>) -> Result<i64> {
        let mut body = json!({ "gzip": 1, "columns": columns.join(",") });
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
        let mut delay = Duration::from_millis(100);
        loop {
            match job["status"].as_str() {
                Some("success") => return Ok(job),
                Some("error") => {
                    let message = job["error"]["message"].as_str().unwrap_or("The job failed.");
                    return Err(user_error(message));
                }
                _ => {}
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(3));
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
        let blob = blob_url(
            params["absCredentials"]["SASConnectionString"].as_str().unwrap_or_default(),
            params["container"].as_str().unwrap_or_default(),
            params["blobName"].as_str().unwrap_or_default(),
        )?;
        let mut ids = Vec::new();
        let mut pending = Vec::with_capacity(BLOCK_BYTES);
        let mut body = body;
        loop {
            let chunk = body.next().await.transpose()?;
            if let Some(chunk) = &chunk {
                pending.extend_from_slice(chunk);
            }
            if pending.len() >= BLOCK_BYTES || (chunk.is_none() && (!pending.is_empty() || ids.is_empty())) {
                let id = base64_block_id(ids.len());
                let block = Bytes::from(std::mem::take(&mut pending));
                let url = format!(
                    "{blob}&comp=block&blockid={}",
                    id.replace('=', "%3D").replace('+', "%2B").replace('/', "%2F")
                );
                let response = self.send(|| self.client.put(&url).body(block.clone())).await?;
                if !response.status().is_success() {
                    return Err(user_error(format!(
                        "Uploading a block failed: the file storage answered {}.",
                        response.status()
                    )));
                }
                ids.push(id);
            }
            if chunk.is_none() {
                break;
            }
        }
        let list: String = ids.iter().map(|id| format!("<Latest>{id}</Latest>")).collect();
        let xml = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>{list}</BlockList>");
        let response = self.send(|| self.client.put(format!("{blob}&comp=blocklist")).body(xml.clone())).await?;
        if !response.status().is_success() {
            return Err(user_error(format!(
                "Committing the upload failed: the file storage answered {}.",
                response.status()
            )));
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
        let url = blob_url(
            file["absCredentials"]["SASConnectionString"].as_str().unwrap_or_default(),
            path["container"].as_str().unwrap_or_default(),
            path["name"].as_str().unwrap_or_default(),
        )?;
        let response = self.send(|| self.client.get(&url)).await?;
        if !response.status().is_success() {
            return Err(user_error(format!(
                "Downloading the file failed: the file storage answered {}.",
                response.status()
            )));
        }
        Ok(response
            .bytes_stream()
            .map_err(|error| user_error(format!("Downloading the file failed: {}", without_url(&error)))))
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

fn base64_block_id(index: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("block-{index:08}"))
}

/// The stack's own error text for a failed call.
fn api_error(status: StatusCode, body: &Value) -> Error {
    let message = body["error"].as_str().or_else(|| body.as_str()).filter(|m| !m.is_empty());
    user_error(message.map(str::to_string).unwrap_or_else(|| format!("The stack answered {status}.")))
}

/// A transport error's text without its URL (a SAS in a URL is a credential).
fn without_url(error: &reqwest::Error) -> String {
    let text = error.to_string();
    match error.url() {
        Some(url) => text.replace(url.as_str(), "<url>"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_become_blob_urls() {
        let url = blob_url("BlobEndpoint=http://h/abs;SharedAccessSignature=sv=1&sig=x", "c", "1/f.csv").unwrap();
        assert_eq!(url, "http://h/abs/c/1/f.csv?sv=1&sig=x");
        assert!(blob_url("garbage", "c", "b").is_err());
    }

    #[test]
    fn stack_messages_are_passed_through() {
        let error = api_error(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "Invalid access token", "code": "storage.tokenInvalid"}),
        );
        assert_eq!(error.message, "Invalid access token");
        assert_eq!(error.code, Code::ComponentUserError);
    }
}
