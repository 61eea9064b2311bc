-- Retention: the audit log stays append-only except for a purge of the entries older than its cut-off, which the
-- purge sets inside its own transaction (and clears before it commits); no other delete gets past the trigger.
CREATE TABLE audit_purge (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    cutoff INTEGER NOT NULL
);
INSERT INTO audit_purge (id, cutoff) VALUES (1, 0);

DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.at >= (SELECT cutoff FROM audit_purge WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE INDEX imports_finished ON imports (finished_at) WHERE state IN ('done', 'discarded');
CREATE INDEX bulk_jobs_finished ON bulk_jobs (finished_at) WHERE state = 'done';
CREATE INDEX account_creations_finished ON account_creations (finished_at);
