//! The worker's commit of a processed batch in few round trips: the batch's envelopes marked
//! processed in one statement (those another worker committed first are skipped whole), the
//! events already stored found in one query per project, each issue looked up once and counted
//! once per batch, and the outcomes written many rows per statement. The result is the same as
//! committing the envelopes one by one, in order.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{AnyConnection, AssertSqlSafe};

use super::batch::row_placeholders;
use super::db::big;
use super::rows::issue_for;
use super::{Completed, NewEvent, Outcome};

/// Rows per multi-row `INSERT` of outcomes (6 parameters each).
const OUTCOMES_PER_INSERT: usize = 100;

/// What a batch adds to one issue: as many `UPDATE`s, one per event in order, would.
struct IssueDelta {
    events: i64,
    /// The last event's level.
    level: String,
    first_ms: i64,
    last_ms: i64,
}

/// Commits what processing made of a batch, each envelope once.
pub async fn complete(tx: &mut AnyConnection, batch: &[Completed]) -> sqlx::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut mark = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
        "UPDATE envelopes SET processed = 1 WHERE processed = 0 AND id IN ({}) RETURNING id",
        (1..=batch.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
    )));
    for done in batch {
        mark = mark.bind(done.id);
    }
    let mine: HashSet<i64> = mark.fetch_all(&mut *tx).await?.into_iter().collect();
    let batch: Vec<&Completed> = batch.iter().filter(|d| mine.contains(&d.id)).collect();
    let mut seen = stored_events(tx, &batch).await?;
    let mut issues: HashMap<(i64, String), i64> = HashMap::new();
    // By issue id, so concurrent workers lock issues in one order.
    let mut deltas: BTreeMap<i64, IssueDelta> = BTreeMap::new();
    let mut users: HashSet<(i64, String)> = HashSet::new();
    let mut outcomes: Vec<(i64, i64, &Outcome)> = Vec::new();
    for done in &batch {
        let (project_id, at) = (done.project_id, done.received_ms);
        for ev in &done.processed.events {
            // An event id stored before adds nothing, not even an outcome: its item has one.
            if !seen.insert((project_id, ev.event_id.clone())) {
                continue;
            }
            let issue_id = match issues.get(&(project_id, ev.group_hash.clone())) {
                Some(id) => *id,
                None => {
                    let id = issue_for(tx, project_id, ev).await?;
                    issues.insert((project_id, ev.group_hash.clone()), id);
                    id
                }
            };
            if !insert_event(tx, project_id, at, issue_id, ev).await? {
                continue;
            }
            let delta = deltas.entry(issue_id).or_insert_with(|| IssueDelta {
                events: 0,
                level: String::new(),
                first_ms: ev.timestamp_ms,
                last_ms: ev.timestamp_ms,
            });
            delta.events += 1;
            delta.level = ev.level.clone();
            delta.first_ms = delta.first_ms.min(ev.timestamp_ms);
            delta.last_ms = delta.last_ms.max(ev.timestamp_ms);
            if let Some(user) = &ev.user_ident {
                users.insert((issue_id, user.clone()));
            }
            outcomes.extend(ev.accepted.iter().map(|o| (project_id, at, o)));
        }
        super::items::insert(tx, project_id, at, &done.processed).await?;
        outcomes.extend(done.processed.outcomes.iter().map(|o| (project_id, at, o)));
    }
    for (issue_id, delta) in deltas {
        count_on_issue(tx, issue_id, &delta).await?;
    }
    for (issue_id, user) in users {
        sqlx::query("INSERT INTO issue_users (issue_id, user_ident) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(issue_id)
            .bind(user)
            .execute(&mut *tx)
            .await?;
    }
    insert_outcomes(tx, &outcomes).await
}

/// `(project id, event id)` of the batch's events already stored, one query per project.
async fn stored_events(tx: &mut AnyConnection, batch: &[&Completed]) -> sqlx::Result<HashSet<(i64, String)>> {
    let mut by_project: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for done in batch {
        let ids = by_project.entry(done.project_id).or_default();
        ids.extend(done.processed.events.iter().map(|e| e.event_id.as_str()));
    }
    let mut seen = HashSet::new();
    for (project_id, ids) in by_project.into_iter().filter(|(_, ids)| !ids.is_empty()) {
        let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(format!(
            "SELECT event_id FROM events WHERE project_id = $1 AND event_id IN ({})",
            (2..ids.len() + 2).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
        )))
        .bind(project_id);
        for id in ids {
            query = query.bind(id.to_string());
        }
        seen.extend(query.fetch_all(&mut *tx).await?.into_iter().map(|id| (project_id, id)));
    }
    Ok(seen)
}

/// Stores one event on its issue; whether it was new (a second writer of the same id waits
/// on the unique index and then adds nothing).
async fn insert_event(
    tx: &mut AnyConnection,
    project_id: i64,
    received_ms: i64,
    issue_id: i64,
    ev: &NewEvent,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO events (project_id, event_id, issue_id, timestamp, received, title, culprit, message, platform, \
         event_type, metadata, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (project_id, event_id) DO NOTHING",
    )
    .bind(project_id)
    .bind(ev.event_id.clone())
    .bind(issue_id)
    .bind(ev.timestamp_ms)
    .bind(received_ms)
    .bind(ev.title.clone())
    .bind(ev.culprit.clone())
    .bind(ev.message.clone())
    .bind(ev.platform.clone())
    .bind(ev.event_type.clone())
    .bind(ev.metadata.to_string())
    .bind(ev.payload.to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

/// Counts a batch's events on their issue, as one `UPDATE` per event would: a new event on a
/// resolved issue is a regression, a second event makes a new issue ongoing, ignored issues
/// stay ignored.
async fn count_on_issue(tx: &mut AnyConnection, issue_id: i64, d: &IssueDelta) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE issues SET times_seen = times_seen + $2, level = $3, \
         first_seen = CASE WHEN $4 < first_seen THEN $4 ELSE first_seen END, \
         last_seen = CASE WHEN $5 > last_seen THEN $5 ELSE last_seen END, \
         substatus = CASE WHEN status = 'resolved' THEN 'regressed' \
                          WHEN substatus = 'new' AND times_seen + $2 > 1 THEN 'ongoing' ELSE substatus END, \
         status = CASE WHEN status = 'resolved' THEN 'unresolved' ELSE status END \
         WHERE id = $1",
    )
    .bind(issue_id)
    .bind(d.events)
    .bind(d.level.clone())
    .bind(d.first_ms)
    .bind(d.last_ms)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records `(project id, timestamp, outcome)`s, many rows per statement.
async fn insert_outcomes(tx: &mut AnyConnection, outcomes: &[(i64, i64, &Outcome)]) -> sqlx::Result<()> {
    for chunk in outcomes.chunks(OUTCOMES_PER_INSERT) {
        let mut query = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO outcomes (project_id, timestamp, outcome, category, reason, quantity) VALUES {}",
            row_placeholders(chunk.len(), 6)
        )));
        for (project_id, at, o) in chunk {
            query = query
                .bind(*project_id)
                .bind(*at)
                .bind(o.kind.name())
                .bind(o.category.name())
                .bind(o.reason.clone())
                .bind(big(o.quantity)?);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}
