//! Reads and writes the web pages need beyond the API's: an organization's issues across its
//! projects (one query), hourly event counts for a page of issues (one query), an event's user
//! reports, an event's older and newer neighbours in its issue, and status changes by issue id
//! across an organization. Same SQL on both backends.

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::db::{big, Backend};
use super::rows::{issue_row, ISSUE_COLUMNS};
use super::{Issue, IssueQuery, IssueStatus, StoreResult, UserReport};

/// Issues of an organization's projects (or one of them), newest activity first.
pub async fn organization_issues(
    c: &mut AnyConnection,
    backend: Backend,
    organization_id: i64,
    project_id: Option<i64>,
    query: &IssueQuery,
) -> StoreResult<Vec<Issue>> {
    let mut sql = format!(
        "SELECT {ISSUE_COLUMNS} FROM issues i JOIN projects p ON p.id = i.project_id WHERE p.organization_id = $1"
    );
    let texts = super::reads::issue_filters(&mut sql, backend, query);
    let mut n = texts.len() + 1;
    if project_id.is_some() {
        n += 1;
        sql.push_str(&format!(" AND i.project_id = ${n}"));
    }
    sql.push_str(&format!(" ORDER BY i.last_seen DESC, i.id DESC LIMIT ${} OFFSET ${}", n + 1, n + 2));
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(organization_id);
    for text in texts {
        q = q.bind(text);
    }
    if let Some(id) = project_id {
        q = q.bind(id);
    }
    let rows = q.bind(big(query.limit)?).bind(big(query.offset)?).fetch_all(&mut *c).await?;
    Ok(rows.iter().map(issue_row).collect::<sqlx::Result<_>>()?)
}

/// `(issue id, bucket start, events)` for the issues in `ids` with events (by event time) in
/// `[from_ms, to_ms)`, in buckets of `bucket_ms` starting at `from_ms`; empty buckets are absent.
pub async fn issue_event_counts(
    c: &mut AnyConnection,
    ids: &[i64],
    from_ms: i64,
    to_ms: i64,
    bucket_ms: i64,
) -> StoreResult<Vec<(i64, i64, u64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "SELECT issue_id, $1 + ((timestamp - $1) / $3) * $3 AS bucket, COUNT(*) FROM events \
         WHERE timestamp >= $1 AND timestamp < $2 AND issue_id IN ({}) GROUP BY issue_id, bucket ORDER BY issue_id, bucket",
        list.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(from_ms).bind(to_ms).bind(bucket_ms.max(1));
    for id in ids {
        q = q.bind(*id);
    }
    let rows = q.fetch_all(&mut *c).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get::<i64, _>(2)?.max(0) as u64)))
        .collect::<sqlx::Result<_>>()
        .map_err(Into::into)
}

/// What users said about one event, newest first.
pub async fn event_user_reports(
    c: &mut AnyConnection,
    project_id: i64,
    event_id: &str,
) -> StoreResult<Vec<UserReport>> {
    let rows = sqlx::query(
        "SELECT id, event_id, name, email, comments, received FROM user_reports \
         WHERE project_id = $1 AND event_id = $2 ORDER BY received DESC, id DESC",
    )
    .bind(project_id)
    .bind(event_id.to_string())
    .fetch_all(&mut *c)
    .await?;
    Ok(rows.iter().map(|r| super::items::user_report_row(r, None)).collect::<sqlx::Result<_>>()?)
}

/// The event ids just older and just newer than `event_id` in its issue, in the order issue
/// event lists use (received, then storage order).
pub async fn neighbour_events(
    c: &mut AnyConnection,
    project_id: i64,
    event_id: &str,
) -> StoreResult<(Option<String>, Option<String>)> {
    let row = sqlx::query("SELECT id, issue_id, received FROM events WHERE project_id = $1 AND event_id = $2")
        .bind(project_id)
        .bind(event_id.to_string())
        .fetch_optional(&mut *c)
        .await?;
    let Some(row) = row else { return Ok((None, None)) };
    let (id, issue_id, received): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let older = sqlx::query_scalar::<_, String>(
        "SELECT event_id FROM events WHERE issue_id = $1 AND (received < $2 OR (received = $2 AND id < $3)) \
         ORDER BY received DESC, id DESC LIMIT 1",
    )
    .bind(issue_id)
    .bind(received)
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    let newer = sqlx::query_scalar::<_, String>(
        "SELECT event_id FROM events WHERE issue_id = $1 AND (received > $2 OR (received = $2 AND id > $3)) \
         ORDER BY received ASC, id ASC LIMIT 1",
    )
    .bind(issue_id)
    .bind(received)
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    Ok((older, newer))
}

/// Sets the status of the issues in `ids` that belong to the organization's projects; how
/// many changed. Ids of other organizations are left alone.
pub async fn set_organization_issue_status(
    tx: &mut AnyConnection,
    organization_id: i64,
    ids: &[i64],
    status: IssueStatus,
) -> sqlx::Result<usize> {
    let mut changed = 0;
    for id in ids {
        changed += sqlx::query(
            "UPDATE issues SET status = $1, \
             substatus = CASE WHEN $1 = 'unresolved' THEN 'ongoing' ELSE substatus END \
             WHERE id = $3 AND project_id IN (SELECT id FROM projects WHERE organization_id = $2)",
        )
        .bind(status.as_str())
        .bind(organization_id)
        .bind(*id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    Ok(usize::try_from(changed).unwrap_or(usize::MAX))
}
