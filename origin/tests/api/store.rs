//! The store's shared state on both backends, through two handles on one database (as two origin
//! processes have): queue leases are disjoint and expire to another worker, each envelope is
//! committed once, counts stay exact under concurrent writers, used signatures and quota
//! counters are shared and survive a reopen, and a schema newer than this build is refused.

use std::sync::Arc;

use picket::core::limit::Check;
use picket_origin::model::AcceptedEnvelope;
use picket_origin::store::{Backend, DatabaseUrl, IssueQuery, PoolSettings, SqlStore, Store};
use picket_origin::worker::process_batch;
use tempfile::TempDir;

/// A fresh database of `backend` (kept alive by the returned directory for SQLite).
fn fresh(backend: Backend) -> (DatabaseUrl, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => DatabaseUrl::sqlite_file(&dir.path().join("picket.db")),
        Backend::Postgres => crate::postgres::server().fresh_database("store").parse().unwrap(),
    };
    (url, dir)
}

/// Runs one statement on its own connection, around the store (what another program would do).
async fn execute(url: &DatabaseUrl, sql: &'static str) {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url.as_str()).await.unwrap();
    c.execute(sql).await.unwrap();
    c.close().await.unwrap();
}

async fn open(url: &DatabaseUrl) -> Arc<SqlStore> {
    Arc::new(SqlStore::open(url, PoolSettings::default_for(url.backend())).await.unwrap())
}

/// Two handles on one new database with the bootstrap project; its id.
async fn two_handles(backend: Backend) -> (Arc<SqlStore>, Arc<SqlStore>, i64, DatabaseUrl, TempDir) {
    let (url, dir) = fresh(backend);
    let a = open(&url).await;
    let boot = a.bootstrap("acme", "web", "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5", "tok").await.unwrap().unwrap();
    let b = open(&url).await;
    (a, b, boot.project_id, url, dir)
}

/// An envelope with one error event (`message`, event id `id`, user `user`).
fn envelope(project_id: i64, id: &str, message: &str, user: &str) -> AcceptedEnvelope {
    let event = serde_json::json!({ "event_id": id, "message": message, "level": "error", "user": { "id": user } });
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n").into_bytes();
    let received_ms = chrono::Utc::now().timestamp_millis();
    AcceptedEnvelope { project_id, event_id: Some(id.to_string()), received_ms, client_ip: None, body }
}

fn event_id(n: usize) -> String {
    format!("{n:032x}")
}

const LEASE_MS: i64 = 5_000;

on_both_stores! {
    async fn leases_are_disjoint_and_pass_on_when_they_run_out(api) {
        let (a, b, project, _url, _dir) = two_handles(api.store.backend()).await;
        for n in 0..10 {
            a.accept(envelope(project, &event_id(n), "leased", "u")).await.unwrap();
        }
        let now = chrono::Utc::now().timestamp_millis();
        let first = a.claim(4, now, LEASE_MS).await.unwrap();
        let second = b.claim(100, now, LEASE_MS).await.unwrap();
        assert_eq!((first.len(), second.len()), (4, 6), "each envelope is leased to one worker");
        assert!(first.iter().all(|p| second.iter().all(|q| q.id != p.id)));
        assert!(a.claim(100, now + 1, LEASE_MS).await.unwrap().is_empty(), "everything is leased");
        // The first worker finishes; the second dies. Its envelopes go to whoever asks after its lease.
        a.complete(process_batch(&first)).await.unwrap();
        let later = a.claim(100, now + LEASE_MS, LEASE_MS).await.unwrap();
        assert_eq!(later.len(), 6, "a dead worker's envelopes are taken again once its lease ran out");
        a.complete(process_batch(&later)).await.unwrap();
        assert_eq!(a.pending_count().await.unwrap(), 0);
        assert_eq!(b.events(project, 0, 100).await.unwrap().len(), 10);
    }

    async fn an_envelope_is_committed_once_however_often_it_is_processed(api) {
        let (a, b, project, _url, _dir) = two_handles(api.store.backend()).await;
        a.accept(envelope(project, &event_id(1), "twice", "u")).await.unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let slow = a.claim(10, now, LEASE_MS).await.unwrap();
        // The slow worker outlives its lease; another takes the envelope and commits first.
        let fast = b.claim(10, now + LEASE_MS, LEASE_MS).await.unwrap();
        assert_eq!((slow.len(), fast.len()), (1, 1));
        b.complete(process_batch(&fast)).await.unwrap();
        a.complete(process_batch(&slow)).await.unwrap();
        let issues = a.issues(project, &IssueQuery { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].times_seen, 1, "the second commit of one envelope adds nothing");
        let totals = a.outcome_totals(1, 0, i64::MAX, 86_400_000).await.unwrap();
        let accepted: u64 = totals.iter().filter(|t| t.outcome == "accepted").map(|t| t.quantity).sum();
        assert_eq!(accepted, 1, "one accepted outcome for the one event: {totals:?}");
    }

    async fn concurrent_writers_count_every_event_and_user_exactly(api) {
        let (a, b, project, _url, _dir) = two_handles(api.store.backend()).await;
        const EVENTS: usize = 120;
        for n in 0..EVENTS {
            // 40 distinct users, and every event id twice: once in each of two envelopes.
            let e = envelope(project, &event_id(n), "contended", &format!("user-{}", n % 40));
            a.accept(e.clone()).await.unwrap();
            b.accept(e).await.unwrap();
        }
        // Eight workers over two handles commit one-envelope batches at once.
        let mut workers = Vec::new();
        for w in 0..8 {
            let store = if w % 2 == 0 { a.clone() } else { b.clone() };
            workers.push(tokio::spawn(async move {
                loop {
                    let now = chrono::Utc::now().timestamp_millis();
                    let batch = store.claim(3, now, 60_000).await.unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    store.complete(process_batch(&batch)).await.unwrap();
                }
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        let issues = b.issues(project, &IssueQuery { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(issues.len(), 1, "one group: {issues:?}");
        assert_eq!(issues[0].times_seen, EVENTS as i64, "each event id counted once, none lost");
        assert_eq!(issues[0].user_count, 40);
        assert_eq!(a.events(project, 0, 1_000).await.unwrap().len(), EVENTS);
        assert_eq!(issues[0].short_id_number, 1, "the group was made once");
    }

    async fn used_signatures_are_shared_and_survive_a_reopen(api) {
        let (a, b, _project, url, _dir) = two_handles(api.store.backend()).await;
        let now = chrono::Utc::now().timestamp_millis();
        assert!(a.first_use("sig-1", now + 360_000, now).await.unwrap());
        assert!(!b.first_use("sig-1", now + 360_000, now).await.unwrap(), "another process refuses the replay");
        a.close().await;
        let reopened = open(&url).await;
        assert!(!reopened.first_use("sig-1", now + 360_000, now + 1).await.unwrap(), "and so does a restart");
        assert!(reopened.first_use("sig-2", now + 360_000, now).await.unwrap());
        // Past its expiry a signature is forgotten (its age alone refuses it at the door).
        assert!(reopened.first_use("sig-1", now + 800_000, now + 400_000).await.unwrap());
    }

    async fn quota_counters_are_shared_and_exact_under_concurrency(api) {
        let (a, b, _project, _url, _dir) = two_handles(api.store.backend()).await;
        let check = |shard: &str| Check { shard: shard.into(), window_end: 4_000_000_000, quantity: 1, limit: 50 };
        let mut asks = Vec::new();
        for n in 0..100 {
            let store = if n % 2 == 0 { a.clone() } else { b.clone() };
            let checks = vec![check("q:project:1"), check("q:key:7")];
            asks.push(tokio::spawn(async move { store.consume_quotas(&checks).await.unwrap() }));
        }
        let mut allowed = [0, 0];
        for ask in asks {
            let answers = ask.await.unwrap();
            for (i, ok) in answers.into_iter().enumerate() {
                allowed[i] += usize::from(ok);
            }
        }
        assert_eq!(allowed, [50, 50], "exactly the limit, across both handles");
        let over = Check { shard: "q:big".into(), window_end: 4_000_000_000, quantity: u64::MAX, limit: u64::MAX };
        assert_eq!(a.consume_quotas(&[over]).await.unwrap(), vec![false], "a total past i64 is refused, not wrapped");
    }

    async fn a_schema_newer_than_this_build_is_refused(api) {
        let (a, _b, _project, url, _dir) = two_handles(api.store.backend()).await;
        let sql = match url.backend() {
            Backend::Sqlite => "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, X'00', 0)",
            Backend::Postgres => "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
        };
        execute(&url, sql).await;
        drop(a);
        let refused = SqlStore::open(&url, PoolSettings::default_for(url.backend())).await.err().expect("refused");
        let message = refused.to_string();
        assert!(message.contains("schema version 9999") && message.contains("newer"), "{message}");
    }
}

/// A database made before migrations existed (the same tables, no `_sqlx_migrations`) keeps
/// its data and is brought up to date.
#[tokio::test]
async fn a_database_from_before_migrations_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("picket.db");
    {
        let url = DatabaseUrl::sqlite_file(&path);
        let store = open(&url).await;
        store.bootstrap("old", "web", "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5", "tok").await.unwrap().unwrap();
        // What an origin before migrations left: the first schema, no bookkeeping, no later columns.
        store.close().await;
        for sql in [
            "DROP TABLE _sqlx_migrations",
            "DROP TABLE edge_signatures",
            "DROP TABLE quota_counters",
            "ALTER TABLE envelopes DROP COLUMN claimed_until",
            // Migration 3 (people).
            "DROP TABLE sign_in_attempts",
            "DROP TABLE user_tokens",
            "DROP TABLE sessions",
            "DROP TABLE memberships",
            "DROP TABLE users",
        ] {
            execute(&url, sql).await;
        }
    }
    let store = open(&DatabaseUrl::sqlite_file(&path)).await;
    assert!(store.organization("old").await.unwrap().is_some(), "the data is kept");
    let now = chrono::Utc::now().timestamp_millis();
    assert!(store.first_use("sig", now + 1_000, now).await.unwrap(), "the new tables exist");
}
