//! Request metrics in the Prometheus text format (`GET /metrics`).
//!
//! A handful of series is written by hand rather than through a metrics crate: the format is
//! a few lines of text, and this keeps the service free of global registries. Route labels are
//! the router's path templates (`unmatched` for everything else), so a client probing random
//! paths cannot grow the label set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::limits::Admission;
use super::AppState;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is `+Inf`.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = BUCKETS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(BUCKETS.len());
        self.counts[slot] += 1;
        self.sum += seconds;
    }
}

#[derive(Debug, Default)]
struct Series {
    /// `(route, status)` → requests answered.
    requests: BTreeMap<(&'static str, u16), u64>,
    /// Route → latency.
    latency: BTreeMap<&'static str, Histogram>,
}

/// The service's counters; shared by every request.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<Series>,
    in_flight: AtomicU64,
    queue_rejections: AtomicU64,
    timeouts: AtomicU64,
    connections_open: AtomicU64,
    connections_refused: AtomicU64,
}

/// An open connection, counted in `reticle_connections_open` while it lives.
#[derive(Debug)]
pub struct OpenConnection(Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Decrements the in-flight gauge however the request ends (a client that disconnects
/// drops the request's future).
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn queue_rejected(&self) {
        self.queue_rejections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn timed_out(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an accepted connection until the returned guard drops.
    pub fn connection_opened(self: &Arc<Self>) -> OpenConnection {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }

    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    fn record(&self, route: &'static str, status: u16, seconds: f64) {
        // A poisoned lock only means another request panicked mid-update; counts stay usable.
        let mut s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        *s.requests.entry((route, status)).or_default() += 1;
        s.latency.entry(route).or_default().observe(seconds);
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self, admission: &Admission, workers: usize, queue: usize) -> String {
        let mut out = String::new();
        let s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        // `write!` to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP reticle_http_requests_total HTTP requests answered, by route and status.\n\
             # TYPE reticle_http_requests_total counter"
        );
        for ((route, status), n) in &s.requests {
            let _ = writeln!(
                out,
                "reticle_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP reticle_http_request_duration_seconds Time from routing to response head.\n\
             # TYPE reticle_http_request_duration_seconds histogram"
        );
        for (route, h) in &s.latency {
            let mut cumulative = 0;
            for (i, n) in h.counts.iter().enumerate() {
                cumulative += n;
                let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "reticle_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "reticle_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 reticle_http_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}",
                h.sum
            );
        }
        drop(s);
        let gauges = [
            (
                "reticle_http_requests_in_flight",
                "gauge",
                "HTTP requests being handled.",
                self.in_flight.load(Ordering::Relaxed),
            ),
            (
                "reticle_queue_rejections_total",
                "counter",
                "Requests answered 503 because every worker was busy and the queue was full.",
                self.queue_rejections.load(Ordering::Relaxed),
            ),
            (
                "reticle_connections_open",
                "gauge",
                "Client connections open (idle keep-alive ones included).",
                self.connections_open.load(Ordering::Relaxed),
            ),
            (
                "reticle_connections_refused_total",
                "counter",
                "Connections answered 503 and closed because max_connections were open.",
                self.connections_refused.load(Ordering::Relaxed),
            ),
            (
                "reticle_request_timeouts_total",
                "counter",
                "Requests answered 504 because their deadline passed.",
                self.timeouts.load(Ordering::Relaxed),
            ),
            (
                "reticle_workers_busy",
                "gauge",
                "Model runs in progress.",
                admission.busy_workers() as u64,
            ),
            (
                "reticle_queue_waiting",
                "gauge",
                "Admitted requests not yet running the model.",
                admission.waiting() as u64,
            ),
            (
                "reticle_workers",
                "gauge",
                "Model workers (concurrent runs allowed).",
                workers as u64,
            ),
            (
                "reticle_queue_capacity",
                "gauge",
                "Requests allowed to wait for a worker.",
                queue as u64,
            ),
        ];
        for (name, kind, help, v) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        out
    }
}

/// Outermost middleware: counts every answer (401, 413 and 503 included) by route and status.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = route_label(req.extensions().get::<MatchedPath>());
    let m = &state.metrics;
    m.in_flight.fetch_add(1, Ordering::Relaxed);
    let _guard = InFlight(&m.in_flight);
    let t0 = Instant::now();
    let res = next.run(req).await;
    m.record(route, res.status().as_u16(), t0.elapsed().as_secs_f64());
    res
}

/// The route template as a `'static` label from the fixed set the router serves.
fn route_label(matched: Option<&MatchedPath>) -> &'static str {
    let Some(path) = matched.map(MatchedPath::as_str) else {
        return "unmatched";
    };
    super::routes::PATHS
        .iter()
        .copied()
        .find(|p| *p == path)
        .unwrap_or("unmatched")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_inf() {
        let m = Metrics::default();
        m.record("/v1/ground", 200, 0.003);
        m.record("/v1/ground", 200, 100.0);
        m.record("/v1/ground", 503, 0.0001);
        m.queue_rejected();
        let text = m.render(&Admission::new(2, 3), 2, 3);
        for line in [
            "reticle_http_requests_total{route=\"/v1/ground\",status=\"200\"} 2",
            "reticle_http_requests_total{route=\"/v1/ground\",status=\"503\"} 1",
            "reticle_http_request_duration_seconds_bucket{route=\"/v1/ground\",le=\"0.001\"} 1",
            "reticle_http_request_duration_seconds_bucket{route=\"/v1/ground\",le=\"0.005\"} 2",
            "reticle_http_request_duration_seconds_bucket{route=\"/v1/ground\",le=\"30\"} 2",
            "reticle_http_request_duration_seconds_bucket{route=\"/v1/ground\",le=\"+Inf\"} 3",
            "reticle_http_request_duration_seconds_count{route=\"/v1/ground\"} 3",
            "reticle_queue_rejections_total 1",
            "reticle_workers 2",
            "reticle_queue_capacity 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
