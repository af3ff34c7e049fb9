-- People who sign in to the web UI, their organizations, sessions and personal API tokens.
-- Times are Unix milliseconds. Secrets are never stored: sessions and tokens by SHA-256 hex.
-- `email` is stored lowercased, so its uniqueness is case-insensitive.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    -- Argon2id PHC string (algorithm, parameters, salt, hash).
    password_hash TEXT NOT NULL,
    date_created INTEGER NOT NULL
);
-- A user's role in an organization: 'owner' or 'member'.
CREATE TABLE memberships (
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    date_created INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
-- Web sessions: `id` is the SHA-256 of the cookie's random token, never the token itself.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);
-- Personal API tokens: they see what their user's organizations hold.
CREATE TABLE user_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_sha256 TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    last_used INTEGER
);
CREATE INDEX user_tokens_user ON user_tokens (user_id);
-- Sign-in attempts per scope (`email:...`, `ip:...`) in fixed windows ending at `window_end`,
-- shared by every origin process on this store.
CREATE TABLE sign_in_attempts (
    scope TEXT NOT NULL,
    window_end INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (scope, window_end)
);
