-- Sign-in attempts per key ("email:<address>" or "ip:<address>") in the current one-minute
-- window. An attempt is counted before its password is checked (docs/console.md, "Signing in").
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY NOT NULL,
    window_started_at TIMESTAMP NOT NULL,
    attempts BIGINT NOT NULL
);
-- Idle sessions are found by when they were last seen.
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
