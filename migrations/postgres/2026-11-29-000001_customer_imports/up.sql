-- Customer files checked and applied through /users/import or `creditdesk import customers`
-- (docs/import.md). The file is kept as it was read, so applying uses exactly what was
-- checked, and each row's planned outcome is kept for the preview.
CREATE TABLE customer_imports (
    id BIGSERIAL PRIMARY KEY,
    file_name TEXT NOT NULL,
    content TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    byte_size BIGINT NOT NULL,
    row_count BIGINT NOT NULL,
    planned_create BIGINT NOT NULL,
    planned_update BIGINT NOT NULL,
    planned_unchanged BIGINT NOT NULL,
    planned_refused BIGINT NOT NULL,
    planned_openings BIGINT NOT NULL,
    checked_by TEXT NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('checked', 'applied', 'failed')),
    skipped_refused BOOLEAN NOT NULL DEFAULT FALSE,
    applied_by TEXT,
    applied_at TIMESTAMP,
    outcome TEXT NOT NULL DEFAULT ''
);

CREATE TABLE customer_import_rows (
    import_id BIGINT NOT NULL REFERENCES customer_imports (id),
    line BIGINT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('create', 'update', 'unchanged', 'refused')),
    user_id BIGINT,
    external_id TEXT NOT NULL,
    email TEXT NOT NULL,
    details TEXT NOT NULL,
    PRIMARY KEY (import_id, line)
);
