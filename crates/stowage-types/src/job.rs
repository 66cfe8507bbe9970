//! Jobs: the durable record of an asynchronous operation (a storage job, or a component run).

use serde_json::Value;

use crate::time::Timestamp;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Waiting,
    Processing,
    Success,
    Error,
    /// Stopped on request (component runs).
    Terminated,
}

impl JobStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Waiting => "waiting",
            JobStatus::Processing => "processing",
            JobStatus::Success => "success",
            JobStatus::Error => "error",
            JobStatus::Terminated => "terminated",
        }
    }

    /// Parses a stored name; unknown names read as `error` so a bad row never looks alive.
    pub fn parse(value: &str) -> Self {
        match value {
            "waiting" => JobStatus::Waiting,
            "processing" => JobStatus::Processing,
            "success" => JobStatus::Success,
            "terminated" => JobStatus::Terminated,
            _ => JobStatus::Error,
        }
    }

    /// True for `success`, `error` and `terminated`.
    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Success | JobStatus::Error | JobStatus::Terminated)
    }
}

/// A job as stored.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub project_id: i64,
    pub status: JobStatus,
    /// E.g. `bucketDelete`, `tableImport`.
    pub operation_name: String,
    pub operation_params: Value,
    pub table_id: Option<String>,
    pub run_id: Option<String>,
    pub created: Timestamp,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub results: Value,
    pub metrics: Value,
    /// `{code, message, exceptionId}` when the job failed.
    pub error: Option<Value>,
    pub creator_token_id: i64,
    pub creator_token_description: String,
    /// The component and configuration a component run runs; `None` for storage jobs.
    pub component: Option<(String, String)>,
}
