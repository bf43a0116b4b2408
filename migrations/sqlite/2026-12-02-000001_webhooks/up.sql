-- Outgoing webhooks (docs/webhooks.md). Endpoints the owner adds; events written in the
-- same transaction as the change they report (the outbox), only while an endpoint listens
-- for their type; one delivery per event and endpoint, sent in order per endpoint.

-- Per currency: below this balance an account is low (NULL: no low-balance events), and how
-- many days before a grant ends its credit.expiring event goes out.
ALTER TABLE promo_credit_configs ADD COLUMN low_balance_threshold BIGINT;
ALTER TABLE promo_credit_configs ADD COLUMN expiring_notice_days INTEGER NOT NULL DEFAULT 7;
-- The grant's credit.expiring event has been written: it goes out once.
ALTER TABLE credit_grants ADD COLUMN expiring_notified BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- The event types it receives, space-separated.
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- After a rotation, the old secret signs too until previous_secret_until.
    previous_secret TEXT,
    previous_secret_until TIMESTAMP,
    enabled BOOLEAN NOT NULL,
    -- Why it was disabled, in words (an owner, 410 Gone, five days failing).
    disabled_reason TEXT,
    disabled_at TIMESTAMP,
    -- The first failed attempt since the last delivered one.
    failing_since TIMESTAMP,
    -- The server sending its deliveries, until when (one sender per endpoint at a time).
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The id receivers see in webhook-id and the body; the same on every attempt. It starts
    -- with the time, so its index grows at one end.
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    -- The JSON body, exactly as sent.
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id),
    event_id BIGINT NOT NULL REFERENCES webhook_events (id),
    -- pending, delivered or failed.
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    response_code INTEGER,
    -- The first KiB of the last answer, or why there was none.
    response_excerpt TEXT,
    created_at TIMESTAMP NOT NULL
);
-- Each endpoint's queue, in event order. The partial indexes name `status` as a column too,
-- so that SQLite prefers them to the log's index without statistics.
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, status, id) WHERE status = 'pending';
-- Each endpoint's failed deliveries (counted on the endpoint list; few by nature).
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (endpoint_id, status) WHERE status = 'failed';
-- Each endpoint's log, newest first.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id);
-- An event's deliveries (resend, and forgetting events no delivery needs).
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
