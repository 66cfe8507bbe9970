//! The `stowage` command-line client. It speaks to a stack over its public APIs, exactly like
//! any other client, so it works with any Stowage (and, for storage commands, with Keboola).
//!
//! Layout: [`ClientCommand`] (the commands and their `--help`), `profile` (where the URL and
//! tokens live), `transfer` (streaming uploads and downloads with progress bars), and `run`
//! dispatching to one function per command.

mod profile;
mod transfer;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use stowage_core::remote::Remote;

pub use profile::{Profile, Profiles};

/// An error shown as one line: `stowage: <message>`.
#[derive(Debug)]
pub struct CliError(pub String);

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError(message.into())
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<stowage_core::types::Error> for CliError {
    fn from(error: stowage_core::types::Error) -> Self {
        CliError(error.message)
    }
}

/// Options every client command takes.
#[derive(Debug, Args, Default)]
pub struct GlobalArgs {
    /// Profile to use (see `stowage login`)
    #[arg(long, global = true, env = "STOWAGE_PROFILE")]
    pub profile: Option<String>,
    /// Print JSON for scripts instead of text
    #[arg(long, global = true)]
    pub json: bool,
}

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Store a profile: a stack URL and a token.
    ///
    /// The token is read from STOWAGE_TOKEN or asked for (hidden), never taken as an argument, so it
    /// stays out of shell history. Example: stowage login --url http://127.0.0.1:8000
    Login(LoginArgs),
    /// Projects (manage API). Example: stowage project create Analytics
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Project members (manage API). Example: stowage user add 2 ann@example.com --role guest
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens. Example: stowage token create --description partner --read in.c-sales
    #[command(subcommand)]
    Token(TokenCommand),
    /// Buckets. Example: stowage bucket create sales
    #[command(subcommand)]
    Bucket(BucketCommand),
    /// Tables. Example: stowage table import orders.csv in.c-sales.orders --primary-key id
    #[command(subcommand)]
    Table(TableCommand),
    /// Files. Example: stowage file upload report.pdf --tag monthly
    #[command(subcommand)]
    File(FileCommand),
    /// Run a writer or extractor configuration (or some of its rows) and follow its log.
    ///
    /// Exits 0 when the job succeeds, 1 with the job's error otherwise.
    /// Example: stowage run keboola.wr-storage 12 --row 13
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The stack's URL
    #[arg(long)]
    pub url: String,
    /// Store a manage API token instead of a Storage API token
    #[arg(long)]
    pub manage: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project. Example: stowage project create Analytics
    Create { name: String },
    /// List projects. Example: stowage project list
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a member (creates the user and their master token, printed once).
    /// Example: stowage user add 1 ann@example.com --role admin
    Add {
        project: i64,
        email: String,
        /// admin, share, guest or readOnly
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Remove a member (deletes their master token). Example: stowage user remove 1 ann@example.com
    Remove { project: i64, email: String },
    /// List members. Example: stowage user list 1
    List { project: i64 },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a limited token; its secret is printed once.
    /// Example: stowage token create --description partner --write out.c-share --expires-in 86400
    Create(TokenCreateArgs),
    /// List tokens. Example: stowage token list
    List,
    /// Give a token a new secret (printed once). Example: stowage token refresh 12
    Refresh { id: String },
    /// Email a one-time link to a token. Example: stowage token share 12 --email ann@example.com --message "For the sync"
    Share {
        id: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        message: String,
    },
    /// Delete a token. Example: stowage token delete 12
    Delete { id: String },
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[arg(long)]
    pub description: Option<String>,
    /// Bucket the token may read (repeatable)
    #[arg(long = "read", value_name = "BUCKET")]
    pub read: Vec<String>,
    /// Bucket the token may write (repeatable)
    #[arg(long = "write", value_name = "BUCKET")]
    pub write: Vec<String>,
    /// Component the token may configure and run (repeatable)
    #[arg(long = "component", value_name = "ID")]
    pub component: Vec<String>,
    /// Seconds until the token expires
    #[arg(long)]
    pub expires_in: Option<i64>,
    /// Full access to every bucket
    #[arg(long)]
    pub manage_buckets: bool,
}

#[derive(Debug, Subcommand)]
pub enum BucketCommand {
    /// List buckets. Example: stowage bucket list
    List,
    /// Create a bucket. Example: stowage bucket create sales --stage in
    Create {
        name: String,
        #[arg(long, default_value = "in")]
        stage: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// List tables, of one bucket or all. Example: stowage table list in.c-sales
    List { bucket: Option<String> },
    /// Load a CSV (gzipped on the fly) into a table, creating it when missing.
    /// Example: stowage table import orders.csv in.c-sales.orders --incremental --primary-key id
    Import {
        file: PathBuf,
        table_id: String,
        #[arg(long)]
        incremental: bool,
        /// Primary key columns of a new table, comma-separated
        #[arg(long, value_delimiter = ',')]
        primary_key: Vec<String>,
        #[arg(long, default_value = ",")]
        delimiter: String,
    },
    /// Export a table as CSV with a header, to FILE or standard output.
    /// Example: stowage table export in.c-sales.orders orders.csv --changed-since "-1 days"
    Export {
        table_id: String,
        file: Option<PathBuf>,
        #[arg(long, allow_hyphen_values = true)]
        changed_since: Option<String>,
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Keep the output gzipped
        #[arg(long)]
        gzip: bool,
    },
    /// Print the first rows as CSV. Example: stowage table preview in.c-sales.orders --limit 10
    Preview {
        table_id: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// Upload a file; prints its id. Example: stowage file upload data.csv --tag raw
    Upload {
        file: PathBuf,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Download a file to FILE (or its own name). Example: stowage file download 42 out.csv
    Download { id: i64, file: Option<PathBuf> },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub component: String,
    pub config: String,
    /// Row to run (repeatable); all enabled rows when absent
    #[arg(long = "row")]
    pub rows: Vec<String>,
}

/// Runs one client command.
pub async fn run(global: &GlobalArgs, command: ClientCommand) -> Result<(), CliError> {
    match command {
        ClientCommand::Login(args) => login(global, args),
        ClientCommand::Project(command) => project(global, command).await,
        ClientCommand::User(command) => user(global, command).await,
        ClientCommand::Token(command) => token(global, command).await,
        ClientCommand::Bucket(command) => bucket(global, command).await,
        ClientCommand::Table(command) => table(global, command).await,
        ClientCommand::File(command) => file(global, command).await,
        ClientCommand::Run(args) => run_job(global, args).await,
    }
}

fn login(global: &GlobalArgs, args: LoginArgs) -> Result<(), CliError> {
    let secret = match std::env::var("STOWAGE_TOKEN") {
        Ok(secret) if !secret.trim().is_empty() => secret.trim().to_string(),
        _ => rpassword::prompt_password(if args.manage { "Manage token: " } else { "Storage API token: " })
            .map_err(|_| CliError::new("no token: set STOWAGE_TOKEN or run `stowage login` in a terminal"))?
            .trim()
            .to_string(),
    };
    if secret.is_empty() {
        return Err(CliError::new("the token is empty"));
    }
    let mut profiles = Profiles::load()?;
    let name = global.profile.clone().unwrap_or_else(|| "default".into());
    let entry = profiles.profiles.entry(name.clone()).or_default();
    entry.url = args.url.trim_end_matches('/').to_string();
    if args.manage {
        entry.manage_token = Some(secret);
    } else {
        entry.token = Some(secret);
    }
    if profiles.default.is_none() {
        profiles.default = Some(name.clone());
    }
    let path = profiles.save()?;
    println!("Profile \"{name}\" saved in {}.", path.display());
    Ok(())
}

fn storage(global: &GlobalArgs) -> Result<Remote, CliError> {
    let profile = Profiles::load()?.resolve(global.profile.as_deref())?;
    let token = profile
        .token
        .ok_or_else(|| CliError::new("the profile has no Storage API token: run `stowage login --url URL`"))?;
    Ok(Remote::new(&profile.url, &token)?)
}

fn manage(global: &GlobalArgs) -> Result<Remote, CliError> {
    let profile = Profiles::load()?.resolve(global.profile.as_deref())?;
    let token = profile.manage_token.or_else(|| std::env::var("STOWAGE_MANAGE_TOKEN").ok()).ok_or_else(|| {
        CliError::new("no manage token: run `stowage login --url URL --manage` or set STOWAGE_MANAGE_TOKEN")
    })?;
    Ok(Remote::manage(&profile.url, &token)?)
}

/// Prints `value` as JSON, or `text` for people.
fn print(global: &GlobalArgs, value: &Value, text: impl FnOnce() -> String) {
    if global.json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    } else {
        println!("{}", text());
    }
}

fn lines(list: &Value, line: impl Fn(&Value) -> String) -> String {
    list.as_array().map(|items| items.iter().map(line).collect::<Vec<_>>().join("\n")).unwrap_or_default()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn project(global: &GlobalArgs, command: ProjectCommand) -> Result<(), CliError> {
    let remote = manage(global)?;
    match command {
        ProjectCommand::Create { name } => {
            let project = remote.request(Method::POST, "/manage/projects", Some(json!({ "name": name }))).await?;
            print(global, &project, || format!("Project {} \"{}\" created.", project["id"], text(&project["name"])));
        }
        ProjectCommand::List => {
            let list = remote.request(Method::GET, "/manage/projects", None).await?;
            print(global, &list, || lines(&list, |p| format!("{}\t{}", p["id"], text(&p["name"]))));
        }
    }
    Ok(())
}

async fn user(global: &GlobalArgs, command: UserCommand) -> Result<(), CliError> {
    let remote = manage(global)?;
    match command {
        UserCommand::Add { project, email, role } => {
            let body = json!({ "email": email, "role": role });
            let member = remote.request(Method::POST, &format!("/manage/projects/{project}/users"), Some(body)).await?;
            print(global, &member, || {
                format!(
                    "{} added to project {project} as {}. Their master token (shown once):\n{}",
                    text(&member["email"]),
                    text(&member["role"]),
                    text(&member["token"]["token"])
                )
            });
        }
        UserCommand::Remove { project, email } => {
            remote.request(Method::DELETE, &format!("/manage/projects/{project}/users/{email}"), None).await?;
            print(global, &json!({ "removed": email }), || {
                format!("{email} removed from project {project}; their master token is deleted.")
            });
        }
        UserCommand::List { project } => {
            let list = remote.request(Method::GET, &format!("/manage/projects/{project}/users"), None).await?;
            print(global, &list, || lines(&list, |m| format!("{}\t{}", text(&m["email"]), text(&m["role"]))));
        }
    }
    Ok(())
}

async fn token(global: &GlobalArgs, command: TokenCommand) -> Result<(), CliError> {
    let remote = storage(global)?;
    match command {
        TokenCommand::Create(args) => {
            let mut permissions = serde_json::Map::new();
            for bucket in &args.read {
                permissions.insert(bucket.clone(), json!("read"));
            }
            for bucket in &args.write {
                permissions.insert(bucket.clone(), json!("write"));
            }
            let mut body = json!({ "bucketPermissions": permissions, "componentAccess": args.component, "canManageBuckets": args.manage_buckets });
            if let Some(description) = args.description {
                body["description"] = json!(description);
            }
            if let Some(expires_in) = args.expires_in {
                body["expiresIn"] = json!(expires_in);
            }
            let created = remote.request(Method::POST, "/v2/storage/tokens", Some(body)).await?;
            print(global, &created, || {
                format!("Token {} created. Its secret (shown once):\n{}", text(&created["id"]), text(&created["token"]))
            });
        }
        TokenCommand::List => {
            let list = remote.request(Method::GET, "/v2/storage/tokens", None).await?;
            print(global, &list, || {
                lines(&list, |t| {
                    let buckets = match &t["bucketPermissions"] {
                        Value::Object(map) => {
                            map.iter().map(|(b, p)| format!("{b}:{}", text(p))).collect::<Vec<_>>().join(",")
                        }
                        _ => String::new(),
                    };
                    format!("{}\t{}\t{}", text(&t["id"]), text(&t["description"]), buckets)
                })
            });
        }
        TokenCommand::Refresh { id } => {
            let refreshed =
                remote.request(Method::POST, &format!("/v2/storage/tokens/{id}/refresh"), Some(json!({}))).await?;
            print(global, &refreshed, || {
                format!("Token {id} refreshed. Its new secret (shown once):\n{}", text(&refreshed["token"]))
            });
        }
        TokenCommand::Share { id, email, message } => {
            let body = json!({ "recipientEmail": email, "message": message });
            remote.request(Method::POST, &format!("/v2/storage/tokens/{id}/share"), Some(body)).await?;
            print(global, &json!({ "shared": id, "recipientEmail": email }), || {
                format!("A one-time link to token {id} was sent to {email}.")
            });
        }
        TokenCommand::Delete { id } => {
            remote.request(Method::DELETE, &format!("/v2/storage/tokens/{id}"), None).await?;
            print(global, &json!({ "deleted": id }), || format!("Token {id} deleted."));
        }
    }
    Ok(())
}

async fn bucket(global: &GlobalArgs, command: BucketCommand) -> Result<(), CliError> {
    let remote = storage(global)?;
    match command {
        BucketCommand::List => {
            let list = remote.request(Method::GET, "/v2/storage/buckets", None).await?;
            print(global, &list, || lines(&list, |b| format!("{}\t{}", text(&b["id"]), text(&b["description"]))));
        }
        BucketCommand::Create { name, stage } => {
            let bucket = remote
                .request(Method::POST, "/v2/storage/buckets", Some(json!({ "name": name, "stage": stage })))
                .await?;
            print(global, &bucket, || format!("Bucket {} created.", text(&bucket["id"])));
        }
    }
    Ok(())
}

fn split_table_id(id: &str) -> Result<(String, String), CliError> {
    match id.rsplit_once('.') {
        Some((bucket, name)) if bucket.contains('.') && !name.is_empty() => Ok((bucket.to_string(), name.to_string())),
        _ => Err(CliError::new(format!("\"{id}\" is not a table id like in.c-sales.orders"))),
    }
}

async fn table(global: &GlobalArgs, command: TableCommand) -> Result<(), CliError> {
    let remote = storage(global)?;
    match command {
        TableCommand::List { bucket } => {
            let path = match bucket {
                Some(bucket) => format!("/v2/storage/buckets/{bucket}/tables?include=columns"),
                None => "/v2/storage/tables?include=columns".into(),
            };
            let list = remote.request(Method::GET, &path, None).await?;
            print(global, &list, || lines(&list, |t| format!("{}\t{} rows", text(&t["id"]), t["rowsCount"])));
        }
        TableCommand::Import { file, table_id, incremental, primary_key, delimiter } => {
            let (bucket, name) = split_table_id(&table_id)?;
            let size = std::fs::metadata(&file)
                .map_err(|error| CliError::new(format!("cannot read {}: {error}", file.display())))?
                .len();
            let bar = transfer::bar(Some(size), "uploading");
            let chunks = transfer::gzipped_chunks(&file, bar.clone())?;
            let file_name = format!(
                "{}.gz",
                file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data.csv".into())
            );
            let file_id = remote.upload(&file_name, &["table-import"], chunks).await?;
            bar.finish_and_clear();
            let existing = remote.table(&table_id).await?;
            let job = if existing.is_none() {
                let body = json!({ "name": name, "dataFileId": file_id, "primaryKey": primary_key.join(","), "delimiter": delimiter });
                remote.request(Method::POST, &format!("/v2/storage/buckets/{bucket}/tables-async"), Some(body)).await?
            } else {
                let body = json!({ "dataFileId": file_id, "incremental": if incremental { 1 } else { 0 }, "delimiter": delimiter });
                remote.request(Method::POST, &format!("/v2/storage/tables/{table_id}/import-async"), Some(body)).await?
            };
            let job = remote.wait(job).await?;
            let detail = remote.table(&table_id).await?.unwrap_or(Value::Null);
            print(global, &job, || {
                let verb = if existing.is_none() { "Created" } else { "Loaded" };
                format!("{verb} {table_id}: it now has {} rows.", detail["rowsCount"])
            });
        }
        TableCommand::Export { table_id, file, changed_since, columns, gzip } => {
            let detail = remote.table(&table_id).await?.ok_or_else(|| CliError::new(format!("no table {table_id}")))?;
            let columns: Vec<String> = if columns.is_empty() {
                detail["columns"]
                    .as_array()
                    .map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default()
            } else {
                columns
            };
            let file_id = remote.export(&table_id, &columns, changed_since.as_deref()).await?;
            let info = remote.request(Method::GET, &format!("/v2/storage/files/{file_id}"), None).await?;
            let header: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
            let mut prefix = format!("{}\n", header.join(",")).into_bytes();
            if gzip {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(&prefix).map_err(|error| CliError::new(error.to_string()))?;
                prefix = encoder.finish().map_err(|error| CliError::new(error.to_string()))?;
            }
            let out: Box<dyn Write + Send> = match &file {
                Some(path) => Box::new(
                    std::fs::File::create(path)
                        .map_err(|error| CliError::new(format!("cannot write {}: {error}", path.display())))?,
                ),
                None => Box::new(std::io::stdout()),
            };
            let bar = transfer::bar(info["sizeBytes"].as_u64(), "downloading");
            transfer::save(remote.download(file_id).await?, out, prefix, !gzip, bar).await?;
            if let Some(path) = file {
                if !global.json {
                    eprintln!("Exported {table_id} to {}.", path.display());
                }
            }
        }
        TableCommand::Preview { table_id, limit } => {
            let preview = remote
                .request(
                    Method::GET,
                    &format!("/v2/storage/tables/{table_id}/data-preview?limit={limit}&format=json"),
                    None,
                )
                .await?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&preview).unwrap_or_default());
            } else {
                let quote = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
                let columns: Vec<String> = preview["columns"]
                    .as_array()
                    .map(|c| c.iter().map(|v| quote(v.as_str().unwrap_or(""))).collect())
                    .unwrap_or_default();
                println!("{}", columns.join(","));
                for row in preview["rows"].as_array().into_iter().flatten() {
                    let values: Vec<String> = row
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|cell| quote(cell["value"].as_str().unwrap_or("")))
                        .collect();
                    println!("{}", values.join(","));
                }
            }
        }
    }
    Ok(())
}

async fn file(global: &GlobalArgs, command: FileCommand) -> Result<(), CliError> {
    let remote = storage(global)?;
    match command {
        FileCommand::Upload { file, tags } => {
            let size = std::fs::metadata(&file)
                .map_err(|error| CliError::new(format!("cannot read {}: {error}", file.display())))?
                .len();
            let bar = transfer::bar(Some(size), "uploading");
            let path = file.clone();
            let reader = tokio::fs::File::open(&path)
                .await
                .map_err(|error| CliError::new(format!("cannot read {}: {error}", path.display())))?;
            let counting = bar.clone();
            let chunks = futures::StreamExt::map(tokio_util_stream(reader), move |chunk| {
                chunk.inspect(|bytes| counting.inc(bytes.len() as u64))
            });
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            let id = remote.upload(&name, &tags, Box::pin(chunks)).await?;
            bar.finish_and_clear();
            print(global, &json!({ "id": id }), || format!("Uploaded {} as file {id}.", file.display()));
        }
        FileCommand::Download { id, file } => {
            let info = remote.request(Method::GET, &format!("/v2/storage/files/{id}"), None).await?;
            let path = file.unwrap_or_else(|| PathBuf::from(info["name"].as_str().unwrap_or("download")));
            let out = std::fs::File::create(&path)
                .map_err(|error| CliError::new(format!("cannot write {}: {error}", path.display())))?;
            let bar = transfer::bar(info["sizeBytes"].as_u64(), "downloading");
            transfer::save(remote.download(id).await?, Box::new(out), Vec::new(), false, bar).await?;
            print(global, &json!({ "id": id, "path": path.display().to_string() }), || {
                format!("Downloaded file {id} to {}.", path.display())
            });
        }
    }
    Ok(())
}

/// A file as a stream of 1 MB chunks.
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = stowage_core::types::Result<bytes::Bytes>> + Unpin + Send + 'static {
    use tokio::io::AsyncReadExt;
    Box::pin(futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = vec![0u8; 1 << 20];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok(bytes::Bytes::from(buffer)), Some(file)))
            }
            Err(error) => {
                Some((Err(stowage_core::types::Error::validation(format!("reading the file failed: {error}"))), None))
            }
        }
    }))
}

async fn run_job(global: &GlobalArgs, args: RunArgs) -> Result<(), CliError> {
    let remote = storage(global)?;
    let body = json!({ "component": args.component, "config": args.config, "mode": "run", "configRowIds": args.rows });
    let job = remote.request(Method::POST, "/queue/jobs", Some(body)).await?;
    let id = text(&job["id"]);
    if !global.json {
        eprintln!("Job {id} started.");
    }
    let mut shown = 0;
    let job = loop {
        let job = remote.request(Method::GET, &format!("/queue/jobs/{id}"), None).await?;
        let events = job["events"].as_array().cloned().unwrap_or_default();
        if !global.json {
            for event in events.iter().skip(shown) {
                eprintln!("{}", text(&event["message"]));
            }
        }
        shown = events.len();
        if job["isFinished"] == true {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&job).unwrap_or_default());
    }
    match job["status"].as_str() {
        Some("success") => {
            if !global.json {
                println!("Job {id} succeeded.");
            }
            Ok(())
        }
        status => Err(CliError::new(format!(
            "job {id} ended with {}: {}",
            status.unwrap_or("an unknown status"),
            text(&job["result"]["message"])
        ))),
    }
}
