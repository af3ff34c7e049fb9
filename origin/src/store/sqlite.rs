//! The SQLite store: one connection behind a mutex, used from blocking threads; WAL with
//! `synchronous=FULL`, so a commit is on disk before the origin answers.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use picket::core::config::ProjectState;
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::*;
use super::*;

/// A SQLite database file (or `:memory:`).
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies the schema.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(include_str!("schema.sql"))?;
        Ok(SqliteStore { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` with the connection on a blocking thread.
    async fn with<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard).map_err(anyhow::Error::from)
        })
        .await?
    }
}

/// The `SELECT` tail and id for an owner's quota list.
fn quota_column(owner: QuotaOwner) -> (&'static str, i64) {
    match owner {
        QuotaOwner::Organization(id) => ("quotas FROM organizations WHERE id = ?1", id),
        QuotaOwner::Project(id) => ("quotas FROM projects WHERE id = ?1", id),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn project_state(&self, public_key: &str) -> StoreResult<Option<ProjectState>> {
        let key = public_key.to_ascii_lowercase();
        self.with(move |c| super::state::project_state(c, &key)).await
    }

    async fn accept(&self, envelope: AcceptedEnvelope) -> StoreResult<()> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO envelopes (project_id, event_id, received, client_ip, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    envelope.project_id,
                    envelope.event_id,
                    envelope.received_ms,
                    envelope.client_ip,
                    envelope.body
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn pending(&self, limit: usize) -> StoreResult<Vec<PendingEnvelope>> {
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT e.id, e.project_id, e.event_id, e.received, e.client_ip, e.body, \
                 COALESCE(p.event_retention, 90), COALESCE(p.datascrubbing, '{}') \
                 FROM envelopes e LEFT JOIN projects p ON p.id = e.project_id \
                 WHERE e.processed = 0 ORDER BY e.id LIMIT ?1",
            )?;
            let rows = stmt.query_map(params![limit as i64], |r| {
                Ok(PendingEnvelope {
                    id: r.get(0)?,
                    envelope: AcceptedEnvelope {
                        project_id: r.get(1)?,
                        event_id: r.get(2)?,
                        received_ms: r.get(3)?,
                        client_ip: r.get(4)?,
                        body: r.get(5)?,
                    },
                    retention_days: r.get(6)?,
                    scrubbing: serde_json::from_value(json_column(r, 7)?).unwrap_or_default(),
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn pending_count(&self) -> StoreResult<usize> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM envelopes WHERE processed = 0", [], |r| r.get::<_, i64>(0)))
            .await
            .map(|n| n as usize)
    }

    async fn complete(&self, batch: Vec<Completed>) -> StoreResult<()> {
        self.with(move |c| {
            let tx = c.transaction()?;
            for done in &batch {
                let (project_id, at) = (done.project_id, done.received_ms);
                for ev in &done.processed.events {
                    // An event id stored before adds nothing, not even an outcome: its item has one.
                    if insert_event(&tx, project_id, at, ev)? {
                        insert_outcomes(&tx, project_id, at, &ev.accepted)?;
                    }
                }
                super::items::insert(&tx, project_id, at, &done.processed)?;
                insert_outcomes(&tx, project_id, at, &done.processed.outcomes)?;
                tx.execute("UPDATE envelopes SET processed = 1 WHERE id = ?1", params![done.id])?;
            }
            tx.commit()
        })
        .await
    }

    async fn token_organization(&self, token_sha256: &str) -> StoreResult<Option<Organization>> {
        let hash = token_sha256.to_string();
        self.with(move |c| {
            c.query_row(
                "SELECT o.id, o.slug, o.name, o.date_created FROM api_tokens t \
                 JOIN organizations o ON o.id = t.organization_id WHERE t.token_sha256 = ?1",
                params![hash],
                organization_row,
            )
            .optional()
        })
        .await
    }

    async fn organization(&self, slug: &str) -> StoreResult<Option<Organization>> {
        let slug = slug.to_string();
        self.with(move |c| {
            c.query_row(
                "SELECT id, slug, name, date_created FROM organizations WHERE slug = ?1",
                params![slug],
                organization_row,
            )
            .optional()
        })
        .await
    }

    async fn project(&self, organization_id: i64, slug: &str) -> StoreResult<Option<Project>> {
        let slug = slug.to_string();
        self.with(move |c| {
            c.query_row(
                &format!("SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.organization_id = ?1 AND p.slug = ?2"),
                params![organization_id, slug],
                |r| project_row(r, 0),
            )
            .optional()
        })
        .await
    }

    async fn projects(&self, organization_id: i64) -> StoreResult<Vec<Project>> {
        self.with(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.organization_id = ?1 ORDER BY p.id"
            ))?;
            let rows = stmt.query_map(params![organization_id], |r| project_row(r, 0))?;
            rows.collect()
        })
        .await
    }

    async fn keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>> {
        self.with(move |c| {
            let mut stmt =
                c.prepare(&format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = ?1 ORDER BY id"))?;
            let rows = stmt.query_map(params![project_id], key_row)?;
            rows.collect()
        })
        .await
    }

    async fn create_key(&self, project_id: i64, label: &str, public_key: &str) -> StoreResult<ProjectKey> {
        let (label, public_key) = (label.to_string(), public_key.to_string());
        let now = chrono::Utc::now().timestamp_millis();
        self.with(move |c| {
            c.query_row(
                &format!(
                    "INSERT INTO project_keys (project_id, public_key, label, date_created) VALUES (?1, ?2, ?3, ?4) \
                     RETURNING {KEY_COLUMNS}"
                ),
                params![project_id, public_key, label, now],
                key_row,
            )
        })
        .await
    }

    async fn create_organization(&self, slug: &str) -> StoreResult<Option<Organization>> {
        let slug = slug.to_string();
        let now = chrono::Utc::now().timestamp_millis();
        self.with(move |c| {
            c.query_row(
                "INSERT INTO organizations (slug, name, date_created) VALUES (?1, ?1, ?2) ON CONFLICT DO NOTHING \
                 RETURNING id, slug, name, date_created",
                params![slug, now],
                organization_row,
            )
            .optional()
        })
        .await
    }

    async fn create_project(&self, organization_id: i64, slug: &str) -> StoreResult<Option<Project>> {
        let slug = slug.to_string();
        let now = chrono::Utc::now().timestamp_millis();
        self.with(move |c| {
            c.query_row(
                "INSERT INTO projects (organization_id, slug, name, date_created) VALUES (?1, ?2, ?2, ?3) \
                 ON CONFLICT DO NOTHING \
                 RETURNING id, organization_id, slug, name, platform, date_created, allowed_domains, event_retention, \
                 datascrubbing",
                params![organization_id, slug, now],
                |r| project_row(r, 0),
            )
            .optional()
        })
        .await
    }

    async fn create_token(&self, organization_id: i64, token_sha256: &str) -> StoreResult<()> {
        let hash = token_sha256.to_string();
        let now = chrono::Utc::now().timestamp_millis();
        self.with(move |c| {
            c.execute(
                "INSERT INTO api_tokens (organization_id, token_sha256, date_created) VALUES (?1, ?2, ?3)",
                params![organization_id, hash, now],
            )
            .map(|_| ())
        })
        .await
    }

    async fn quotas(&self, owner: QuotaOwner) -> StoreResult<Vec<Quota>> {
        let (sql, id) = quota_column(owner);
        let list: Value =
            self.with(move |c| c.query_row(&format!("SELECT {sql}"), params![id], |r| json_column(r, 0))).await?;
        Ok(serde_json::from_value(list)?)
    }

    async fn set_quotas(&self, owner: QuotaOwner, quotas: &[Quota]) -> StoreResult<()> {
        let list = serde_json::to_string(quotas)?;
        let (table, id) = match owner {
            QuotaOwner::Organization(id) => ("organizations", id),
            QuotaOwner::Project(id) => ("projects", id),
        };
        self.with(move |c| {
            c.execute(&format!("UPDATE {table} SET quotas = ?2 WHERE id = ?1"), params![id, list]).map(|_| ())
        })
        .await
    }

    async fn find_key(&self, key: KeyRef) -> StoreResult<Option<ProjectKey>> {
        self.with(move |c| super::updates::find(c, key)).await
    }

    async fn update_key(&self, key_id: i64, changes: &KeyChanges) -> StoreResult<Option<ProjectKey>> {
        let changes = changes.clone();
        self.with(move |c| super::updates::update_key(c, key_id, &changes)).await
    }

    async fn delete_key(&self, key_id: i64) -> StoreResult<bool> {
        self.with(move |c| super::updates::delete_key(c, key_id)).await
    }

    async fn update_project(&self, project_id: i64, changes: &ProjectChanges) -> StoreResult<()> {
        let changes = changes.clone();
        self.with(move |c| super::updates::update_project(c, project_id, &changes)).await
    }

    async fn record_outcomes(&self, timestamp_ms: i64, outcomes: &[(i64, Outcome)]) -> StoreResult<()> {
        let outcomes = outcomes.to_vec();
        self.with(move |c| {
            let tx = c.transaction()?;
            for (project_id, o) in &outcomes {
                insert_outcomes(&tx, *project_id, timestamp_ms, std::slice::from_ref(o))?;
            }
            tx.commit()
        })
        .await
    }

    async fn outcome_totals(
        &self,
        organization_id: i64,
        from_ms: i64,
        to_ms: i64,
        interval_ms: i64,
    ) -> StoreResult<Vec<OutcomeTotal>> {
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT o.project_id, o.outcome, o.category, o.reason, ?2 + ((o.timestamp - ?2) / ?4) * ?4 AS bucket, \
                 SUM(o.quantity) FROM outcomes o JOIN projects p ON p.id = o.project_id \
                 WHERE p.organization_id = ?1 AND o.timestamp >= ?2 AND o.timestamp < ?3 \
                 GROUP BY o.project_id, o.outcome, o.category, o.reason, bucket ORDER BY bucket",
            )?;
            let rows = stmt.query_map(params![organization_id, from_ms, to_ms, interval_ms.max(1)], |r| {
                Ok(OutcomeTotal {
                    project_id: r.get(0)?,
                    outcome: r.get(1)?,
                    category: r.get(2)?,
                    reason: r.get(3)?,
                    bucket_ms: r.get(4)?,
                    quantity: r.get::<_, i64>(5)? as u64,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn filter_settings(&self, project_id: i64) -> StoreResult<FilterSettings> {
        let value: Value = self
            .with(move |c| {
                c.query_row("SELECT filters FROM projects WHERE id = ?1", params![project_id], |r| json_column(r, 0))
            })
            .await?;
        Ok(serde_json::from_value(value).unwrap_or_default())
    }

    async fn sweep(&self, now_ms: i64) -> StoreResult<Swept> {
        const DAY_MS: i64 = 86_400_000;
        self.with(move |c| {
            let tx = c.transaction()?;
            let cutoff =
                format!("(SELECT ?1 - event_retention * {DAY_MS} FROM projects WHERE projects.id = project_id)");
            let events = tx.execute(&format!("DELETE FROM events WHERE timestamp < {cutoff}"), params![now_ms])?;
            let issues = tx.execute(&format!("DELETE FROM issues WHERE last_seen < {cutoff}"), params![now_ms])?;
            tx.execute("DELETE FROM issue_users WHERE issue_id NOT IN (SELECT id FROM issues)", [])?;
            let envelopes = tx.execute(
                &format!("DELETE FROM envelopes WHERE processed = 1 AND received < {cutoff}"),
                params![now_ms],
            )?;
            tx.execute(&format!("DELETE FROM outcomes WHERE timestamp < {cutoff}"), params![now_ms])?;
            let attachments =
                tx.execute(&format!("DELETE FROM attachments WHERE received < {cutoff}"), params![now_ms])?;
            tx.execute(&format!("DELETE FROM user_reports WHERE received < {cutoff}"), params![now_ms])?;
            tx.commit()?;
            Ok(Swept { events, issues, envelopes, attachments })
        })
        .await
    }

    async fn trust_edge(&self, edge: &TrustedEdge) -> StoreResult<()> {
        let edge = edge.clone();
        let now = chrono::Utc::now().timestamp_millis();
        self.with(move |c| {
            c.execute(
                "INSERT INTO edges (relay_id, public_key, name, date_created) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (relay_id) DO UPDATE SET public_key = ?2, name = ?3",
                params![edge.relay_id, edge.public_key, edge.name, now],
            )
            .map(|_| ())
        })
        .await
    }

    async fn trusted_edge(&self, relay_id: &str) -> StoreResult<Option<TrustedEdge>> {
        let relay_id = relay_id.to_string();
        self.with(move |c| {
            c.query_row("SELECT relay_id, public_key, name FROM edges WHERE relay_id = ?1", [relay_id], edge_row)
                .optional()
        })
        .await
    }

    async fn trusted_edges(&self) -> StoreResult<Vec<TrustedEdge>> {
        self.with(|c| {
            c.prepare("SELECT relay_id, public_key, name FROM edges ORDER BY name")?.query_map([], edge_row)?.collect()
        })
        .await
    }

    async fn issues(&self, project_id: i64, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
        let query = query.clone();
        self.with(move |c| {
            let mut sql = format!("SELECT {ISSUE_COLUMNS} FROM issues i WHERE i.project_id = ?");
            let mut args: Vec<rusqlite::types::Value> = vec![project_id.into()];
            if let Some(status) = &query.status {
                sql.push_str(" AND i.status = ?");
                args.push(status.clone().into());
            }
            for word in &query.text {
                sql.push_str(" AND instr(lower(i.title), ?) > 0");
                args.push(word.to_lowercase().into());
            }
            sql.push_str(" ORDER BY i.last_seen DESC, i.id DESC LIMIT ? OFFSET ?");
            let mut stmt = c.prepare(&sql)?;
            // usize binds fail (rather than wrap) past i64::MAX.
            let paging: [&dyn rusqlite::ToSql; 2] = [&query.limit, &query.offset];
            let args = args.iter().map(|a| a as &dyn rusqlite::ToSql).chain(paging);
            let rows = stmt.query_map(rusqlite::params_from_iter(args), issue_row)?;
            rows.collect()
        })
        .await
    }

    async fn set_issue_status(
        &self,
        project_id: i64,
        which: &IssueSelection,
        status: IssueStatus,
    ) -> StoreResult<usize> {
        let which = which.clone();
        self.with(move |c| {
            let tx = c.transaction()?;
            let mut changed = 0;
            let set = "UPDATE issues SET status = ?1, \
                       substatus = CASE WHEN ?1 = 'unresolved' THEN 'ongoing' ELSE substatus END \
                       WHERE project_id = ?2";
            match which {
                IssueSelection::Ids(ids) => {
                    for id in ids {
                        changed +=
                            tx.execute(&format!("{set} AND id = ?3"), params![status.as_str(), project_id, id])?;
                    }
                }
                IssueSelection::WithStatus(from) => {
                    changed += tx.execute(
                        &format!("{set} AND status = ?3"),
                        params![status.as_str(), project_id, from.as_str()],
                    )?;
                }
                IssueSelection::All => changed += tx.execute(set, params![status.as_str(), project_id])?,
            }
            tx.commit()?;
            Ok(changed)
        })
        .await
    }

    async fn issue(&self, organization_id: i64, issue_id: i64) -> StoreResult<Option<(Issue, Project)>> {
        self.with(move |c| {
            c.query_row(
                &format!(
                    "SELECT {ISSUE_COLUMNS}, {PROJECT_COLUMNS} FROM issues i JOIN projects p ON p.id = i.project_id \
                     WHERE i.id = ?1 AND p.organization_id = ?2"
                ),
                params![issue_id, organization_id],
                |r| Ok((issue_row(r)?, project_row(r, ISSUE_COLUMN_COUNT)?)),
            )
            .optional()
        })
        .await
    }

    async fn issue_events(&self, issue_id: i64, offset: usize, limit: usize) -> StoreResult<Vec<Event>> {
        self.with(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE issue_id = ?1 ORDER BY received DESC, id DESC LIMIT ?2 OFFSET ?3"
            ))?;
            let rows = stmt.query_map(params![issue_id, limit, offset], event_row)?;
            rows.collect()
        })
        .await
    }

    async fn events(&self, project_id: i64, offset: usize, limit: usize) -> StoreResult<Vec<Event>> {
        self.with(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ?1 ORDER BY received DESC, id DESC LIMIT ?2 OFFSET ?3"
            ))?;
            let rows = stmt.query_map(params![project_id, limit, offset], event_row)?;
            rows.collect()
        })
        .await
    }

    async fn event(&self, project_id: i64, event_id: &str) -> StoreResult<Option<Event>> {
        let event_id = event_id.to_string();
        self.with(move |c| {
            c.query_row(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ?1 AND event_id = ?2"),
                params![project_id, event_id],
                event_row,
            )
            .optional()
        })
        .await
    }

    async fn attachments(&self, project_id: i64, event_id: &str) -> StoreResult<Vec<Attachment>> {
        let event_id = event_id.to_string();
        self.with(move |c| super::items::attachments(c, project_id, &event_id)).await
    }

    async fn attachment(&self, project_id: i64, event_id: &str, id: i64) -> StoreResult<Option<(Attachment, Vec<u8>)>> {
        let event_id = event_id.to_string();
        self.with(move |c| super::items::attachment(c, project_id, &event_id, id)).await
    }

    async fn user_reports(&self, project_id: i64, offset: usize, limit: usize) -> StoreResult<Vec<UserReport>> {
        self.with(move |c| super::items::user_reports(c, project_id, offset, limit)).await
    }

    async fn bootstrap(
        &self,
        organization: &str,
        project: &str,
        public_key: &str,
        token: &str,
    ) -> StoreResult<Option<Bootstrap>> {
        let (organization, project, public_key) =
            (organization.to_string(), project.to_string(), public_key.to_string());
        let (token, token_sha256) = (token.to_string(), crate::http::auth::token_digest(token));
        let now = chrono::Utc::now().timestamp_millis();
        self.with(move |c| {
            let tx = c.transaction()?;
            let count: i64 = tx.query_row("SELECT COUNT(*) FROM organizations", [], |r| r.get(0))?;
            if count > 0 {
                return Ok(None);
            }
            let org_id: i64 = tx.query_row(
                "INSERT INTO organizations (slug, name, date_created) VALUES (?1, ?1, ?2) RETURNING id",
                params![organization, now],
                |r| r.get(0),
            )?;
            let project_id: i64 = tx.query_row(
                "INSERT INTO projects (organization_id, slug, name, date_created) VALUES (?1, ?2, ?2, ?3) RETURNING id",
                params![org_id, project, now],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO project_keys (project_id, public_key, label, date_created) VALUES (?1, ?2, 'Default', ?3)",
                params![project_id, public_key, now],
            )?;
            tx.execute(
                "INSERT INTO api_tokens (organization_id, token_sha256, date_created) VALUES (?1, ?2, ?3)",
                params![org_id, token_sha256, now],
            )?;
            tx.commit()?;
            Ok(Some(Bootstrap { organization, project, project_id, public_key, token }))
        })
        .await
    }
}

fn edge_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrustedEdge> {
    Ok(TrustedEdge { relay_id: r.get(0)?, public_key: r.get(1)?, name: r.get(2)? })
}
