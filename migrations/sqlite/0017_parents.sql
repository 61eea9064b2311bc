-- Several parents in one console: each creation, import, bulk job and selected account belongs to the parent it was
-- made under. Rows from before have 0 here; at start the console gives them to the first parent of its settings
-- (the one it served until then).
ALTER TABLE account_creations ADD COLUMN parent_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN parent_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulk_jobs ADD COLUMN parent_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_selection ADD COLUMN parent_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX account_creations_parent ON account_creations (parent_id, state);
CREATE INDEX imports_parent ON imports (parent_id, state);
CREATE INDEX bulk_jobs_parent ON bulk_jobs (parent_id, state);
CREATE INDEX account_selection_parent ON account_selection (user_id, parent_id);
