//! Storage behind one trait: organizations, projects, keys, tokens, accepted envelopes,
//! events and issues. The SQLite implementation is the embedded default.

mod items;
mod rows;
mod sqlite;
mod state;
mod updates;

use async_trait::async_trait;
use picket::core::config::ProjectState;
use serde_json::Value;

pub use crate::process::scrub::ScrubSettings;
pub use picket::core::filter::FilterSettings;
pub use picket::core::outcome::Outcome;
pub use picket::core::quota::Quota;

pub use sqlite::SqliteStore;
pub use updates::{FilterChange, KeyChanges, KeyRef, ProjectChanges, ScrubChanges};

/// Storage errors are internal errors to the API.
pub type StoreResult<T> = anyhow::Result<T>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub date_created_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    pub organization_id: i64,
    pub slug: String,
    pub name: String,
    pub platform: Option<String>,
    pub allowed_domains: Vec<String>,
    /// Days events are kept.
    pub event_retention_days: i64,
    pub scrubbing: ScrubSettings,
    pub date_created_ms: i64,
}

/// What a retention sweep deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub events: usize,
    pub issues: usize,
    pub envelopes: usize,
    pub attachments: usize,
}

/// A DSN key of a project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectKey {
    pub id: i64,
    pub project_id: i64,
    pub public_key: String,
    pub label: String,
    pub is_active: bool,
    /// Sentry's DSN key rate limit: `(window seconds, count)`.
    pub rate_limit: Option<(u64, u64)>,
    pub date_created_ms: i64,
}

/// Who a quota list belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaOwner {
    Organization(i64),
    Project(i64),
}

/// One row of outcome statistics: a sum of dropped quantity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeTotal {
    pub project_id: i64,
    pub outcome: String,
    pub category: String,
    pub reason: String,
    /// Start of the interval (Unix milliseconds) the sum belongs to.
    pub bucket_ms: i64,
    pub quantity: u64,
}

/// An event after processing, ready to be stored and grouped.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event_id: String,
    pub timestamp_ms: i64,
    pub level: String,
    pub platform: Option<String>,
    pub title: String,
    pub culprit: String,
    pub message: String,
    /// Hex digest of the grouping components; equal hashes share an issue.
    pub group_hash: String,
    /// `error` or `default`, as Sentry types events.
    pub event_type: String,
    /// What issue lists show under `metadata` (`type`/`value`, or `title`).
    pub metadata: Value,
    /// Identifies the user for `userCount` (id, email, username or IP).
    pub user_ident: Option<String>,
    /// The event as stored and served.
    pub payload: Value,
    /// The `accepted` outcomes of the item it came from, recorded if it is new (an event id
    /// stored before adds nothing).
    pub accepted: Vec<Outcome>,
}

/// An envelope the core accepted, stored durably before the origin answers.
#[derive(Clone, Debug)]
pub struct AcceptedEnvelope {
    pub project_id: i64,
    /// The envelope's event id: the key that makes redelivery harmless.
    pub event_id: Option<String>,
    pub received_ms: i64,
    /// The client's address, which resolves `{{auto}}` IPs in processing.
    pub client_ip: Option<String>,
    pub body: Vec<u8>,
}

/// A stored envelope waiting for processing.
#[derive(Clone, Debug)]
pub struct PendingEnvelope {
    pub id: i64,
    pub envelope: AcceptedEnvelope,
    /// The project's retention in days, which bounds how old event timestamps may be.
    pub retention_days: i64,
    pub scrubbing: ScrubSettings,
}

/// One processed envelope, ready to commit.
#[derive(Clone, Debug)]
pub struct Completed {
    pub id: i64,
    pub project_id: i64,
    pub received_ms: i64,
    pub processed: Processed,
}

/// What processing made of one envelope.
#[derive(Clone, Debug, Default)]
pub struct Processed {
    pub events: Vec<NewEvent>,
    pub attachments: Vec<NewAttachment>,
    pub reports: Vec<NewUserReport>,
    /// One outcome for every other item: `accepted` for what stays in the stored envelope for
    /// the project's retention, or why it was dropped; client reports' own discards.
    pub outcomes: Vec<Outcome>,
}

/// A file that came with an event (an `attachment` item, minidumps included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttachment {
    pub event_id: String,
    pub name: String,
    pub content_type: String,
    /// Sentry's attachment type (`event.attachment`, `event.minidump`, ...).
    pub attachment_type: String,
    pub body: Vec<u8>,
    /// Recorded if the file is new for its event.
    pub accepted: Vec<Outcome>,
}

/// A stored attachment, without its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: i64,
    pub event_id: String,
    pub name: String,
    pub content_type: String,
    pub attachment_type: String,
    pub size: i64,
    pub sha1: String,
    pub received_ms: i64,
}

/// What a user said about an event (`user_report`, or a `feedback` item's message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUserReport {
    /// The event it is about (a feedback's own id when it names none).
    pub event_id: String,
    pub name: String,
    pub email: String,
    pub comments: String,
    pub accepted: Vec<Outcome>,
}

/// A stored user report, with the issue of its event when that event is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct UserReport {
    pub id: i64,
    pub event_id: String,
    pub name: String,
    pub email: String,
    pub comments: String,
    pub received_ms: i64,
    /// `(id, short id number, title)` of the event's issue.
    pub issue: Option<(i64, i64, String)>,
}

/// An issue's status, as Sentry's API names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueStatus {
    Unresolved,
    Resolved,
    Ignored,
}

impl IssueStatus {
    /// Parses Sentry's names (`archived` is the newer word for `ignored`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "unresolved" => Some(IssueStatus::Unresolved),
            "resolved" => Some(IssueStatus::Resolved),
            "ignored" | "archived" | "muted" => Some(IssueStatus::Ignored),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Unresolved => "unresolved",
            IssueStatus::Resolved => "resolved",
            IssueStatus::Ignored => "ignored",
        }
    }
}

/// Which issues a bulk update touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueSelection {
    Ids(Vec<i64>),
    WithStatus(IssueStatus),
    All,
}

/// Which issues to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssueQuery {
    /// `unresolved`, `resolved` or `ignored`; `None` lists all.
    pub status: Option<String>,
    /// Words that must all appear in the title (case-insensitive).
    pub text: Vec<String>,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    pub id: i64,
    pub project_id: i64,
    pub short_id_number: i64,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub status: String,
    pub substatus: String,
    pub event_type: String,
    pub platform: Option<String>,
    pub metadata: Value,
    pub times_seen: i64,
    pub user_count: i64,
    /// User reports about the issue's events.
    pub user_report_count: i64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub event_id: String,
    pub project_id: i64,
    pub issue_id: i64,
    pub timestamp_ms: i64,
    pub received_ms: i64,
    pub title: String,
    pub culprit: String,
    pub message: String,
    pub platform: Option<String>,
    pub event_type: String,
    pub metadata: Value,
    pub payload: Value,
}

/// What first start creates, handed back once so the operator can use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bootstrap {
    pub organization: String,
    pub project: String,
    pub project_id: i64,
    pub public_key: String,
    pub token: String,
}

/// An edge the origin trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedEdge {
    pub relay_id: String,
    pub public_key: String,
    pub name: String,
}

/// Everything the origin persists.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The project state for a DSN public key, in Relay's shape.
    async fn project_state(&self, public_key: &str) -> StoreResult<Option<ProjectState>>;
    /// Stores an accepted envelope durably for processing. Every envelope is kept: the event
    /// item in it is stored once per event id when it is processed, not the envelope.
    async fn accept(&self, envelope: AcceptedEnvelope) -> StoreResult<()>;
    /// Up to `limit` envelopes not processed yet, oldest first.
    async fn pending(&self, limit: usize) -> StoreResult<Vec<PendingEnvelope>>;
    /// How many envelopes wait for processing.
    async fn pending_count(&self) -> StoreResult<usize>;
    /// Commits what processing made of a batch of envelopes (events, issues, drops) and marks
    /// them processed, in one transaction.
    async fn complete(&self, batch: Vec<Completed>) -> StoreResult<()>;
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
}
