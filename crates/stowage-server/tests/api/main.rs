//! Black-box tests of the HTTP API: each test starts a stack on port 0 with its own data dir.

mod authorization_matrix;
mod buckets;
mod cli;
mod components;
mod console;
mod console_components;
mod console_users;
mod contract;
mod events;
mod files;
mod health;
mod helpers;
mod hostile_input;
mod index_and_auth;
mod jobs_and_branches;
mod large_import;
mod manage;
mod metadata;
mod metrics;
mod organizations;
mod outbound;
mod parameters;
mod recovery;
mod restart;
mod schedules;
#[cfg(feature = "smtp-e2e")]
mod share_over_smtp;
mod sharing;
mod shutdown;
mod tables;
mod token_sharing;
mod tokens;
mod transfers;
mod triggers;
mod two_stacks;
mod typed_tables;
