-- The parent an audit entry is about (its accounts, imports and jobs); none for the console's own users and sign-ins,
-- and for entries from before several parents.
ALTER TABLE audit_log ADD COLUMN parent_id INTEGER;
CREATE INDEX audit_log_parent ON audit_log (parent_id);
