-- Picket origin schema (SQLite), version 1. Times are Unix milliseconds.
-- `IF NOT EXISTS` throughout: databases made before migrations existed (same tables, no
-- `_sqlx_migrations`) take this migration as a no-op and carry on from here.
CREATE TABLE IF NOT EXISTS organizations (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- Relay quota objects for the whole organization (JSON list).
    quotas TEXT NOT NULL DEFAULT '[]',
    date_created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    platform TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    -- Browser origins allowed to send (JSON list of patterns; Sentry's default is any).
    allowed_domains TEXT NOT NULL DEFAULT '["*"]',
    -- Days an event is kept (Relay's `eventRetention`).
    event_retention INTEGER NOT NULL DEFAULT 90,
    -- Relay's `datascrubbingSettings` (JSON); defaults scrub.
    datascrubbing TEXT NOT NULL DEFAULT '{}',
    -- Relay quota objects for this project (JSON list).
    quotas TEXT NOT NULL DEFAULT '[]',
    -- Relay's `filterSettings` (JSON).
    filters TEXT NOT NULL DEFAULT '{}',
    next_short_id INTEGER NOT NULL DEFAULT 1,
    date_created INTEGER NOT NULL,
    UNIQUE (organization_id, slug)
);
CREATE TABLE IF NOT EXISTS project_keys (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    public_key TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    -- Sentry's DSN key rate limit: at most `rate_limit_count` events per `rate_limit_window` s.
    rate_limit_window INTEGER,
    rate_limit_count INTEGER,
    date_created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    token_sha256 TEXT NOT NULL UNIQUE,
    date_created INTEGER NOT NULL
);
-- Every accepted envelope, as accepted: nothing the origin answered 200 for is lost.
-- It doubles as the processing queue: `processed` is 0 until the worker has committed its events.
CREATE TABLE IF NOT EXISTS envelopes (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    event_id TEXT,
    received INTEGER NOT NULL,
    client_ip TEXT,
    processed INTEGER NOT NULL DEFAULT 0,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS envelopes_pending ON envelopes (processed, id);
-- Dedupe belongs to the event, not the envelope: a second envelope for a stored event id (late
-- attachments, user reports) is kept; its event item, if any, is stored once (`events`).
DROP INDEX IF EXISTS envelopes_event;
CREATE INDEX IF NOT EXISTS envelopes_by_event ON envelopes (project_id, event_id);
CREATE TABLE IF NOT EXISTS issues (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    short_id INTEGER NOT NULL,
    group_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    culprit TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'unresolved',
    -- 'new', 'ongoing' or 'regressed' (a new event after it was resolved).
    substatus TEXT NOT NULL DEFAULT 'new',
    event_type TEXT NOT NULL,
    platform TEXT,
    metadata TEXT NOT NULL,
    times_seen INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    UNIQUE (project_id, group_hash)
);
CREATE INDEX IF NOT EXISTS issues_last_seen ON issues (project_id, last_seen);
CREATE TABLE IF NOT EXISTS issue_users (
    issue_id INTEGER NOT NULL,
    user_ident TEXT NOT NULL,
    PRIMARY KEY (issue_id, user_ident)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    issue_id INTEGER NOT NULL REFERENCES issues(id),
    timestamp INTEGER NOT NULL,
    received INTEGER NOT NULL,
    title TEXT NOT NULL,
    culprit TEXT NOT NULL,
    message TEXT NOT NULL,
    platform TEXT,
    event_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (project_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_received ON events (project_id, received);
CREATE INDEX IF NOT EXISTS events_issue ON events (issue_id, received);
-- Files sent with an event (attachments, minidumps), by event id, whichever arrives first. The
-- same file delivered twice (an edge's retry) is kept once.
CREATE TABLE IF NOT EXISTS attachments (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    -- Sentry's attachment type: `event.attachment`, `event.minidump`, ...
    attachment_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha1 TEXT NOT NULL,
    received INTEGER NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (project_id, event_id, name, sha1)
);
-- What users said about an event (`user_report` items, and `feedback` items, linked to the event
-- they name or else to themselves). A later report for the same event replaces the earlier one.
CREATE TABLE IF NOT EXISTS user_reports (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    comments TEXT NOT NULL,
    received INTEGER NOT NULL,
    UNIQUE (project_id, event_id)
);
-- Data dropped after acceptance, each with its reason.
CREATE TABLE IF NOT EXISTS outcomes (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    category TEXT NOT NULL,
    reason TEXT NOT NULL,
    quantity INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outcomes_project_time ON outcomes (project_id, timestamp);
-- Edges the origin trusts: Relay ids and the ed25519 public keys their requests are signed with.
CREATE TABLE IF NOT EXISTS edges (
    relay_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    name TEXT NOT NULL,
    date_created INTEGER NOT NULL
);
