DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_endpoints;
ALTER TABLE credit_grants DROP COLUMN expiring_notified;
ALTER TABLE promo_credit_configs DROP COLUMN expiring_notice_days;
ALTER TABLE promo_credit_configs DROP COLUMN low_balance_threshold;
