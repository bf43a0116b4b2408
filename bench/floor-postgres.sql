-- One API adjustment's statements as the console sends them to PostgreSQL (captured with
-- log_statement = all), for pgbench: the database's own speed for the same work, without
-- HTTP or Rust (bench/floor.sh).
\set n random(0, 63)
\set uid 1 + :step * :n
SELECT id, name, last_used_at FROM api_keys WHERE secret_hash = 'floor' AND revoked_at IS NULL LIMIT 1;
BEGIN;
SELECT email, external_id FROM users WHERE id = :uid LIMIT 1;
SELECT currency, enabled, exchange_rate_e4, allow_with_discount_code, auto_apply_next_invoice, preview_default_used, created_at, updated_at FROM promo_credit_configs WHERE currency = 'EUR' LIMIT 1;
SELECT id AS acc, balance AS bal, total_added AS added, total_deducted AS deducted, version AS ver FROM credit_accounts WHERE user_id = :uid AND currency = 'EUR' LIMIT 1 FOR UPDATE \gset
SELECT id, account_id, transaction_id, expires_at, granted, remaining, closed, created_at FROM credit_grants WHERE account_id = :acc AND credit_grants.remaining > 0 AND expires_at < CURRENT_DATE ORDER BY expires_at, id;
INSERT INTO credit_transactions (account_id, user_id, currency, kind, delta, balance_before, balance_after, exchange_rate_e4, currency_value, note, actor_kind, actor_id, created_at) VALUES (:acc, :uid, 'EUR', 'api_added', 1, :bal, :bal + 1, 10000, '1.00', 'bench', 'api_key', 1, now()) RETURNING id AS row_id \gset
INSERT INTO credit_grants (account_id, transaction_id, expires_at, granted, remaining, closed, created_at) VALUES (:acc, :row_id, NULL, 1, 1, false, now()) RETURNING id;
UPDATE credit_accounts SET balance = :bal + 1, total_added = :added + 1, total_deducted = :deducted, version = :ver + 1, updated_at = now() WHERE id = :acc;
INSERT INTO activity_log (created_at, actor, action, target, details, ip, user_id, record_id) VALUES (now(), 'floor', 'credit.adjust', 'customer ' || :uid || ' EUR', :bal || ' → ' || (:bal + 1) || ' (+1): bench', '127.0.0.1', :uid, :row_id);
INSERT INTO credit_daily_totals (day, currency, kind, reason, row_count, added, deducted, holders_delta, slot) VALUES (CURRENT_DATE, 'EUR', 'api_added', '', 1, 1, 0, CASE WHEN :bal = 0 THEN 1 ELSE 0 END, :acc % 16) ON CONFLICT (day, currency, kind, reason, slot) DO UPDATE SET row_count = credit_daily_totals.row_count + 1, added = credit_daily_totals.added + 1, holders_delta = credit_daily_totals.holders_delta + EXCLUDED.holders_delta;
COMMIT;
