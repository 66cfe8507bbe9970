//! Handlers, one module per resource.

pub(crate) mod abs;
pub(crate) mod branches;
pub(crate) mod buckets;
pub(crate) mod components;
pub(crate) mod console;
pub(crate) mod events;
pub(crate) mod files;
pub(crate) mod health;
pub(crate) mod html;
pub(crate) mod index;
pub(crate) mod jobs;
pub(crate) mod manage;
pub(crate) mod metadata;
pub(crate) mod organizations;
pub(crate) mod queue;
pub(crate) mod reference;
pub(crate) mod scheduler;
pub(crate) mod share;
pub(crate) mod sharing;
pub(crate) mod tables;
pub(crate) mod tokens;
pub(crate) mod triggers;

use stowage_types::Code;

use crate::error::ApiError;

/// Parses a numeric id from a path; anything else is a 404 ("resource not found").
pub(crate) fn numeric_id(value: &str) -> Result<i64, ApiError> {
    value.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(
            Code::NotFound,
            format!("The requested resource was not found (resource not found): \"{value}\"."),
        )
    })
}
