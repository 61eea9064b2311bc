-- One row that /readyz rewrites: a write that reaches the file proves the database takes writes, which taking the
-- write lock alone does not.
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    at INTEGER NOT NULL
);
