-- Each day's totals per currency, type and reason are kept in up to 16 slots (the account's
-- id modulo 16) and added up when read (docs/concepts.md, "Invariants", 6). SQLite cannot
-- change a primary key in place: the table is copied.
CREATE TABLE credit_daily_totals_slotted (
    day DATE NOT NULL,
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    added BIGINT NOT NULL,
    deducted BIGINT NOT NULL,
    holders_delta BIGINT NOT NULL DEFAULT 0,
    slot BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, currency, kind, reason, slot)
);
INSERT INTO credit_daily_totals_slotted (day, currency, kind, reason, row_count, added, deducted, holders_delta, slot)
SELECT day, currency, kind, reason, row_count, added, deducted, holders_delta, 0 FROM credit_daily_totals;
DROP TABLE credit_daily_totals;
ALTER TABLE credit_daily_totals_slotted RENAME TO credit_daily_totals;
