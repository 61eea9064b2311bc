-- Sessions move from tower-sessions' own table to one that also names the signed-in user, so a page reads the session
-- and its user in one query. Sessions of the old table are not carried over: everyone signs in once more. The old
-- table stays, for replicas still running the earlier version during a rolling upgrade (README, "Upgrade").
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    data BYTEA NOT NULL,
    expiry_date BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry_date);
CREATE INDEX sessions_user ON sessions (user_id);
