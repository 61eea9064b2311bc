-- Every Add Account request, recorded before partner.register is sent, so a creation is never sent twice and never
-- lost: after a timeout, a lost connection or a restart the console finds out whether Kaltura made the account.
CREATE TABLE account_creations (
    id INTEGER PRIMARY KEY NOT NULL,
    -- One per Add Account form: a second submission of the same form finds the first.
    request_key TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL,
    actor TEXT NOT NULL,
    ip TEXT NOT NULL,
    admin_name TEXT NOT NULL,
    name TEXT NOT NULL,
    admin_email TEXT NOT NULL COLLATE NOCASE,
    phone TEXT NOT NULL,
    website TEXT,
    reference_id TEXT,
    template_id INTEGER NOT NULL,
    -- sending: partner.register is under way; unknown: no answer came, the reconciler is looking;
    -- created / failed: settled.
    state TEXT NOT NULL CHECK (state IN ('sending', 'unknown', 'created', 'failed')),
    partner_id INTEGER,
    message TEXT NOT NULL DEFAULT '',
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    -- Whether the outcome has been shown to the user who asked (it is shown exactly once).
    reported INTEGER NOT NULL DEFAULT 0
);

-- At most one creation in flight per administrator email.
CREATE UNIQUE INDEX account_creations_in_flight ON account_creations (admin_email) WHERE state IN ('sending', 'unknown');
CREATE INDEX account_creations_unreported ON account_creations (user_id) WHERE reported = 0;
