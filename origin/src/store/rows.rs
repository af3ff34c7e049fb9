//! SQLite row mapping (column lists and row readers) and the event insert that counts an event
//! on its issue, shared by the SQLite store's queries.

use rusqlite::{params, OptionalExtension, Row};
use serde_json::Value;

use super::{Event, Issue, NewEvent, Organization, Outcome, Project, ProjectKey};

pub fn json_column(row: &Row, index: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e)))
}

pub const KEY_COLUMNS: &str =
    "id, project_id, public_key, label, is_active, date_created, rate_limit_window, rate_limit_count";

pub fn key_row(r: &Row) -> rusqlite::Result<ProjectKey> {
    let window: Option<i64> = r.get(6)?;
    let count: Option<i64> = r.get(7)?;
    Ok(ProjectKey {
        id: r.get(0)?,
        project_id: r.get(1)?,
        public_key: r.get(2)?,
        label: r.get(3)?,
        is_active: r.get(4)?,
        date_created_ms: r.get(5)?,
        rate_limit: window.zip(count).map(|(w, c)| (w as u64, c as u64)),
    })
}

pub fn organization_row(row: &Row) -> rusqlite::Result<Organization> {
    Ok(Organization { id: row.get(0)?, slug: row.get(1)?, name: row.get(2)?, date_created_ms: row.get(3)? })
}

pub const ISSUE_COLUMNS: &str = "i.id, i.project_id, i.short_id, i.title, i.culprit, i.level, i.status, i.event_type, \
     i.platform, i.metadata, i.times_seen, \
     (SELECT COUNT(*) FROM issue_users u WHERE u.issue_id = i.id), i.first_seen, i.last_seen, i.substatus, \
     (SELECT COUNT(*) FROM user_reports r JOIN events e ON e.project_id = r.project_id AND e.event_id = r.event_id \
      WHERE e.issue_id = i.id)";

/// How many columns [`ISSUE_COLUMNS`] selects.
pub const ISSUE_COLUMN_COUNT: usize = 16;

pub const PROJECT_COLUMNS: &str = "p.id, p.organization_id, p.slug, p.name, p.platform, p.date_created, \
     p.allowed_domains, p.event_retention, p.datascrubbing";

pub fn project_row(r: &Row, at: usize) -> rusqlite::Result<Project> {
    Ok(Project {
        id: r.get(at)?,
        organization_id: r.get(at + 1)?,
        slug: r.get(at + 2)?,
        name: r.get(at + 3)?,
        platform: r.get(at + 4)?,
        date_created_ms: r.get(at + 5)?,
        allowed_domains: serde_json::from_value(json_column(r, at + 6)?).unwrap_or_default(),
        event_retention_days: r.get(at + 7)?,
        scrubbing: serde_json::from_value(json_column(r, at + 8)?).unwrap_or_default(),
    })
}

pub fn issue_row(row: &Row) -> rusqlite::Result<Issue> {
    Ok(Issue {
        id: row.get(0)?,
        project_id: row.get(1)?,
        short_id_number: row.get(2)?,
        title: row.get(3)?,
        culprit: row.get(4)?,
        level: row.get(5)?,
        status: row.get(6)?,
        event_type: row.get(7)?,
        platform: row.get(8)?,
        metadata: json_column(row, 9)?,
        times_seen: row.get(10)?,
        user_count: row.get(11)?,
        first_seen_ms: row.get(12)?,
        last_seen_ms: row.get(13)?,
        substatus: row.get(14)?,
        user_report_count: row.get(15)?,
    })
}

pub const EVENT_COLUMNS: &str = "event_id, project_id, issue_id, timestamp, received, title, culprit, message, \
     platform, event_type, metadata, payload";

pub fn event_row(row: &Row) -> rusqlite::Result<Event> {
    Ok(Event {
        event_id: row.get(0)?,
        project_id: row.get(1)?,
        issue_id: row.get(2)?,
        timestamp_ms: row.get(3)?,
        received_ms: row.get(4)?,
        title: row.get(5)?,
        culprit: row.get(6)?,
        message: row.get(7)?,
        platform: row.get(8)?,
        event_type: row.get(9)?,
        metadata: json_column(row, 10)?,
        payload: json_column(row, 11)?,
    })
}

/// Inserts one event and counts it on its issue (created on first sight).
/// Records outcomes of a project at `timestamp_ms`, as the core typed them.
pub fn insert_outcomes(
    tx: &rusqlite::Transaction,
    project_id: i64,
    timestamp_ms: i64,
    outcomes: &[Outcome],
) -> rusqlite::Result<()> {
    for o in outcomes {
        tx.execute(
            "INSERT INTO outcomes (project_id, timestamp, outcome, category, reason, quantity) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                project_id,
                timestamp_ms,
                o.kind.name(),
                o.category.name(),
                o.reason,
                i64::try_from(o.quantity).unwrap_or(i64::MAX)
            ],
        )?;
    }
    Ok(())
}

/// Stores an event and counts it on its issue; whether it was new (an event id is stored once).
pub fn insert_event(
    tx: &rusqlite::Transaction,
    project_id: i64,
    received_ms: i64,
    ev: &NewEvent,
) -> rusqlite::Result<bool> {
    let seen: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM events WHERE project_id = ?1 AND event_id = ?2",
            params![project_id, ev.event_id],
            |r| r.get(0),
        )
        .optional()?;
    if seen.is_some() {
        return Ok(false);
    }
    let metadata = ev.metadata.to_string();
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM issues WHERE project_id = ?1 AND group_hash = ?2",
            params![project_id, ev.group_hash],
            |r| r.get(0),
        )
        .optional()?;
    let issue_id =
        match existing {
            Some(id) => {
                // A new event on a resolved issue is a regression; ignored issues stay ignored.
                tx.execute(
                    "UPDATE issues SET times_seen = times_seen + 1, level = ?2, \
                     first_seen = MIN(first_seen, ?3), last_seen = MAX(last_seen, ?3), \
                     substatus = CASE WHEN status = 'resolved' THEN 'regressed' \
                                      WHEN substatus = 'new' THEN 'ongoing' ELSE substatus END, \
                     status = CASE WHEN status = 'resolved' THEN 'unresolved' ELSE status END \
                     WHERE id = ?1",
                    params![id, ev.level, ev.timestamp_ms],
                )?;
                id
            }
            None => {
                let short_id: i64 = tx.query_row(
                    "UPDATE projects SET next_short_id = next_short_id + 1 WHERE id = ?1 RETURNING next_short_id - 1",
                    params![project_id],
                    |r| r.get(0),
                )?;
                tx.query_row(
                "INSERT INTO issues (project_id, short_id, group_hash, title, culprit, level, event_type, platform, \
                 metadata, times_seen, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?10) \
                 RETURNING id",
                params![
                    project_id, short_id, ev.group_hash, ev.title, ev.culprit, ev.level, ev.event_type, ev.platform,
                    metadata, ev.timestamp_ms
                ],
                |r| r.get(0),
            )?
            }
        };
    if let Some(user) = &ev.user_ident {
        tx.execute(
            "INSERT OR IGNORE INTO issue_users (issue_id, user_ident) VALUES (?1, ?2)",
            params![issue_id, user],
        )?;
    }
    tx.execute(
        "INSERT INTO events (project_id, event_id, issue_id, timestamp, received, title, culprit, message, platform, \
         event_type, metadata, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            project_id,
            ev.event_id,
            issue_id,
            ev.timestamp_ms,
            received_ms,
            ev.title,
            ev.culprit,
            ev.message,
            ev.platform,
            ev.event_type,
            metadata,
            ev.payload.to_string()
        ],
    )?;
    Ok(true)
}
