//! The records that pass between ingest, processing and storage: what processing makes of an
//! envelope, what the store keeps and reads back, and project settings. Owned by neither side,
//! so storage imports nothing from `http` or `process`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use picket::core::filter::FilterSettings;
pub use picket::core::outcome::Outcome;
pub use picket::core::quota::Quota;

/// A project's `datascrubbingSettings` (Relay's names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScrubSettings {
    pub scrub_data: bool,
    pub scrub_defaults: bool,
    pub scrub_ip_addresses: bool,
    pub sensitive_fields: Vec<String>,
    pub exclude_fields: Vec<String>,
}

impl Default for ScrubSettings {
    fn default() -> Self {
        ScrubSettings {
            scrub_data: true,
            scrub_defaults: true,
            scrub_ip_addresses: false,
            sensitive_fields: Vec::new(),
            exclude_fields: Vec::new(),
        }
    }
}

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

/// A person who signs in to the web UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub date_created_ms: i64,
}

/// What a member may do in an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything, including members and settings.
    Owner,
    /// Reads and triages issues; reads settings.
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// A user's place in one organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub organization: Organization,
    pub role: Role,
}

/// A user as stored for sign-in: with the Argon2id PHC string of their password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: String,
}

/// A new web session; `id_sha256` is the SHA-256 hex of the cookie's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub id_sha256: String,
    pub user_id: i64,
    pub csrf: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// A web session that has not expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub last_seen_ms: i64,
}

/// A personal API token as listed (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserToken {
    pub id: i64,
    pub name: String,
    pub date_created_ms: i64,
    pub last_used_ms: Option<i64>,
}
