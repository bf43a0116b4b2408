-- Each day's totals per currency, type and reason are kept in up to 16 slots (the account's
-- id modulo 16) and added up when read: every change of the day in one currency and type used
-- to update one row, so concurrent changes queued on its lock until each had committed
-- (docs/concepts.md, "Invariants", 6).
ALTER TABLE credit_daily_totals ADD COLUMN slot BIGINT NOT NULL DEFAULT 0;
ALTER TABLE credit_daily_totals DROP CONSTRAINT credit_daily_totals_pkey;
ALTER TABLE credit_daily_totals ADD PRIMARY KEY (day, currency, kind, reason, slot);
