//! Plain types shared by every layer of Stowage. No IO, no HTTP, no SQL.
//!
//! Layout, in reading order:
//! - [`error`]: the one error type of the domain and the table of wire codes (status, code string).
//! - [`time`]: timestamps as stored (unix seconds) and as shown on the wire.
//! - [`names`]: validated bucket ids, stages and names.
//! - [`auth`]: roles, bucket access levels and the resolved token with its permission rules.
//! - [`event`]: what an event carries and how a listing is filtered.
//! - [`job`]: storage job states and the job record.
//! - [`paging`]: `limit` and `offset` of list routes.
//! - [`nesting`]: how deep a client's values may nest.

pub mod auth;
pub mod datatype;
pub mod error;
pub mod event;
pub mod job;
pub mod names;
pub mod nesting;
pub mod paging;
pub mod text;
pub mod time;

pub use error::{Code, Error, Result, Upstream};
pub use paging::Paging;
