//! Group commit: concurrent ingests share one transaction and one fsync. Each request hands
//! its accepted envelope to a committer over a bounded channel and waits; a committer takes
//! everything waiting (up to [`CommitSettings::max_envelopes`] envelopes or
//! [`CommitSettings::max_bytes`] of bodies), stores it in one transaction
//! ([`Store::accept_batch`]: SQLite's `BEGIN IMMEDIATE` … `COMMIT` with `synchronous=FULL`, or
//! a PostgreSQL transaction with its WAL flushed at commit) and only then answers each request.
//! So every 200 is still durable before it is sent, while a batch costs one sync, not one per
//! request, and batches grow by themselves with the load: what arrives during one commit goes
//! into the next. A failed batch answers every member with the error (a 503; the transaction
//! stored none of them). A full channel refuses at once (503), like the processing queue's bound.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Mutex};

use crate::metrics::Metrics;
use crate::store::{AcceptedEnvelope, Backend, Store};

/// How the committers batch.
#[derive(Clone, Copy, Debug)]
pub struct CommitSettings {
    /// Envelopes at most in one transaction.
    pub max_envelopes: usize,
    /// Body bytes at most in one transaction (a single larger envelope still goes alone).
    pub max_bytes: usize,
    /// Requests that may wait for a committer; past it ingest answers 503.
    pub waiting: usize,
    /// Committers writing side by side: one for SQLite (one writer at a time anyway), a few for
    /// PostgreSQL, whose commits overlap.
    pub writers: usize,
}

impl CommitSettings {
    pub fn for_backend(backend: Backend) -> Self {
        let writers = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        };
        CommitSettings { max_envelopes: 256, max_bytes: 16 << 20, waiting: 2048, writers }
    }
}

type Answer = Result<(), Arc<anyhow::Error>>;

struct Job {
    envelope: AcceptedEnvelope,
    answer: oneshot::Sender<Answer>,
}

/// Why an envelope was not stored.
#[derive(Debug)]
pub enum CommitError {
    /// Too many requests wait for a commit already (a 503 asking to retry).
    Busy,
    /// The batch's transaction failed, or the committers stopped: nothing of it was stored.
    Failed(anyhow::Error),
}

/// The ingest side of the group commit: cheap to clone, one per app.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    /// Starts `settings.writers` committers over `store`; they stop when every handle is gone.
    pub fn start(store: Arc<dyn Store>, settings: CommitSettings, metrics: Arc<Metrics>) -> Committer {
        let (jobs, waiting) = mpsc::channel(settings.waiting.max(1));
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..settings.writers.max(1) {
            tokio::spawn(run(store.clone(), waiting.clone(), settings, metrics.clone()));
        }
        Committer { jobs }
    }

    /// Stores `envelope` durably with whatever else is waiting; returns once it is committed.
    pub async fn accept(&self, envelope: AcceptedEnvelope) -> Result<(), CommitError> {
        let (answer, answered) = oneshot::channel();
        self.jobs.try_send(Job { envelope, answer }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => CommitError::Busy,
            mpsc::error::TrySendError::Closed(_) => {
                CommitError::Failed(anyhow::anyhow!("the group committer has stopped"))
            }
        })?;
        match answered.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CommitError::Failed(anyhow::anyhow!("{e:#}"))),
            Err(_) => Err(CommitError::Failed(anyhow::anyhow!("the group committer stopped before answering"))),
        }
    }
}

/// One committer: takes a batch (the channel's lock held only while taking), commits it,
/// answers its members, and again.
async fn run(
    store: Arc<dyn Store>,
    waiting: Arc<Mutex<mpsc::Receiver<Job>>>,
    s: CommitSettings,
    metrics: Arc<Metrics>,
) {
    loop {
        let batch = {
            let mut waiting = waiting.lock().await;
            let Some(first) = waiting.recv().await else { return };
            let mut bytes = first.envelope.body.len();
            let mut batch = vec![first];
            while batch.len() < s.max_envelopes && bytes < s.max_bytes {
                match waiting.try_recv() {
                    Ok(job) => {
                        bytes += job.envelope.body.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        let (envelopes, answers): (Vec<_>, Vec<_>) = batch.into_iter().map(|j| (j.envelope, j.answer)).unzip();
        let started = Instant::now();
        let result = store.accept_batch(&envelopes).await.map_err(Arc::new);
        metrics.committed(envelopes.len(), started.elapsed());
        if let Err(e) = &result {
            metrics.store_error("commit");
            tracing::debug!(error = %e, size = envelopes.len(), "a group commit failed; every member gets a 503");
            // Not spinning on a store that is down: the members are answered first.
            for answer in answers {
                let _ = answer.send(result.clone());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        for answer in answers {
            let _ = answer.send(Ok(()));
        }
    }
}
