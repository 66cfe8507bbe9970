//! How the CLI fails: one line on standard error (or a JSON object with `--json`), and an exit
//! code that tells a script what kind of failure it was.

use stowage_types::{Error, Upstream};

/// The exit codes, one per kind of failure (see `stowage --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Anything else: a request the stack refused as invalid, a file that cannot be read.
    Failed = 1,
    /// The command line itself is wrong (clap's own exit code for usage errors).
    Usage = 2,
    /// No credentials, or the stack refused them (401) or the action (403).
    Auth = 3,
    /// What the command names does not exist (404).
    NotFound = 4,
    /// A job ran and ended with an error.
    JobFailed = 5,
    /// The stack could not be reached, or kept failing (5xx, timeouts).
    Unavailable = 6,
}

impl Exit {
    /// The name used in the JSON error object.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Failed => "failed",
            Exit::Usage => "usage",
            Exit::Auth => "auth",
            Exit::NotFound => "notFound",
            Exit::JobFailed => "jobFailed",
            Exit::Unavailable => "unavailable",
        }
    }
}

/// An error shown as one line: `stowage: <message>`.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub exit: Exit,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError { message: message.into(), exit: Exit::Failed }
    }

    /// Missing or refused credentials.
    pub fn auth(message: impl Into<String>) -> Self {
        CliError { message: message.into(), exit: Exit::Auth }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        CliError { message: message.into(), exit: Exit::Usage }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        CliError { message: message.into(), exit: Exit::NotFound }
    }

    pub fn job_failed(message: impl Into<String>) -> Self {
        CliError { message: message.into(), exit: Exit::JobFailed }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Error> for CliError {
    fn from(error: Error) -> Self {
        let exit = match error.upstream {
            Some(Upstream::Status(401 | 403)) => Exit::Auth,
            Some(Upstream::Status(404)) => Exit::NotFound,
            Some(Upstream::Status(status)) if status >= 500 => Exit::Unavailable,
            Some(Upstream::Unavailable) => Exit::Unavailable,
            Some(Upstream::JobFailed) => Exit::JobFailed,
            Some(Upstream::Status(_)) | None => Exit::Failed,
        };
        CliError { message: error.message, exit }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_types::Code;

    fn exit_of(upstream: Option<Upstream>) -> Exit {
        let mut error = Error::new(Code::ComponentUserError, "x");
        error.upstream = upstream;
        CliError::from(error).exit
    }

    #[test]
    fn what_the_stack_answered_picks_the_exit_code() {
        assert_eq!(exit_of(Some(Upstream::Status(401))), Exit::Auth);
        assert_eq!(exit_of(Some(Upstream::Status(403))), Exit::Auth);
        assert_eq!(exit_of(Some(Upstream::Status(404))), Exit::NotFound);
        assert_eq!(exit_of(Some(Upstream::Status(400))), Exit::Failed);
        assert_eq!(exit_of(Some(Upstream::Status(501))), Exit::Unavailable);
        assert_eq!(exit_of(Some(Upstream::Unavailable)), Exit::Unavailable);
        assert_eq!(exit_of(Some(Upstream::JobFailed)), Exit::JobFailed);
        assert_eq!(exit_of(None), Exit::Failed);
        assert_eq!(Exit::Unavailable as u8, 6);
    }
}
