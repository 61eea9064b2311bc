-- Two-factor sign-in. A user's TOTP secret is stored encrypted (AES-256-GCM with the key from MA_SECRET_KEY, base64
-- of nonce and ciphertext); the last time step accepted is kept, so a code is good once. Recovery codes are stored
-- as SHA-256 hashes, each used at most once.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id, code_hash);
