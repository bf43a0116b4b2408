-- One payment per invoice id: what it asked, what it spent and why, and what has been
-- refunded since (docs/api.md, "Payments"). The same request again gets the same answer.
CREATE TABLE invoice_payments (
    invoice_id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    currency TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    invoice_amount TEXT NOT NULL,
    credits_applied BIGINT NOT NULL CHECK (credits_applied >= 0),
    discount_amount TEXT NOT NULL,
    credits_refunded BIGINT NOT NULL DEFAULT 0 CHECK (credits_refunded >= 0 AND credits_refunded <= credits_applied),
    amount_refunded TEXT NOT NULL DEFAULT '0',
    transaction_id BIGINT REFERENCES credit_transactions (id),
    reasons TEXT NOT NULL,
    api_key_id BIGINT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX invoice_payments_user ON invoice_payments (user_id);

-- Idempotency keys of API writes, per API key and route, kept 24 hours: the first answer
-- is repeated for the same body (docs/api.md, "Idempotency").
CREATE TABLE idempotency_keys (
    api_key_id BIGINT NOT NULL,
    route TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    response TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (api_key_id, route, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
