//! Where the console's data lives, read from `--database`: a SQLite file, or a PostgreSQL database.

use reqwest::Url;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// The two engines the console runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database the console can open.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// The file's path.
    Sqlite(String),
    /// The whole `postgres://` URL, password included: never shown (see [`fmt::Display`]).
    Postgres(String),
}

/// How many connections a process keeps, and how long a request waits for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> PoolSettings {
        PoolSettings { max_connections: 10, acquire_timeout: Duration::from_secs(10) }
    }
}

impl Location {
    /// `sqlite://PATH`, `sqlite:PATH` or a plain path; `postgres://…` or `postgresql://…`.
    pub fn parse(raw: &str) -> Result<Location, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let url = Url::parse(raw).map_err(|e| format!("is not a valid PostgreSQL URL: {e}"))?;
            if url.path().trim_start_matches('/').is_empty() {
                return Err("names no database: give postgres://USER:PASSWORD@HOST:PORT/DATABASE".into());
            }
            return Ok(Location::Postgres(raw.to_owned()));
        }
        let path = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:")).unwrap_or(raw);
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if path.is_empty() {
            return Err("names no file: give e.g. sqlite://multi-account.db or postgres://HOST/DATABASE".into());
        }
        if path == ":memory:" {
            return Err("is an in-memory database: the console needs a file".into());
        }
        if path.contains("://") {
            return Err("is neither SQLite (sqlite://PATH or a plain path) nor PostgreSQL (postgres://…)".into());
        }
        Ok(Location::Sqlite(path.to_owned()))
    }

    pub fn engine(&self) -> Engine {
        match self {
            Location::Sqlite(_) => Engine::Sqlite,
            Location::Postgres(_) => Engine::Postgres,
        }
    }

    /// The SQLite file, if the database is one.
    pub fn sqlite_path(&self) -> Option<&str> {
        match self {
            Location::Sqlite(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }

    /// A file beside the database for other data of the console (the demo emulator's): `dir/name-{suffix}.db` next to
    /// a SQLite file, `multi-account-{suffix}.db` in the working directory for PostgreSQL.
    pub fn sibling(&self, suffix: &str) -> String {
        self.beside(&format!("{suffix}.db"))
    }

    /// A file next to the database named after it: `multi-account-{name}` beside `multi-account.db`.
    pub fn beside(&self, name: &str) -> String {
        let path = Path::new(self.sqlite_path().unwrap_or("multi-account.db"));
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("multi-account");
        path.with_file_name(format!("{stem}-{name}")).to_string_lossy().into_owned()
    }
}

/// The file's path, or the URL without its password: what logs and messages may show.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => f.write_str(path),
            Location::Postgres(raw) => match Url::parse(raw) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    let shown: Vec<(String, String)> = url
                        .query_pairs()
                        .map(|(k, v)| {
                            let secret = k.eq_ignore_ascii_case("password");
                            (k.into_owned(), if secret { "***".into() } else { v.into_owned() })
                        })
                        .collect();
                    if !shown.is_empty() {
                        url.query_pairs_mut().clear().extend_pairs(shown);
                    }
                    f.write_str(url.as_str())
                }
                Err(_) => f.write_str("postgres://…"),
            },
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_and_plain_paths_are_files() {
        for (raw, path) in [
            ("sqlite://multi-account.db", "multi-account.db"),
            ("sqlite:///data/ma.db", "/data/ma.db"),
            ("sqlite:ma.db?mode=rwc", "ma.db"),
            ("/var/lib/ma.db", "/var/lib/ma.db"),
        ] {
            assert_eq!(Location::parse(raw).unwrap(), Location::Sqlite(path.into()), "{raw}");
        }
    }

    #[test]
    fn postgres_urls_are_kept_whole_and_shown_without_their_password() {
        let url = "postgres://ma:s3cret@db.example:5432/ma?sslmode=require";
        let location = Location::parse(url).unwrap();
        assert_eq!(location, Location::Postgres(url.into()));
        assert_eq!(location.engine(), Engine::Postgres);
        assert_eq!(location.to_string(), "postgres://ma:***@db.example:5432/ma?sslmode=require");
        assert!(!format!("{location:?}").contains("s3cret"));
        let in_query = Location::parse("postgresql://db.example/ma?user=ma&password=s3cret").unwrap();
        assert!(!in_query.to_string().contains("s3cret"), "{in_query}");
        assert_eq!(in_query.sibling("emulator"), "multi-account-emulator.db");
    }

    #[test]
    fn other_engines_memory_and_incomplete_urls_are_refused() {
        assert!(Location::parse("mysql://localhost/ma").unwrap_err().contains("neither SQLite"));
        assert!(Location::parse("sqlite::memory:").unwrap_err().contains("in-memory"));
        assert!(Location::parse("").is_err());
        assert!(Location::parse("postgres://db.example").unwrap_err().contains("no database"));
        assert!(Location::parse("postgres://db example/ma").unwrap_err().contains("not a valid PostgreSQL URL"));
    }
}
