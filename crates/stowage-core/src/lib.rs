//! Use cases of Stowage: one function per operation.
//!
//! Every function that touches a project takes a [`Ctx`] (who is asking, from where) and a
//! `&Granted<P>` from `stowage_types::auth`, the proof that the token passed the rule `P`. Core
//! records the operation's event in the same catalog transaction as the change itself.
//!
//! Layout, in reading order:
//! - [`Core`] and [`Ctx`]: the stack's shared state and the per-request context.
//! - [`secrets`]: generating, hashing and comparing token secrets.
//! - [`auth`]: turning a secret into a token (storage API) or a manage grant (manage API).
//! - [`bootstrap`]: the first start of an empty stack.
//! - [`console`]: console sign-in: user passwords and sessions.
//! - [`manage`]: projects, users and memberships (manage API).
//! - [`tokens`]: the token lifecycle: create, update, refresh, delete, share, expire.
//! - [`crypto`]: the stack key, which encrypts what must be recoverable but never stored in plain text.
//! - [`mail`]: SMTP or an outbox folder.
//! - [`files`] with [`blobs`]: file records, their bytes, and the signed blob credentials.
//! - [`tables`]: table create, import, export, preview; the CSV reader and `changedSince` parsing.
//! - [`components`]: the registry, configurations and rows, with `#` values sealed by the stack key.
//! - [`queue`] with [`engines`]: component jobs, the writer and extractor, and their client of
//!   another stack's Storage API (`stowage_client::remote`), which connects only where
//!   `stowage_client::outbound` allows.
//! - [`buckets`], [`branches`], [`metadata`], [`events`], [`jobs`]: the storage API resources.

pub mod allowance;
pub mod auth;
pub mod blobs;
pub mod bootstrap;
pub mod branches;
pub mod buckets;
pub mod components;
pub mod console;
pub mod crypto;
pub mod engines;
pub mod events;
pub mod files;
pub mod jobs;
mod kinds;
pub mod mail;
pub mod manage;
pub mod members;
pub mod memo;
pub mod metadata;
pub mod metrics;
pub mod organizations;
pub mod passwords;
pub mod queue;
pub mod schedules;
pub mod secrets;
pub mod tables;
pub mod tokens;
pub mod triggers;

use std::sync::Arc;

pub use stowage_store::records;
pub use stowage_store::table_data::TableStore;
pub use stowage_store::Store;
pub use stowage_types as types;

/// A region a component may target: another stack's name and public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub name: String,
    pub url: String,
}

/// A component the stack knows: built in (and run by the stack) or declared in its configuration
/// (configurations are stored, but the stack does not run them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentDef {
    pub id: String,
    pub name: String,
    /// `writer`, `extractor`, `application`, ...
    pub kind: String,
    /// True when this stack runs the component's jobs.
    pub runnable: bool,
}

/// Facts about this stack that responses carry.
#[derive(Debug, Clone)]
pub struct StackInfo {
    /// The stack's name, shown as the project's `region`.
    pub name: String,
    /// The public root URL, without a trailing slash; `uri` fields start with it.
    pub public_url: String,
    /// Regions offered as targets by the writer and extractor.
    pub regions: Vec<Region>,
    /// The component registry: built-in components first, then declared ones.
    pub components: Vec<ComponentDef>,
    /// Where the stack may connect when it calls another stack (regions, public addresses, and
    /// what the operator allowed).
    pub outbound: Arc<stowage_client::outbound::Policy>,
    /// How many bytes a project's uploads in progress may have staged with Put Block at once.
    pub max_staged_bytes: u64,
}

/// The shared services of one server process; a request's handle to them. Cloning it is one
/// reference count (every request clones it into its `Ctx`).
#[derive(Clone)]
pub struct Core(Arc<CoreParts>);

impl std::ops::Deref for Core {
    type Target = CoreParts;
    fn deref(&self) -> &CoreParts {
        &self.0
    }
}

/// What a [`Core`] holds.
pub struct CoreParts {
    pub store: Store,
    pub stack: Arc<StackInfo>,
    pub jobs: jobs::JobRunner,
    /// Encrypts shareable token secrets (and later `#` configuration values).
    pub key: Arc<crypto::StackKey>,
    pub mailer: mail::Mailer,
    /// File bytes.
    pub blobs: blobs::Blobs,
    /// Table rows, by each table record's storage key.
    pub table_store: stowage_store::table_data::TableStore,
    /// Stores the events of read requests in group commits.
    pub read_events: events::ReadEvents,
    /// What this process counts for Prometheus.
    pub metrics: Arc<metrics::Metrics>,
    /// Catalog reads every request makes, kept until the next write.
    pub memos: memo::Memos,
    /// Argon2 work, bounded in memory and per client address.
    pub passwords: passwords::Passwords,
    /// What clients may record as events, per project.
    pub event_allowance: events::EventAllowance,
}

impl Core {
    /// Builds the core of the server named `server` (stable across its restarts) over an opened
    /// catalog and table storage.
    pub fn new(
        store: Store,
        table_store: stowage_store::table_data::TableStore,
        stack: StackInfo,
        key: crypto::StackKey,
        mailer: mail::Mailer,
        blobs: blobs::Blobs,
        server: &str,
    ) -> types::Result<Self> {
        let jobs = jobs::JobRunner::new(store.clone(), server, kinds::run_stored);
        let read_events = events::ReadEvents::start(&store)?;
        Ok(Core(Arc::new(CoreParts {
            jobs,
            store,
            stack: Arc::new(stack),
            key: Arc::new(key),
            mailer,
            blobs,
            table_store,
            read_events,
            metrics: Arc::default(),
            memos: memo::Memos::default(),
            passwords: passwords::Passwords::default(),
            event_allowance: events::EventAllowance::default(),
        })))
    }

    /// Whether the catalog and the object store answer, each within 5 s (a readiness check). A
    /// failure is logged here; the caller learns only which part is down.
    pub async fn readiness(&self) -> Readiness {
        let limit = std::time::Duration::from_secs(5);
        let timed_out = || types::Error::internal("no answer within 5 s");
        let catalog =
            tokio::time::timeout(limit, self.store.read(|r| r.ping())).await.unwrap_or_else(|_| Err(timed_out()));
        let object_store =
            tokio::time::timeout(limit, self.blobs.size("probes/ready")).await.unwrap_or_else(|_| Err(timed_out()));
        if let Err(error) = &catalog {
            tracing::error!(%error, "readiness: the catalog does not answer");
        }
        if let Err(error) = &object_store {
            tracing::error!(%error, "readiness: the object store does not answer");
        }
        Readiness { catalog: catalog.is_ok(), object_store: object_store.is_ok() }
    }

    /// The storage API root, `{public_url}/v2/storage`.
    pub fn storage_url(&self) -> String {
        format!("{}/v2/storage", self.stack.public_url)
    }
}

/// What [`Core::readiness`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub catalog: bool,
    pub object_store: bool,
}

/// Who is calling and from where; copied into the events an operation records.
#[derive(Clone)]
pub struct Ctx {
    pub core: Core,
    /// `X-KBC-RunId` of the request.
    pub run_id: Option<String>,
    /// Client address and agent, for the event `context`.
    pub remote_addr: Option<String>,
    pub user_agent: Option<String>,
}

impl Ctx {
    /// Runs `f` in one catalog write transaction, handing it this context for the events it records.
    pub async fn write<T, F>(&self, f: F) -> types::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&stowage_store::Writer<'_>, &Ctx) -> types::Result<T> + Send + 'static,
    {
        let ctx = self.clone();
        self.core.store.write(move |w| f(w, &ctx)).await
    }

    /// A context for work the stack does on its own (bootstrap, background tasks).
    pub fn internal(core: &Core) -> Self {
        Ctx { core: core.clone(), run_id: None, remote_addr: None, user_agent: None }
    }
}

/// A core on a temporary dir, for unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::crypto::StackKey;
    use crate::mail::Mailer;
    use crate::{Core, StackInfo, Store};

    pub(crate) fn core(dir: &std::path::Path) -> Core {
        let store = Store::open_sqlite(&dir.join("catalog.sqlite")).unwrap();
        let stack = StackInfo {
            name: "t".into(),
            public_url: "http://127.0.0.1:1".into(),
            regions: vec![],
            components: crate::components::builtin_components(),
            outbound: Default::default(),
            max_staged_bytes: 1 << 30,
        };
        Core::new(
            store,
            stowage_store::table_data::TableStore::files(&dir.join("tables")).unwrap(),
            stack,
            StackKey::from_bytes(&[3; 32]),
            Mailer::outbox(dir.join("outbox"), "s@localhost").unwrap(),
            crate::blobs::Blobs::local(&dir.join("blobs")).unwrap(),
            "test",
        )
        .unwrap()
    }
}
