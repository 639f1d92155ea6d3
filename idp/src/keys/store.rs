//! Signing keys in the database.

use crate::store::Db;

/// A stored key, private part sealed.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KeyRow {
    /// Key id.
    pub kid: String,
    /// `RS256` or `ES256`.
    pub alg: String,
    /// Public JWK as JSON.
    pub public_jwk: String,
    /// Sealed PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// Created (and published) at.
    pub created_at: i64,
    /// Signs from.
    pub activates_at: i64,
    /// Stops signing at.
    pub retired_at: Option<i64>,
    /// Leaves the JWKS at.
    pub remove_at: Option<i64>,
    /// Revoked at.
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "kid, alg, public_jwk, private_key, created_at, activates_at, retired_at, remove_at, revoked_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<KeyRow, sqlx::Error> {
    sqlx::FromRow::from_row(row)
}

/// Every key ever stored, newest first.
pub async fn all_keys(db: &Db) -> Result<Vec<KeyRow>, sqlx::Error> {
    all_keys_in(&mut *db.pool.acquire().await?).await
}

/// Every key ever stored, newest first, read on `conn` (an action's transaction).
pub async fn all_keys_in(conn: &mut sqlx::AnyConnection) -> Result<Vec<KeyRow>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM signing_keys ORDER BY activates_at DESC, created_at DESC");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Stores a new key.
pub async fn insert_key(conn: &mut sqlx::AnyConnection, key: &KeyRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at, activates_at, retired_at, remove_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(&key.public_jwk)
    .bind(&key.private_key)
    .bind(key.created_at)
    .bind(key.activates_at)
    .bind(key.retired_at)
    .bind(key.remove_at)
    .bind(key.revoked_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets when a key stops signing and leaves the JWKS.
pub async fn set_retirement(
    conn: &mut sqlx::AnyConnection,
    kid: &str,
    retired_at: i64,
    remove_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE signing_keys SET retired_at = $1, remove_at = $2 WHERE kid = $3")
        .bind(retired_at)
        .bind(remove_at)
        .bind(kid)
        .execute(conn)
        .await?;
    Ok(())
}

/// Cancels a key's scheduled retirement: it keeps signing.
pub async fn clear_retirement(
    conn: &mut sqlx::AnyConnection,
    kid: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE signing_keys SET retired_at = NULL, remove_at = NULL WHERE kid = $1")
        .bind(kid)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves a pending key's activation to `at`.
pub async fn set_activation(
    conn: &mut sqlx::AnyConnection,
    kid: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE signing_keys SET activates_at = $1 WHERE kid = $2")
        .bind(at)
        .bind(kid)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks a key revoked.
pub async fn set_revoked(
    conn: &mut sqlx::AnyConnection,
    kid: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE signing_keys SET revoked_at = $1 WHERE kid = $2 AND revoked_at IS NULL")
        .bind(at)
        .bind(kid)
        .execute(conn)
        .await?;
    Ok(())
}
