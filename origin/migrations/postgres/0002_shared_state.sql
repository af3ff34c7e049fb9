-- What several origin processes share, kept in the database so that it also survives restarts.
-- The processing queue: an envelope is leased to one worker until `claimed_until` (Unix ms);
-- a worker that dies leaves its lease to expire, and another takes the envelope.
ALTER TABLE envelopes ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
-- Edge signatures already used, until their age alone would refuse them (`expires`, Unix ms).
CREATE TABLE edge_signatures (
    signature TEXT PRIMARY KEY,
    expires BIGINT NOT NULL
);
CREATE INDEX edge_signatures_expires ON edge_signatures (expires);
-- Quota counters for traffic that reaches the origin directly: quantity used per shard and window.
CREATE TABLE quota_counters (
    shard TEXT NOT NULL,
    window_end BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (shard, window_end)
);
