-- Bulk actions. Each console user's selection of accounts, kept on the server so it survives paging, searching and
-- a reload, with or without JavaScript.
CREATE TABLE account_selection (
    user_id INTEGER NOT NULL,
    partner_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, partner_id)
) WITHOUT ROWID;

-- A Block, Unblock or Remove of many accounts, run by a background worker (so closing the tab does not stop it, and
-- a restart resumes it).
CREATE TABLE bulk_jobs (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    -- Who and from where, for the audit entries the worker writes.
    actor TEXT NOT NULL,
    ip TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('block', 'unblock', 'remove')),
    state TEXT NOT NULL CHECK (state IN ('running', 'done')),
    started_at INTEGER NOT NULL,
    finished_at INTEGER
);

CREATE INDEX bulk_jobs_running ON bulk_jobs (id) WHERE state = 'running';

-- One row per account of a job, and what became of it.
CREATE TABLE bulk_items (
    job_id INTEGER NOT NULL REFERENCES bulk_jobs (id),
    partner_id INTEGER NOT NULL,
    -- Known once Kaltura has been asked.
    name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('pending', 'changed', 'skipped', 'failed')),
    -- Why a skipped account was skipped.
    skip TEXT CHECK (skip IN ('parent', 'removed', 'already', 'status', 'not_yours')),
    -- Kaltura's message for a failed account.
    message TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, partner_id)
) WITHOUT ROWID;
