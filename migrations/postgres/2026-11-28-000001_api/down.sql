DROP TABLE idempotency_keys;
DROP TABLE invoice_payments;
