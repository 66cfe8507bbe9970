//! What talks to a Stowage (or Keboola) stack from outside, shared by the CLI and by the writer and
//! extractor, which call another stack: nothing here knows the catalog, the stores or core.
//!
//! - [`remote`]: a client of another stack's Storage API (verify, tables, file uploads in blocks,
//!   job polling), whose failures carry the [`stowage_types::Upstream`] they came from.
//! - [`outbound`]: where the stack may connect (regions, public addresses, what the operator allowed),
//!   judged on every resolved address, and the HTTP client that keeps to it.
//! - [`gzip`]: gzip on several threads, for uploads.

pub mod gzip;
pub mod outbound;
pub mod remote;

/// The response header that names the outbox file of mail a request sent (a stack without SMTP).
pub const OUTBOX_HEADER: &str = "x-stowage-mail-outbox";
