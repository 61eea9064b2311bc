-- CSV imports (Accounts › Import): the file's rows as uploaded, checked for the preview, then created one recorded
-- creation at a time. A row's outcome is kept, so the result page, the result CSV and a restarted console agree.
CREATE TABLE imports (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    actor TEXT NOT NULL,
    ip TEXT NOT NULL,
    file_name TEXT NOT NULL,
    -- The file's columns in its order, as Add Account labels separated by commas (for the result CSV).
    columns TEXT NOT NULL,
    -- preview: checked, nothing sent; running: rows being created; done: every row has its outcome;
    -- discarded: the preview was dropped.
    state TEXT NOT NULL CHECK (state IN ('preview', 'running', 'done', 'discarded')),
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    -- How many rows were to be sent when the import started (the progress bar's whole).
    to_send INTEGER NOT NULL DEFAULT 0,
    -- The process running it and until when its claim holds: a console that stopped leaves a claim that lapses, and
    -- another one (or the restarted one) takes the import up.
    runner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE import_rows (
    import_id INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    -- The row's number in the file (the header is row 1).
    row_no INTEGER NOT NULL,
    admin_name TEXT NOT NULL,
    name TEXT NOT NULL,
    admin_email TEXT NOT NULL,
    phone TEXT NOT NULL,
    website TEXT NOT NULL,
    template_id TEXT NOT NULL,
    reference_id TEXT NOT NULL,
    -- invalid: not sent (the message says why); exists: an account with this administrator email is there already;
    -- left_out: beyond the quota; pending: to be sent; sending: recorded and sent; created / failed: settled.
    state TEXT NOT NULL
        CHECK (state IN ('invalid', 'exists', 'left_out', 'pending', 'sending', 'created', 'failed')),
    message TEXT NOT NULL DEFAULT '',
    partner_id INTEGER,
    PRIMARY KEY (import_id, row_no)
);

CREATE INDEX imports_running ON imports (state) WHERE state = 'running';

-- Work that must happen one process at a time, however many share the database (the console and `accounts import`
-- on the command line): checking the accounts quota and recording a creation. A lock is held until it is released
-- or `until` passes (its holder died).
CREATE TABLE locks (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    until INTEGER NOT NULL
);
