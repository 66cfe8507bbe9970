//! Configuration of a stack.
//!
//! Sources, later ones winning: built-in defaults, then `stowage.toml` (path from `--config`, or
//! `./stowage.toml` when it exists), then `STOWAGE_*` environment variables, then command-line
//! flags. Each setting is documented on [`ServeArgs`]; the README lists them all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use secrecy::SecretString;
use serde::Deserialize;
use stowage_core::Region;

/// Flags (and their environment variables) of `stowage serve`.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Configuration file [default: ./stowage.toml when it exists]
    #[arg(long, env = "STOWAGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory holding the catalog and all data [default: ./stowage-data]
    #[arg(long, env = "STOWAGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8000]
    #[arg(long, env = "STOWAGE_LISTEN")]
    pub listen: Option<String>,
    /// Address that serves Prometheus metrics at /metrics, apart from the public port
    /// [default: none, no metrics]
    #[arg(long, env = "STOWAGE_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Public root URL of this stack, used in every `uri` and in file links [default: http://<listen>]
    #[arg(long, env = "STOWAGE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Name of this stack, shown as the projects' region [default: local]
    #[arg(long, env = "STOWAGE_STACK_NAME")]
    pub stack_name: Option<String>,
    /// A region the writer and extractor offer as a target, as NAME=URL; repeat the flag or
    /// separate with commas in the environment variable
    #[arg(long = "region", env = "STOWAGE_REGIONS", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Manage API token to create on first start [default: generated and printed once]
    #[arg(long, env = "STOWAGE_MANAGE_TOKEN", hide_env_values = true)]
    pub manage_token: Option<String>,
    /// Email of the admin created on first start [default: admin@localhost]
    #[arg(long, env = "STOWAGE_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Log filter, e.g. `info` or `stowage_http=debug` [default: info]
    #[arg(long, env = "STOWAGE_LOG")]
    pub log: Option<String>,
    /// Log format: `text`, or `json` (one object per line, with the request id and the job id of the
    /// span a line belongs to) [default: text]
    #[arg(long, env = "STOWAGE_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// File holding the stack key (base64 of 32 bytes) that encrypts stored secrets; created with
    /// owner-only permissions when missing [default: <data dir>/stack.key]
    #[arg(long, env = "STOWAGE_STACK_KEY_FILE")]
    pub stack_key_file: Option<PathBuf>,
    /// SMTP relay for outgoing mail, e.g. smtp://user:pass@mail.example.com:587?tls=required
    /// [default: none; mail is written to <data dir>/outbox]
    #[arg(long, env = "STOWAGE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender address of outgoing mail [default: stowage@localhost]
    #[arg(long, env = "STOWAGE_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// A host name, IP address or CIDR that components may reach although it is loopback, private
    /// or link-local (regions and public addresses are always allowed); repeat the flag or separate
    /// with commas in the environment variable [default: none]
    #[arg(long = "outbound-allow", env = "STOWAGE_OUTBOUND_ALLOW", value_delimiter = ',')]
    pub outbound_allow: Vec<String>,
    /// S3-compatible bucket for file bytes, shared by every server of the stack [default: none;
    /// files are kept under <data dir>/blobs]
    #[arg(long, env = "STOWAGE_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// URL of an S3-compatible service other than AWS, e.g. http://127.0.0.1:9000 [default: AWS]
    #[arg(long, env = "STOWAGE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Region of the bucket [default: us-east-1]
    #[arg(long, env = "STOWAGE_S3_REGION")]
    pub s3_region: Option<String>,
    /// Keep file bytes below this key prefix, so stacks can share a bucket [default: none]
    #[arg(long, env = "STOWAGE_S3_PREFIX")]
    pub s3_prefix: Option<String>,
    /// Access key id for the bucket [default: AWS_ACCESS_KEY_ID]
    #[arg(long, env = "STOWAGE_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// Secret access key for the bucket [default: AWS_SECRET_ACCESS_KEY]
    #[arg(long, env = "STOWAGE_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// Where the catalog and the tables' rows live: `sqlite` (in the data dir), or a PostgreSQL
    /// URL, postgres://user:password@host:5432/database, shared by every server of the stack
    /// [default: sqlite]
    #[arg(long, env = "STOWAGE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// PostgreSQL schema of the catalog; the tables' rows go to <schema>_tables [default: stowage]
    #[arg(long, env = "STOWAGE_DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
    /// Seconds between rounds of maintenance (expired tokens and files, old events, and on a
    /// shared database table storage no table owns) [default: 60]
    #[arg(long, env = "STOWAGE_MAINTENANCE_INTERVAL")]
    pub maintenance_interval: Option<u64>,
    /// Seconds between checks for due triggers and schedules [default: 5]
    #[arg(long, env = "STOWAGE_AUTOMATION_INTERVAL")]
    pub automation_interval: Option<u64>,
    /// Seconds a stop (SIGTERM, SIGINT) gives running jobs to finish before it hands them back to
    /// be taken over [default: 30]
    #[arg(long, env = "STOWAGE_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<u64>,
    /// Seconds a client has to send a request's headers, and that a connection may stay idle
    /// between requests, before it is closed [default: 30]
    #[arg(long, env = "STOWAGE_HEADER_TIMEOUT")]
    pub header_timeout: Option<u64>,
    /// GiB a project's uploads in progress may have staged in blocks (Azure's Put Block) at once;
    /// blocks past it are refused until uploads commit or expire [default: 50]
    #[arg(long, env = "STOWAGE_MAX_STAGED_GIB")]
    pub max_staged_gib: Option<u64>,
}

/// Flags of `stowage recover`: where the stack's data is, and whose console password to reset.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Configuration file [default: ./stowage.toml when it exists]
    #[arg(long, env = "STOWAGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory holding the catalog [default: ./stowage-data]
    #[arg(long, env = "STOWAGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The stack's database when it is not the data dir's SQLite (see `serve --database-url`)
    #[arg(long, env = "STOWAGE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// PostgreSQL schema of the catalog [default: stowage]
    #[arg(long, env = "STOWAGE_DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
    /// The user who gets a new console password [default: the configured admin, admin@localhost]
    #[arg(long, env = "STOWAGE_ADMIN_EMAIL")]
    pub email: Option<String>,
}

impl RecoverArgs {
    /// The configuration these flags, the file and the environment give.
    pub fn config(self) -> anyhow::Result<Config> {
        Config::load(ServeArgs {
            config: self.config,
            data_dir: self.data_dir,
            database_url: self.database_url,
            database_schema: self.database_schema,
            admin_email: self.email,
            ..ServeArgs::default()
        })
    }
}

/// `stowage.toml`. Every key is optional; unknown keys are an error so typos do not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// See `--listen`.
    pub listen: Option<String>,
    /// See `--metrics-listen`.
    pub metrics_listen: Option<String>,
    /// See `--public-url`.
    pub public_url: Option<String>,
    /// See `--stack-name`.
    pub stack_name: Option<String>,
    /// Regions as `[[regions]]` tables with `name` and `url`.
    #[serde(default)]
    pub regions: Vec<FileRegion>,
    /// See `--admin-email`.
    pub admin_email: Option<String>,
    /// See `--log`.
    pub log: Option<String>,
    /// See `--log-format`.
    pub log_format: Option<String>,
    /// See `--database-url`. It may hold a password: keep the file readable by the server only.
    pub database_url: Option<String>,
    /// See `--database-schema`.
    pub database_schema: Option<String>,
    /// See `--maintenance-interval`.
    pub maintenance_interval: Option<u64>,
    /// See `--automation-interval`.
    pub automation_interval: Option<u64>,
    /// See `--shutdown-timeout`.
    pub shutdown_timeout: Option<u64>,
    /// See `--header-timeout`.
    pub header_timeout: Option<u64>,
    /// See `--max-staged-gib`.
    pub max_staged_gib: Option<u64>,
    /// See `--stack-key-file`.
    pub stack_key_file: Option<PathBuf>,
    /// See `--mail-from`. (The SMTP URL holds a password: give it by flag or environment.)
    pub mail_from: Option<String>,
    /// See `--outbound-allow`.
    #[serde(default)]
    pub outbound_allow: Vec<String>,
    /// See `--s3-bucket`, `--s3-endpoint`, `--s3-region`, `--s3-prefix` and `--s3-access-key-id`.
    /// (The secret key is a secret: give it by flag or environment.)
    pub s3_bucket: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_prefix: Option<String>,
    pub s3_access_key_id: Option<String>,
    /// Components beyond the built-in writer and extractor, as `[[components]]` tables with `id`,
    /// `name` and `type`: their configurations are stored, but this stack does not run them.
    #[serde(default)]
    pub components: Vec<FileComponent>,
}

/// One `[[components]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileComponent {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// One `[[regions]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRegion {
    pub name: String,
    pub url: String,
}

/// The effective configuration of a stack.
#[derive(Debug)]
pub struct Config {
    /// Directory holding the catalog and all data.
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Address of the metrics listener, when there is one.
    pub metrics_listen: Option<SocketAddr>,
    /// Public root URL; `None` means `http://<bound address>`.
    pub public_url: Option<String>,
    /// Name of this stack.
    pub stack_name: String,
    /// Regions offered as targets by the components.
    pub regions: Vec<Region>,
    /// Manage token to create on first start.
    pub manage_token: Option<SecretString>,
    /// Email of the first admin.
    pub admin_email: String,
    /// Log filter.
    pub log: String,
    /// One JSON object per log line instead of text.
    pub log_json: bool,
    /// Stack key file; `None` means `<data dir>/stack.key`.
    pub stack_key_file: Option<PathBuf>,
    /// SMTP relay URL; `None` writes mail to the outbox folder.
    pub smtp_url: Option<SecretString>,
    /// Sender of outgoing mail.
    pub mail_from: String,
    /// How often expired tokens and old events are cleaned up.
    pub maintenance_interval: std::time::Duration,
    /// How often due triggers and schedules are looked for.
    pub automation_interval: std::time::Duration,
    /// How long a stop lets running jobs finish before handing them back.
    pub shutdown_timeout: std::time::Duration,
    /// How long a client has to send a request's headers, and a connection may stay idle.
    pub header_timeout: std::time::Duration,
    /// Bytes a project's uploads in progress may have staged at once (`--max-staged-gib`).
    pub max_staged_bytes: u64,
    /// Declared components (stored, not run).
    pub components: Vec<stowage_core::ComponentDef>,
    /// Internal hosts and networks components may reach (besides regions and public addresses).
    pub outbound_allow: Vec<String>,
    /// The S3-compatible bucket for file bytes; `None` keeps them under `<data dir>/blobs`.
    pub s3: Option<stowage_core::blobs::S3Settings>,
    /// The PostgreSQL database of the catalog and the tables; `None` keeps both in the data dir.
    pub database: Option<Database>,
}

/// A PostgreSQL database shared by every server of a stack.
#[derive(Debug)]
pub struct Database {
    pub url: SecretString,
    /// The catalog's schema; table rows go to `<schema>_tables`.
    pub schema: String,
}

impl Config {
    /// The defaults, with the data in `data_dir` and listening on `listen`.
    pub fn new(data_dir: PathBuf, listen: SocketAddr) -> Self {
        Config {
            data_dir,
            listen,
            metrics_listen: None,
            public_url: None,
            stack_name: "local".into(),
            regions: Vec::new(),
            manage_token: None,
            admin_email: "admin@localhost".into(),
            log: "info".into(),
            log_json: false,
            stack_key_file: None,
            smtp_url: None,
            mail_from: "stowage@localhost".into(),
            maintenance_interval: std::time::Duration::from_secs(60),
            automation_interval: std::time::Duration::from_secs(5),
            shutdown_timeout: std::time::Duration::from_secs(30),
            header_timeout: std::time::Duration::from_secs(30),
            max_staged_bytes: 50 << 30,
            components: Vec::new(),
            outbound_allow: Vec::new(),
            s3: None,
            database: None,
        }
    }

    /// Combines defaults, the configuration file, environment and flags (clap has already merged
    /// the last two).
    pub fn load(args: ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None if Path::new("stowage.toml").exists() => read_file(Path::new("stowage.toml"))?,
            None => FileConfig::default(),
        };
        let listen = args.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:8000".into());
        let listen: SocketAddr =
            listen.parse().with_context(|| format!("--listen: \"{listen}\" is not an address like 127.0.0.1:8000"))?;
        let data_dir = args.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("stowage-data"));
        let mut config = Config::new(data_dir, listen);
        if let Some(metrics) = args.metrics_listen.or(file.metrics_listen) {
            config.metrics_listen =
                Some(metrics.parse().with_context(|| {
                    format!("--metrics-listen: \"{metrics}\" is not an address like 127.0.0.1:9100")
                })?);
        }
        config.public_url = args.public_url.or(file.public_url).map(|url| url.trim_end_matches('/').to_string());
        if let Some(url) = &config.public_url {
            check_url("--public-url", url)?;
        }
        config.stack_name = args.stack_name.or(file.stack_name).unwrap_or(config.stack_name);
        config.regions = if args.regions.is_empty() {
            file.regions
                .into_iter()
                .map(|r| Region { name: r.name, url: r.url.trim_end_matches('/').to_string() })
                .collect()
        } else {
            args.regions.iter().map(|spec| parse_region(spec)).collect::<anyhow::Result<_>>()?
        };
        for region in &config.regions {
            check_url(&format!("region \"{}\"", region.name), &region.url)?;
        }
        config.manage_token = args.manage_token.filter(|t| !t.is_empty()).map(SecretString::from);
        config.admin_email = args.admin_email.or(file.admin_email).unwrap_or(config.admin_email);
        config.log = args.log.or(file.log).unwrap_or(config.log);
        config.log_json = match args.log_format.or(file.log_format).as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => bail!("--log-format: \"{other}\" is not a log format: use text or json"),
        };
        config.stack_key_file = args.stack_key_file.or(file.stack_key_file);
        config.smtp_url = args.smtp_url.filter(|url| !url.is_empty()).map(SecretString::from);
        config.mail_from = args.mail_from.or(file.mail_from).unwrap_or(config.mail_from);
        if let Some(seconds) = args.maintenance_interval.or(file.maintenance_interval) {
            if seconds == 0 {
                bail!("--maintenance-interval: give a number of seconds above 0");
            }
            config.maintenance_interval = std::time::Duration::from_secs(seconds);
        }
        if let Some(seconds) = args.automation_interval.or(file.automation_interval) {
            if seconds == 0 {
                bail!("--automation-interval: give a number of seconds above 0");
            }
            config.automation_interval = std::time::Duration::from_secs(seconds);
        }
        if let Some(seconds) = args.shutdown_timeout.or(file.shutdown_timeout) {
            config.shutdown_timeout = std::time::Duration::from_secs(seconds);
        }
        if let Some(seconds) = args.header_timeout.or(file.header_timeout) {
            if seconds == 0 {
                bail!("--header-timeout: give a number of seconds above 0");
            }
            config.header_timeout = std::time::Duration::from_secs(seconds);
        }
        if let Some(gib) = args.max_staged_gib.or(file.max_staged_gib) {
            if gib == 0 || gib > 1 << 30 {
                bail!("--max-staged-gib: give a number of GiB from 1 to {}", 1u64 << 30);
            }
            config.max_staged_bytes = gib << 30;
        }
        // Checked when the stack builds its outbound policy (with the regions' hosts).
        config.outbound_allow = if args.outbound_allow.is_empty() { file.outbound_allow } else { args.outbound_allow };
        let endpoint = args.s3_endpoint.or(file.s3_endpoint).filter(|url| !url.is_empty());
        if let Some(url) = &endpoint {
            check_url("--s3-endpoint", url)?;
        }
        config.s3 = match args.s3_bucket.or(file.s3_bucket).filter(|bucket| !bucket.is_empty()) {
            Some(bucket) => Some(stowage_core::blobs::S3Settings {
                bucket,
                endpoint,
                region: args.s3_region.or(file.s3_region),
                prefix: args.s3_prefix.or(file.s3_prefix),
                access_key_id: args.s3_access_key_id.or(file.s3_access_key_id),
                secret_access_key: args.s3_secret_access_key.filter(|key| !key.is_empty()),
            }),
            None if endpoint.is_some() => bail!("--s3-endpoint is set but --s3-bucket is not: name the bucket too"),
            None => None,
        };
        config.database =
            database(args.database_url.or(file.database_url), args.database_schema.or(file.database_schema))?;
        for component in file.components {
            if component.id.is_empty() || !component.id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                bail!("components: \"{}\" is not a valid component id", component.id);
            }
            let def = stowage_core::ComponentDef {
                id: component.id,
                name: component.name,
                kind: component.kind,
                runnable: false,
            };
            config.components.push(def);
        }
        Ok(config)
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{} is not a valid configuration", path.display()))
}

fn check_url(what: &str, url: &str) -> anyhow::Result<()> {
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        bail!("{what}: \"{url}\" is not an http:// or https:// URL");
    }
    Ok(())
}

/// Parses `NAME=URL`.
pub fn parse_region(spec: &str) -> anyhow::Result<Region> {
    match spec.split_once('=') {
        Some((name, url)) if !name.trim().is_empty() => {
            Ok(Region { name: name.trim().to_string(), url: url.trim().trim_end_matches('/').to_string() })
        }
        _ => bail!("--region: \"{spec}\" must look like NAME=URL, e.g. eu=https://stowage.example.com"),
    }
}

/// The database settings: `None` for the embedded SQLite (no URL, or `sqlite`).
fn database(url: Option<String>, schema: Option<String>) -> anyhow::Result<Option<Database>> {
    let schema = schema.filter(|schema| !schema.is_empty());
    let Some(url) = url.filter(|url| !url.is_empty() && url != "sqlite") else {
        if schema.is_some() {
            bail!("--database-schema is set but --database-url is not a PostgreSQL URL");
        }
        return Ok(None);
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        // Only the scheme is shown: the rest may hold a password.
        let scheme = url.split_once("://").map_or("(none)", |(scheme, _)| scheme);
        bail!("--database-url: the scheme \"{scheme}\" is not supported: use sqlite or postgres://user:password@host/database");
    }
    let schema = schema.unwrap_or_else(|| "stowage".into());
    let valid = schema.len() <= 40
        && schema.starts_with(|c: char| c.is_ascii_lowercase())
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!("--database-schema: \"{schema}\" is not a schema name: use up to 40 lowercase letters, digits and _, starting with a letter");
    }
    Ok(Some(Database { url: SecretString::from(url), schema }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_given_as_name_equals_url() {
        let region = parse_region("eu=https://eu.example.com/").unwrap();
        assert_eq!(region, Region { name: "eu".into(), url: "https://eu.example.com".into() });
        assert!(parse_region("https://x").is_err());
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stowage.toml");
        std::fs::write(
            &path,
            "stack_name = \"from-file\"\nlisten = \"127.0.0.1:9000\"\n[[regions]]\nname = \"us\"\nurl = \"http://127.0.0.1:9100\"\n",
        )
        .unwrap();
        let args = ServeArgs { config: Some(path), stack_name: Some("from-flag".into()), ..ServeArgs::default() };
        let config = Config::load(args).unwrap();
        assert_eq!(config.stack_name, "from-flag");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.regions, vec![Region { name: "us".into(), url: "http://127.0.0.1:9100".into() }]);
        assert_eq!(config.admin_email, "admin@localhost");
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stowage.toml");
        std::fs::write(&path, "stack_nmae = \"typo\"\n").unwrap();
        let error = Config::load(ServeArgs { config: Some(path), ..ServeArgs::default() }).unwrap_err();
        assert!(format!("{error:#}").contains("stack_nmae"));
    }
}
