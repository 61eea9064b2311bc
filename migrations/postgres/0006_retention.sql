-- Retention: the audit log stays append-only except for a purge of the entries older than its cut-off, which the
-- purge sets inside its own transaction (and clears before it commits); no other delete gets past the trigger.
CREATE TABLE audit_purge (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cutoff BIGINT NOT NULL
);
INSERT INTO audit_purge (id, cutoff) VALUES (1, 0);

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A statement-level trigger (TRUNCATE) has no OLD row: only a row's delete is looked at.
    IF TG_OP = 'DELETE' THEN
        IF OLD.at < (SELECT cutoff FROM audit_purge WHERE id = 1) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;

CREATE INDEX imports_finished ON imports (finished_at) WHERE state IN ('done', 'discarded');
CREATE INDEX bulk_jobs_finished ON bulk_jobs (finished_at) WHERE state = 'done';
CREATE INDEX account_creations_finished ON account_creations (finished_at);
