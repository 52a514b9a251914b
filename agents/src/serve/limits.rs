//! Back-pressure and deadlines for the grounding routes.
//!
//! A request to `/v1/*` first takes a **ticket** (at most `workers + queue` exist): with none
//! left it is answered 503 + `Retry-After` at once, before its body is read, so memory stays
//! bounded by `(workers + queue) × max_body_bytes` however many clients connect. Holding a
//! ticket, it reads its body, then waits for a **worker** permit (at most `workers`) and
//! grounds on tokio's blocking pool. Both permits move into the blocking task: a request whose
//! deadline passes is answered 504 while its model run finishes, and the run keeps its worker
//! slot until then, so the number of model runs never exceeds `workers`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, HttpBody as _};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::api::ApiError;
use super::AppState;

/// The ticket and worker semaphores.
#[derive(Debug)]
pub struct Admission {
    tickets: Arc<Semaphore>,
    n_tickets: usize,
    workers: Arc<Semaphore>,
    n_workers: usize,
}

/// A request's admission; cloned into the blocking task so that it lives as long as the work.
#[derive(Debug, Clone)]
pub struct Ticket {
    _permit: Arc<OwnedSemaphorePermit>,
}

impl Admission {
    pub fn new(workers: usize, queue: usize) -> Self {
        let n_tickets = workers.saturating_add(queue);
        Self {
            tickets: Arc::new(Semaphore::new(n_tickets)),
            n_tickets,
            workers: Arc::new(Semaphore::new(workers)),
            n_workers: workers,
        }
    }

    /// A ticket, or `None` when `workers + queue` requests are already admitted.
    pub fn try_admit(&self) -> Option<Ticket> {
        self.tickets
            .clone()
            .try_acquire_owned()
            .ok()
            .map(|p| Ticket {
                _permit: Arc::new(p),
            })
    }

    /// Waits for a worker (cancelled with the request when its deadline passes).
    pub async fn worker(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        // The semaphore is never closed, so this cannot fail; answer 500 rather than panic.
        self.workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal(format!("worker semaphore: {e}")))
    }

    /// Model runs in progress.
    pub fn busy_workers(&self) -> usize {
        self.n_workers - self.workers.available_permits()
    }

    /// Admitted requests not running the model (reading their body or waiting for a worker).
    pub fn waiting(&self) -> usize {
        let admitted = self.n_tickets - self.tickets.available_permits();
        admitted.saturating_sub(self.busy_workers())
    }
}

/// Middleware of the `/v1` routes (after authentication): refuses bodies announced above the
/// limit (413), admits or sheds (503 + `Retry-After`), and enforces the deadline (504).
pub async fn admit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let limit = state.config.max_body_bytes;
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        // Read (and drop) a bounded part of the upload first: a client still sending its
        // body, such as Python's `http.client`, then reads the 413 instead of a broken pipe.
        drain(req.into_body(), MAX_DRAIN_413).await;
        return ApiError::too_large(limit).into_response();
    }
    let Some(ticket) = state.admission.try_admit() else {
        state.metrics.queue_rejected();
        tracing::debug!("queue full: 503");
        drain(req.into_body(), limit).await;
        return ApiError::overloaded(state.config.retry_after_s).into_response();
    };
    req.extensions_mut().insert(ticket);
    let deadline = state.config.timeout;
    match tokio::time::timeout(deadline, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            state.metrics.timed_out();
            tracing::warn!(timeout_ms = deadline.as_millis(), "request timed out: 504");
            ApiError::timeout(deadline.as_millis()).into_response()
        }
    }
}

/// Most bytes of an oversized upload read (and dropped) before its 413, whatever the body
/// limit (see [`drain`]; [`DRAIN_TIME`] bounds it too). An upload larger than this still sees
/// its connection closed under it.
pub const MAX_DRAIN_413: usize = 64 << 20;

/// Longest a refused request's body is read for (see [`drain`]).
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Reads and discards the body of a request answered without it (401, 503), up to
/// `max_bytes` and [`DRAIN_TIME`]. A server that closes a connection with unread request
/// bytes makes the kernel reset it, and a client still sending its body then sees a broken
/// pipe instead of the answer; draining keeps the answer readable and the connection
/// reusable. Nothing is kept: memory stays flat however many requests are refused.
pub async fn drain(body: Body, max_bytes: usize) {
    let mut body = std::pin::pin!(body);
    let mut seen = 0usize;
    let read = async {
        while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            let Ok(frame) = frame else { break };
            seen = seen.saturating_add(frame.data_ref().map_or(0, |d| d.len()));
            if seen > max_bytes {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tickets_bound_admission_and_come_back_when_dropped() {
        let a = Admission::new(1, 1);
        let t1 = a.try_admit().unwrap();
        let t2 = a.try_admit().unwrap();
        assert!(a.try_admit().is_none(), "a third request must be shed");
        let w = a.worker().await.unwrap();
        assert_eq!((a.busy_workers(), a.waiting()), (1, 1));
        drop((t1, w));
        assert_eq!((a.busy_workers(), a.waiting()), (0, 1));
        let clone = t2.clone();
        drop(t2);
        assert!(a.try_admit().is_some(), "one ticket is free");
        let _t3 = a.try_admit().unwrap();
        assert!(
            a.try_admit().is_none(),
            "a cloned ticket still holds its slot"
        );
        drop(clone);
        assert!(a.try_admit().is_some());
    }
}
