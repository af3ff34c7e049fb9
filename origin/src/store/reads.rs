//! The web API's lists (issues, events, outcome totals), issue status changes and the retention
//! sweep, in SQL both backends run (where they differ, the backend picks the words).

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::db::{big, Backend};
use super::rows::{event_row, issue_row, EVENT_COLUMNS, ISSUE_COLUMNS};
use super::{Event, Issue, IssueQuery, IssueSelection, IssueStatus, OutcomeTotal, StoreResult, Swept};

/// Appends `query`'s status and title words to `sql` (an issue `SELECT` aliasing `issues` as
/// `i` whose only placeholder so far is `$1`) as placeholders `$2`, `$3`, ...; the values to
/// bind to them, in order.
pub fn issue_filters(sql: &mut String, backend: Backend, query: &IssueQuery) -> Vec<String> {
    let mut texts = Vec::new();
    if let Some(status) = &query.status {
        texts.push(status.clone());
        sql.push_str(&format!(" AND i.status = ${}", texts.len() + 1));
    }
    let find = match backend {
        Backend::Sqlite => "instr",
        Backend::Postgres => "strpos",
    };
    for word in &query.text {
        texts.push(word.to_lowercase());
        sql.push_str(&format!(" AND {find}(lower(i.title), ${}) > 0", texts.len() + 1));
    }
    texts
}

pub async fn issues(
    c: &mut AnyConnection,
    backend: Backend,
    project_id: i64,
    query: &IssueQuery,
) -> StoreResult<Vec<Issue>> {
    let mut sql = format!("SELECT {ISSUE_COLUMNS} FROM issues i WHERE i.project_id = $1");
    let texts = issue_filters(&mut sql, backend, query);
    let n = texts.len() + 1;
    sql.push_str(&format!(" ORDER BY i.last_seen DESC, i.id DESC LIMIT ${} OFFSET ${}", n + 1, n + 2));
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(project_id);
    for text in texts {
        q = q.bind(text);
    }
    // Paging past what a BIGINT holds fails rather than wraps.
    let rows = q.bind(big(query.limit)?).bind(big(query.offset)?).fetch_all(&mut *c).await?;
    Ok(rows.iter().map(issue_row).collect::<sqlx::Result<_>>()?)
}

pub async fn set_issue_status(
    tx: &mut AnyConnection,
    project_id: i64,
    which: &IssueSelection,
    status: IssueStatus,
) -> sqlx::Result<usize> {
    let set = "UPDATE issues SET status = $1, \
               substatus = CASE WHEN $1 = 'unresolved' THEN 'ongoing' ELSE substatus END \
               WHERE project_id = $2";
    let mut changed = 0;
    match which {
        IssueSelection::Ids(ids) => {
            for id in ids {
                changed += sqlx::query(AssertSqlSafe(format!("{set} AND id = $3")))
                    .bind(status.as_str())
                    .bind(project_id)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
        }
        IssueSelection::WithStatus(from) => {
            changed += sqlx::query(AssertSqlSafe(format!("{set} AND status = $3")))
                .bind(status.as_str())
                .bind(project_id)
                .bind(from.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        IssueSelection::All => {
            changed += sqlx::query(set).bind(status.as_str()).bind(project_id).execute(&mut *tx).await?.rows_affected();
        }
    }
    Ok(usize::try_from(changed).unwrap_or(usize::MAX))
}

/// Events where `column` (`issue_id` or `project_id`) is `id`, newest first.
pub async fn events_where(
    c: &mut AnyConnection,
    column: &'static str,
    id: i64,
    offset: usize,
    limit: usize,
) -> StoreResult<Vec<Event>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE {column} = $1 ORDER BY received DESC, id DESC LIMIT $2 OFFSET $3"
    )))
    .bind(id)
    .bind(big(limit)?)
    .bind(big(offset)?)
    .fetch_all(&mut *c)
    .await?;
    Ok(rows.iter().map(event_row).collect::<sqlx::Result<_>>()?)
}

pub async fn outcome_totals(
    c: &mut AnyConnection,
    organization_id: i64,
    from_ms: i64,
    to_ms: i64,
    interval_ms: i64,
) -> StoreResult<Vec<OutcomeTotal>> {
    let rows = sqlx::query(
        "SELECT o.project_id, o.outcome, o.category, o.reason, $2 + ((o.timestamp - $2) / $4) * $4 AS bucket, \
         CAST(SUM(o.quantity) AS BIGINT) FROM outcomes o JOIN projects p ON p.id = o.project_id \
         WHERE p.organization_id = $1 AND o.timestamp >= $2 AND o.timestamp < $3 \
         GROUP BY o.project_id, o.outcome, o.category, o.reason, bucket ORDER BY bucket",
    )
    .bind(organization_id)
    .bind(from_ms)
    .bind(to_ms)
    .bind(interval_ms.max(1))
    .fetch_all(&mut *c)
    .await?;
    let total = |r: &sqlx::any::AnyRow| -> sqlx::Result<OutcomeTotal> {
        Ok(OutcomeTotal {
            project_id: r.try_get(0)?,
            outcome: r.try_get(1)?,
            category: r.try_get(2)?,
            reason: r.try_get(3)?,
            bucket_ms: r.try_get(4)?,
            quantity: r.try_get::<i64, _>(5)?.max(0) as u64,
        })
    };
    Ok(rows.iter().map(total).collect::<sqlx::Result<_>>()?)
}

/// Deletes what each project keeps no longer at `now_ms`, and shared state past its use.
pub async fn sweep(tx: &mut AnyConnection, now_ms: i64) -> sqlx::Result<Swept> {
    const DAY_MS: i64 = 86_400_000;
    let cutoff = format!("(SELECT $1 - event_retention * {DAY_MS} FROM projects WHERE projects.id = project_id)");
    let mut delete = async |sql: String| -> sqlx::Result<usize> {
        let n = sqlx::query(AssertSqlSafe(sql)).bind(now_ms).execute(&mut *tx).await?.rows_affected();
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    };
    let events = delete(format!("DELETE FROM events WHERE timestamp < {cutoff}")).await?;
    let issues = delete(format!("DELETE FROM issues WHERE last_seen < {cutoff}")).await?;
    let envelopes = delete(format!("DELETE FROM envelopes WHERE processed = 1 AND received < {cutoff}")).await?;
    delete(format!("DELETE FROM outcomes WHERE timestamp < {cutoff}")).await?;
    let attachments = delete(format!("DELETE FROM attachments WHERE received < {cutoff}")).await?;
    delete(format!("DELETE FROM user_reports WHERE received < {cutoff}")).await?;
    delete("DELETE FROM edge_signatures WHERE expires < $1".to_string()).await?;
    // Quota windows end in Unix seconds.
    delete("DELETE FROM quota_counters WHERE window_end * 1000 <= $1".to_string()).await?;
    sqlx::query("DELETE FROM issue_users WHERE issue_id NOT IN (SELECT id FROM issues)").execute(&mut *tx).await?;
    Ok(Swept { events, issues, envelopes, attachments })
}
