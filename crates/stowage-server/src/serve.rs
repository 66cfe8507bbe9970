//! The HTTP listener: connections with a deadline for their headers and a cap on how many are open.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never fired: a client that
//! trickled an unfinished header kept its connection (and a file descriptor) for as long as it
//! liked, and 2,000 of them ran the process out of descriptors. Here each connection must send a
//! request's whole header within [`Limits::header_timeout`] (`--header-timeout`, 30 s) of the
//! connection opening or the previous answer (so an idle keep-alive connection closes after it
//! too), and no more than [`max_connections`] are open at once: further clients wait in the listen
//! backlog.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

/// What a connection may take.
pub struct Limits {
    /// How long a client has to send a request's header, and how long a connection may sit idle.
    pub header_timeout: Duration,
    /// How many connections may be open at once.
    pub max_connections: usize,
}

/// Descriptors kept for everything but client connections: the catalog's pool, table files,
/// uploads, the outbound client.
const RESERVED_DESCRIPTORS: u64 = 512;

/// How many connections may be open at once: the process's descriptor limit (raised to its hard
/// limit at start) less what the rest of the server needs, and at least 64.
pub fn max_connections() -> usize {
    let limit = descriptor_limit();
    limit.saturating_sub(RESERVED_DESCRIPTORS).clamp(64, 1 << 20) as usize
}

/// Raises the soft limit on open files to the hard limit (most systems start services at 1,024
/// with a far higher hard limit) and returns it.
#[cfg(unix)]
#[allow(unsafe_code)]
fn descriptor_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the `rlimit` passed by pointer, which lives on
    // this stack frame for the duration of each call.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

#[cfg(not(unix))]
fn descriptor_limit() -> u64 {
    1024
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open connections finish the
/// requests they are in.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = accept(&listener, &open) => accepted,
            () = &mut shutdown => break,
        };
        let (stream, address, slot) = accepted;
        let Ok(service) = make_service.call(address).await.map_err(|never: Infallible| never);
        let connection =
            builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "a connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The next connection, once one may be opened. Errors of one connection (reset before it was
/// accepted, say) are skipped; running out of descriptors waits a moment instead of spinning.
async fn accept(
    listener: &TcpListener,
    open: &Arc<Semaphore>,
) -> (tokio::net::TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit) {
    let slot = open.clone().acquire_owned().await.expect("the semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, address)) => return (stream, address, slot),
            Err(error) if is_connection_error(&error) => {}
            Err(error) => {
                tracing::error!(%error, "accepting a connection failed; trying again in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(error.kind(), ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset)
}
