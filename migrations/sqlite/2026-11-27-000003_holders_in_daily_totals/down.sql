ALTER TABLE credit_daily_totals DROP COLUMN holders_delta;
