//! Keys the console makes for itself and keeps in the database (`server_keys`), so every process sharing it uses the
//! same one.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::Pool;

/// The key kept under `name`; `fresh` becomes it when there is none yet (the first process to write wins).
pub async fn get_or_create(pool: &Pool, name: &str, fresh: &[u8; 32]) -> Result<[u8; 32], sqlx::Error> {
    sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(BASE64.encode(fresh))
        .execute(pool)
        .await?;
    let stored: String =
        sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1").bind(name).fetch_one(pool).await?;
    BASE64
        .decode(stored)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| sqlx::Error::Decode(format!("the server key {name:?} is not 32 bytes of base64").into()))
}
