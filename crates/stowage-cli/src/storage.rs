//! `bucket`, `table`, `file`, `job` and `event`.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};
use stowage_client::remote::Remote;

use crate::{changed_since, confirm, lines, print, storage_remote, text, transfer, CliError, GlobalArgs};

#[derive(Debug, Subcommand)]
pub enum BucketCommand {
    /// List buckets. Example: stowage bucket list
    List,
    /// Create a bucket. Example: stowage bucket create sales --stage in
    Create {
        /// The bucket's name, without stage and `c-`
        name: String,
        /// in or out
        #[arg(long, default_value = "in")]
        stage: String,
    },
    /// Delete a bucket; one with tables only with --force, which deletes them too.
    /// Example: stowage bucket delete in.c-sales --force
    Delete {
        /// The bucket's id, such as in.c-sales
        id: String,
        /// Delete its tables too
        #[arg(long)]
        force: bool,
        /// Do not ask for confirmation on a terminal
        #[arg(long, short)]
        yes: bool,
    },
    /// Share a bucket within the project's organization (as an organization member or a `share` member).
    /// Example: stowage bucket share in.c-sales organization-project
    /// Example: stowage bucket share in.c-sales selected-projects --project 2 --project 3
    Share {
        /// The bucket's id, such as in.c-sales
        id: String,
        /// organization, organization-project, selected-projects or selected-users
        kind: String,
        /// For selected-projects: a project of the organization to share to (repeat for more)
        #[arg(long = "project")]
        projects: Vec<String>,
        /// For selected-users: a user's email or id to share to (repeat for more)
        #[arg(long = "user")]
        users: Vec<String>,
    },
    /// Stop sharing a bucket. Example: stowage bucket unshare in.c-sales
    Unshare {
        /// The bucket's id, such as in.c-sales
        id: String,
    },
    /// List the buckets shared within the organization that this project may link.
    /// Example: stowage bucket shared
    Shared,
}

#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// List tables, of one bucket or all. Example: stowage table list in.c-sales
    List {
        /// Only this bucket's tables
        bucket: Option<String>,
    },
    /// Load a CSV (gzipped on the fly to another machine) into a table, creating it when missing.
    /// Example: stowage table import orders.csv in.c-sales.orders --incremental --primary-key id
    Import {
        /// The CSV file, with a header row
        file: PathBuf,
        /// The table's id, such as in.c-sales.orders
        table_id: String,
        /// Add and update rows (by primary key) instead of replacing the table's rows
        #[arg(long)]
        incremental: bool,
        /// Primary key columns of a new table, comma-separated
        #[arg(long, value_delimiter = ',')]
        primary_key: Vec<String>,
        /// The file's field delimiter
        #[arg(long, default_value = ",")]
        delimiter: String,
    },
    /// Export a table as CSV with a header, to FILE or standard output.
    /// Example: stowage table export in.c-sales.orders orders.csv --changed-since 7d
    Export {
        /// The table's id, such as in.c-sales.orders
        table_id: String,
        /// Where to write; standard output when absent
        file: Option<PathBuf>,
        /// Only rows changed since then: a duration (7d, 12h), "-2 days", an ISO date or a unix timestamp
        #[arg(long, allow_hyphen_values = true)]
        changed_since: Option<String>,
        /// Only these columns, comma-separated
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Keep the output gzipped
        #[arg(long)]
        gzip: bool,
    },
    /// Print the first rows as CSV. Example: stowage table preview in.c-sales.orders --limit 10
    Preview {
        /// The table's id, such as in.c-sales.orders
        table_id: String,
        /// How many rows
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Create an empty typed table: each column NAME:TYPE, where TYPE is a base type (STRING, INTEGER,
    /// NUMERIC, FLOAT, BOOLEAN, DATE, TIMESTAMP) with an optional length and a trailing "!" for "not
    /// nullable". Example: stowage table define in.c-sales.orders --column id:INTEGER
    /// --column "amount:NUMERIC(10,2)!" --column note:STRING(200) --primary-key id
    Define {
        /// The new table's id, such as in.c-sales.orders
        table_id: String,
        /// A column as NAME:TYPE, NAME:TYPE(LENGTH) or NAME:TYPE! (repeatable, in order)
        #[arg(long = "column", required = true)]
        columns: Vec<String>,
        /// Primary key columns, comma-separated (they are not nullable)
        #[arg(long)]
        primary_key: Option<String>,
    },
    /// Delete a table. Example: stowage table delete in.c-sales.orders
    Delete {
        /// The table's id, such as in.c-sales.orders
        table_id: String,
        /// Do not ask for confirmation on a terminal
        #[arg(long, short)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// List files, newest first. Example: stowage file list --tag raw --limit 20
    List {
        /// Only files with this tag (repeatable: all of them)
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// How many files
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Upload a file; prints its id. Example: stowage file upload data.csv --tag raw
    Upload {
        /// The file to upload
        file: PathBuf,
        /// A tag for it (repeatable)
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Download a file to FILE (or its own name). Example: stowage file download 42 out.csv
    Download {
        /// The file's id
        id: i64,
        /// Where to write; the file's own name when absent
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// List jobs, newest first. Example: stowage job list --limit 20
    List {
        /// Component jobs (the queue) instead of storage jobs
        #[arg(long)]
        queue: bool,
        /// Only jobs of this component (with --queue)
        #[arg(long, requires = "queue")]
        component: Option<String>,
        /// How many jobs
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show a job. Example: stowage job show 42
    Show {
        /// The job's id
        id: String,
        /// A component job (the queue) instead of a storage job
        #[arg(long)]
        queue: bool,
    },
    /// Wait until a job ends; exits 5 when it failed. Example: stowage job wait 42
    Wait {
        /// The job's id
        id: String,
        /// A component job (the queue) instead of a storage job
        #[arg(long)]
        queue: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// List the project's events, newest first.
    /// Example: stowage event list --q "event:storage.tableImportDone" --limit 20
    List {
        /// A search query, as Keboola's `q`
        #[arg(long)]
        q: Option<String>,
        /// How many events
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

/// `path?name=value&...`, with the values URL-encoded.
fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    format!("{path}?{}", query.finish())
}

pub(crate) async fn bucket(global: &GlobalArgs, command: BucketCommand) -> Result<(), CliError> {
    let remote = storage_remote(global)?;
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
        BucketCommand::Delete { id, force, yes } => {
            let tables = remote.bucket_tables(&id).await?;
            let count = tables.as_array().map_or(0, Vec::len);
            let what = if count == 0 { String::new() } else { format!(" and its {count} tables") };
            confirm(yes, &format!("Delete bucket {id}{what}?"))?;
            let path = with_query(&format!("/v2/storage/buckets/{id}"), &[("force", if force { "1" } else { "0" })]);
            let job = remote.request(Method::DELETE, &path, None).await?;
            // Keboola may answer with a job; this stack deletes at once (204).
            if !job.is_null() {
                remote.wait(job).await?;
            }
            print(global, &json!({ "deleted": id }), || format!("Bucket {id}{what} deleted."));
        }
        BucketCommand::Share { id, kind, projects, users } => {
            let (route, body) = match kind.as_str() {
                "organization" => ("share-organization", json!({})),
                "organization-project" => ("share-organization-project", json!({})),
                "selected-projects" => ("share-to-projects", json!({ "targetProjectIds": projects })),
                "selected-users" => ("share-to-users", json!({ "targetUsers": users })),
                other => {
                    return Err(CliError::usage(format!(
                        "\"{other}\" is not a sharing kind: use organization, organization-project, selected-projects or selected-users"
                    )))
                }
            };
            let path = with_query(&format!("/v2/storage/buckets/{id}/{route}"), &[("async", "1")]);
            let job = remote.request(Method::POST, &path, Some(body)).await?;
            let job = remote.wait(job).await?;
            print(global, &job, || format!("Bucket {id} shared ({kind})."));
        }
        BucketCommand::Unshare { id } => {
            let path = with_query(&format!("/v2/storage/buckets/{id}/share"), &[("async", "1")]);
            let job = remote.request(Method::DELETE, &path, None).await?;
            let job = remote.wait(job).await?;
            print(global, &job, || format!("Bucket {id} is no longer shared."));
        }
        BucketCommand::Shared => {
            let list = remote.request(Method::GET, "/v2/storage/shared-buckets", None).await?;
            print(global, &list, || {
                lines(&list, |b| {
                    format!(
                        "{}\t{}\tproject {} ({})",
                        text(&b["id"]),
                        text(&b["sharing"]),
                        b["project"]["id"],
                        text(&b["project"]["name"])
                    )
                })
            });
        }
    }
    Ok(())
}

fn split_table_id(id: &str) -> Result<(String, String), CliError> {
    match id.rsplit_once('.') {
        Some((bucket, name)) if bucket.contains('.') && !name.is_empty() => Ok((bucket.to_string(), name.to_string())),
        _ => Err(CliError::usage(format!("\"{id}\" is not a table id like in.c-sales.orders"))),
    }
}

pub(crate) async fn table(global: &GlobalArgs, command: TableCommand) -> Result<(), CliError> {
    let remote = storage_remote(global)?;
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
            // The file travels gzipped, unless the stack is on this machine, where compressing
            // costs more than the bytes it saves (the stack reads either).
            let gzip = !remote.is_on_this_machine();
            let chunks = transfer::upload_chunks(&file, gzip, bar.clone())?;
            let file_name = format!(
                "{}{}",
                file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data.csv".into()),
                if gzip { ".gz" } else { "" }
            );
            // Whether the table exists decides between a create and an import; it is asked while
            // the file goes up.
            let (file_id, existing) =
                tokio::try_join!(remote.upload(&file_name, &["table-import"], chunks), remote.table(&table_id))?;
            bar.finish_and_clear();
            let job = if existing.is_none() {
                let body = json!({ "name": name, "dataFileId": file_id, "primaryKey": primary_key.join(","), "delimiter": delimiter });
                remote.request(Method::POST, &format!("/v2/storage/buckets/{bucket}/tables-async"), Some(body)).await?
            } else {
                let body = json!({ "dataFileId": file_id, "incremental": if incremental { 1 } else { 0 }, "delimiter": delimiter });
                remote.request(Method::POST, &format!("/v2/storage/tables/{table_id}/import-async"), Some(body)).await?
            };
            let job = remote.wait(job).await?;
            // The job's results count the table's rows (a create's `rowsCount`, an import's
            // `totalRowsCount`); a stack whose results do not is asked.
            let results = &job["results"];
            let rows = match results.get("totalRowsCount").or_else(|| results.get("rowsCount")) {
                Some(rows) => rows.clone(),
                None => remote.table(&table_id).await?.unwrap_or(Value::Null)["rowsCount"].clone(),
            };
            print(global, &job, || {
                let verb = if existing.is_none() { "Created" } else { "Loaded" };
                format!("{verb} {table_id}: it now has {rows} rows.")
            });
        }
        TableCommand::Export { table_id, file, changed_since: since, columns, gzip } => {
            let detail =
                remote.table(&table_id).await?.ok_or_else(|| CliError::not_found(format!("no table {table_id}")))?;
            let columns: Vec<String> = if columns.is_empty() {
                detail["columns"]
                    .as_array()
                    .map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default()
            } else {
                columns
            };
            let since = since.as_deref().map(changed_since);
            // The file travels gzipped, unless it is wanted plain from a stack on this machine,
            // where compressing and uncompressing it would cost more than moving it.
            let gzipped = gzip || !remote.is_on_this_machine();
            let file_id = remote.export(&table_id, &columns, since.as_deref(), gzipped).await?;
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
            transfer::save(remote.download(file_id).await?, out, prefix, gzipped && !gzip, bar).await?;
            if let Some(path) = file {
                if !global.json {
                    eprintln!("Exported {table_id} to {}.", path.display());
                }
            }
        }
        TableCommand::Preview { table_id, limit } => {
            let path = with_query(
                &format!("/v2/storage/tables/{table_id}/data-preview"),
                &[("limit", &limit.to_string()), ("format", "json")],
            );
            let preview = remote.request(Method::GET, &path, None).await?;
            if global.json {
                crate::emit(&serde_json::to_string_pretty(&preview).unwrap_or_default());
            } else {
                let quote = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
                let mut out = std::io::stdout().lock();
                let columns: Vec<String> = preview["columns"]
                    .as_array()
                    .map(|c| c.iter().map(|v| quote(v.as_str().unwrap_or(""))).collect())
                    .unwrap_or_default();
                let mut rows = vec![columns.join(",")];
                for row in preview["rows"].as_array().into_iter().flatten() {
                    let values: Vec<String> = row
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|cell| quote(cell["value"].as_str().unwrap_or("")))
                        .collect();
                    rows.push(values.join(","));
                }
                for row in rows {
                    writeln!(out, "{row}").unwrap_or_else(|error| crate::output_failed(error));
                }
            }
        }
        TableCommand::Define { table_id, columns, primary_key } => {
            let (bucket, name) = table_id.rsplit_once('.').ok_or_else(|| {
                CliError::usage(format!("\"{table_id}\" is not a table id such as in.c-sales.orders"))
            })?;
            let columns = columns.iter().map(|c| column_definition(c)).collect::<Result<Vec<_>, _>>()?;
            let key: Vec<&str> =
                primary_key.as_deref().map(|k| k.split(',').map(str::trim).collect()).unwrap_or_default();
            let body = json!({ "name": name, "primaryKeysNames": key, "columns": columns });
            let path = format!("/v2/storage/buckets/{bucket}/tables-definition");
            let job = remote.request(Method::POST, &path, Some(body)).await?;
            let job = wait(&remote, &format!("/v2/storage/jobs/{}", text(&job["id"]))).await?;
            if job["status"] != "success" {
                return Err(CliError::job_failed(format!(
                    "the table was not created: {}",
                    text(&job["error"]["message"])
                )));
            }
            let detail = remote.request(Method::GET, &format!("/v2/storage/tables/{table_id}"), None).await?;
            print(global, &detail, || format!("Table {table_id} created with {} typed columns.", columns.len()));
        }
        TableCommand::Delete { table_id, yes } => {
            let detail =
                remote.table(&table_id).await?.ok_or_else(|| CliError::not_found(format!("no table {table_id}")))?;
            confirm(yes, &format!("Delete table {table_id} with its {} rows?", detail["rowsCount"]))?;
            remote.delete_table(&table_id).await?;
            print(global, &json!({ "deleted": table_id }), || format!("Table {table_id} deleted."));
        }
    }
    Ok(())
}

pub(crate) async fn file(global: &GlobalArgs, command: FileCommand) -> Result<(), CliError> {
    let remote = storage_remote(global)?;
    match command {
        FileCommand::List { tags, limit } => {
            let limit = limit.to_string();
            let mut pairs = vec![("limit", limit.as_str())];
            pairs.extend(tags.iter().map(|tag| ("tags[]", tag.as_str())));
            let list = remote.request(Method::GET, &with_query("/v2/storage/files", &pairs), None).await?;
            print(global, &list, || {
                lines(&list, |f| {
                    let tags = f["tags"]
                        .as_array()
                        .map(|t| t.iter().map(text).collect::<Vec<_>>().join(","))
                        .unwrap_or_default();
                    format!(
                        "{}\t{}\t{} B\t{}\t{}",
                        f["id"],
                        text(&f["name"]),
                        f["sizeBytes"],
                        text(&f["created"]),
                        tags
                    )
                })
            });
        }
        FileCommand::Upload { file, tags } => {
            let size = std::fs::metadata(&file)
                .map_err(|error| CliError::new(format!("cannot read {}: {error}", file.display())))?
                .len();
            let bar = transfer::bar(Some(size), "uploading");
            let reader = tokio::fs::File::open(&file)
                .await
                .map_err(|error| CliError::new(format!("cannot read {}: {error}", file.display())))?;
            let counting = bar.clone();
            let chunks = futures::StreamExt::map(transfer::file_chunks(reader), move |chunk| {
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

/// The path of a job: a storage job, or a component job of the queue.
fn job_path(id: &str, queue: bool) -> String {
    if queue {
        format!("/queue/jobs/{id}")
    } else {
        format!("/v2/storage/jobs/{id}")
    }
}

/// A job in one line: id, status, what it did, when.
fn job_line(job: &Value) -> String {
    let what =
        [&job["operationName"], &job["component"]].into_iter().map(text).find(|t| !t.is_empty()).unwrap_or_default();
    let on = [&job["tableId"], &job["config"]].into_iter().map(text).find(|t| !t.is_empty()).unwrap_or_default();
    format!("{}\t{}\t{what}\t{on}\t{}", text(&job["id"]), text(&job["status"]), text(&job["createdTime"]))
}

pub(crate) async fn job(global: &GlobalArgs, command: JobCommand) -> Result<(), CliError> {
    let remote = storage_remote(global)?;
    match command {
        JobCommand::List { queue, component, limit } => {
            let limit = limit.to_string();
            let mut pairs = vec![("limit", limit.as_str())];
            if let Some(component) = &component {
                pairs.push(("component", component));
            }
            let path = if queue { "/queue/jobs" } else { "/v2/storage/jobs" };
            let list = remote.request(Method::GET, &with_query(path, &pairs), None).await?;
            print(global, &list, || lines(&list, job_line));
        }
        JobCommand::Show { id, queue } => {
            let job = remote.request(Method::GET, &job_path(&id, queue), None).await?;
            print(global, &job, || job_line(&job));
        }
        JobCommand::Wait { id, queue } => {
            let job = wait(&remote, &job_path(&id, queue)).await?;
            print(global, &job, || job_line(&job));
            if job["status"] != "success" {
                let message = [&job["error"]["message"], &job["result"]["message"]]
                    .into_iter()
                    .map(text)
                    .find(|m| !m.is_empty())
                    .unwrap_or_default();
                return Err(CliError::job_failed(format!("job {id} ended with {}: {message}", text(&job["status"]))));
            }
        }
    }
    Ok(())
}

/// A column of `table define`: `NAME:TYPE`, `NAME:TYPE(LENGTH)`, each with an optional trailing `!`
/// for "not nullable", as the `tables-definition` request takes it.
fn column_definition(text: &str) -> Result<Value, CliError> {
    let usage = || CliError::usage(format!("--column \"{text}\": write NAME:TYPE, NAME:TYPE(LENGTH) or NAME:TYPE!"));
    let (name, kind) = text.split_once(':').ok_or_else(usage)?;
    let (kind, required) = match kind.trim().strip_suffix('!') {
        Some(kind) => (kind, true),
        None => (kind.trim(), false),
    };
    let (base, length) = match kind.split_once('(') {
        Some((base, rest)) => (base, Some(rest.strip_suffix(')').ok_or_else(usage)?)),
        None => (kind, None),
    };
    if name.trim().is_empty() || base.trim().is_empty() {
        return Err(usage());
    }
    // Nullable unless marked, or in the key (the stack's default, so left out).
    let mut definition = if required { json!({ "nullable": false }) } else { json!({}) };
    if let Some(length) = length {
        definition["length"] = json!(length.trim());
    }
    Ok(json!({ "name": name.trim(), "basetype": base.trim().to_uppercase(), "definition": definition }))
}

/// Polls a job (of either kind) until it has ended, and returns it.
pub(crate) async fn wait(remote: &Remote, path: &str) -> Result<Value, CliError> {
    let started = tokio::time::Instant::now();
    loop {
        let job = remote.request(Method::GET, path, None).await?;
        let ended = job["isFinished"] == true
            || matches!(job["status"].as_str(), Some("success" | "error" | "terminated" | "cancelled"));
        if ended {
            return Ok(job);
        }
        tokio::time::sleep(stowage_client::remote::poll_delay(started)).await;
    }
}

pub(crate) async fn event(global: &GlobalArgs, command: EventCommand) -> Result<(), CliError> {
    let remote = storage_remote(global)?;
    match command {
        EventCommand::List { q, limit } => {
            let limit = limit.to_string();
            let mut pairs = vec![("limit", limit.as_str())];
            if let Some(q) = &q {
                pairs.push(("q", q));
            }
            let list = remote.request(Method::GET, &with_query("/v2/storage/events", &pairs), None).await?;
            print(global, &list, || {
                lines(&list, |e| {
                    format!(
                        "{}\t{}\t{}\t{}\t{}",
                        text(&e["id"]),
                        text(&e["created"]),
                        text(&e["type"]),
                        text(&e["event"]),
                        text(&e["message"])
                    )
                })
            });
        }
    }
    Ok(())
}
