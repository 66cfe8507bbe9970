//! The domain error: a wire code from one table plus a message meant for the caller.
//!
//! Every layer returns [`Error`]. The HTTP layer renders it as the Keboola error body
//! `{"error", "code", "status": "error", "exceptionId"}` with the status from the table. Internal
//! errors keep their cause for the log and show the caller only a generic message.

use std::fmt;

macro_rules! codes {
    ($($variant:ident => ($status:expr, $wire:expr)),* $(,)?) => {
        /// A stable error code. The table below is the only place that maps codes to HTTP statuses.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code { $($variant),* }

        impl Code {
            /// HTTP status sent with this code.
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status),* }
            }
            /// The string sent as `code` in the error body.
            pub fn wire(self) -> &'static str {
                match self { $(Code::$variant => $wire),* }
            }
        }
    };
}

codes! {
    TokenInvalid => (401, "storage.tokenInvalid"),
    ManageTokenInvalid => (401, "manage.tokenInvalid"),
    AccessDenied => (403, "accessDenied"),
    NotFound => (404, "notFound"),
    MethodNotAllowed => (405, "methodNotAllowed"),
    Validation => (400, "storage.validation"),
    MalformedRequest => (400, "malformedRequest"),
    RequestTooLarge => (400, "requestTooLarge"),
    BucketNotFound => (404, "storage.buckets.notFound"),
    BucketAlreadyExists => (400, "storage.buckets.alreadyExists"),
    BucketValidation => (400, "storage.buckets.validation"),
    BucketNotEmpty => (400, "storage.buckets.notEmpty"),
    BucketShareTwice => (400, "storage.buckets.shareTwice"),
    BucketNotShared => (400, "storage.bucket.notShared"),
    InvalidSharingType => (400, "storage.buckets.invalidSharingType"),
    InvalidSharingTargets => (400, "storage.buckets.invalidSharingTargets"),
    TokenNotFound => (404, "storage.tokens.notFound"),
    TokenInvalidPermissions => (400, "storage.tokens.invalidPermissions"),
    TokenValidation => (400, "storage.tokens.validation"),
    CannotModifyMasterToken => (400, "storage.tokens.cannotModifyMasterToken"),
    CannotShareMasterToken => (400, "storage.token.cannotShareMasterToken"),
    TokenUsedByTrigger => (400, "storage.tokens.cannotDeleteDueToOrchestration"),
    TriggerNotFound => (404, "storage.triggers.notFound"),
    TriggerValidation => (400, "storage.triggers.validation"),
    ScheduleNotFound => (404, "scheduler.notFound"),
    ScheduleValidation => (400, "scheduler.validation"),
    EventNotFound => (404, "storage.events.notFound"),
    EventQueryInvalid => (400, "storage.events.invalidQuery"),
    EventValidation => (400, "storage.events.validation"),
    JobNotFound => (404, "storage.jobs.notFound"),
    FileNotFound => (404, "storage.files.notFound"),
    ComponentNotFound => (404, "storage.components.notFound"),
    ConfigurationNotFound => (404, "storage.configuration.notFound"),
    RowNotFound => (404, "storage.configurationRow.notFound"),
    ConfigurationVersionNotFound => (404, "storage.configurationVersion.notFound"),
    ConfigurationValidation => (400, "storage.configuration.validation"),
    ConfigurationAlreadyExists => (400, "storage.configuration.alreadyExists"),
    TableNotFound => (404, "storage.tables.notFound"),
    TableAlreadyExists => (400, "storage.tables.alreadyExists"),
    TableValidation => (400, "storage.tables.validation"),
    ColumnsMissing => (400, "storage.tables.missingColumns"),
    CsvInvalid => (400, "storage.csv.invalid"),
    TypedValueInvalid => (400, "storage.tables.invalidValue"),
    PrimaryKeyDuplicates => (400, "storage.tables.primaryKeyDuplicates"),
    FileValidation => (400, "storage.files.validation"),
    BranchNotFound => (404, "storage.devBranches.notFound"),
    MetadataNotFound => (404, "storage.metadata.notFound"),
    MetadataValidation => (400, "storage.metadata.validation"),
    ProjectNotFound => (404, "manage.projects.notFound"),
    MaintainerNotFound => (404, "manage.maintainers.notFound"),
    MaintainerValidation => (400, "manage.maintainers.validation"),
    MaintainerNotEmpty => (400, "manage.maintainers.hasOrganizations"),
    OrganizationNotFound => (404, "manage.organizations.notFound"),
    OrganizationValidation => (400, "manage.organizations.validation"),
    OrganizationNotEmpty => (400, "manage.organizations.hasProjects"),
    OrganizationUserNotMember => (404, "manage.organizations.userNotFound"),
    ProjectValidation => (400, "manage.projects.validation"),
    UserAlreadyMember => (400, "manage.projects.userAlreadyMember"),
    UserNotMember => (404, "manage.projects.userNotFound"),
    UserValidation => (400, "manage.users.validation"),
    ComponentUserError => (400, "userError"),
    SignInFailed => (401, "console.signInFailed"),
    SignInThrottled => (429, "console.signInThrottled"),
    TooManyRequests => (429, "tooManyRequests"),
    UserNotFound => (404, "manage.users.notFound"),
    QueueJobNotFound => (404, "queue.jobNotFound"),
    Internal => (500, "internal"),
}

/// The result type of every Stowage layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with a code from the table and a message safe to show the caller.
#[derive(Debug)]
pub struct Error {
    /// Which row of the code table this is.
    pub code: Code,
    /// Shown to the caller. Never contains a secret.
    pub message: String,
    /// For [`Code::Internal`]: the cause, logged once at the edge and never sent.
    pub cause: Option<String>,
    /// For an error that passes on what another stack did (a client of its API reports it).
    pub upstream: Option<Upstream>,
}

/// What another stack did that a client passes on as an error: the CLI tells these apart by its
/// exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// It answered with this status (4xx, or a 501).
    Status(u16),
    /// It could not be reached, or kept answering 5xx.
    Unavailable,
    /// A job it ran ended with an error.
    JobFailed,
}

impl Error {
    /// An error the caller caused or may know about.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), cause: None, upstream: None }
    }

    /// The same error, marked as passing on what another stack did.
    pub fn from_upstream(mut self, upstream: Upstream) -> Self {
        self.upstream = Some(upstream);
        self
    }

    /// A fault of the server. The caller sees a generic message; `cause` goes to the log.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self {
            code: Code::Internal,
            message: "Internal error. The problem was logged; please try again later.".into(),
            cause: Some(cause.to_string()),
            upstream: None,
        }
    }

    /// The 403 every permission check answers with, worded as Keboola words it.
    pub fn access_denied() -> Self {
        Self::new(Code::AccessDenied, "You don't have access to the resource.")
    }

    /// A 400 for a request field that failed validation.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(Code::Validation, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code.wire())?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause_from_the_message() {
        let error = Error::internal("disk I/O error at /secret/path");
        assert_eq!(error.code.status(), 500);
        assert!(!error.message.contains("/secret/path"));
        assert!(error.to_string().contains("/secret/path"));
    }

    #[test]
    fn client_errors_are_never_5xx() {
        for code in [Code::Validation, Code::TokenInvalid, Code::BucketNotFound, Code::RequestTooLarge] {
            assert!((400..500).contains(&code.status()), "{code:?}");
        }
    }
}
