//! What comes with an event besides the event: attachments (by event id, whichever arrives
//! first; the same file twice is kept once) and user reports (one per event, the latest wins),
//! written in the worker's transaction and read back for the API.

use sha1::{Digest, Sha1};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::db::big;
use super::rows::insert_outcomes;
use super::{Attachment, Processed, UserReport};

/// Stores the attachments and user reports of one processed envelope, in the caller's
/// transaction, with the `accepted` outcomes of each one that is new.
pub async fn insert(
    c: &mut AnyConnection,
    project_id: i64,
    received_ms: i64,
    processed: &Processed,
) -> sqlx::Result<()> {
    for a in &processed.attachments {
        let sha1 = hex(&Sha1::digest(&a.body));
        let inserted = sqlx::query(
            "INSERT INTO attachments \
             (project_id, event_id, name, content_type, attachment_type, size, sha1, received, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(project_id)
        .bind(a.event_id.clone())
        .bind(a.name.clone())
        .bind(a.content_type.clone())
        .bind(a.attachment_type.clone())
        .bind(big(a.body.len())?)
        .bind(sha1)
        .bind(received_ms)
        .bind(a.body.clone())
        .execute(&mut *c)
        .await?
        .rows_affected();
        if inserted > 0 {
            insert_outcomes(c, project_id, received_ms, &a.accepted).await?;
        }
    }
    for r in &processed.reports {
        sqlx::query(
            "INSERT INTO user_reports (project_id, event_id, name, email, comments, received) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (project_id, event_id) DO UPDATE SET name = $3, email = $4, comments = $5, received = $6",
        )
        .bind(project_id)
        .bind(r.event_id.clone())
        .bind(r.name.clone())
        .bind(r.email.clone())
        .bind(r.comments.clone())
        .bind(received_ms)
        .execute(&mut *c)
        .await?;
        insert_outcomes(c, project_id, received_ms, &r.accepted).await?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const ATTACHMENT_COLUMNS: &str = "id, event_id, name, content_type, attachment_type, size, sha1, received";

fn attachment_row(r: &AnyRow) -> sqlx::Result<Attachment> {
    Ok(Attachment {
        id: r.try_get(0)?,
        event_id: r.try_get(1)?,
        name: r.try_get(2)?,
        content_type: r.try_get(3)?,
        attachment_type: r.try_get(4)?,
        size: r.try_get(5)?,
        sha1: r.try_get(6)?,
        received_ms: r.try_get(7)?,
    })
}

pub async fn attachments(c: &mut AnyConnection, project_id: i64, event_id: &str) -> sqlx::Result<Vec<Attachment>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE project_id = $1 AND event_id = $2 ORDER BY id"
    )))
    .bind(project_id)
    .bind(event_id.to_string())
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(attachment_row).collect()
}

pub async fn attachment(
    c: &mut AnyConnection,
    project_id: i64,
    event_id: &str,
    id: i64,
) -> sqlx::Result<Option<(Attachment, Vec<u8>)>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ATTACHMENT_COLUMNS}, body FROM attachments WHERE project_id = $1 AND event_id = $2 AND id = $3"
    )))
    .bind(project_id)
    .bind(event_id.to_string())
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    row.map(|r| Ok((attachment_row(&r)?, r.try_get(8)?))).transpose()
}

pub async fn user_reports(
    c: &mut AnyConnection,
    project_id: i64,
    offset: usize,
    limit: usize,
) -> sqlx::Result<Vec<UserReport>> {
    let rows = sqlx::query(
        "SELECT r.id, r.event_id, r.name, r.email, r.comments, r.received, i.id, i.short_id, i.title \
         FROM user_reports r \
         LEFT JOIN events e ON e.project_id = r.project_id AND e.event_id = r.event_id \
         LEFT JOIN issues i ON i.id = e.issue_id \
         WHERE r.project_id = $1 ORDER BY r.received DESC, r.id DESC LIMIT $2 OFFSET $3",
    )
    .bind(project_id)
    .bind(big(limit)?)
    .bind(big(offset)?)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            let issue = match r.try_get::<Option<i64>, _>(6)? {
                Some(id) => Some((id, r.try_get(7)?, r.try_get(8)?)),
                None => None,
            };
            user_report_row(r, issue)
        })
        .collect()
}

/// A user report from a row whose first columns are `id, event_id, name, email, comments,
/// received`, with its issue as the caller found it.
pub fn user_report_row(r: &sqlx::any::AnyRow, issue: Option<(i64, i64, String)>) -> sqlx::Result<UserReport> {
    Ok(UserReport {
        id: r.try_get(0)?,
        event_id: r.try_get(1)?,
        name: r.try_get(2)?,
        email: r.try_get(3)?,
        comments: r.try_get(4)?,
        received_ms: r.try_get(5)?,
        issue,
    })
}
