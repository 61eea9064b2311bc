CREATE TABLE IF NOT EXISTS partner (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    website TEXT,
    created_at INTEGER NOT NULL,
    admin_name TEXT,
    admin_email TEXT,
    description TEXT,
    phone TEXT,
    partner_type INTEGER NOT NULL DEFAULT 1,
    status INTEGER NOT NULL DEFAULT 1,
    partner_package INTEGER NOT NULL DEFAULT 1,
    secret TEXT NOT NULL,
    admin_secret TEXT NOT NULL,
    admin_login_users_quota INTEGER NOT NULL DEFAULT 3,
    admin_user_id TEXT,
    first_name TEXT,
    last_name TEXT,
    country TEXT,
    state TEXT,
    publishers_quota INTEGER NOT NULL DEFAULT 0,
    partner_group_type INTEGER NOT NULL DEFAULT 1,
    template_partner_id INTEGER,
    partner_parent_id INTEGER,
    reference_id TEXT,
    monitor_usage INTEGER NOT NULL DEFAULT 0,
    features TEXT NOT NULL DEFAULT ''
);
-- partner.list is always scoped to one parent: these keep listing, counting and sorting fast with 100,000 children.
CREATE INDEX IF NOT EXISTS partner_parent_created ON partner (partner_parent_id, created_at);
-- Children in id order: exports page with idGreaterThan and orderBy +id. With the status in it, each page's count
-- (Kaltura counts the whole filtered rest for every page) reads the index alone, not every row left.
DROP INDEX IF EXISTS partner_parent_id;
CREATE INDEX IF NOT EXISTS partner_parent_id_status ON partner (partner_parent_id, id, status);
CREATE INDEX IF NOT EXISTS partner_parent_status ON partner (partner_parent_id, status, created_at);
CREATE INDEX IF NOT EXISTS partner_parent_name ON partner (partner_parent_id, name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS partner_parent_group ON partner (partner_parent_id, partner_group_type, status);
CREATE INDEX IF NOT EXISTS partner_admin_email ON partner (admin_email COLLATE NOCASE);

-- Login identities (user.loginByLoginId); a login email is unique across every partner, as on Kaltura.
CREATE TABLE IF NOT EXISTS login (
    login_email TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
    partner_id INTEGER NOT NULL,
    password_sha1 TEXT NOT NULL,
    salt TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 1
);

-- Users of each partner (kuser): the account owner of every partner, and the demo's other users.
CREATE TABLE IF NOT EXISTS kuser (
    partner_id INTEGER NOT NULL,
    puser_id TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    is_admin INTEGER NOT NULL DEFAULT 0,
    status INTEGER NOT NULL DEFAULT 1,
    role_names TEXT NOT NULL DEFAULT '',
    last_login_time INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (partner_id, puser_id)
);
