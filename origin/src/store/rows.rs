//! Row mapping (column lists and row readers) and the writes every backend shares: recording
//! outcomes, and finding or creating an event's issue under the project row's lock (the
//! worker's batch commit, `complete.rs`, stores and counts the events).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::db::{big, flag_column, json_column};
use super::{Event, Issue, NewEvent, Organization, Outcome, Project, ProjectKey, TrustedEdge};

pub const KEY_COLUMNS: &str =
    "id, project_id, public_key, label, is_active, date_created, rate_limit_window, rate_limit_count";

pub fn key_row(r: &AnyRow) -> sqlx::Result<ProjectKey> {
    let window: Option<i64> = r.try_get(6)?;
    let count: Option<i64> = r.try_get(7)?;
    Ok(ProjectKey {
        id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        public_key: r.try_get(2)?,
        label: r.try_get(3)?,
        is_active: flag_column(r, 4)?,
        date_created_ms: r.try_get(5)?,
        rate_limit: window.zip(count).map(|(w, c)| (w.max(0) as u64, c.max(0) as u64)),
    })
}

pub const ORGANIZATION_COLUMNS: &str = "id, slug, name, date_created";

pub fn organization_row(row: &AnyRow) -> sqlx::Result<Organization> {
    Ok(Organization {
        id: row.try_get(0)?,
        slug: row.try_get(1)?,
        name: row.try_get(2)?,
        date_created_ms: row.try_get(3)?,
    })
}

pub fn edge_row(r: &AnyRow) -> sqlx::Result<TrustedEdge> {
    Ok(TrustedEdge { relay_id: r.try_get(0)?, public_key: r.try_get(1)?, name: r.try_get(2)? })
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

pub fn project_row(r: &AnyRow, at: usize) -> sqlx::Result<Project> {
    Ok(Project {
        id: r.try_get(at)?,
        organization_id: r.try_get(at + 1)?,
        slug: r.try_get(at + 2)?,
        name: r.try_get(at + 3)?,
        platform: r.try_get(at + 4)?,
        date_created_ms: r.try_get(at + 5)?,
        allowed_domains: serde_json::from_value(json_column(r, at + 6)?).unwrap_or_default(),
        event_retention_days: r.try_get(at + 7)?,
        scrubbing: serde_json::from_value(json_column(r, at + 8)?).unwrap_or_default(),
    })
}

pub fn issue_row(row: &AnyRow) -> sqlx::Result<Issue> {
    Ok(Issue {
        id: row.try_get(0)?,
        project_id: row.try_get(1)?,
        short_id_number: row.try_get(2)?,
        title: row.try_get(3)?,
        culprit: row.try_get(4)?,
        level: row.try_get(5)?,
        status: row.try_get(6)?,
        event_type: row.try_get(7)?,
        platform: row.try_get(8)?,
        metadata: json_column(row, 9)?,
        times_seen: row.try_get(10)?,
        user_count: row.try_get(11)?,
        first_seen_ms: row.try_get(12)?,
        last_seen_ms: row.try_get(13)?,
        substatus: row.try_get(14)?,
        user_report_count: row.try_get(15)?,
    })
}

pub const EVENT_COLUMNS: &str = "event_id, project_id, issue_id, timestamp, received, title, culprit, message, \
     platform, event_type, metadata, payload";

pub fn event_row(row: &AnyRow) -> sqlx::Result<Event> {
    Ok(Event {
        event_id: row.try_get(0)?,
        project_id: row.try_get(1)?,
        issue_id: row.try_get(2)?,
        timestamp_ms: row.try_get(3)?,
        received_ms: row.try_get(4)?,
        title: row.try_get(5)?,
        culprit: row.try_get(6)?,
        message: row.try_get(7)?,
        platform: row.try_get(8)?,
        event_type: row.try_get(9)?,
        metadata: json_column(row, 10)?,
        payload: json_column(row, 11)?,
    })
}

/// Records outcomes of a project at `timestamp_ms`, as the core typed them.
pub async fn insert_outcomes(
    c: &mut AnyConnection,
    project_id: i64,
    timestamp_ms: i64,
    outcomes: &[Outcome],
) -> sqlx::Result<()> {
    for o in outcomes {
        sqlx::query(
            "INSERT INTO outcomes (project_id, timestamp, outcome, category, reason, quantity) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(project_id)
        .bind(timestamp_ms)
        .bind(o.kind.name())
        .bind(o.category.name())
        .bind(o.reason.clone())
        .bind(big(o.quantity)?)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// The issue of `ev`'s group, created (uncounted) on first sight. Creating takes the project
/// row's lock first, so two writers never hand out one short id twice or make the group twice.
pub(super) async fn issue_for(c: &mut AnyConnection, project_id: i64, ev: &NewEvent) -> sqlx::Result<i64> {
    let find = || {
        sqlx::query_scalar::<_, i64>("SELECT id FROM issues WHERE project_id = $1 AND group_hash = $2")
            .bind(project_id)
            .bind(ev.group_hash.clone())
    };
    if let Some(id) = find().fetch_optional(&mut *c).await? {
        return Ok(id);
    }
    let short_id: i64 = sqlx::query_scalar(
        "UPDATE projects SET next_short_id = next_short_id + 1 WHERE id = $1 RETURNING next_short_id - 1",
    )
    .bind(project_id)
    .fetch_one(&mut *c)
    .await?;
    // Another writer may have made the group while this one waited for the project's lock;
    // then the short id just taken is given back, still under that lock.
    if let Some(id) = find().fetch_optional(&mut *c).await? {
        sqlx::query("UPDATE projects SET next_short_id = next_short_id - 1 WHERE id = $1")
            .bind(project_id)
            .execute(&mut *c)
            .await?;
        return Ok(id);
    }
    sqlx::query_scalar(
        "INSERT INTO issues (project_id, short_id, group_hash, title, culprit, level, event_type, platform, \
         metadata, times_seen, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10) \
         RETURNING id",
    )
    .bind(project_id)
    .bind(short_id)
    .bind(ev.group_hash.clone())
    .bind(ev.title.clone())
    .bind(ev.culprit.clone())
    .bind(ev.level.clone())
    .bind(ev.event_type.clone())
    .bind(ev.platform.clone())
    .bind(ev.metadata.to_string())
    .bind(ev.timestamp_ms)
    .fetch_one(&mut *c)
    .await
}
