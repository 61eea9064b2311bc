-- The Audit page filters by action, by target (an account's partner id, a user's email) and by date, newest first.
-- An index also holds the rowid, so each of these reads the matching entries already in id order.
CREATE INDEX audit_log_action ON audit_log (action);
CREATE INDEX audit_log_target ON audit_log (target COLLATE NOCASE);
CREATE INDEX audit_log_at ON audit_log (at);
