-- Customers of the merchant (docs/concepts.md, "Customers").
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT UNIQUE,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL UNIQUE COLLATE NOCASE,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    country TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE promo_credit_configs (
    currency TEXT PRIMARY KEY NOT NULL,
    enabled BOOLEAN NOT NULL,
    exchange_rate_e4 BIGINT NOT NULL CHECK (exchange_rate_e4 > 0),
    allow_with_discount_code BOOLEAN NOT NULL DEFAULT FALSE,
    auto_apply_next_invoice BOOLEAN NOT NULL DEFAULT FALSE,
    preview_default_used BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE credit_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    currency TEXT NOT NULL,
    balance BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0 AND balance <= 1000000000000),
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    total_added BIGINT NOT NULL DEFAULT 0,
    total_deducted BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, currency)
);
CREATE INDEX credit_accounts_currency_balance ON credit_accounts (currency, balance, id);
CREATE INDEX credit_accounts_balance ON credit_accounts (balance, id);
CREATE INDEX credit_accounts_updated ON credit_accounts (updated_at, id);

-- The ledger: append-only, refused UPDATE and DELETE by the triggers below.
CREATE TABLE credit_transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES credit_accounts (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT,
    delta BIGINT NOT NULL CHECK (delta <> 0),
    balance_before BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    exchange_rate_e4 BIGINT NOT NULL,
    currency_value TEXT NOT NULL,
    note TEXT NOT NULL CHECK (note <> ''),
    actor_kind TEXT NOT NULL,
    actor_id BIGINT,
    invoice_id TEXT,
    idempotency_key TEXT,
    created_at TIMESTAMP NOT NULL
);
-- The account's rows in order (the tab, verify); every list filter in time order.
CREATE INDEX credit_transactions_account ON credit_transactions (account_id, id);
CREATE INDEX credit_transactions_created ON credit_transactions (created_at, id);
CREATE INDEX credit_transactions_user ON credit_transactions (user_id, created_at, id);
CREATE INDEX credit_transactions_currency ON credit_transactions (currency, created_at, id);
CREATE INDEX credit_transactions_kind ON credit_transactions (kind, created_at, id);
CREATE INDEX credit_transactions_reason ON credit_transactions (reason, created_at, id) WHERE reason IS NOT NULL;
CREATE INDEX credit_transactions_invoice ON credit_transactions (invoice_id, created_at, id) WHERE invoice_id IS NOT NULL;

-- Per-day movements by currency, type and reason ('' for none), written in the ledger
-- transaction: totals over wide filters and the finance summary read these, not the ledger.
CREATE TABLE credit_daily_totals (
    day DATE NOT NULL,
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    added BIGINT NOT NULL,
    deducted BIGINT NOT NULL,
    PRIMARY KEY (day, currency, kind, reason)
);

CREATE TRIGGER credit_transactions_no_update BEFORE UPDATE ON credit_transactions
BEGIN SELECT RAISE(ABORT, 'credit_transactions is append-only'); END;
CREATE TRIGGER credit_transactions_no_delete BEFORE DELETE ON credit_transactions
BEGIN SELECT RAISE(ABORT, 'credit_transactions is append-only'); END;

CREATE TABLE admins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    admin_id BIGINT NOT NULL REFERENCES admins (id),
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_admin ON sessions (admin_id);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_by BIGINT REFERENCES admins (id),
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

-- Who did what: append-only like the ledger.
CREATE TABLE activity_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '',
    ip TEXT
);
CREATE INDEX activity_log_created ON activity_log (created_at, id);
CREATE INDEX activity_log_action ON activity_log (action, created_at);
CREATE INDEX activity_log_actor ON activity_log (actor, created_at);

CREATE TRIGGER activity_log_no_update BEFORE UPDATE ON activity_log
BEGIN SELECT RAISE(ABORT, 'activity_log is append-only'); END;
CREATE TRIGGER activity_log_no_delete BEFORE DELETE ON activity_log
BEGIN SELECT RAISE(ABORT, 'activity_log is append-only'); END;
