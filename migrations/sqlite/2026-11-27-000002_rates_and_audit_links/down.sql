DROP INDEX activity_log_record;
DROP INDEX activity_log_user;
ALTER TABLE activity_log DROP COLUMN record_id;
ALTER TABLE activity_log DROP COLUMN user_id;
DROP TABLE promo_credit_rates;
