//! Signing keys in the database.

use super::kek::Kek;
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

/// The name of the derivation root in `sealed_secrets` (also its AES-GCM associated data).
const DERIVATION_ROOT: &str = "derivation-root";

/// The installation's derivation root, opened with `kek`; recorded (sealed under the current
/// KEK) by the first node that finds none: the current KEK's own bytes, so that nothing derived
/// before changes. Two nodes starting at once record one: the second insert does nothing and
/// both read what was recorded.
pub async fn derivation_root(db: &Db, kek: &Kek) -> Result<Vec<u8>, RootError> {
    let sealed = sqlx::query("INSERT INTO sealed_secrets (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(DERIVATION_ROOT)
        .bind(kek.seal(DERIVATION_ROOT, &kek.first_derivation_root()))
        .bind(crate::store::now())
        .execute(&db.pool);
    sealed.await?;
    let row = sqlx::query("SELECT sealed FROM sealed_secrets WHERE name = $1")
        .bind(DERIVATION_ROOT)
        .fetch_one(&db.pool)
        .await?;
    let sealed: Vec<u8> = sqlx::Row::try_get(&row, "sealed")?;
    Ok(kek.open(DERIVATION_ROOT, &sealed)?)
}

/// Why the derivation root could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    /// Storage failed.
    #[error("base de données : {0}")]
    Db(#[from] sqlx::Error),
    /// Neither the current KEK nor a previous one opens it.
    #[error(transparent)]
    Kek(#[from] super::kek::KekError),
}

/// What `idp keys rewrap` re-sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rewrapped {
    /// Private signing keys.
    pub signing_keys: u64,
    /// TOTP secrets.
    pub totp_secrets: u64,
    /// Named sealed secrets (the derivation root).
    pub sealed_secrets: u64,
    /// Of those, how many were already under the current KEK (re-sealed all the same).
    pub already_current: u64,
}

/// Re-seals, inside the caller's transaction, everything stored under a KEK: each row is opened
/// (current or previous KEK) and sealed again under the current one, with the same associated
/// data. A row no configured KEK opens stops it all ([`RootError::Kek`]): nothing is half done.
pub async fn rewrap_in(conn: &mut sqlx::AnyConnection, kek: &Kek) -> Result<Rewrapped, RootError> {
    use sqlx::Row;
    let mut done = Rewrapped::default();
    // (table, the column naming the row and bound as associated data, the sealed column)
    let tables = [
        ("signing_keys", "kid", "private_key"),
        ("user_totp", "user_id", "secret"),
        ("sealed_secrets", "name", "sealed"),
    ];
    for (table, id, column) in tables {
        let select = format!("SELECT {id} AS id, {column} AS sealed FROM {table} ORDER BY {id}");
        let rows = sqlx::query(sqlx::AssertSqlSafe(select))
            .fetch_all(&mut *conn)
            .await?;
        let update = format!("UPDATE {table} SET {column} = $1 WHERE {id} = $2");
        for row in rows {
            let name: String = row.try_get("id")?;
            let sealed: Vec<u8> = row.try_get("sealed")?;
            let (plain, current) = kek.open_under(&name, &sealed)?;
            sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                .bind(kek.seal(&name, &plain))
                .bind(&name)
                .execute(&mut *conn)
                .await?;
            done.already_current += u64::from(current);
            match table {
                "signing_keys" => done.signing_keys += 1,
                "user_totp" => done.totp_secrets += 1,
                _ => done.sealed_secrets += 1,
            }
        }
    }
    Ok(done)
}
