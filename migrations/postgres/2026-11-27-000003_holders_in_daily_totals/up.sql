-- How many accounts started (+1) or stopped (-1) holding credit, per day, currency, type and
-- reason: their sum is the number of customers with credit, which the dashboard reads
-- without counting the accounts (docs/console.md, "The dashboard and the first run").
ALTER TABLE credit_daily_totals ADD COLUMN holders_delta BIGINT NOT NULL DEFAULT 0;
UPDATE credit_daily_totals SET holders_delta = moves.delta
FROM (
    SELECT created_at::date AS day, currency, kind, COALESCE(reason, '') AS reason,
           SUM(CASE WHEN balance_after > 0 THEN 1 ELSE -1 END) AS delta
    FROM credit_transactions
    WHERE (balance_before > 0) <> (balance_after > 0)
    GROUP BY 1, 2, 3, 4
) AS moves
WHERE credit_daily_totals.day = moves.day
  AND credit_daily_totals.currency = moves.currency
  AND credit_daily_totals.kind = moves.kind
  AND credit_daily_totals.reason = moves.reason;
