-- A retry of a job's failures is a job of its own that remembers which run it retried, so each run's page links the
-- runs before and after it. A purged run leaves its retries without the link.
ALTER TABLE bulk_jobs ADD COLUMN retry_of BIGINT REFERENCES bulk_jobs(id) ON DELETE SET NULL;
CREATE INDEX bulk_jobs_retry_of ON bulk_jobs (retry_of);
