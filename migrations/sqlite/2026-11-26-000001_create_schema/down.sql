DROP TABLE activity_log;
DROP TABLE api_keys;
DROP TABLE sessions;
DROP TABLE admins;
DROP TABLE credit_transactions;
DROP TABLE credit_accounts;
DROP TABLE promo_credit_configs;
DROP TABLE users;
