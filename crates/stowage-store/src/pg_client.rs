//! A PostgreSQL client that can be dropped anywhere.
//!
//! The synchronous `postgres` client runs a runtime of its own and says goodbye to the server
//! when dropped, which panics on a thread that runs an async runtime. Pools and stores are
//! dropped wherever their last handle goes (often an async task), so this wrapper hands a client
//! dropped there to a short-lived thread of its own.

use std::ops::{Deref, DerefMut};

use postgres::{Client, NoTls};
use stowage_types::{Error, Result};

pub(crate) struct PgClient(Option<Client>);

impl PgClient {
    /// Connects to `url` (blocking).
    pub(crate) fn connect(url: &str, what: &str) -> Result<Self> {
        Client::connect(url, NoTls).map(|client| PgClient(Some(client))).map_err(|error| {
            // The URL may carry a password: only the error is shown.
            Error::internal(format!("{what}: connecting to PostgreSQL: {}", describe(&error)))
        })
    }
}

/// A PostgreSQL error with what the server or the connection said (its `Display` alone says
/// only "db error").
pub(crate) fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

impl Deref for PgClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0.as_ref().expect("a client until dropped")
    }
}

impl DerefMut for PgClient {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("a client until dropped")
    }
}

impl Drop for PgClient {
    fn drop(&mut self) {
        let Some(client) = self.0.take() else { return };
        if tokio::runtime::Handle::try_current().is_ok() {
            let spawned = std::thread::Builder::new().name("pg-close".into()).spawn(move || drop(client));
            if let Err(error) = spawned {
                tracing::warn!(%error, "could not close a PostgreSQL connection");
            }
        }
    }
}
