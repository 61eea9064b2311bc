-- A user's id is never given to another user (AUTOINCREMENT), and every user carries a session generation, bumped
-- whenever their access changes (password, role, status). A session holds the id and the generation it was made
-- under, so it ends when either no longer matches. SQLite cannot add AUTOINCREMENT to a table: it is rebuilt.
CREATE TABLE users_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    email TEXT NOT NULL COLLATE NOCASE UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    publisher_user_id TEXT NOT NULL COLLATE NOCASE UNIQUE,
    role TEXT NOT NULL CHECK (role IN (
        'publisher_administrator', 'manager', 'content_manager', 'content_moderator', 'player_designer'
    )),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked')),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_login_at INTEGER,
    accounts_page_size INTEGER,
    session_generation INTEGER NOT NULL DEFAULT 1
);

INSERT INTO users_new (id, email, first_name, last_name, publisher_user_id, role, status, password_hash, created_at,
                       last_login_at, accounts_page_size)
SELECT id, email, first_name, last_name, publisher_user_id, role, status, password_hash, created_at, last_login_at,
       accounts_page_size
FROM users;

DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
