-- Wrong two-factor codes are counted per user over every address, apart from wrong passwords.
ALTER TABLE login_failures ADD COLUMN kind TEXT NOT NULL DEFAULT 'password';
CREATE INDEX login_failures_kind_email_at ON login_failures (kind, email, at);

-- Each time a user's second factor took too many wrong codes from anywhere: the sign-ins waiting for a code then
-- were dropped, and the password is asked again only after a wait that grows with each lock-out.
CREATE TABLE second_factor_lockouts (
    user_id INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX second_factor_lockouts_user_at ON second_factor_lockouts (user_id, at);

-- Keys the console makes for itself and every process shares (the one that seals a single sign-on under way when
-- no MA_SECRET_KEY is set), in base64.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
