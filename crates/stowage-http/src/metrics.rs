//! Counts each request for Prometheus (`core::metrics`): by method, route pattern and status,
//! with its latency, and the bytes of its request and response bodies as they stream.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use stowage_core::metrics::Metrics;

use crate::AppState;

/// The middleware, inside the router so that the route's pattern is known (`unmatched` for a
/// path no route has).
pub(crate) async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let metrics = state.core.metrics.clone();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_string();
    let method = request.method().clone();
    let started = Instant::now();
    let request = request.map(|body| Body::new(Counted { inner: body, metrics: metrics.clone(), outgoing: false }));
    let response = next.run(request).await;
    metrics.request(method.as_str(), &route, response.status().as_u16(), started.elapsed());
    response.map(|body| Body::new(Counted { inner: body, metrics, outgoing: true }))
}

/// A body that counts its bytes as they pass, keeping the inner body's size hint (so a response
/// keeps its `Content-Length`).
struct Counted {
    inner: Body,
    metrics: Arc<Metrics>,
    outgoing: bool,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                let bytes = data.len() as u64;
                if self.outgoing {
                    self.metrics.bytes_out(bytes);
                } else {
                    self.metrics.bytes_in(bytes);
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
