//! The processing worker: accepted envelopes wait in the store's durable queue; the worker
//! leases them in batches (several workers, in one process or many, take disjoint batches),
//! processes them on blocking threads and commits events and issues. The queue is bounded:
//! past `capacity` waiting envelopes, ingest answers 503 + Retry-After. The bound counts what
//! waits in the store, shared by every origin process: each worker reads the store's count at
//! least every [`RECOUNT`] and adds what its own process accepted since.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::metrics::Metrics;
use crate::process;
use crate::store::{Completed, PendingEnvelope, Store};

/// Envelopes taken from the queue at a time.
const BATCH: usize = 256;

/// How long a batch stays leased to the worker that took it. A worker that dies mid-batch
/// (its process killed) leaves the batch to the others once this has passed.
pub const LEASE: Duration = Duration::from_secs(5);

/// How often the queue's length is read from the store.
pub const RECOUNT: Duration = Duration::from_secs(1);

/// The queue's shared bookkeeping; the envelopes themselves live in the store.
#[derive(Debug)]
pub struct Queue {
    waiting: AtomicUsize,
    capacity: usize,
    wake: Notify,
}

impl Queue {
    /// A queue that already holds `waiting` envelopes (left from before a restart).
    pub fn new(waiting: usize, capacity: usize) -> Self {
        Queue { waiting: AtomicUsize::new(waiting), capacity, wake: Notify::new() }
    }

    /// Whether ingest should refuse new data until the worker catches up.
    pub fn is_full(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) >= self.capacity
    }

    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Called after an envelope was stored: counts it and wakes the worker.
    pub fn pushed(&self) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Sets the count to what the store holds (every process's envelopes).
    pub fn recount(&self, waiting: usize) {
        self.waiting.store(waiting, Ordering::Relaxed);
    }

    fn done(&self) {
        // Saturating: envelopes left from a previous run may be counted only once here.
        let _ = self.waiting.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
    }
}

/// Processes a batch taken from the queue, ready for [`Store::complete`].
pub fn process_batch(batch: &[PendingEnvelope]) -> Vec<Completed> {
    batch
        .iter()
        .map(|p| Completed {
            id: p.id,
            project_id: p.envelope.project_id,
            received_ms: p.envelope.received_ms,
            processed: process::process(&p.envelope, p.retention_days, &p.scrubbing),
        })
        .collect()
}

/// Runs the worker until the task is dropped.
pub async fn run(store: Arc<dyn Store>, queue: Arc<Queue>, metrics: Arc<Metrics>) {
    let mut counted = tokio::time::Instant::now();
    loop {
        if counted.elapsed() >= RECOUNT {
            if let Ok(n) = store.pending_count().await {
                queue.recount(n);
            }
            counted = tokio::time::Instant::now();
        }
        let now = chrono::Utc::now().timestamp_millis();
        let batch = match store.claim(BATCH, now, LEASE.as_millis() as i64).await {
            Ok(batch) => batch,
            Err(e) => {
                metrics.store_error("worker");
                tracing::error!(error = %e, "could not read the processing queue; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.is_empty() {
            // Woken by new work; the timeout only guards against a lost wake-up.
            let _ = tokio::time::timeout(Duration::from_secs(1), queue.wake.notified()).await;
            continue;
        }
        let count = batch.len();
        let work = move || process_batch(&batch);
        let done = match tokio::task::spawn_blocking(work).await {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "processing panicked; the batch stays queued");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let events: usize = done.iter().map(|d| d.processed.events.len()).sum();
        let outcomes: Vec<_> = done
            .iter()
            .flat_map(|d| d.processed.outcomes.iter().chain(d.processed.events.iter().flat_map(|e| &e.accepted)))
            .cloned()
            .collect();
        // One transaction for the whole batch: one fsync, not one per envelope. On failure the
        // lease runs out and the batch is taken again, by this worker or another.
        if let Err(e) = store.complete(done).await {
            metrics.store_error("worker");
            tracing::error!(error = %e, "could not commit processed envelopes; they stay queued");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        for _ in 0..count {
            queue.done();
        }
        metrics.processed(count as u64, events as u64);
        metrics.outcomes("processing", &outcomes);
    }
}

/// Sweeps expired data once an hour (and once at start).
pub async fn retention(store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match store.sweep(chrono::Utc::now().timestamp_millis()).await {
            Ok(swept) if swept != Default::default() => tracing::info!(?swept, "retention sweep"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "retention sweep failed"),
        }
    }
}
