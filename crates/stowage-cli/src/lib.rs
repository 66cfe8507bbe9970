//! The `stowage` command-line client. It speaks to a stack over its public APIs, exactly like
//! any other client, so it works with any Stowage (and, for storage commands, with Keboola).
//!
//! Layout: [`ClientCommand`] (the commands and their `--help`), `error` (exit codes), `profile`
//! (where the URL and tokens live), `transfer` (streaming uploads and downloads with progress
//! bars), and one module per group of commands: `admin` (login, projects, users, tokens),
//! `storage` (buckets, tables, files, jobs, events) and `configs` (configurations and runs).

mod admin;
mod automation;
mod configs;
mod error;
mod profile;
mod storage;
mod transfer;

use std::io::IsTerminal;

use clap::{Args, Subcommand};
use serde_json::Value;
use stowage_client::remote::Remote;

pub use error::{CliError, Exit};
pub use profile::{Profile, Profiles};

/// What `stowage --help` says about exit codes and `--json` errors.
pub const EXIT_CODES: &str = "\
Exit codes of the client commands:
  0  success
  1  the stack refused the request, or a local file could not be read or written
  2  usage: the command line is wrong
  3  authentication or permission: no token, or the stack refused it (401) or the action (403)
  4  not found: what the command names does not exist (404)
  5  a job ran and ended with an error
  6  network or server fault: the stack could not be reached, or answered 5xx

With --json, a failure prints one JSON object on standard error:
  {\"error\": \"<message>\", \"kind\": \"notFound\", \"exitCode\": 4}";

/// Options every client command takes.
#[derive(Debug, Args, Default, Clone)]
pub struct GlobalArgs {
    /// Profile to use (see `stowage login`)
    #[arg(long, global = true, env = "STOWAGE_PROFILE")]
    pub profile: Option<String>,
    /// Print JSON for scripts instead of text (errors too, on standard error)
    #[arg(long, global = true)]
    pub json: bool,
}

/// A group of commands with the options every client command takes.
#[derive(Debug, Args)]
pub struct Group<C: Subcommand> {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: C,
}

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Check a token against a stack and store it in a profile.
    ///
    /// The token is read from STOWAGE_TOKEN or asked for (hidden), never taken as an argument, so it
    /// stays out of shell history. Example: stowage login --url http://127.0.0.1:8000
    Login(admin::LoginArgs),
    /// Projects (manage API). Example: stowage project create Analytics
    Project(Group<admin::ProjectCommand>),
    /// Project members and passwords (manage API). Example: stowage user add 2 ann@example.com --role guest
    User(Group<admin::UserCommand>),
    /// API tokens. Example: stowage token create --description partner --read in.c-sales
    Token(Group<admin::TokenCommand>),
    /// Buckets. Example: stowage bucket create sales
    Bucket(Group<storage::BucketCommand>),
    /// Tables. Example: stowage table import orders.csv in.c-sales.orders --primary-key id
    Table(Group<storage::TableCommand>),
    /// Files. Example: stowage file upload report.pdf --tag monthly
    File(Group<storage::FileCommand>),
    /// Storage jobs and component jobs. Example: stowage job wait 42
    Job(Group<storage::JobCommand>),
    /// The project's events. Example: stowage event list --q "tableImportDone"
    Event(Group<storage::EventCommand>),
    /// Configurations of a component and their rows. Example: stowage config list keboola.wr-storage
    Config(Group<configs::ConfigCommand>),
    /// Triggers: run a configuration when the tables it watches were imported to.
    /// Example: stowage trigger create keboola.wr-storage 12 --run-as 7 --table in.c-sales.orders
    Trigger(Group<automation::TriggerCommand>),
    /// Schedules: run a configuration on a cron expression in a time zone.
    /// Example: stowage schedule create keboola.wr-storage 12 --cron "0 6 * * *" --timezone Europe/Prague
    Schedule(Group<automation::ScheduleCommand>),
    /// Run a writer or extractor configuration (or some of its rows) and follow its log.
    ///
    /// Exits 0 when the job succeeds, 5 with the job's error otherwise.
    /// Example: stowage run keboola.wr-storage 12 --row 13
    Run(configs::RunArgs),
}

/// Runs one client command.
pub async fn run(command: ClientCommand) -> Result<(), CliError> {
    match command {
        ClientCommand::Login(args) => admin::login(args).await,
        ClientCommand::Project(group) => admin::project(&group.global, group.command).await,
        ClientCommand::User(group) => admin::user(&group.global, group.command).await,
        ClientCommand::Token(group) => admin::token(&group.global, group.command).await,
        ClientCommand::Bucket(group) => storage::bucket(&group.global, group.command).await,
        ClientCommand::Table(group) => storage::table(&group.global, group.command).await,
        ClientCommand::File(group) => storage::file(&group.global, group.command).await,
        ClientCommand::Job(group) => storage::job(&group.global, group.command).await,
        ClientCommand::Event(group) => storage::event(&group.global, group.command).await,
        ClientCommand::Config(group) => configs::config(&group.global, group.command).await,
        ClientCommand::Trigger(group) => automation::trigger(&group.global, group.command).await,
        ClientCommand::Schedule(group) => automation::schedule(&group.global, group.command).await,
        ClientCommand::Run(args) => configs::run(args).await,
    }
}

impl ClientCommand {
    /// The options every client command takes, as given to this one.
    pub fn global(&self) -> &GlobalArgs {
        match self {
            ClientCommand::Login(args) => &args.global,
            ClientCommand::Run(args) => &args.global,
            ClientCommand::Project(group) => &group.global,
            ClientCommand::User(group) => &group.global,
            ClientCommand::Token(group) => &group.global,
            ClientCommand::Bucket(group) => &group.global,
            ClientCommand::Table(group) => &group.global,
            ClientCommand::File(group) => &group.global,
            ClientCommand::Job(group) => &group.global,
            ClientCommand::Event(group) => &group.global,
            ClientCommand::Config(group) => &group.global,
            ClientCommand::Trigger(group) => &group.global,
            ClientCommand::Schedule(group) => &group.global,
        }
    }
}

/// Prints a failure the way `--json` asks: a line of text, or one JSON object, on standard error.
pub fn report(global: &GlobalArgs, error: &CliError) {
    if global.json {
        let body =
            serde_json::json!({ "error": error.message, "kind": error.exit.name(), "exitCode": error.exit as u8 });
        eprintln!("{body}");
    } else {
        eprintln!("stowage: {}", error.message);
    }
}

fn storage_remote(global: &GlobalArgs) -> Result<Remote, CliError> {
    let profile = Profiles::load()?.resolve(global.profile.as_deref())?;
    let token = profile
        .token
        .ok_or_else(|| CliError::auth("the profile has no Storage API token: run `stowage login --url URL`"))?;
    Ok(Remote::new(&profile.url, &token)?)
}

fn manage_remote(global: &GlobalArgs) -> Result<Remote, CliError> {
    let profile = Profiles::load()?.resolve(global.profile.as_deref())?;
    let token = profile.manage_token.or_else(|| std::env::var("STOWAGE_MANAGE_TOKEN").ok()).ok_or_else(|| {
        CliError::auth("no manage token: run `stowage login --url URL --manage` or set STOWAGE_MANAGE_TOKEN")
    })?;
    Ok(Remote::manage(&profile.url, &token)?)
}

/// Prints `value` as JSON, or `text` for people.
fn print(global: &GlobalArgs, value: &Value, text: impl FnOnce() -> String) {
    if global.json {
        emit(&serde_json::to_string_pretty(value).unwrap_or_default());
    } else {
        emit(&text());
    }
}

/// Writes a line to standard output.
fn emit(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(error) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        output_failed(error)
    }
}

/// Ends the command after a write to standard output failed: quietly when the reader stopped
/// reading (`stowage table preview ... | head`), as command-line tools do, else with a line.
/// SIGPIPE stays ignored, as Rust's runtime sets it: its default would also end the command
/// without a word when a server hangs up in the middle of an upload.
fn output_failed(error: std::io::Error) -> ! {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("stowage: cannot write the output: {error}");
    std::process::exit(error::Exit::Failed as i32)
}

fn lines(list: &Value, line: impl Fn(&Value) -> String) -> String {
    list.as_array().map(|items| items.iter().map(line).collect::<Vec<_>>().join("\n")).unwrap_or_default()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Asks "`question` [y/N]" on a terminal; without one (a script) the answer is yes, as the
/// command line already says what to delete. `--yes` skips the question.
fn confirm(yes: bool, question: &str) -> Result<(), CliError> {
    if yes || !std::io::stdin().is_terminal() {
        return Ok(());
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|error| CliError::new(format!("cannot read the answer: {error}")))?;
    match answer.trim().to_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::new("nothing was deleted")),
    }
}

/// A duration as a number with a unit (`90s`, `30m`, `12h`, `7d`, `2w`), or plain seconds.
fn parse_duration(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 =
        number.parse().map_err(|_| format!("\"{value}\" is not a duration such as 90s, 30m, 12h, 7d or 2w"))?;
    let unit = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("\"{value}\" is not a duration such as 90s, 30m, 12h, 7d or 2w")),
    };
    number.checked_mul(unit).ok_or_else(|| format!("\"{value}\" is too long a duration"))
}

/// `--changed-since`: a duration (`7d`) means that long ago; anything else goes to the stack as
/// given (`-2 days`, an ISO date, a unix timestamp).
fn changed_since(value: &str) -> String {
    match parse_duration(value) {
        Ok(seconds) if value.trim().ends_with(|c: char| c.is_ascii_alphabetic()) => format!("-{seconds} seconds"),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_a_unit_or_as_seconds() {
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("30m"), Ok(1_800));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert!(parse_duration("7y").unwrap_err().contains("not a duration"));
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn changed_since_turns_a_duration_into_relative_time_and_passes_the_rest_on() {
        assert_eq!(changed_since("7d"), "-604800 seconds");
        assert_eq!(changed_since("-2 days"), "-2 days");
        assert_eq!(changed_since("1700000000"), "1700000000");
        assert_eq!(changed_since("2026-01-01"), "2026-01-01");
    }
}
