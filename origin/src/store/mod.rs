//! Storage behind one trait: organizations, projects, keys, tokens, accepted envelopes,
//! events and issues, and the state several origin processes share (queue leases, used edge
//! signatures, quota counters). One implementation over sqlx serves SQLite (the embedded
//! default) and PostgreSQL, each with its own versioned migrations.

mod batch;
mod complete;
mod db;
mod items;
mod pages;
mod people;
mod reads;
mod rows;
mod shared;
mod sql;
mod state;
mod updates;

use async_trait::async_trait;
use picket::core::config::ProjectState;
use picket::core::limit::Check;

pub use crate::model::*;

pub use db::{Backend, DatabaseUrl, PoolSettings};
pub use people::TOUCH_EVERY_MS;
pub use sql::SqlStore;
pub use updates::{FilterChange, KeyChanges, KeyRef, ProjectChanges, ScrubChanges};

/// Storage errors are internal errors to the API.
pub type StoreResult<T> = anyhow::Result<T>;

/// Everything the origin persists.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The project state for a DSN public key, in Relay's shape.
    async fn project_state(&self, public_key: &str) -> StoreResult<Option<ProjectState>>;
    /// Stores an accepted envelope durably for processing. Every envelope is kept: the event
    /// item in it is stored once per event id when it is processed, not the envelope.
    async fn accept(&self, envelope: AcceptedEnvelope) -> StoreResult<()>;
    /// Stores accepted envelopes durably in one transaction (one fsync): all of them or, on
    /// failure, none. The group commit's write.
    async fn accept_batch(&self, batch: &[AcceptedEnvelope]) -> StoreResult<()>;
    /// Leases up to `limit` envelopes not processed yet (oldest first) to the caller for
    /// `lease_ms`: no other worker, in this process or another, takes them until the lease runs
    /// out, which is how a dead worker's envelopes reach a live one.
    async fn claim(&self, limit: usize, now_ms: i64, lease_ms: i64) -> StoreResult<Vec<PendingEnvelope>>;
    /// How many envelopes wait for processing.
    async fn pending_count(&self) -> StoreResult<usize>;
    /// How many envelopes wait for processing and when the oldest of them was received (Unix ms).
    async fn queue_stats(&self) -> StoreResult<(usize, Option<i64>)>;
    /// Commits what processing made of a batch of envelopes (events, issues, drops) and marks
    /// them processed, in one transaction; an envelope already committed (by a worker whose lease
    /// it outlived) is skipped, so each is committed once.
    async fn complete(&self, batch: Vec<Completed>) -> StoreResult<()>;
    /// Records an edge signature until `expires_ms`; false if it was recorded before, by any
    /// origin process sharing this store, before or after a restart.
    async fn first_use(&self, signature: &str, expires_ms: i64, now_ms: i64) -> StoreResult<bool>;
    /// Answers quota checks for direct traffic, each in order, counting what is allowed, with
    /// counters shared by every origin process on this store.
    async fn consume_quotas(&self, checks: &[Check]) -> StoreResult<Vec<bool>>;
    /// The organization an API token (by SHA-256 hex digest) belongs to.
    async fn token_organization(&self, token_sha256: &str) -> StoreResult<Option<Organization>>;
    async fn organization(&self, slug: &str) -> StoreResult<Option<Organization>>;
    async fn project(&self, organization_id: i64, slug: &str) -> StoreResult<Option<Project>>;
    /// An organization's projects.
    async fn projects(&self, organization_id: i64) -> StoreResult<Vec<Project>>;
    /// A project's DSN keys.
    async fn keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>>;
    /// Adds a DSN key to a project.
    async fn create_key(&self, project_id: i64, label: &str, public_key: &str) -> StoreResult<ProjectKey>;
    /// Creates an organization (slug = name); `None` if the slug is taken.
    async fn create_organization(&self, slug: &str) -> StoreResult<Option<Organization>>;
    /// Creates a project in an organization; `None` if the slug is taken there.
    async fn create_project(&self, organization_id: i64, slug: &str) -> StoreResult<Option<Project>>;
    /// Stores an API token (by its SHA-256 hex digest) for an organization.
    async fn create_token(&self, organization_id: i64, token_sha256: &str) -> StoreResult<()>;
    /// An organization's or a project's quota objects.
    async fn quotas(&self, owner: QuotaOwner) -> StoreResult<Vec<Quota>>;
    async fn set_quotas(&self, owner: QuotaOwner, quotas: &[Quota]) -> StoreResult<()>;
    /// A DSN key by its numeric id or public key, in any project.
    async fn find_key(&self, key: KeyRef) -> StoreResult<Option<ProjectKey>>;
    /// Changes a DSN key (name, active, rate limit) in one transaction; the key as it is then.
    async fn update_key(&self, key_id: i64, changes: &KeyChanges) -> StoreResult<Option<ProjectKey>>;
    /// Deletes a DSN key; whether it existed. Ingest refuses it from then on.
    async fn delete_key(&self, key_id: i64) -> StoreResult<bool>;
    /// Records dropped data, each outcome with its project, in one transaction.
    async fn record_outcomes(&self, timestamp_ms: i64, outcomes: &[(i64, Outcome)]) -> StoreResult<()>;
    /// Sums of dropped quantity per project, outcome, category, reason and interval, for an
    /// organization's projects in `[from_ms, to_ms)`.
    async fn outcome_totals(
        &self,
        organization_id: i64,
        from_ms: i64,
        to_ms: i64,
        interval_ms: i64,
    ) -> StoreResult<Vec<OutcomeTotal>>;
    /// A project's inbound filters.
    async fn filter_settings(&self, project_id: i64) -> StoreResult<FilterSettings>;
    /// Changes a project's settings (domains, retention, scrubbing, filters) in one transaction.
    async fn update_project(&self, project_id: i64, changes: &ProjectChanges) -> StoreResult<()>;
    /// Deletes what is older than each project's retention at `now_ms`: events, issues last
    /// seen before it, and processed envelopes received before it.
    async fn sweep(&self, now_ms: i64) -> StoreResult<Swept>;
    async fn issues(&self, project_id: i64, query: &IssueQuery) -> StoreResult<Vec<Issue>>;
    /// Sets the status of the selected issues of a project; returns how many changed.
    async fn set_issue_status(
        &self,
        project_id: i64,
        which: &IssueSelection,
        status: IssueStatus,
    ) -> StoreResult<usize>;
    /// One issue of an organization, with its project.
    async fn issue(&self, organization_id: i64, issue_id: i64) -> StoreResult<Option<(Issue, Project)>>;
    /// An issue's events, newest first.
    async fn issue_events(&self, issue_id: i64, offset: usize, limit: usize) -> StoreResult<Vec<Event>>;
    async fn events(&self, project_id: i64, offset: usize, limit: usize) -> StoreResult<Vec<Event>>;
    async fn event(&self, project_id: i64, event_id: &str) -> StoreResult<Option<Event>>;
    /// An event's attachments, oldest first (without their bytes).
    async fn attachments(&self, project_id: i64, event_id: &str) -> StoreResult<Vec<Attachment>>;
    /// One attachment of an event, with its bytes.
    async fn attachment(&self, project_id: i64, event_id: &str, id: i64) -> StoreResult<Option<(Attachment, Vec<u8>)>>;
    /// A project's user reports, newest first.
    async fn user_reports(&self, project_id: i64, offset: usize, limit: usize) -> StoreResult<Vec<UserReport>>;
    /// Issues of an organization's projects (or only `project_id`'s), newest activity first:
    /// the web UI's issue list, in one query.
    async fn organization_issues(
        &self,
        organization_id: i64,
        project_id: Option<i64>,
        query: &IssueQuery,
    ) -> StoreResult<Vec<Issue>>;
    /// `(issue id, bucket start, events)` for the issues in `ids` with events (by event time)
    /// in `[from_ms, to_ms)`, in `bucket_ms` buckets from `from_ms`; empty buckets are absent.
    async fn issue_event_counts(
        &self,
        ids: &[i64],
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> StoreResult<Vec<(i64, i64, u64)>>;
    /// What users said about one event, newest first.
    async fn event_user_reports(&self, project_id: i64, event_id: &str) -> StoreResult<Vec<UserReport>>;
    /// The ids of the events just older and just newer than this one in its issue.
    async fn neighbour_events(&self, project_id: i64, event_id: &str) -> StoreResult<(Option<String>, Option<String>)>;
    /// Sets the status of the issues in `ids` that belong to the organization, in one
    /// transaction; how many changed (other organizations' ids change nothing).
    async fn set_organization_issue_status(
        &self,
        organization_id: i64,
        ids: &[i64],
        status: IssueStatus,
    ) -> StoreResult<usize>;
    /// Creates the first organization, project, key and token when the store is empty.
    /// The caller supplies the DSN key and the token; returns `None` if anything existed.
    async fn bootstrap(
        &self,
        organization: &str,
        project: &str,
        public_key: &str,
        token: &str,
    ) -> StoreResult<Option<Bootstrap>>;
    /// Trusts (or re-keys) the edge with this Relay id.
    async fn trust_edge(&self, edge: &TrustedEdge) -> StoreResult<()>;
    /// The trusted edge with this Relay id.
    async fn trusted_edge(&self, relay_id: &str) -> StoreResult<Option<TrustedEdge>>;
    async fn trusted_edges(&self) -> StoreResult<Vec<TrustedEdge>>;

    // People: users, memberships, sessions, personal tokens, sign-in attempts.

    /// Creates a user (email stored lowercased) with an Argon2id PHC string and, in the same
    /// transaction, their membership `(organization id, role)`; `None` if the email is taken.
    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        member_of: Option<(i64, Role)>,
    ) -> StoreResult<Option<User>>;
    /// A user with their password hash, by email in any case.
    async fn user_credentials(&self, email: &str) -> StoreResult<Option<UserCredentials>>;
    async fn user(&self, id: i64) -> StoreResult<Option<User>>;
    /// Replaces a user's password hash and ends every session of theirs, in one transaction;
    /// whether the user exists.
    async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<bool>;
    /// Adds a user to an organization with a role, or changes their role there.
    async fn set_membership(&self, user_id: i64, organization_id: i64, role: Role) -> StoreResult<()>;
    /// Every organization a user belongs to, by slug.
    async fn memberships(&self, user_id: i64) -> StoreResult<Vec<Membership>>;
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    /// A session by the SHA-256 hex of its token, if it has not expired at `now_ms`.
    async fn session(&self, id_sha256: &str, now_ms: i64) -> StoreResult<Option<Session>>;
    /// Records `now_ms` as a session's last use (written at most once per [`TOUCH_EVERY_MS`]).
    async fn touch_session(&self, id_sha256: &str, now_ms: i64) -> StoreResult<()>;
    /// Ends a session; whether it existed.
    async fn delete_session(&self, id_sha256: &str) -> StoreResult<bool>;
    /// Stores a personal API token (by its SHA-256 hex digest) for a user.
    async fn create_user_token(&self, user_id: i64, name: &str, token_sha256: &str) -> StoreResult<UserToken>;
    /// A user's personal tokens, newest first.
    async fn user_tokens(&self, user_id: i64) -> StoreResult<Vec<UserToken>>;
    /// Deletes one of a user's personal tokens; whether it was theirs and existed.
    async fn delete_user_token(&self, user_id: i64, token_id: i64) -> StoreResult<bool>;
    /// The user a personal token (by SHA-256 hex digest) belongs to, recording its use.
    async fn token_user(&self, token_sha256: &str, now_ms: i64) -> StoreResult<Option<User>>;
    /// Counts one sign-in attempt under every `(scope, limit)` in the window ending at
    /// `window_end_ms` if none has reached its limit; false, counting nothing, if one has.
    /// Shared by every origin process on this store.
    async fn try_sign_in_attempt(&self, scopes: &[(String, i64)], window_end_ms: i64) -> StoreResult<bool>;
    /// Takes back one attempt under each scope (the sign-in succeeded).
    async fn forgive_sign_in_attempt(&self, scopes: &[String], window_end_ms: i64) -> StoreResult<()>;
}
