//! The HTTP listener: connections with a deadline for their headers and a cap on how many are open.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never fired: a client that
//! trickled an unfinished header kept its connection (and a file descriptor) for as long as it
//! liked, and 2,000 of them ran the process out of descriptors. Here each connection must send a
//! request's whole header within [`Limits::header_timeout`] (`--header-timeout`, 30 s) of the
//! connection opening or the previous answer (so an idle keep-alive connection closes after it
//! too), and no more than [`max_connections`] are open at once: further clients wait in the listen
//! backlog.
//!
//! hyper answers a request it cannot read at all (a URL past 64 KiB, a header block past its buffer,
//! a broken request line) itself, with an empty body; [`Answering`] gives those answers the Keboola
//! error body every other failure carries.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
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
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(Answering::new(stream)), TowerToHyperService::new(service));
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
) -> (TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit) {
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

/// A connection whose automatic answers from hyper (to a request it could not read) are replaced,
/// as they are written, by the same status with a Keboola error body.
///
/// hyper writes such an answer as one head, `connection: close` and `content-length: 0`, and then
/// closes the connection; no answer of the application has that shape for these statuses, since
/// each carries a body.
struct Answering<S> {
    inner: S,
    /// The replacement being written: its bytes, how many are written, and how many bytes of
    /// hyper's answer it stands for (reported written once it is out).
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<S> Answering<S> {
    fn new(inner: S) -> Self {
        Answering { inner, replacing: None }
    }
}

/// The replacement for `head` if it is one of hyper's automatic answers.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    // Every write passes here (bodies too): the status line is compared before anything is read.
    let (status, message) = match head.get(..13)? {
        b"HTTP/1.1 400 " => (400, "The request could not be read: its request line or a header is malformed."),
        b"HTTP/1.1 414 " => (414, "The request's URL is too long: at most 64 KiB are accepted."),
        b"HTTP/1.1 431 " => (431, "The request's headers are too large: at most 400 KiB are accepted."),
        _ => return None,
    };
    let text = std::str::from_utf8(head).ok()?;
    let lines: Vec<&str> = text.strip_suffix("\r\n\r\n")?.split("\r\n").collect();
    let has = |header: &str| lines.iter().any(|line| line.eq_ignore_ascii_case(header));
    if !has("connection: close") || !has("content-length: 0") {
        return None;
    }
    let code = if status == 400 {
        stowage_core::types::Code::MalformedRequest
    } else {
        stowage_core::types::Code::RequestTooLarge
    };
    let body = serde_json::to_vec(&stowage_http::error::ErrorBody {
        error: message.into(),
        code: code.wire(),
        status: "error",
        exception_id: format!("exception-{}", uuid::Uuid::now_v7().simple()),
    })
    .ok()?;
    let mut answer = format!(
        "{}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        lines[0],
        body.len()
    )
    .into_bytes();
    answer.extend(body);
    Some(answer)
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Answering<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            match replacement(buf) {
                Some(answer) => this.replacing = Some((answer, 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        let (answer, written, stands_for) = this.replacing.as_mut().expect("set above");
        while *written < answer.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let stands_for = *stands_for;
        this.replacing = None;
        Poll::Ready(Ok(stands_for))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Answering<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::replacement;

    #[test]
    fn only_hypers_empty_closing_answers_are_replaced() {
        let automatic = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let answer = String::from_utf8(replacement(automatic).unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{answer}");
        assert!(answer.contains(r#""code":"requestTooLarge""#), "{answer}");
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 90\r\n\r\n";
        assert!(replacement(own).is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
