//! The store over a sqlx pool, the same SQL for SQLite and PostgreSQL but where a backend needs
//! its own words (row locks, `BEGIN IMMEDIATE`). Every write that touches more than one row runs
//! in one transaction; transactions PostgreSQL aborts for a deadlock or serialization failure
//! (and SQLite's "database is locked") are run again, a bounded number of times.

use std::path::Path;

use async_trait::async_trait;
use picket::core::config::ProjectState;
use picket::core::limit::Check;
use sqlx::{Any, AnyConnection, AnyPool, AssertSqlSafe, Transaction};

use super::db::{self, json_column, Backend, DatabaseUrl, PoolSettings};
use super::rows::*;
use super::*;

/// How often a transaction that failed transiently is tried in all.
const ATTEMPTS: usize = 8;

/// Runs `$body` (a future over `$tx`, the transaction's connection) in a transaction and
/// commits it, again from the start after a transient failure.
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut attempt = 1;
        loop {
            let result: StoreResult<_> = async {
                let mut transaction = $store.begin().await?;
                let $tx: &mut AnyConnection = &mut transaction;
                let value = $body.await?;
                transaction.commit().await?;
                Ok(value)
            }
            .await;
            match result {
                Err(e) if attempt < ATTEMPTS && db::is_transient(&e) => {
                    tracing::debug!(error = %e, attempt, "transaction failed transiently; running it again");
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}

/// A database (SQLite file or PostgreSQL) behind a connection pool.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlStore {
    /// Opens the database at `url` and brings its schema up to date.
    pub async fn open(url: &DatabaseUrl, settings: PoolSettings) -> StoreResult<Self> {
        let pool = db::open(url, settings).await?;
        Ok(SqlStore { pool, backend: url.backend() })
    }

    /// Opens (creating if needed) the SQLite file at `path` with the default pool.
    pub async fn open_sqlite(path: &Path) -> StoreResult<Self> {
        let url = DatabaseUrl::sqlite_file(path);
        Self::open(&url, PoolSettings::default_for(Backend::Sqlite)).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Waits for queries in flight and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction: SQLite takes its write lock at `BEGIN`, so two writers never both
    /// read and then fail to upgrade.
    async fn begin(&self) -> sqlx::Result<Transaction<'static, Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// One connection from the pool, for reads and single statements.
    async fn conn(&self) -> StoreResult<sqlx::pool::PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }
}

/// The `SELECT` of an owner's quota list.
fn quota_column(owner: QuotaOwner) -> (&'static str, i64) {
    match owner {
        QuotaOwner::Organization(id) => ("organizations", id),
        QuotaOwner::Project(id) => ("projects", id),
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn project_state(&self, public_key: &str) -> StoreResult<Option<ProjectState>> {
        let key = public_key.to_ascii_lowercase();
        Ok(super::state::project_state(&mut *self.conn().await?, &key).await?)
    }

    async fn accept(&self, envelope: AcceptedEnvelope) -> StoreResult<()> {
        self.accept_batch(std::slice::from_ref(&envelope)).await
    }

    async fn accept_batch(&self, batch: &[AcceptedEnvelope]) -> StoreResult<()> {
        in_transaction!(self, |tx| super::batch::insert_envelopes(tx, batch))
    }

    async fn claim(&self, limit: usize, now_ms: i64, lease_ms: i64) -> StoreResult<Vec<PendingEnvelope>> {
        let until = now_ms.checked_add(lease_ms).ok_or_else(|| anyhow::anyhow!("a lease past the end of time"))?;
        let backend = self.backend;
        in_transaction!(self, |tx| super::shared::claim(tx, backend, limit, now_ms, until))
    }

    async fn pending_count(&self) -> StoreResult<usize> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM envelopes WHERE processed = 0").fetch_one(&self.pool).await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn queue_stats(&self) -> StoreResult<(usize, Option<i64>)> {
        Ok(super::batch::queue_stats(&mut *self.conn().await?).await?)
    }

    async fn complete(&self, batch: Vec<Completed>) -> StoreResult<()> {
        in_transaction!(self, |tx| super::complete::complete(tx, &batch))
    }

    async fn first_use(&self, signature: &str, expires_ms: i64, now_ms: i64) -> StoreResult<bool> {
        in_transaction!(self, |tx| super::shared::first_use(tx, signature, expires_ms, now_ms))
    }

    async fn consume_quotas(&self, checks: &[Check]) -> StoreResult<Vec<bool>> {
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backend;
        in_transaction!(self, |tx| super::shared::consume(tx, backend, checks))
    }

    async fn token_organization(&self, token_sha256: &str) -> StoreResult<Option<Organization>> {
        let row = sqlx::query(
            "SELECT o.id, o.slug, o.name, o.date_created FROM api_tokens t \
             JOIN organizations o ON o.id = t.organization_id WHERE t.token_sha256 = $1",
        )
        .bind(token_sha256.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(organization_row).transpose()?)
    }

    async fn organization(&self, slug: &str) -> StoreResult<Option<Organization>> {
        let row =
            sqlx::query(AssertSqlSafe(format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE slug = $1")))
                .bind(slug.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.as_ref().map(organization_row).transpose()?)
    }

    async fn project(&self, organization_id: i64, slug: &str) -> StoreResult<Option<Project>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.organization_id = $1 AND p.slug = $2"
        )))
        .bind(organization_id)
        .bind(slug.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| project_row(&r, 0)).transpose()?)
    }

    async fn projects(&self, organization_id: i64) -> StoreResult<Vec<Project>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.organization_id = $1 ORDER BY p.id"
        )))
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| project_row(r, 0)).collect::<sqlx::Result<_>>()?)
    }

    async fn keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = $1 ORDER BY id"
        )))
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(key_row).collect::<sqlx::Result<_>>()?)
    }

    async fn create_key(&self, project_id: i64, label: &str, public_key: &str) -> StoreResult<ProjectKey> {
        let now = chrono::Utc::now().timestamp_millis();
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO project_keys (project_id, public_key, label, date_created) VALUES ($1, $2, $3, $4) \
             RETURNING {KEY_COLUMNS}"
        )))
        .bind(project_id)
        .bind(public_key.to_string())
        .bind(label.to_string())
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(key_row(&row)?)
    }

    async fn create_organization(&self, slug: &str) -> StoreResult<Option<Organization>> {
        let now = chrono::Utc::now().timestamp_millis();
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO organizations (slug, name, date_created) VALUES ($1, $1, $2) ON CONFLICT DO NOTHING \
             RETURNING {ORGANIZATION_COLUMNS}"
        )))
        .bind(slug.to_string())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(organization_row).transpose()?)
    }

    async fn create_project(&self, organization_id: i64, slug: &str) -> StoreResult<Option<Project>> {
        let now = chrono::Utc::now().timestamp_millis();
        let row = sqlx::query(
            "INSERT INTO projects (organization_id, slug, name, date_created) VALUES ($1, $2, $2, $3) \
             ON CONFLICT DO NOTHING \
             RETURNING id, organization_id, slug, name, platform, date_created, allowed_domains, event_retention, \
             datascrubbing",
        )
        .bind(organization_id)
        .bind(slug.to_string())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| project_row(&r, 0)).transpose()?)
    }

    async fn create_token(&self, organization_id: i64, token_sha256: &str) -> StoreResult<()> {
        let now = chrono::Utc::now().timestamp_millis();
        sqlx::query("INSERT INTO api_tokens (organization_id, token_sha256, date_created) VALUES ($1, $2, $3)")
            .bind(organization_id)
            .bind(token_sha256.to_string())
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn quotas(&self, owner: QuotaOwner) -> StoreResult<Vec<Quota>> {
        let (table, id) = quota_column(owner);
        let row = sqlx::query(AssertSqlSafe(format!("SELECT quotas FROM {table} WHERE id = $1")))
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(serde_json::from_value(json_column(&row, 0)?)?)
    }

    async fn set_quotas(&self, owner: QuotaOwner, quotas: &[Quota]) -> StoreResult<()> {
        let list = serde_json::to_string(quotas)?;
        let (table, id) = quota_column(owner);
        sqlx::query(AssertSqlSafe(format!("UPDATE {table} SET quotas = $2 WHERE id = $1")))
            .bind(id)
            .bind(list)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn find_key(&self, key: KeyRef) -> StoreResult<Option<ProjectKey>> {
        Ok(super::updates::find(&mut *self.conn().await?, key).await?)
    }

    async fn update_key(&self, key_id: i64, changes: &KeyChanges) -> StoreResult<Option<ProjectKey>> {
        in_transaction!(self, |tx| super::updates::update_key(tx, key_id, changes))
    }

    async fn delete_key(&self, key_id: i64) -> StoreResult<bool> {
        Ok(super::updates::delete_key(&mut *self.conn().await?, key_id).await?)
    }

    async fn update_project(&self, project_id: i64, changes: &ProjectChanges) -> StoreResult<()> {
        in_transaction!(self, |tx| super::updates::update_project(tx, project_id, changes))
    }

    async fn record_outcomes(&self, timestamp_ms: i64, outcomes: &[(i64, Outcome)]) -> StoreResult<()> {
        in_transaction!(self, |tx| async {
            for (project_id, o) in outcomes {
                insert_outcomes(tx, *project_id, timestamp_ms, std::slice::from_ref(o)).await?;
            }
            Ok::<_, sqlx::Error>(())
        })
    }

    async fn outcome_totals(
        &self,
        organization_id: i64,
        from_ms: i64,
        to_ms: i64,
        interval_ms: i64,
    ) -> StoreResult<Vec<OutcomeTotal>> {
        super::reads::outcome_totals(&mut *self.conn().await?, organization_id, from_ms, to_ms, interval_ms).await
    }

    async fn filter_settings(&self, project_id: i64) -> StoreResult<FilterSettings> {
        let row =
            sqlx::query("SELECT filters FROM projects WHERE id = $1").bind(project_id).fetch_one(&self.pool).await?;
        Ok(serde_json::from_value(json_column(&row, 0)?).unwrap_or_default())
    }

    async fn sweep(&self, now_ms: i64) -> StoreResult<Swept> {
        in_transaction!(self, |tx| async {
            let swept = super::reads::sweep(tx, now_ms).await?;
            super::people::sweep(tx, now_ms).await?;
            Ok::<_, sqlx::Error>(swept)
        })
    }

    async fn trust_edge(&self, edge: &TrustedEdge) -> StoreResult<()> {
        let now = chrono::Utc::now().timestamp_millis();
        sqlx::query(
            "INSERT INTO edges (relay_id, public_key, name, date_created) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (relay_id) DO UPDATE SET public_key = excluded.public_key, name = excluded.name",
        )
        .bind(edge.relay_id.clone())
        .bind(edge.public_key.clone())
        .bind(edge.name.clone())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn trusted_edge(&self, relay_id: &str) -> StoreResult<Option<TrustedEdge>> {
        let row = sqlx::query("SELECT relay_id, public_key, name FROM edges WHERE relay_id = $1")
            .bind(relay_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(edge_row).transpose()?)
    }

    async fn trusted_edges(&self) -> StoreResult<Vec<TrustedEdge>> {
        let rows =
            sqlx::query("SELECT relay_id, public_key, name FROM edges ORDER BY name").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(edge_row).collect::<sqlx::Result<_>>()?)
    }

    async fn issues(&self, project_id: i64, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
        super::reads::issues(&mut *self.conn().await?, self.backend, project_id, query).await
    }

    async fn set_issue_status(
        &self,
        project_id: i64,
        which: &IssueSelection,
        status: IssueStatus,
    ) -> StoreResult<usize> {
        in_transaction!(self, |tx| super::reads::set_issue_status(tx, project_id, which, status))
    }

    async fn issue(&self, organization_id: i64, issue_id: i64) -> StoreResult<Option<(Issue, Project)>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ISSUE_COLUMNS}, {PROJECT_COLUMNS} FROM issues i JOIN projects p ON p.id = i.project_id \
             WHERE i.id = $1 AND p.organization_id = $2"
        )))
        .bind(issue_id)
        .bind(organization_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Ok::<_, sqlx::Error>((issue_row(&r)?, project_row(&r, ISSUE_COLUMN_COUNT)?))).transpose()?)
    }

    async fn issue_events(&self, issue_id: i64, offset: usize, limit: usize) -> StoreResult<Vec<Event>> {
        super::reads::events_where(&mut *self.conn().await?, "issue_id", issue_id, offset, limit).await
    }

    async fn events(&self, project_id: i64, offset: usize, limit: usize) -> StoreResult<Vec<Event>> {
        super::reads::events_where(&mut *self.conn().await?, "project_id", project_id, offset, limit).await
    }

    async fn event(&self, project_id: i64, event_id: &str) -> StoreResult<Option<Event>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE project_id = $1 AND event_id = $2"
        )))
        .bind(project_id)
        .bind(event_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(event_row).transpose()?)
    }

    async fn attachments(&self, project_id: i64, event_id: &str) -> StoreResult<Vec<Attachment>> {
        Ok(super::items::attachments(&mut *self.conn().await?, project_id, event_id).await?)
    }

    async fn attachment(&self, project_id: i64, event_id: &str, id: i64) -> StoreResult<Option<(Attachment, Vec<u8>)>> {
        Ok(super::items::attachment(&mut *self.conn().await?, project_id, event_id, id).await?)
    }

    async fn user_reports(&self, project_id: i64, offset: usize, limit: usize) -> StoreResult<Vec<UserReport>> {
        Ok(super::items::user_reports(&mut *self.conn().await?, project_id, offset, limit).await?)
    }

    async fn organization_issues(
        &self,
        organization_id: i64,
        project_id: Option<i64>,
        query: &IssueQuery,
    ) -> StoreResult<Vec<Issue>> {
        let c = &mut *self.conn().await?;
        super::pages::organization_issues(c, self.backend, organization_id, project_id, query).await
    }

    async fn issue_event_counts(
        &self,
        ids: &[i64],
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> StoreResult<Vec<(i64, i64, u64)>> {
        super::pages::issue_event_counts(&mut *self.conn().await?, ids, from_ms, to_ms, bucket_ms).await
    }

    async fn event_user_reports(&self, project_id: i64, event_id: &str) -> StoreResult<Vec<UserReport>> {
        super::pages::event_user_reports(&mut *self.conn().await?, project_id, event_id).await
    }

    async fn neighbour_events(&self, project_id: i64, event_id: &str) -> StoreResult<(Option<String>, Option<String>)> {
        super::pages::neighbour_events(&mut *self.conn().await?, project_id, event_id).await
    }

    async fn set_organization_issue_status(
        &self,
        organization_id: i64,
        ids: &[i64],
        status: IssueStatus,
    ) -> StoreResult<usize> {
        in_transaction!(self, |tx| super::pages::set_organization_issue_status(tx, organization_id, ids, status))
    }

    async fn bootstrap(
        &self,
        organization: &str,
        project: &str,
        public_key: &str,
        token: &str,
    ) -> StoreResult<Option<Bootstrap>> {
        let now = chrono::Utc::now().timestamp_millis();
        let token_sha256 = crate::ids::token_digest(token);
        let project_id = in_transaction!(self, |tx| async {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations").fetch_one(&mut *tx).await?;
            if count > 0 {
                return Ok::<_, sqlx::Error>(None);
            }
            // Two origins starting together on one empty database: the second finds the
            // organization taken and leaves everything to the first.
            let org_id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO organizations (slug, name, date_created) VALUES ($1, $1, $2) \
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(organization.to_string())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(org_id) = org_id else {
                return Ok::<_, sqlx::Error>(None);
            };
            let project_id: i64 = sqlx::query_scalar(
                "INSERT INTO projects (organization_id, slug, name, date_created) VALUES ($1, $2, $2, $3) \
                 RETURNING id",
            )
            .bind(org_id)
            .bind(project.to_string())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO project_keys (project_id, public_key, label, date_created) \
                 VALUES ($1, $2, 'Default', $3)",
            )
            .bind(project_id)
            .bind(public_key.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO api_tokens (organization_id, token_sha256, date_created) VALUES ($1, $2, $3)")
                .bind(org_id)
                .bind(token_sha256.clone())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            Ok(Some(project_id))
        })?;
        Ok(project_id.map(|project_id| Bootstrap {
            organization: organization.to_string(),
            project: project.to_string(),
            project_id,
            public_key: public_key.to_string(),
            token: token.to_string(),
        }))
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        member_of: Option<(i64, Role)>,
    ) -> StoreResult<Option<User>> {
        let now = chrono::Utc::now().timestamp_millis();
        in_transaction!(self, |tx| async {
            let user = super::people::create_user(tx, email, password_hash, now).await?;
            if let (Some(user), Some((org_id, role))) = (&user, member_of) {
                super::people::set_membership(tx, user.id, org_id, role, now).await?;
            }
            Ok::<_, sqlx::Error>(user)
        })
    }

    async fn user_credentials(&self, email: &str) -> StoreResult<Option<UserCredentials>> {
        Ok(super::people::user_credentials(&mut *self.conn().await?, email).await?)
    }

    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        Ok(super::people::user(&mut *self.conn().await?, id).await?)
    }

    async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<bool> {
        in_transaction!(self, |tx| super::people::set_password(tx, user_id, password_hash))
    }

    async fn set_membership(&self, user_id: i64, organization_id: i64, role: Role) -> StoreResult<()> {
        let now = chrono::Utc::now().timestamp_millis();
        in_transaction!(self, |tx| super::people::set_membership(tx, user_id, organization_id, role, now))
    }

    async fn memberships(&self, user_id: i64) -> StoreResult<Vec<Membership>> {
        Ok(super::people::memberships(&mut *self.conn().await?, user_id).await?)
    }

    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        Ok(super::people::create_session(&mut *self.conn().await?, session).await?)
    }

    async fn session(&self, id_sha256: &str, now_ms: i64) -> StoreResult<Option<Session>> {
        Ok(super::people::session(&mut *self.conn().await?, id_sha256, now_ms).await?)
    }

    async fn touch_session(&self, id_sha256: &str, now_ms: i64) -> StoreResult<()> {
        Ok(super::people::touch_session(&mut *self.conn().await?, id_sha256, now_ms).await?)
    }

    async fn delete_session(&self, id_sha256: &str) -> StoreResult<bool> {
        Ok(super::people::delete_session(&mut *self.conn().await?, id_sha256).await?)
    }

    async fn create_user_token(&self, user_id: i64, name: &str, token_sha256: &str) -> StoreResult<UserToken> {
        let now = chrono::Utc::now().timestamp_millis();
        Ok(super::people::create_user_token(&mut *self.conn().await?, user_id, name, token_sha256, now).await?)
    }

    async fn user_tokens(&self, user_id: i64) -> StoreResult<Vec<UserToken>> {
        Ok(super::people::user_tokens(&mut *self.conn().await?, user_id).await?)
    }

    async fn delete_user_token(&self, user_id: i64, token_id: i64) -> StoreResult<bool> {
        Ok(super::people::delete_user_token(&mut *self.conn().await?, user_id, token_id).await?)
    }

    async fn token_user(&self, token_sha256: &str, now_ms: i64) -> StoreResult<Option<User>> {
        Ok(super::people::token_user(&mut *self.conn().await?, token_sha256, now_ms).await?)
    }

    async fn try_sign_in_attempt(&self, scopes: &[(String, i64)], window_end_ms: i64) -> StoreResult<bool> {
        let backend = self.backend;
        in_transaction!(self, |tx| super::people::try_attempt(tx, backend, scopes, window_end_ms))
    }

    async fn forgive_sign_in_attempt(&self, scopes: &[String], window_end_ms: i64) -> StoreResult<()> {
        in_transaction!(self, |tx| super::people::forgive_attempt(tx, scopes, window_end_ms))
    }
}
