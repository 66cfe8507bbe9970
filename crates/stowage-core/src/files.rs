//! Files: records in the catalog, bytes in [`Blobs`], reached by clients through the stack's own
//! Azure-Blob-compatible endpoint with a SAS signed by the stack key.
//!
//! A SAS is bound to one blob, one permission (`r` read or `cw` write) and an expiry; the
//! endpoint recomputes the signature from the blob it is asked for, so a credential for one
//! file opens nothing else. Files are write-once: a second upload to the same blob is refused.

use std::ops::Range;

use bytes::Bytes;
use futures::stream::BoxStream;
use stowage_types::auth::{AnyToken, ChangeFile, Granted, ReadFile, Token};
use stowage_types::{time, Code, Error, Paging, Result};

use crate::blobs::PutError;
use crate::crypto::StackKey;
use crate::events::{record, Happened};
use crate::records::{FileFilter, FileRecord};
use crate::{Core, Ctx};

/// How long upload and download credentials stay valid.
pub const SAS_TTL_SECS: i64 = 8 * 3600;
/// The storage account name clients see; also the path segment of the endpoint.
pub const ACCOUNT: &str = "abs";
/// Longest file name.
pub const MAX_NAME_CHARS: usize = 255;

/// The container that holds a project's files.
pub fn container_of(project_id: i64) -> String {
    format!("stowage-p{project_id}")
}

/// The longest name [`sanitize`] keeps as it is. A file system's names end at 255 bytes, and the
/// local store writes each object through a temporary file named `<name>#1`: a longer name could
/// never be uploaded. Names up to this length keep the key they always had.
const MAX_SEGMENT: usize = 253;
/// What a longer name is shortened to, its extension kept.
const SHORTENED_SEGMENT: usize = 240;

/// A file name made safe for a blob path: ASCII letters, digits, `.`, `_`, `-`, at most
/// [`MAX_SEGMENT`] of them.
fn sanitize(name: &str) -> String {
    let mut cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    if cleaned.trim_matches('.').is_empty() {
        return "file".into();
    }
    if cleaned.len() > MAX_SEGMENT {
        let extension = cleaned.rfind('.').filter(|dot| cleaned.len() - dot <= 16).map_or(0, |dot| cleaned.len() - dot);
        let extension = cleaned.split_off(cleaned.len() - extension);
        cleaned.truncate(SHORTENED_SEGMENT - extension.len());
        cleaned.push_str(&extension);
    }
    cleaned
}

/// The blob name of a file inside its container.
pub fn blob_name(file: &FileRecord) -> String {
    format!("{}/{}", file.id, sanitize(&file.name))
}

fn blob_key(project_id: i64, id: i64, name: &str) -> String {
    format!("files/p{project_id}/{id}/{}", sanitize(name))
}

/// Where a staged block waits for its Put Block List: named by the SHA-256 of its id, so the key
/// stays short whatever the id (S3 keys end at 1024 bytes; block ids may take 1024).
fn staging_key(file_id: i64, block_id: &str) -> String {
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(block_id.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("staging/{file_id}/{hex}")
}

/// What a SAS allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SasPermission {
    Read,
    Write,
}

impl SasPermission {
    fn code(self) -> &'static str {
        match self {
            SasPermission::Read => "r",
            SasPermission::Write => "cw",
        }
    }
}

/// A credential for one blob.
#[derive(Debug, Clone)]
pub struct BlobAccess {
    pub container: String,
    pub blob_name: String,
    /// The SAS query string, Azure style.
    pub sas: String,
    pub expires: i64,
}

fn sas_message(container: &str, blob: &str, permission: &str, expiry: &str) -> String {
    format!("{container}\n{blob}\n{permission}\n{expiry}")
}

fn sas_time(ts: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(ts, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Signs a credential for one blob of `file`.
pub fn blob_access(core: &Core, file: &FileRecord, permission: SasPermission) -> BlobAccess {
    let container = container_of(file.project_id);
    let blob = blob_name(file);
    let expires = time::now() + SAS_TTL_SECS;
    let expiry = sas_time(expires);
    let sig = core.key.sign(&sas_message(&container, &blob, permission.code(), &expiry));
    let sas = form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", "2021-08-06")
        .append_pair("sr", "b")
        .append_pair("sp", permission.code())
        .append_pair("se", &expiry)
        .append_pair("sig", &sig)
        .finish();
    BlobAccess { container, blob_name: blob, sas, expires }
}

/// Why a blob request failed; rendered in Azure's error shape by the endpoint.
#[derive(Debug)]
pub enum BlobError {
    /// 403 `AuthenticationFailed`.
    AuthenticationFailed(String),
    /// 403 `AuthorizationPermissionMismatch`.
    PermissionMismatch,
    /// 404 `BlobNotFound`.
    NotFound,
    /// 409 `BlobAlreadyExists`.
    AlreadyExists,
    /// 416 `InvalidRange`.
    InvalidRange,
    /// 400 `InvalidBlockList`.
    InvalidBlockList(String),
    /// 400 with an Azure code, e.g. `InvalidHeaderValue`, `InvalidQueryParameterValue`.
    Invalid(&'static str, String),
    /// 409 `StagingLimitReached`: the project's uploads in progress staged what they may.
    LimitReached(String),
    /// 500: the stack failed.
    Internal(Error),
}

impl From<Error> for BlobError {
    fn from(error: Error) -> Self {
        BlobError::Internal(error)
    }
}

/// A parameter of a blob request's query string, decoded.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// Checks the SAS in a blob request's query against `key` at time `now`: signed for this container
/// and blob, not expired, granting `needed`. Answers the file id the blob name starts with.
pub fn check_sas(
    key: &StackKey,
    container: &str,
    blob: &str,
    query: &str,
    needed: SasPermission,
    now: i64,
) -> std::result::Result<i64, BlobError> {
    let fail = |why: &str| BlobError::AuthenticationFailed(why.to_string());
    let (Some(sp), Some(se), Some(sig)) =
        (query_value(query, "sp"), query_value(query, "se"), query_value(query, "sig"))
    else {
        return Err(fail(
            "Server failed to authenticate the request. A shared access signature (sp, se, sig) is required.",
        ));
    };
    let expiry = se;
    if !key.verify(&sas_message(container, blob, &sp, &expiry), &sig) {
        return Err(fail("Signature did not match. The signature is not valid for this blob."));
    }
    let expires =
        chrono::DateTime::parse_from_rfc3339(&expiry).map_err(|_| fail("Signature fields not well formed."))?;
    if expires.timestamp() <= now {
        return Err(fail("Signed expiry time has passed: the credential expired."));
    }
    let allowed = match needed {
        SasPermission::Read => sp.contains('r'),
        SasPermission::Write => sp.contains('w'),
    };
    if !allowed {
        return Err(BlobError::PermissionMismatch);
    }
    blob.split('/').next().and_then(|id| id.parse::<i64>().ok()).ok_or(BlobError::NotFound)
}

/// Checks the SAS of a blob request and returns the file it names.
pub async fn authorize_blob(
    core: &Core,
    container: &str,
    blob: &str,
    query: &str,
    needed: SasPermission,
) -> std::result::Result<FileRecord, BlobError> {
    let file_id = check_sas(&core.key, container, blob, query, needed, time::now())?;
    let file = core.store.read(move |r| r.file_by_id(file_id)).await?.ok_or(BlobError::NotFound)?;
    if container_of(file.project_id) != container || blob_name(&file) != blob {
        return Err(BlobError::NotFound);
    }
    Ok(file)
}

/// Entity tag of an uploaded file.
pub fn etag(file: &FileRecord) -> String {
    format!("\"0x{:X}{:X}\"", file.id, file.uploaded.unwrap_or(file.created))
}

async fn mark_uploaded(core: &Core, file: &FileRecord, size: u64) -> Result<FileRecord> {
    let (id, project_id) = (file.id, file.project_id);
    core.store
        .write(move |w| {
            w.set_file_uploaded(id, size as i64, time::now())?;
            w.file(project_id, id)?.ok_or_else(|| Error::internal("file vanished"))
        })
        .await
}

/// Put Blob: stores the whole body as the file's bytes.
pub async fn put_blob<E: std::fmt::Display>(
    core: &Core,
    file: &FileRecord,
    body: impl futures::Stream<Item = std::result::Result<Bytes, E>> + Unpin,
) -> std::result::Result<FileRecord, BlobError> {
    if file.uploaded.is_some() {
        return Err(BlobError::AlreadyExists);
    }
    let size = core.blobs.put_stream(&file.blob_key, body).await.map_err(|error| match error {
        PutError::Source(error) => BlobError::Invalid("InvalidInput", format!("The upload was interrupted: {error}")),
        PutError::Store(error) => BlobError::Internal(error),
    })?;
    Ok(mark_uploaded(core, file, size).await?)
}

/// Put Block: stages one block of a later Put Block List. What a project's uploads in progress
/// have staged is bounded by [`crate::StackInfo::max_staged_bytes`]: a block that would pass it is
/// refused (as it arrives, so nothing past the bound is written), and staging resumes as uploads
/// commit or their credentials expire.
pub async fn put_block<E: std::fmt::Display>(
    core: &Core,
    file: &FileRecord,
    block_id: &str,
    body: impl futures::Stream<Item = std::result::Result<Bytes, E>> + Unpin,
) -> std::result::Result<(), BlobError> {
    if file.uploaded.is_some() {
        return Err(BlobError::AlreadyExists);
    }
    if block_id.is_empty() || block_id.len() > 1024 {
        return Err(BlobError::Invalid("InvalidQueryParameterValue", "The blockid is missing or too long.".into()));
    }
    let key = staging_key(file.id, block_id);
    let limit = i64::try_from(core.stack.max_staged_bytes).unwrap_or(i64::MAX);
    let (project_id, since) = (file.project_id, time::now() - STAGING_KEPT_SECS);
    let staged = core.store.read(move |r| r.staged_bytes(project_id, since)).await?;
    // A block sent again under its id replaces the one staged before.
    let replaced = core.blobs.size(&key).await?.map_or(0, |size| size as i64);
    let room = limit.saturating_sub(staged).saturating_add(replaced);
    let over_limit = || {
        BlobError::LimitReached(format!(
            "The project's uploads in progress have staged {} of the {} allowed: commit or abandon them \
             (staged blocks of an upload expire with its credential) and send the block again.",
            stowage_types::text::size(staged),
            stowage_types::text::size(limit)
        ))
    };
    if room <= 0 {
        return Err(over_limit());
    }
    let mut taken = 0i64;
    let body = futures::StreamExt::map(body, move |chunk| {
        let chunk = chunk.map_err(Staging::Body)?;
        taken += chunk.len() as i64;
        if taken > room {
            return Err(Staging::OverLimit);
        }
        Ok(chunk)
    });
    let size = core.blobs.put_stream(&key, body).await.map_err(|error| match error {
        PutError::Source(Staging::OverLimit) => over_limit(),
        PutError::Source(error) => BlobError::Invalid("InvalidInput", format!("The upload was interrupted: {error}")),
        PutError::Store(error) => BlobError::Internal(error),
    })?;
    let (id, added) = (file.id, size as i64 - replaced);
    core.store.write(move |w| w.add_file_staged_bytes(id, added)).await?;
    Ok(())
}

/// Why a staged block's body ended early.
enum Staging<E> {
    Body(E),
    OverLimit,
}

impl<E: std::fmt::Display> std::fmt::Display for Staging<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Staging::Body(error) => error.fmt(f),
            Staging::OverLimit => f.write_str("the project's staging limit was reached"),
        }
    }
}

/// Put Block List: the file's bytes become the staged blocks, in list order. They stay where
/// they were staged (`file_blocks` lists them), so committing copies nothing; staged blocks the
/// list leaves out are deleted.
pub async fn put_block_list(
    core: &Core,
    file: &FileRecord,
    block_ids: Vec<String>,
) -> std::result::Result<FileRecord, BlobError> {
    if file.uploaded.is_some() {
        return Err(BlobError::AlreadyExists);
    }
    let mut blocks = Vec::with_capacity(block_ids.len());
    for id in &block_ids {
        let key = staging_key(file.id, id);
        let Some(size) = core.blobs.size(&key).await? else {
            return Err(BlobError::InvalidBlockList(format!("The block \"{id}\" was not uploaded.")));
        };
        blocks.push((key, size as i64));
    }
    let listed: std::collections::HashSet<String> = blocks.iter().map(|(key, _)| key.clone()).collect();
    let size = blocks.iter().map(|(_, size)| size).sum();
    let (id, project_id) = (file.id, file.project_id);
    let committed = core
        .store
        .write(move |w| {
            // Of two lists sent at once, one commits.
            if w.file(project_id, id)?.is_none_or(|file| file.uploaded.is_some()) {
                return Ok(None);
            }
            w.set_file_blocks(id, &blocks)?;
            w.set_file_uploaded(id, size, time::now())?;
            w.file(project_id, id)
        })
        .await?;
    let uploaded = committed.ok_or(BlobError::AlreadyExists)?;
    for key in core.blobs.list(&format!("staging/{}", file.id)).await? {
        if !listed.contains(&key) {
            core.blobs.delete(&key).await?;
        }
    }
    Ok(uploaded)
}

/// A file's bytes, or a range of them: the object at its key, or the blocks it was committed
/// from, one after another, each read when the stream reaches it.
pub async fn read_bytes(
    core: &Core,
    file: &FileRecord,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes>>> {
    use futures::{StreamExt, TryStreamExt};
    let id = file.id;
    let blocks = core.store.read(move |r| r.file_blocks(id)).await?;
    if blocks.is_empty() {
        return core.blobs.read(&file.blob_key, range).await;
    }
    let range = range.unwrap_or(0..u64::MAX);
    let mut parts = Vec::with_capacity(blocks.len());
    let mut offset = 0u64;
    for (key, size) in blocks {
        let end = offset + size as u64;
        let (start, stop) = (range.start.max(offset), range.end.min(end));
        if start < stop {
            parts.push((key, start - offset..stop - offset));
        }
        offset = end;
    }
    let blobs = core.blobs.clone();
    let reads = futures::stream::iter(parts).then(move |(key, part)| {
        let blobs = blobs.clone();
        async move { blobs.read(&key, Some(part)).await }
    });
    Ok(reads.try_flatten().boxed())
}

/// A blocking reader of a file's bytes, for parsers that run on a blocking thread. Call it from
/// async code, then move it to the blocking thread.
pub async fn sync_reader(core: &Core, file: &FileRecord) -> Result<impl std::io::Read + Send + 'static> {
    use futures::TryStreamExt;
    let stream = read_bytes(core, file, None).await?.map_err(std::io::Error::other);
    Ok(tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream)))
}

/// What a Get Blob answers: the byte range served and the stream of it.
pub struct BlobRead {
    pub file: FileRecord,
    pub size: u64,
    /// `Some` for a ranged read (206).
    pub range: Option<Range<u64>>,
    pub body: BoxStream<'static, Result<Bytes>>,
}

/// Parses `bytes=a-b` or `bytes=a-`.
fn parse_range(header: &str) -> Option<(u64, Option<u64>)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = if end.trim().is_empty() { None } else { Some(end.trim().parse().ok()?) };
    Some((start, end))
}

/// Get Blob, optionally ranged (`x-ms-range` or `Range`).
pub async fn get_blob(core: &Core, file: FileRecord, range: Option<&str>) -> std::result::Result<BlobRead, BlobError> {
    let size = match file.size_bytes {
        Some(size) if file.uploaded.is_some() => size as u64,
        _ => return Err(BlobError::NotFound),
    };
    let range = match range {
        None => None,
        Some(header) => {
            let (start, end) = parse_range(header).ok_or_else(|| {
                BlobError::Invalid("InvalidHeaderValue", format!("The range \"{header}\" is not valid."))
            })?;
            if start >= size || end.is_some_and(|end| end < start) {
                return Err(BlobError::InvalidRange);
            }
            Some(start..end.map_or(size, |end| end.saturating_add(1).min(size)))
        }
    };
    let body = if size == 0 {
        Box::pin(futures::stream::empty()) as BoxStream<'static, Result<Bytes>>
    } else {
        read_bytes(core, &file, range.clone()).await?
    };
    Ok(BlobRead { file, size, range, body })
}

/// A `files/prepare` request.
#[derive(Debug, Default)]
pub struct PrepareRequest {
    pub name: Option<String>,
    pub size_bytes: Option<i64>,
    pub tags: Vec<String>,
    pub is_public: bool,
    pub is_permanent: bool,
    pub is_encrypted: bool,
    pub is_sliced: bool,
    pub content_type: Option<String>,
}

fn validate_tag(tag: &str) -> Result<()> {
    if tag.is_empty() || tag.chars().count() > 256 {
        return Err(Error::new(Code::FileValidation, format!("Invalid tag \"{tag}\": use 1 to 256 characters.")));
    }
    Ok(())
}

/// Creates a file record ready for upload; any token may upload files.
pub async fn prepare(
    ctx: &Ctx,
    grant: &Granted<AnyToken>,
    request: PrepareRequest,
) -> Result<(FileRecord, BlobAccess)> {
    let name = request
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::new(Code::FileValidation, "Invalid data - name: This value should not be blank."))?;
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::new(
            Code::FileValidation,
            format!("Invalid data - name: at most {MAX_NAME_CHARS} characters."),
        ));
    }
    if request.is_sliced {
        return Err(Error::new(
            Code::FileValidation,
            "Sliced uploads are not supported by this stack: upload the data as one file (isSliced=0).",
        ));
    }
    if request.size_bytes.is_some_and(|size| size < 0) {
        return Err(Error::new(Code::FileValidation, "Invalid data - sizeBytes: must not be negative."));
    }
    for tag in &request.tags {
        validate_tag(tag)?;
    }
    let file = new_record(grant.token(), name, request.tags, ctx.run_id.clone());
    let file = FileRecord {
        is_public: request.is_public,
        is_permanent: request.is_permanent,
        is_encrypted: request.is_encrypted,
        content_type: request.content_type,
        ..file
    };
    let file = insert(&ctx.core, file).await?;
    let access = blob_access(&ctx.core, &file, SasPermission::Write);
    Ok((file, access))
}

fn new_record(token: &Token, name: String, tags: Vec<String>, run_id: Option<String>) -> FileRecord {
    FileRecord {
        project_id: token.project_id,
        name,
        is_encrypted: true,
        created: time::now(),
        run_id,
        creator_token_id: token.id,
        creator_token_description: token.description.clone(),
        max_age_days: 15,
        tags,
        ..FileRecord::default()
    }
}

async fn insert(core: &Core, file: FileRecord) -> Result<FileRecord> {
    core.store
        .write(move |w| {
            let id = w.insert_file(&file)?;
            w.set_file_blob_key(id, &blob_key(file.project_id, id, &file.name))?;
            w.file(file.project_id, id)?.ok_or_else(|| Error::internal("file vanished"))
        })
        .await
}

/// Creates a file with bytes written by `fill` (used by exports); `fill` gets the writer.
pub(crate) async fn create_for(
    core: &Core,
    token: &Token,
    name: String,
    tags: Vec<String>,
    run_id: Option<String>,
) -> Result<FileRecord> {
    insert(core, new_record(token, name, tags, run_id)).await
}

/// Records that a file created by [`create_for`] now holds `size` bytes.
pub(crate) async fn finish_upload(core: &Core, file: &FileRecord, size: u64) -> Result<FileRecord> {
    mark_uploaded(core, file, size).await
}

fn not_found(id: i64) -> Error {
    Error::new(Code::FileNotFound, format!("File {id} not found"))
}

/// One file the token may read.
pub async fn get(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64) -> Result<FileRecord> {
    let project_id = grant.project_id();
    let file = ctx.core.store.read(move |r| r.file(project_id, id)).await?.ok_or_else(|| not_found(id))?;
    grant.token().authorize(ReadFile { creator_token_id: file.creator_token_id })?;
    Ok(file)
}

/// Listing parameters.
#[derive(Debug, Default)]
pub struct ListParams {
    pub paging: Paging,
    pub tags: Vec<String>,
    pub q: Option<String>,
    pub since_id: Option<i64>,
    pub max_id: Option<i64>,
    pub run_id: Option<String>,
}

/// Parses the `q` forms clients use on files: `tags:"a" AND tags:b`.
fn parse_tags_query(q: &str) -> Result<Vec<String>> {
    let fail =
        || Error::new(Code::FileValidation, format!("Failed to parse query \"{q}\": use tags:\"a\" AND tags:\"b\"."));
    let mut tags = Vec::new();
    for term in q.split(" AND ").map(str::trim).filter(|t| !t.is_empty()) {
        let value = term.strip_prefix("tags:").ok_or_else(fail)?;
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        if value.is_empty() {
            return Err(fail());
        }
        tags.push(value.to_string());
    }
    Ok(tags)
}

/// Files the token may read, newest first.
pub async fn list(ctx: &Ctx, grant: &Granted<AnyToken>, params: ListParams) -> Result<Vec<FileRecord>> {
    let (limit, offset) = params.paging.bounds(100, 1000)?;
    let token = grant.token();
    let filter = FileFilter {
        project_id: token.project_id,
        creator_token_id: (!token.can_read_all_file_uploads()).then_some(token.id),
        any_tags: params.tags,
        all_tags: params.q.as_deref().map(parse_tags_query).transpose()?.unwrap_or_default(),
        since_id: params.since_id,
        max_id: params.max_id,
        run_id: params.run_id,
        limit,
        offset,
    };
    ctx.core.store.read(move |r| r.files(&filter)).await
}

async fn changeable(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64) -> Result<FileRecord> {
    let file = get(ctx, grant, id).await?;
    grant.token().authorize(ChangeFile { creator_token_id: file.creator_token_id })?;
    Ok(file)
}

/// Deletes the files past their `maxAgeDays` (never permanent ones) with their bytes, recording
/// `storage.fileExpired` for each; how many went. The record goes first, so no one is handed a
/// file whose bytes are being removed.
pub async fn delete_expired(core: &Core) -> Result<usize> {
    let ctx = Ctx::internal(core);
    let mut deleted = 0;
    loop {
        let expired = core.store.read(|r| r.expired_files(time::now(), 500)).await?;
        if expired.is_empty() {
            return Ok(deleted);
        }
        for file in expired {
            let gone = ctx
                .write({
                    let file = file.clone();
                    move |w, ctx| {
                        if !w.delete_file(file.id)? {
                            return Ok(false);
                        }
                        let happened = Happened::about(
                            "storage.fileExpired",
                            "file",
                            &file.id.to_string(),
                            format!("File \"{}\" ({}) expired and was deleted", file.name, file.id),
                        );
                        record(w, ctx, file.project_id, None, happened)?;
                        Ok(true)
                    }
                })
                .await?;
            if gone {
                delete_bytes(core, &file).await?;
                deleted += 1;
            }
        }
    }
}

/// How long after a file's creation the blocks it staged are kept: its upload credential lasts
/// [`SAS_TTL_SECS`], and an hour more covers an upload still in flight at its end.
pub const STAGING_KEPT_SECS: i64 = SAS_TTL_SECS + 3600;
/// The stack meta entry that remembers the last file whose staged blocks were swept.
const STAGING_SWEPT: &str = "staging_swept_file_id";

/// Deletes the staged blocks of files never committed once their upload credential has expired
/// ([`STAGING_KEPT_SECS`]): Put Block needs that credential, so nothing staged can be committed
/// after it, and blocks staged without a Put Block List would otherwise stay for as long as the
/// file (a permanent one, forever). Each file is swept once; returns how many blocks went.
pub async fn sweep_abandoned_staging(core: &Core) -> Result<usize> {
    let before = time::now() - STAGING_KEPT_SECS;
    let mut deleted = 0;
    loop {
        let after = core.store.read(|r| r.stack_meta(STAGING_SWEPT)).await?.and_then(|id| id.parse().ok()).unwrap_or(0);
        let files = core.store.read(move |r| r.abandoned_uploads(before, after, 200)).await?;
        let Some(&last) = files.last() else { return Ok(deleted) };
        for id in files {
            for key in core.blobs.list(&format!("staging/{id}")).await? {
                core.blobs.delete(&key).await?;
                deleted += 1;
            }
        }
        core.store.write(move |w| w.set_stack_meta(STAGING_SWEPT, &last.to_string())).await?;
    }
}

async fn delete_bytes(core: &Core, file: &FileRecord) -> Result<()> {
    core.blobs.delete(&file.blob_key).await?;
    for key in core.blobs.list(&format!("staging/{}", file.id)).await? {
        core.blobs.delete(&key).await?;
    }
    Ok(())
}

/// Deletes a file and its bytes.
pub async fn delete(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64) -> Result<()> {
    let file = changeable(ctx, grant, id).await?;
    ctx.core.store.write(move |w| w.delete_file(id)).await?;
    delete_bytes(&ctx.core, &file).await
}

/// Adds a tag to a file.
pub async fn add_tag(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64, tag: String) -> Result<()> {
    validate_tag(&tag)?;
    changeable(ctx, grant, id).await?;
    ctx.core.store.write(move |w| w.add_file_tag(id, &tag)).await
}

/// Removes a tag from a file.
pub async fn remove_tag(ctx: &Ctx, grant: &Granted<AnyToken>, id: i64, tag: String) -> Result<()> {
    changeable(ctx, grant, id).await?;
    let removed = ctx.core.store.write(move |w| w.remove_file_tag(id, &tag)).await?;
    if removed {
        Ok(())
    } else {
        Err(Error::new(Code::FileNotFound, "The file does not carry this tag."))
    }
}

/// The bytes of a file the token may read.
pub async fn download(
    ctx: &Ctx,
    grant: &Granted<AnyToken>,
    id: i64,
) -> Result<(FileRecord, BoxStream<'static, Result<Bytes>>)> {
    let file = get(ctx, grant, id).await?;
    if file.uploaded.is_none() {
        return Err(Error::new(
            Code::FileNotFound,
            format!("File {id} has no content yet: it was prepared but not uploaded."),
        ));
    }
    let body = if file.size_bytes == Some(0) {
        Box::pin(futures::stream::empty()) as BoxStream<'static, Result<Bytes>>
    } else {
        read_bytes(&ctx.core, &file, None).await?
    };
    Ok((file, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe_for_blob_paths() {
        assert_eq!(sanitize("data.csv"), "data.csv");
        assert_eq!(sanitize("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(sanitize("ščř data.csv.gz"), "____data.csv.gz");
        assert_eq!(sanitize(".."), "file");
    }

    #[test]
    fn ranges_parse_closed_and_open_ended() {
        assert_eq!(parse_range("bytes=0-33554431"), Some((0, Some(33554431))));
        assert_eq!(parse_range("bytes=10-"), Some((10, None)));
        assert_eq!(parse_range("items=0-1"), None);
    }

    #[test]
    fn a_blob_name_fits_a_file_system_name_and_keeps_its_extension() {
        assert_eq!(sanitize(&"a".repeat(253)), "a".repeat(253));
        let long = format!("{}.csv.gz", "b".repeat(250));
        let shortened = sanitize(&long);
        assert_eq!(shortened.len(), SHORTENED_SEGMENT);
        assert!(shortened.ends_with("bbb.gz"), "{shortened}");
        assert_eq!(sanitize(&"c".repeat(255)), "c".repeat(SHORTENED_SEGMENT));
    }

    #[test]
    fn the_tags_query_takes_quoted_and_bare_tags() {
        assert_eq!(parse_tags_query("tags:\"a\" AND tags:b").unwrap(), vec!["a".to_string(), "b".to_string()]);
        assert!(parse_tags_query("name:x").is_err());
    }
}
