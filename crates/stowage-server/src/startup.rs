//! Building and running a stack.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use secrecy::ExposeSecret;
use stowage_core::blobs::Blobs;
use stowage_core::bootstrap::{self, Bootstrapped, Recovered};
use stowage_core::crypto::StackKey;
use stowage_core::mail::Mailer;
use stowage_core::{events, files, tokens, Core, StackInfo, Store, TableStore};
use tokio::net::TcpListener;

use crate::config::Config;

/// A stack ready to serve.
pub struct Application {
    listener: TcpListener,
    /// Serves `/metrics`, when the operator asked for it (`--metrics-listen`).
    metrics_listener: Option<TcpListener>,
    core: Core,
    maintenance_interval: Duration,
    automation_interval: Duration,
    shutdown_timeout: Duration,
    header_timeout: Duration,
    /// The stack key's file when it lies inside the data dir (the default), where a copy of the
    /// data dir takes it along.
    key_in_data_dir: Option<std::path::PathBuf>,
    /// Held for as long as the stack runs: no second server opens the same data dir.
    _data_dir_lock: std::fs::File,
}

impl Application {
    /// Opens the data dir, brings the catalog up to date, ends jobs a previous process left
    /// unfinished, bootstraps an empty stack, and binds the listener. Returns what bootstrap
    /// created (with its secrets) on the first start, `None` on every later one.
    pub async fn build(config: &Config) -> anyhow::Result<(Self, Option<Bootstrapped>)> {
        create_private_dir(&config.data_dir)?;
        let data_dir_lock = lock_data_dir(&config.data_dir)?;
        let (store, table_store) = open_storage(config).await?;
        let listener =
            TcpListener::bind(config.listen).await.with_context(|| format!("listening on {}", config.listen))?;
        let address = listener.local_addr()?;
        let metrics_listener = match config.metrics_listen {
            Some(at) => Some(TcpListener::bind(at).await.with_context(|| format!("--metrics-listen on {at}"))?),
            None => None,
        };
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{address}"));
        let mut components = stowage_core::components::builtin_components();
        components.extend(config.components.iter().cloned());
        let regions = config.regions.iter().map(|region| region.url.as_str());
        let outbound = std::sync::Arc::new(
            stowage_client::outbound::Policy::new(&config.outbound_allow, regions)
                .map_err(|error| anyhow::anyhow!("--outbound-allow: {}", error.message))?,
        );
        let stack = StackInfo {
            name: config.stack_name.clone(),
            public_url,
            regions: config.regions.clone(),
            components,
            outbound,
            max_staged_bytes: config.max_staged_bytes,
        };
        let key_file = config.stack_key_file.clone().unwrap_or_else(|| config.data_dir.join("stack.key"));
        let key = StackKey::load_or_create(&key_file).map_err(anyhow::Error::msg).context("loading the stack key")?;
        let key_in_data_dir = key_inside(&key_file, &config.data_dir);
        if let Some(path) = &key_in_data_dir {
            tracing::warn!(
                key = %path.display(),
                "the stack key is inside the data dir, so a copy of the data dir opens every sealed value: \
                 move it out and start with --stack-key-file (README, \"The stack key\")"
            );
        }
        let mailer = match &config.smtp_url {
            Some(url) => Mailer::smtp(url.expose_secret(), &config.mail_from),
            None => Mailer::outbox(config.data_dir.join("outbox"), &config.mail_from),
        }
        .map_err(anyhow::Error::msg)
        .context("configuring mail")?;
        let blobs = match &config.s3 {
            Some(settings) => Blobs::s3(settings).await,
            None => Blobs::local(&config.data_dir.join("blobs")),
        }
        .map_err(|error| anyhow::anyhow!("{}", error.message))
        .context("opening the object store")?;
        let server = server_id(&config.data_dir)?;
        let core = Core::new(store, table_store, stack, key, mailer, blobs, &server)
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let tables = stowage_core::tables::recover(&core).await.map_err(|error| anyhow::anyhow!("{error}"))?;
        if tables != Default::default() {
            tracing::warn!(
                remirrored = tables.remirrored,
                orphans = tables.orphans_removed,
                "table storage recovered after the stop"
            );
        }
        let (failed, taken_over) = core.jobs.recover().await.map_err(|error| anyhow::anyhow!("{error}"))?;
        if taken_over > 0 {
            tracing::warn!(count = taken_over, "storage jobs cut off by the previous stop run again");
        }
        if failed > 0 {
            tracing::warn!(count = failed, "jobs interrupted by the previous stop were marked as failed");
        }
        stowage_core::jobs::JobRunner::start(&core);
        let manage_token = config.manage_token.as_ref().map(|token| token.expose_secret().to_string());
        let bootstrapped = bootstrap::run(&core, manage_token, &config.admin_email)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))
            .context("bootstrapping the stack")?;
        let application = Application {
            listener,
            metrics_listener,
            core,
            maintenance_interval: config.maintenance_interval,
            automation_interval: config.automation_interval,
            shutdown_timeout: config.shutdown_timeout,
            header_timeout: config.header_timeout,
            key_in_data_dir,
            _data_dir_lock: data_dir_lock,
        };
        Ok((application, bootstrapped))
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// The bound address of the metrics listener, when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|listener| listener.local_addr().expect("bound listener"))
    }

    /// The public root URL.
    /// The stack key's file, when it lies inside the data dir.
    pub fn key_in_data_dir(&self) -> Option<&std::path::Path> {
        self.key_in_data_dir.as_deref()
    }

    pub fn public_url(&self) -> String {
        self.core.stack.public_url.clone()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests, and gives running jobs
    /// the shutdown timeout to finish before handing the rest back ([`JobRunner::stop`]).
    ///
    /// [`JobRunner::stop`]: stowage_core::jobs::JobRunner::stop
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let maintenance = tokio::spawn(maintain_forever(self.core.clone(), self.maintenance_interval));
        let automation = tokio::spawn(automate_forever(self.core.clone(), self.automation_interval));
        let summary = tokio::spawn(summarize_requests());
        let jobs = self.core.jobs.clone();
        let metrics = self.metrics_listener.map(|listener| tokio::spawn(serve_metrics(listener, self.core.clone())));
        let app = stowage_http::router(self.core).layer(middleware::from_fn(log_request));
        let limits = crate::serve::Limits {
            header_timeout: self.header_timeout,
            max_connections: crate::serve::max_connections(),
        };
        crate::serve::serve(self.listener, app, limits, shutdown).await;
        maintenance.abort();
        automation.abort();
        summary.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        match jobs.stop(self.shutdown_timeout).await {
            Ok(0) => {}
            Ok(count) => tracing::warn!(count, "jobs still running at the stop were handed back"),
            Err(error) => tracing::error!(%error, "handing back the running jobs failed; their leases expire"),
        }
        Ok(())
    }
}

/// Serves `GET /metrics` (Prometheus' text format) on the metrics listener until aborted.
async fn serve_metrics(listener: TcpListener, core: Core) {
    async fn metrics(axum::extract::State(core): axum::extract::State<Core>) -> Response {
        use axum::response::IntoResponse;
        match core.metrics.render(&core.store).await {
            Ok(text) => (
                [(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
                text,
            )
                .into_response(),
            Err(error) => {
                tracing::error!(%error, "rendering the metrics failed");
                axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
    }
    let app = axum::Router::new().route("/metrics", axum::routing::get(metrics)).with_state(core);
    if let Err(error) = axum::serve(listener, app).await {
        tracing::error!(%error, "the metrics listener stopped");
    }
}

/// The name of the server of a data dir among the servers of a stack, kept in `server.id` from
/// its first start: a restarted server knows which jobs its previous process was running.
fn server_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("server.id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        Ok(_) => write_server_id(&path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => write_server_id(&path),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_server_id(path: &std::path::Path) -> anyhow::Result<String> {
    let id = uuid::Uuid::now_v7().simple().to_string();
    std::fs::write(path, format!("{id}\n")).with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

/// Takes the data dir's lock file (`stowage.lock`, an advisory lock the system releases when the
/// process ends, however it ends) and writes this process's id into it.
fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let path = data_dir.join("stowage.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { String::new() } else { format!(" (process {holder})") };
            anyhow::bail!(
                "the data dir {} is in use by another stowage server{holder}: stop it first, or give this one \
                 another --data-dir",
                data_dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("locking {}", path.display()));
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    Ok(file)
}

/// Creates the data dir readable only by its owner.
fn create_private_dir(path: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating data dir {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting data dir {}", path.display()))?;
    }
    Ok(())
}

/// Deletes expired tokens and files, prunes events past retention and day-old failed sign-ins,
/// and, on a shared catalog, sweeps table storage no table owns,
/// every `interval`, while this process holds the `maintenance` lease: of several servers on one
/// catalog, one does it at a time.
async fn maintain_forever(core: Core, interval: Duration) {
    loop {
        let (owner, now) = (core.jobs.worker_name().to_string(), stowage_core::types::time::now());
        let until = now + (2 * interval.as_secs() as i64).max(60);
        match core.store.write(move |w| w.take_lease("maintenance", &owner, now, until)).await {
            Ok(true) => maintain(&core).await,
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "taking the maintenance lease failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// Starts the runs of due triggers and schedules every `interval`, while this process holds the `automation`
/// lease: of several servers on one catalog, one does it at a time (and each firing is one
/// transaction, so a lease that moves between two rounds cannot fire a trigger twice).
async fn automate_forever(core: Core, interval: Duration) {
    loop {
        let (owner, now) = (core.jobs.worker_name().to_string(), stowage_core::types::time::now());
        let until = now + (4 * interval.as_secs() as i64).max(30);
        match core.store.write(move |w| w.take_lease("automation", &owner, now, until)).await {
            Ok(true) => {
                match stowage_core::triggers::fire_due(&core).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "started the runs of due triggers"),
                    Err(error) => tracing::error!(%error, "firing due triggers failed"),
                }
                match stowage_core::schedules::fire_due(&core).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "started the runs of due schedules"),
                    Err(error) => tracing::error!(%error, "starting due schedules failed"),
                }
            }
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "taking the automation lease failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// One round of maintenance.
async fn maintain(core: &Core) {
    match tokens::delete_expired(core).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "deleted expired tokens"),
        Err(error) => tracing::error!(%error, "deleting expired tokens failed"),
    }
    match files::sweep_abandoned_staging(core).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "deleted staged blocks of uploads never committed"),
        Err(error) => tracing::error!(%error, "deleting abandoned staged blocks failed"),
    }
    match files::delete_expired(core).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "deleted expired files"),
        Err(error) => tracing::error!(%error, "deleting expired files failed"),
    }
    match events::prune(core).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "pruned events past retention"),
        Err(error) => tracing::error!(%error, "pruning events failed"),
    }
    if let Err(error) = stowage_core::console::throttle::prune(core).await {
        tracing::error!(%error, "pruning old failed sign-ins failed");
    }
    // A server that shares its catalog sweeps at start too, but a stop it never restarts from
    // would otherwise leave table storage behind for good.
    if core.store.is_shared() {
        match stowage_core::tables::sweep_shared(core).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "deleted table storage no table owned"),
            Err(error) => tracing::error!(%error, "sweeping table storage failed"),
        }
    }
}

/// Requests answered since the last summary, by class: 2xx/3xx, 4xx, 5xx.
static ANSWERED: [std::sync::atomic::AtomicU64; 3] =
    [std::sync::atomic::AtomicU64::new(0), std::sync::atomic::AtomicU64::new(0), std::sync::atomic::AtomicU64::new(0)];

/// Gives each request an id (the client's `X-Request-Id` when it is a plain token of at most 64
/// characters, else a new one), which every log line of the request carries (its span) and the
/// response returns. One line per request goes to `debug` (method, path, status, duration; never
/// the query or headers, which may carry secrets), a failure to `error`, and a count of requests
/// to `info` once a minute ([`summarize_requests`]): a line per request at `info` cost more than
/// the request.
/// A request's path as it is logged: a one-time link (a shared token, a console password link)
/// without its secret part, which is the credential.
fn logged_path(path: &str) -> String {
    for route in ["/tokens/shared/", "/console/password/"] {
        if path.starts_with(route) {
            return format!("{route}…");
        }
    }
    path.to_string()
}

async fn log_request(request: Request, next: Next) -> Response {
    use std::sync::atomic::Ordering;
    use tracing::Instrument;
    let given = request.headers().get("x-request-id").and_then(|value| value.to_str().ok());
    let id = match given {
        Some(id)
            if (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
        {
            id.to_string()
        }
        _ => uuid::Uuid::now_v7().simple().to_string(),
    };
    let method = request.method().clone();
    let path = logged_path(request.uri().path());
    let started = Instant::now();
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let millis = started.elapsed().as_millis() as u64;
    let _entered = span.enter();
    let class = match status {
        500.. => 2,
        400..=499 => 1,
        _ => 0,
    };
    ANSWERED[class].fetch_add(1, Ordering::Relaxed);
    if status >= 500 {
        tracing::error!(%method, path, status, millis, "request");
    } else {
        tracing::debug!(%method, path, status, millis, "request");
    }
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Logs at `info`, once a minute, how many requests were answered, when there were any.
async fn summarize_requests() {
    use std::sync::atomic::Ordering;
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let [ok, refused, failed] = [0, 1, 2].map(|class| ANSWERED[class].swap(0, Ordering::Relaxed));
        if ok + refused + failed > 0 {
            tracing::info!(ok, refused, failed, "requests answered in the last minute");
        }
    }
}

/// The text printed once on first start.
pub fn bootstrap_banner(bootstrapped: &Bootstrapped, public_url: &str, key_in_data_dir: Option<&Path>) -> String {
    let manage = match &bootstrapped.generated_manage_token {
        Some(secret) => secret.clone(),
        None => "(the one given by STOWAGE_MANAGE_TOKEN / --manage-token)".into(),
    };
    let key = match key_in_data_dir {
        Some(path) => format!(
            "\n  The stack key that seals stored secrets was created at {}, inside the data dir:\n  \
             a copy of the data dir then opens them all. For anything but a trial, move it out\n  \
             (another volume or a secret store), start with --stack-key-file, and back it up apart from the data.\n",
            path.display()
        ),
        None => String::new(),
    };
    format!(
        "\n==================================================================================\n\
         Stowage created a new stack at {public_url}. These secrets are shown ONCE: store them now.\n\
         \n  Manage API token (header X-KBC-ManageApiToken):\n    {manage}\n\
         \n  Project \"{}\" (id {}), admin {}, master Storage API token (header X-StorageApi-Token):\n    {}\n\
         \n  Console sign-in at {public_url}/console: {} with password:\n    {}\n{key}\
         ==================================================================================\n",
        bootstrapped.project_name,
        bootstrapped.project_id,
        bootstrapped.admin_email,
        bootstrapped.admin_token,
        bootstrapped.admin_email,
        bootstrapped.admin_password
    )
}

/// `key_file` when it lies inside `data_dir` (compared as canonical paths, so `./data/../data` counts).
fn key_inside(key_file: &Path, data_dir: &Path) -> Option<std::path::PathBuf> {
    let key = key_file.canonicalize().ok()?;
    let data = data_dir.canonicalize().ok()?;
    key.starts_with(&data).then_some(key)
}

/// Opens the catalog and the table storage: SQLite and table files in the data dir, or the
/// configured PostgreSQL database (the catalog in its schema, the tables' rows in
/// `<schema>_tables`), brought up to date.
async fn open_storage(config: &Config) -> anyhow::Result<(Store, TableStore)> {
    let Some(database) = &config.database else {
        let store = Store::open_sqlite(&config.data_dir.join("catalog.sqlite"))
            .map_err(|error| anyhow::anyhow!("{error}"))
            .context("opening the catalog")?;
        let tables = TableStore::files(&config.data_dir.join("tables"))
            .map_err(|error| anyhow::anyhow!("{error}"))
            .context("opening table storage")?;
        return Ok((store, tables));
    };
    let (url, schema) = (database.url.expose_secret().to_string(), database.schema.clone());
    tokio::task::spawn_blocking(move || {
        let store = Store::open_postgres(&url, &schema)
            .map_err(|error| anyhow::anyhow!("{}", error.cause.as_deref().unwrap_or(&error.message)))
            .context("opening the catalog on PostgreSQL")?;
        let tables = TableStore::postgres(&url, &format!("{schema}_tables"))
            .map_err(|error| anyhow::anyhow!("{}", error.cause.as_deref().unwrap_or(&error.message)))
            .context("opening table storage on PostgreSQL")?;
        Ok((store, tables))
    })
    .await?
}

/// New secrets for an operator who lost the first start's (`stowage recover`): a new manage token
/// and a new console password for the configured admin. Opens the catalog of an existing data
/// dir only; works while the stack runs.
pub async fn recover(config: &Config) -> anyhow::Result<Recovered> {
    let catalog = config.data_dir.join("catalog.sqlite");
    if config.database.is_none() && !catalog.exists() {
        anyhow::bail!(
            "{} holds no stack: run `stowage serve` first; its first start prints the secrets",
            config.data_dir.display()
        );
    }
    let (store, _) = open_storage(config).await?;
    bootstrap::recover(&store, &config.admin_email).await.map_err(|error| anyhow::anyhow!("{error}"))
}

/// What `stowage recover` prints, once.
pub fn recovery_banner(recovered: &Recovered) -> String {
    format!(
        "\nNew secrets, shown ONCE: store them now. Earlier manage tokens keep working.\n\
         \n  Manage API token (header X-KBC-ManageApiToken):\n    {}\n\
         \n  Console password of {}:\n    {}\n",
        recovered.manage_token, recovered.email, recovered.password
    )
}
