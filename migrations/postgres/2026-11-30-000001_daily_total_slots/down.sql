CREATE TEMPORARY TABLE merged_totals AS
SELECT day, currency, kind, reason, SUM(row_count)::BIGINT AS row_count, SUM(added)::BIGINT AS added,
       SUM(deducted)::BIGINT AS deducted, SUM(holders_delta)::BIGINT AS holders_delta
FROM credit_daily_totals GROUP BY day, currency, kind, reason;
DELETE FROM credit_daily_totals;
ALTER TABLE credit_daily_totals DROP CONSTRAINT credit_daily_totals_pkey;
ALTER TABLE credit_daily_totals DROP COLUMN slot;
INSERT INTO credit_daily_totals (day, currency, kind, reason, row_count, added, deducted, holders_delta)
SELECT day, currency, kind, reason, row_count, added, deducted, holders_delta FROM merged_totals;
ALTER TABLE credit_daily_totals ADD PRIMARY KEY (day, currency, kind, reason);
DROP TABLE merged_totals;
