//! The `stowage` binary's library half: configuration, start-up and background tasks.
//!
//! Layout, in reading order:
//! - [`config`]: every setting, its default, and how flags, environment and `stowage.toml` combine.
//! - [`startup`]: [`startup::Application`], which opens the data dir, bootstraps an empty stack,
//!   binds the listener and serves until shut down. Tests build it the same way `main` does.
//! - [`serve`]: the HTTP listener, with a deadline for request headers and a cap on connections.

pub mod config;
pub mod serve;
pub mod startup;
