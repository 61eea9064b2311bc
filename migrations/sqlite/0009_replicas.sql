-- Several processes on one database (the command line beside a console today, replicas on PostgreSQL). Each process
-- keeps a lease named `process:{runner}` in `locks` while it lives; work it started is taken up by another process
-- once that lease lapses.

-- The process that sent a creation: while it lives, a creation still `sending` is waiting for Kaltura's answer.
ALTER TABLE account_creations ADD COLUMN runner TEXT;

-- A bulk job is claimed by one process at a time, as an import is.
ALTER TABLE bulk_jobs ADD COLUMN runner TEXT;
ALTER TABLE bulk_jobs ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;

-- Case-insensitive comparisons are written lower(x) = lower(?) on both engines: these indexes serve them.
CREATE INDEX audit_log_target_lower ON audit_log (lower(target));
DROP INDEX audit_log_target;
CREATE INDEX users_email_lower ON users (lower(email));
CREATE INDEX login_failures_email_lower_at ON login_failures (lower(email), at);
DROP INDEX login_failures_email_at;
