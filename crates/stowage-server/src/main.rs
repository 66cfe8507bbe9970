//! `stowage`: runs a stack (`stowage serve`), recovers its secrets (`stowage recover`), and is the
//! client of a stack (the other commands).

use clap::{Parser, Subcommand};
use stowage_server::config::{Config, RecoverArgs, ServeArgs};
use stowage_server::startup::{bootstrap_banner, recover, recovery_banner, Application};
use tracing_subscriber::EnvFilter;

/// glibc's malloc gives threads up to eight arenas per core and keeps what each frees for that
/// arena, so a server whose blocking threads took turns at transfers held the high-water mark of
/// every arena: 160 MiB resident after one full load grew to 270 MiB over 24 transfers
/// (`bench/memory.py`). With two arenas it levels off at about 140 MiB. jemalloc and mimalloc were
/// measured too, and kept growing (240-290 MiB). Called before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn bound_malloc_arenas() {
    // SAFETY: `mallopt` only sets an allocator parameter; it is called first thing in `main`,
    // before any other thread exists, with a valid option and value.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_malloc_arenas() {}

/// Stowage: a self-hosted storage service speaking the Keboola Storage API.
#[derive(Parser)]
#[command(name = "stowage", version, after_help = stowage_cli::EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a stack.
    ///
    /// Example: stowage serve --data-dir ./stowage-data --listen 127.0.0.1:8000
    Serve(Box<ServeArgs>),
    /// Issue a new manage token and a new console password for the admin, when the first start's
    /// secrets were lost. Prints them once; works while the stack runs.
    ///
    /// Example: stowage recover --data-dir ./stowage-data --email admin@localhost
    Recover(RecoverArgs),
    #[command(flatten)]
    Client(stowage_cli::ClientCommand),
}

fn main() -> std::process::ExitCode {
    bound_malloc_arenas();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match runtime {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => {
            eprintln!("stowage: cannot start the async runtime: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> std::process::ExitCode {
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Recover(args) => match args.config() {
            Ok(config) => recover(&config).await.map(|recovered| print!("{}", recovery_banner(&recovered))),
            Err(error) => Err(error),
        },
        Command::Client(command) => {
            let global = command.global().clone();
            return match stowage_cli::run(command).await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(error) => {
                    stowage_cli::report(&global, &error);
                    std::process::ExitCode::from(error.exit as u8)
                }
            };
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("stowage: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(args)?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr);
    if config.log_json {
        logs.json().with_current_span(true).with_span_list(false).init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
    }
    let (app, bootstrapped) = Application::build(&config).await?;
    if let Some(bootstrapped) = &bootstrapped {
        // Printed to stdout, never to the log. A closed stdout must not bring the server down.
        let banner = bootstrap_banner(bootstrapped, &app.public_url(), app.key_in_data_dir());
        let mut stdout = std::io::stdout().lock();
        if let Err(error) =
            std::io::Write::write_all(&mut stdout, banner.as_bytes()).and_then(|()| std::io::Write::flush(&mut stdout))
        {
            tracing::error!(%error, "could not print the first-start secrets to stdout");
        }
    }
    tracing::info!(address = %app.local_addr(), data_dir = %config.data_dir.display(), stack = config.stack_name, "stack listening");
    app.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command, argument and option of `command` and below, by its path.
    fn walk(command: &clap::Command, path: &str, each: &mut impl FnMut(&str, &clap::Command)) {
        each(path, command);
        for sub in command.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), each);
        }
    }

    #[test]
    fn every_command_argument_and_option_has_a_line_of_help() {
        Cli::command().debug_assert();
        walk(&Cli::command(), "stowage", &mut |path, command| {
            assert!(command.get_about().is_some(), "`{path}` has no help");
            for arg in command.get_arguments() {
                assert!(arg.get_help().is_some(), "`{path}` has no help for {}", arg.get_id());
            }
        });
    }

    #[test]
    fn serve_and_recover_do_not_offer_the_clients_options() {
        for name in ["serve", "recover"] {
            let cli = Cli::command();
            let command = cli.find_subcommand(name).unwrap();
            for client_only in ["json", "profile"] {
                assert!(command.get_arguments().all(|arg| arg.get_id() != client_only), "{name} --{client_only}");
            }
        }
    }
}
