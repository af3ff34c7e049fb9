//! What comes with an event besides the event: attachments (by event id, whichever arrives
//! first; the same file twice is kept once) and user reports (one per event, the latest wins),
//! written in the worker's transaction and read back for the API.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use sha1::{Digest, Sha1};

use super::rows::insert_outcomes;
use super::{Attachment, Processed, UserReport};

/// Stores the attachments and user reports of one processed envelope, in `tx`, with the
/// `accepted` outcomes of each one that is new.
pub fn insert(tx: &Transaction, project_id: i64, received_ms: i64, processed: &Processed) -> rusqlite::Result<()> {
    for a in &processed.attachments {
        let sha1 = hex(&Sha1::digest(&a.body));
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO attachments \
             (project_id, event_id, name, content_type, attachment_type, size, sha1, received, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                project_id,
                a.event_id,
                a.name,
                a.content_type,
                a.attachment_type,
                i64::try_from(a.body.len()).unwrap_or(i64::MAX),
                sha1,
                received_ms,
                a.body
            ],
        )?;
        if inserted > 0 {
            insert_outcomes(tx, project_id, received_ms, &a.accepted)?;
        }
    }
    for r in &processed.reports {
        tx.execute(
            "INSERT INTO user_reports (project_id, event_id, name, email, comments, received) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (project_id, event_id) DO UPDATE SET name = ?3, email = ?4, comments = ?5, received = ?6",
            params![project_id, r.event_id, r.name, r.email, r.comments, received_ms],
        )?;
        insert_outcomes(tx, project_id, received_ms, &r.accepted)?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const ATTACHMENT_COLUMNS: &str = "id, event_id, name, content_type, attachment_type, size, sha1, received";

fn attachment_row(r: &Row) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        id: r.get(0)?,
        event_id: r.get(1)?,
        name: r.get(2)?,
        content_type: r.get(3)?,
        attachment_type: r.get(4)?,
        size: r.get(5)?,
        sha1: r.get(6)?,
        received_ms: r.get(7)?,
    })
}

pub fn attachments(c: &Connection, project_id: i64, event_id: &str) -> rusqlite::Result<Vec<Attachment>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE project_id = ?1 AND event_id = ?2 ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![project_id, event_id], attachment_row)?;
    rows.collect()
}

pub fn attachment(
    c: &Connection,
    project_id: i64,
    event_id: &str,
    id: i64,
) -> rusqlite::Result<Option<(Attachment, Vec<u8>)>> {
    c.query_row(
        &format!(
            "SELECT {ATTACHMENT_COLUMNS}, body FROM attachments WHERE project_id = ?1 AND event_id = ?2 AND id = ?3"
        ),
        params![project_id, event_id, id],
        |r| Ok((attachment_row(r)?, r.get(8)?)),
    )
    .optional()
}

pub fn user_reports(c: &Connection, project_id: i64, offset: usize, limit: usize) -> rusqlite::Result<Vec<UserReport>> {
    let mut stmt = c.prepare(
        "SELECT r.id, r.event_id, r.name, r.email, r.comments, r.received, i.id, i.short_id, i.title \
         FROM user_reports r \
         LEFT JOIN events e ON e.project_id = r.project_id AND e.event_id = r.event_id \
         LEFT JOIN issues i ON i.id = e.issue_id \
         WHERE r.project_id = ?1 ORDER BY r.received DESC, r.id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map(params![project_id, limit, offset], |r| {
        let issue = match r.get::<_, Option<i64>>(6)? {
            Some(id) => Some((id, r.get(7)?, r.get(8)?)),
            None => None,
        };
        Ok(UserReport {
            id: r.get(0)?,
            event_id: r.get(1)?,
            name: r.get(2)?,
            email: r.get(3)?,
            comments: r.get(4)?,
            received_ms: r.get(5)?,
            issue,
        })
    })?;
    rows.collect()
}
