DROP TABLE job_leases;
DROP TABLE credit_draws;
DROP TABLE credit_grants;
ALTER TABLE credit_transactions DROP COLUMN expires_at;
