CREATE TABLE credit_daily_totals_merged (
    day DATE NOT NULL,
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    added BIGINT NOT NULL,
    deducted BIGINT NOT NULL,
    holders_delta BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, currency, kind, reason)
);
INSERT INTO credit_daily_totals_merged (day, currency, kind, reason, row_count, added, deducted, holders_delta)
SELECT day, currency, kind, reason, SUM(row_count), SUM(added), SUM(deducted), SUM(holders_delta)
FROM credit_daily_totals GROUP BY day, currency, kind, reason;
DROP TABLE credit_daily_totals;
ALTER TABLE credit_daily_totals_merged RENAME TO credit_daily_totals;
