//! Prometheus metrics of one process (`GET /metrics` on the `--metrics-listen` address).
//!
//! Counted as they happen: requests by method, route and status with their latency, bytes in and
//! out of the HTTP server, and the jobs this process finished by kind and status with their
//! durations. Read from the catalog when scraped (so they are the stack's, whichever process
//! answers): the jobs waiting and running, by kind, and the active console sessions.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use stowage_types::{time, Error, Result};

use crate::Store;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The metrics of this process. Cheap to share (`Arc`).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms<RouteLabels>,
    bytes_in: Counter,
    bytes_out: Counter,
    jobs: Family<JobLabels, Counter>,
    job_duration: Histograms<KindLabels>,
    queue: Family<JobLabels, Gauge>,
    sessions: Gauge,
}

/// Request latencies from 1 ms to about 33 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Job durations from 10 ms to about 45 minutes.
fn job_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 19))
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            jobs: Family::default(),
            job_duration: Family::new_with_constructor(job_histogram),
            queue: Family::default(),
            sessions: Gauge::default(),
        };
        let mut registry = Registry::with_prefix("stowage");
        registry.register("http_requests", "Requests answered, by method, route and status", metrics.requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request (to its first byte), by method and route",
            metrics.latency.clone(),
        );
        registry.register("http_request_bytes", "Bytes of request bodies received", metrics.bytes_in.clone());
        registry.register("http_response_bytes", "Bytes of response bodies sent", metrics.bytes_out.clone());
        registry.register("jobs_finished", "Jobs this process finished, by kind and status", metrics.jobs.clone());
        registry.register(
            "job_duration_seconds",
            "Time a job ran in this process, by kind",
            metrics.job_duration.clone(),
        );
        registry.register("jobs_unfinished", "Jobs of the stack waiting or running, by kind", metrics.queue.clone());
        registry.register(
            "console_sessions_active",
            "Console sessions of the stack not expired",
            metrics.sessions.clone(),
        );
        Metrics { registry, ..metrics }
    }
}

/// The kind label of a job: `storage` or `component`.
fn kind(component: bool) -> String {
    if component { "component" } else { "storage" }.to_string()
}

impl Metrics {
    /// A request answered: `route` is the route's pattern (`/v2/storage/tables/{id}`), never the
    /// path, so ids and names do not become labels.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let (method, route) = (method.to_string(), route.to_string());
        self.latency
            .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
            .observe(took.as_secs_f64());
        self.requests.get_or_create(&RequestLabels { method, route, status }).inc();
    }

    pub fn bytes_in(&self, bytes: u64) {
        self.bytes_in.inc_by(bytes);
    }

    pub fn bytes_out(&self, bytes: u64) {
        self.bytes_out.inc_by(bytes);
    }

    /// A job this process finished (`status`: success, error, terminated) after `took`.
    pub fn job(&self, component: bool, status: &str, took: Duration) {
        self.jobs.get_or_create(&JobLabels { kind: kind(component), status: status.to_string() }).inc();
        self.job_duration.get_or_create(&KindLabels { kind: kind(component) }).observe(took.as_secs_f64());
    }

    /// The metrics in Prometheus' text format, with the stack's queue and sessions read now.
    pub async fn render(&self, store: &Store) -> Result<String> {
        let now = time::now();
        let (counts, sessions) =
            store.read(move |r| Ok((r.unfinished_job_counts()?, r.active_console_sessions(now)?))).await?;
        for component in [false, true] {
            for status in ["waiting", "processing"] {
                let count =
                    counts.iter().find(|(c, s, _)| *c == component && s == status).map_or(0, |(_, _, count)| *count);
                self.queue.get_or_create(&JobLabels { kind: kind(component), status: status.to_string() }).set(count);
            }
        }
        self.sessions.set(sessions);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).map_err(Error::internal)?;
        Ok(text)
    }
}
