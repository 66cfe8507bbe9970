//! Validated names: bucket stages, bucket names and ids.
//!
//! A bucket created with name `sales` in stage `in` is stored with name `c-sales` and id
//! `in.c-sales`. Names allow alphanumerics, dash and underscore (Keboola's own tests use dashes).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Code, Error, Result};

/// Longest bucket name accepted, as in Keboola.
pub const MAX_BUCKET_NAME_LEN: usize = 96;

/// The stage of a bucket: input or output data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    In,
    Out,
}

impl Stage {
    /// The wire form, `in` or `out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::In => "in",
            Stage::Out => "out",
        }
    }

    /// Parses `in` or `out`; anything else is a bucket validation error.
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "in" => Ok(Stage::In),
            "out" => Ok(Stage::Out),
            other => Err(Error::new(
                Code::BucketValidation,
                format!("Invalid data - stage: \"{other}\" is not a valid stage, use \"in\" or \"out\"."),
            )),
        }
    }
}

/// True when `value` is non-empty and only alphanumerics, dashes and underscores.
pub fn is_simple_name(value: &str) -> bool {
    !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks a bucket name or display name given by a client (`field` names it in the message).
pub fn validate_bucket_name(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::new(
            Code::BucketValidation,
            format!("Invalid data - {field}: This value should not be blank."),
        ));
    }
    if !is_simple_name(value) {
        return Err(Error::new(
            Code::BucketValidation,
            format!("Invalid data - {field}: Only alphanumeric characters dash and underscores are allowed."),
        ));
    }
    if value.len() > MAX_BUCKET_NAME_LEN {
        return Err(Error::new(
            Code::BucketValidation,
            format!("Invalid data - {field}: This value is too long. It should have {MAX_BUCKET_NAME_LEN} characters or less."),
        ));
    }
    Ok(())
}

/// A bucket id such as `in.c-sales`: a stage and a stored name that starts with `c-`. Stored (in a
/// job's work) as its text, and checked again when read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct BucketId(String);

impl BucketId {
    /// The id of a bucket created with `name` (without `c-`) in `stage`.
    pub fn new(stage: Stage, name: &str) -> Self {
        BucketId(format!("{}.c-{name}", stage.as_str()))
    }

    /// Parses an id from a path. `None` when it cannot name any bucket.
    pub fn parse(value: &str) -> Option<Self> {
        let (stage, name) = value.split_once('.')?;
        Stage::parse(stage).ok()?;
        let bare = name.strip_prefix("c-")?;
        is_simple_name(bare).then(|| BucketId(value.to_string()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stage part.
    pub fn stage(&self) -> Stage {
        if self.0.starts_with("in.") {
            Stage::In
        } else {
            Stage::Out
        }
    }

    /// The stored name, `c-...`.
    pub fn name(&self) -> &str {
        self.0.split_once('.').map(|(_, name)| name).unwrap_or_default()
    }
}

impl From<BucketId> for String {
    fn from(id: BucketId) -> String {
        id.0
    }
}

impl TryFrom<String> for BucketId {
    type Error = String;
    fn try_from(value: String) -> std::result::Result<Self, String> {
        BucketId::parse(&value).ok_or_else(|| format!("\"{value}\" is not a bucket id"))
    }
}

impl fmt::Display for BucketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest table name.
pub const MAX_TABLE_NAME_LEN: usize = 96;

/// A table id such as `in.c-sales.orders`: its bucket's id and its name. Stored as its text, and
/// checked again when read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct TableId {
    id: String,
    bucket: BucketId,
}

impl TableId {
    /// Parses an id from a path. `None` when it cannot name any table.
    pub fn parse(value: &str) -> Option<Self> {
        let (bucket, name) = value.rsplit_once('.')?;
        let bucket = BucketId::parse(bucket)?;
        let valid = !name.is_empty() && name.len() <= MAX_TABLE_NAME_LEN && is_simple_name(name);
        valid.then(|| TableId { id: value.to_string(), bucket })
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The bucket the table is in.
    pub fn bucket(&self) -> &BucketId {
        &self.bucket
    }

    /// The table's name, after its bucket's id.
    pub fn name(&self) -> &str {
        &self.id[self.bucket.as_str().len() + 1..]
    }
}

impl From<TableId> for String {
    fn from(id: TableId) -> String {
        id.id
    }
}

impl TryFrom<String> for TableId {
    type Error = String;
    fn try_from(value: String) -> std::result::Result<Self, String> {
        TableId::parse(&value).ok_or_else(|| format!("\"{value}\" is not a table id"))
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_id_joins_stage_and_prefixed_name() {
        let id = BucketId::new(Stage::In, "py-test");
        assert_eq!(id.as_str(), "in.c-py-test");
        assert_eq!(id.name(), "c-py-test");
        assert_eq!(id.stage(), Stage::In);
    }

    #[test]
    fn a_table_id_is_its_bucket_and_a_simple_name() {
        let id = TableId::parse("in.c-sales.orders").unwrap();
        assert_eq!((id.bucket().as_str(), id.name()), ("in.c-sales", "orders"));
        assert!(TableId::parse("in.c-sales").is_none());
        assert!(TableId::parse("in.c-sales.").is_none());
        assert!(TableId::parse("in.sales.orders").is_none());
        assert!(TableId::parse("in.c-sales.a.b").is_none(), "a name has no dot");
        assert!(TableId::parse(&format!("in.c-s.{}", "n".repeat(97))).is_none());
    }

    #[test]
    fn ids_without_the_c_prefix_or_with_unknown_stages_do_not_parse() {
        assert!(BucketId::parse("in.c-x").is_some());
        assert!(BucketId::parse("in.x").is_none());
        assert!(BucketId::parse("sys.c-x").is_none());
        assert!(BucketId::parse("in.c-$$").is_none());
    }

    #[test]
    fn bucket_names_with_symbols_are_rejected_with_keboolas_message() {
        let error = validate_bucket_name("displayName", "$$$$$").unwrap_err();
        assert_eq!(
            error.message,
            "Invalid data - displayName: Only alphanumeric characters dash and underscores are allowed."
        );
        assert_eq!(error.code, Code::BucketValidation);
    }

    #[test]
    fn bucket_names_longer_than_96_characters_are_rejected() {
        assert!(validate_bucket_name("name", &"a".repeat(96)).is_ok());
        assert!(validate_bucket_name("name", &"a".repeat(97)).is_err());
    }
}
