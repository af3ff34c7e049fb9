//! What several origin processes share through the database, each exact under concurrent
//! writers: the processing queue (envelopes leased to one worker at a time, a dead worker's lease
//! expiring to another, each envelope committed once), edge signatures already used, and quota
//! counters for direct traffic.

use picket::core::limit::{try_consume, Check};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::db::{big, json_column, Backend};
use super::{AcceptedEnvelope, PendingEnvelope};

/// The row lock a backend takes on what a transaction reads and will change (SQLite's
/// `BEGIN IMMEDIATE` already holds the whole database).
fn lock_rows(backend: Backend, skip_locked: bool) -> &'static str {
    match (backend, skip_locked) {
        (Backend::Sqlite, _) => "",
        (Backend::Postgres, false) => " FOR UPDATE",
        (Backend::Postgres, true) => " FOR UPDATE SKIP LOCKED",
    }
}

/// `$first, $first+1, ...` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn pending_row(r: &AnyRow) -> sqlx::Result<PendingEnvelope> {
    Ok(PendingEnvelope {
        id: r.try_get(0)?,
        envelope: AcceptedEnvelope {
            project_id: r.try_get(1)?,
            event_id: r.try_get(2)?,
            received_ms: r.try_get(3)?,
            client_ip: r.try_get(4)?,
            body: r.try_get(5)?,
        },
        retention_days: r.try_get(6)?,
        scrubbing: serde_json::from_value(json_column(r, 7)?).unwrap_or_default(),
    })
}

/// Leases up to `limit` unprocessed envelopes whose lease (if any) ended by `now_ms`, until
/// `until_ms`, oldest first; other workers skip them (PostgreSQL's `SKIP LOCKED`; SQLite has
/// one writer at a time).
pub async fn claim(
    tx: &mut AnyConnection,
    backend: Backend,
    limit: usize,
    now_ms: i64,
    until_ms: i64,
) -> sqlx::Result<Vec<PendingEnvelope>> {
    let ids: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "UPDATE envelopes SET claimed_until = $1 WHERE id IN (SELECT id FROM envelopes \
         WHERE processed = 0 AND claimed_until <= $2 ORDER BY id LIMIT $3{}) RETURNING id",
        lock_rows(backend, true)
    )))
    .bind(until_ms)
    .bind(now_ms)
    .bind(big(limit)?)
    .fetch_all(&mut *tx)
    .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = sqlx::query(AssertSqlSafe(format!(
        "SELECT e.id, e.project_id, e.event_id, e.received, e.client_ip, e.body, \
         COALESCE(p.event_retention, 90), COALESCE(p.datascrubbing, '{{}}') \
         FROM envelopes e LEFT JOIN projects p ON p.id = e.project_id WHERE e.id IN ({}) ORDER BY e.id",
        placeholders(1, ids.len())
    )));
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(&mut *tx).await?.iter().map(pending_row).collect()
}

/// Records an edge signature until `expires_ms`; false if it was recorded before (a replay).
/// Signatures past their expiry are forgotten on the way: their age alone refuses them.
pub async fn first_use(tx: &mut AnyConnection, signature: &str, expires_ms: i64, now_ms: i64) -> sqlx::Result<bool> {
    sqlx::query("DELETE FROM edge_signatures WHERE expires < $1").bind(now_ms).execute(&mut *tx).await?;
    let inserted =
        sqlx::query("INSERT INTO edge_signatures (signature, expires) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(signature.to_string())
            .bind(expires_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    Ok(inserted == 1)
}

/// Answers each quota check in order with the core's counting rule, counting what is allowed;
/// every counter involved is locked first, in one order, so concurrent requests neither lose
/// counts nor deadlock.
pub async fn consume(tx: &mut AnyConnection, backend: Backend, checks: &[Check]) -> sqlx::Result<Vec<bool>> {
    let mut keys: Vec<(&str, i64)> =
        checks.iter().map(|c| Ok((c.shard.as_str(), big(c.window_end)?))).collect::<sqlx::Result<_>>()?;
    keys.sort_unstable();
    keys.dedup();
    let mut used = std::collections::HashMap::new();
    for (shard, window_end) in &keys {
        sqlx::query("INSERT INTO quota_counters (shard, window_end, used) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING")
            .bind(shard.to_string())
            .bind(*window_end)
            .execute(&mut *tx)
            .await?;
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT used FROM quota_counters WHERE shard = $1 AND window_end = $2{}",
            lock_rows(backend, false)
        )))
        .bind(shard.to_string())
        .bind(*window_end)
        .fetch_one(&mut *tx)
        .await?;
        let read = n.max(0) as u64;
        // (as read, as counted now)
        used.insert((*shard, *window_end), (read, read));
    }
    let mut answers = Vec::with_capacity(checks.len());
    for check in checks {
        let key = (check.shard.as_str(), big(check.window_end)?);
        let (_, slot) = used.get_mut(&key).expect("every check's counter was read");
        // A total past what a BIGINT holds is refused like one past the limit.
        match try_consume(*slot, check.quantity, check.limit).filter(|t| i64::try_from(*t).is_ok()) {
            Some(total) => {
                *slot = total;
                answers.push(true);
            }
            None => answers.push(false),
        }
    }
    // Only counters that counted something are written back.
    for ((shard, window_end), (_, n)) in used.into_iter().filter(|(_, (read, now))| read != now) {
        sqlx::query("UPDATE quota_counters SET used = $3 WHERE shard = $1 AND window_end = $2")
            .bind(shard.to_string())
            .bind(window_end)
            .bind(big(n)?)
            .execute(&mut *tx)
            .await?;
    }
    Ok(answers)
}
