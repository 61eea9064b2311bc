-- See the SQLite migration 0012: wrong codes counted per user, second-factor lock-outs, keys the console makes.
ALTER TABLE login_failures ADD COLUMN kind TEXT NOT NULL DEFAULT 'password';
CREATE INDEX login_failures_kind_email_lower_at ON login_failures (kind, lower(email), at);

CREATE TABLE second_factor_lockouts (
    user_id BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX second_factor_lockouts_user_at ON second_factor_lockouts (user_id, at);

CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
