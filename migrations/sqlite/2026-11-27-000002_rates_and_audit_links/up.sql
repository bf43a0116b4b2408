-- Every exchange rate a currency has had, from when and set by whom (docs/concepts.md,
-- "Promo credit settings"). Append-only, like the ledger.
CREATE TABLE promo_credit_rates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    currency TEXT NOT NULL REFERENCES promo_credit_configs (currency),
    exchange_rate_e4 BIGINT NOT NULL CHECK (exchange_rate_e4 > 0),
    changed_at TIMESTAMP NOT NULL,
    changed_by TEXT NOT NULL
);
CREATE INDEX promo_credit_rates_currency ON promo_credit_rates (currency, id);
INSERT INTO promo_credit_rates (currency, exchange_rate_e4, changed_at, changed_by)
    SELECT currency, exchange_rate_e4, created_at, 'system' FROM promo_credit_configs;
CREATE TRIGGER promo_credit_rates_no_update BEFORE UPDATE ON promo_credit_rates
BEGIN SELECT RAISE(ABORT, 'promo_credit_rates is append-only'); END;
CREATE TRIGGER promo_credit_rates_no_delete BEFORE DELETE ON promo_credit_rates
BEGIN SELECT RAISE(ABORT, 'promo_credit_rates is append-only'); END;

-- Which customer and which ledger row an activity row is about, so the log links to them.
ALTER TABLE activity_log ADD COLUMN user_id BIGINT;
ALTER TABLE activity_log ADD COLUMN record_id BIGINT;
CREATE INDEX activity_log_user ON activity_log (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX activity_log_record ON activity_log (record_id) WHERE record_id IS NOT NULL;
