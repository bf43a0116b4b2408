-- Expiring grants (docs/concepts.md, "Expiry"). A grant row may carry the date its credits
-- expire at the end of; each grant keeps what is left of it; each row that takes credits
-- from grants, or gives them back, records how many per grant.
ALTER TABLE credit_transactions ADD COLUMN expires_at DATE;

CREATE TABLE credit_grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES credit_accounts (id),
    -- The row that made the grant; NULL for credits held before expiry existed.
    transaction_id BIGINT UNIQUE REFERENCES credit_transactions (id),
    expires_at DATE,
    granted BIGINT NOT NULL CHECK (granted > 0),
    remaining BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= granted),
    -- Its expiry has been written: credits given back to it expire again at once.
    closed BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);
-- An account's grants that still hold credits, in spending order: those with a date by
-- date, then those without by age (spending, the tab, the ended ones of an account).
CREATE INDEX credit_grants_live ON credit_grants (account_id, expires_at, id) WHERE remaining > 0;
-- What is due to expire, and the forecast.
CREATE INDEX credit_grants_due ON credit_grants (expires_at, account_id) WHERE remaining > 0 AND expires_at IS NOT NULL;

CREATE TABLE credit_draws (
    transaction_id BIGINT NOT NULL REFERENCES credit_transactions (id),
    grant_id BIGINT NOT NULL REFERENCES credit_grants (id),
    -- Taken from the grant (> 0) or given back to it (< 0).
    credits BIGINT NOT NULL CHECK (credits <> 0),
    PRIMARY KEY (transaction_id, grant_id)
);
CREATE INDEX credit_draws_grant ON credit_draws (grant_id);

-- Credits held today become one never-expiring grant per account, the oldest.
INSERT INTO credit_grants (account_id, transaction_id, expires_at, granted, remaining, closed, created_at)
SELECT id, NULL, NULL, balance, balance, FALSE, created_at FROM credit_accounts WHERE balance > 0;

-- One run of the expiry at a time, whatever the number of servers.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    held_until TIMESTAMP NOT NULL
);
