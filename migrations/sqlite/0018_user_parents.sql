-- Which parents a console user may see: every one (all_parents = 1, the default), or only those listed here.
ALTER TABLE users ADD COLUMN all_parents INTEGER NOT NULL DEFAULT 1;
CREATE TABLE user_parents (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, parent_id)
);
