//! Events: the audit record every operation writes, and the filter a listing applies.

use serde_json::Value;

use crate::time::Timestamp;

/// An event about to be recorded. The store assigns `id`, `uuid` and `created`.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub project_id: i64,
    pub branch_id: i64,
    /// The event name, e.g. `storage.bucketCreated`.
    pub event: String,
    pub component: String,
    pub message: String,
    pub description: String,
    /// `info`, `success`, `warn` or `error`.
    pub kind: String,
    pub run_id: Option<String>,
    pub configuration_id: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub object_name: Option<String>,
    pub params: Value,
    pub results: Value,
    pub performance: Value,
    pub context: Value,
    /// The acting token.
    pub token_id: Option<i64>,
    pub token_name: Option<String>,
}

/// A recorded event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub uuid: String,
    pub created: Timestamp,
    pub data: NewEvent,
}

/// Which events a listing returns. All conditions are ANDed.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub project_id: i64,
    pub branch_id: Option<i64>,
    /// Only events after this id (exclusive).
    pub since_id: Option<i64>,
    /// Only events before this id (exclusive).
    pub max_id: Option<i64>,
    pub component: Option<String>,
    pub configuration_id: Option<String>,
    pub run_id: Option<String>,
    /// Only events made by this token (for tokens that may not see all events).
    pub made_by_token: Option<i64>,
    /// Events about an object: (objectType, objectId).
    pub about_object: Option<(String, String)>,
    /// A token feed: events about the token or made by it.
    pub token_feed: Option<i64>,
    /// Exact matches from the `q` parameter: (field, value).
    pub fields: Vec<(EventField, String)>,
    /// Free-text words from `q`, each matched against the message or the event name.
    pub words: Vec<String>,
    pub limit: i64,
    pub offset: i64,
    pub ascending: bool,
}

/// A field that the `q` search can match exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventField {
    TokenId,
    Event,
    ObjectId,
    ObjectType,
    BranchId,
    Component,
    RunId,
    ProjectId,
    Type,
    ConfigurationId,
}

impl EventField {
    /// The field as written in `q`, e.g. `token.id`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "token.id" => EventField::TokenId,
            "event" => EventField::Event,
            "objectId" => EventField::ObjectId,
            "objectType" => EventField::ObjectType,
            "idBranch" => EventField::BranchId,
            "component" => EventField::Component,
            "runId" => EventField::RunId,
            "project.id" => EventField::ProjectId,
            "type" => EventField::Type,
            "configurationId" => EventField::ConfigurationId,
            _ => return None,
        })
    }
}
