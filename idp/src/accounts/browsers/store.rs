//! The browsers an account confirmed (`known_browsers`) and each person's choice to be asked
//! (`users.verify_new_browsers`).

use sqlx::Row;

use crate::{accounts::UserId, store::Db};

/// A browser an account confirmed.
pub struct KnownBrowser {
    /// Its id (the forms name it).
    pub id: String,
    /// « Firefox sur Windows », from its `User-Agent` when confirmed.
    pub label: String,
    /// When it was confirmed (seconds).
    pub created_at: i64,
    /// When it last logged in (seconds).
    pub last_seen_at: i64,
    /// SHA-256 of its cookie's token.
    pub token_hash: String,
}

/// The browsers `user_id` confirmed, most recently seen first.
pub async fn list(db: &Db, user_id: &str) -> Result<Vec<KnownBrowser>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, label, created_at, last_seen_at, token_hash FROM known_browsers \
         WHERE user_id = $1 ORDER BY last_seen_at DESC, id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KnownBrowser {
                id: r.try_get("id")?,
                label: r.try_get("label")?,
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
                token_hash: r.try_get("token_hash")?,
            })
        })
        .collect()
}

/// Whether the browser whose cookie token hashes to `token_hash` is one `user_id` confirmed;
/// if so, it is seen now.
pub async fn seen(db: &Db, user_id: &str, token_hash: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE known_browsers SET last_seen_at = $1 WHERE user_id = $2 AND token_hash = $3",
    )
    .bind(now)
    .bind(user_id)
    .bind(token_hash)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `user_id` chose to confirm new browsers.
pub async fn opted_in(db: &Db, user_id: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT verify_new_browsers FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64, _>("verify_new_browsers")? != 0,
        None => false,
    })
}

/// Records a confirmed browser.
pub async fn insert_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    id: &str,
    token_hash: &str,
    label: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO known_browsers (id, user_id, token_hash, label, created_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(id)
    .bind(user.as_str())
    .bind(token_hash)
    .bind(label)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forgets one browser of `user`; whether it was theirs.
pub async fn forget_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM known_browsers WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets every browser of `user`; how many there were.
pub async fn forget_all_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM known_browsers WHERE user_id = $1")
        .bind(user.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// Records the person's choice.
pub async fn set_opted_in_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    on: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET verify_new_browsers = $1 WHERE id = $2")
        .bind(i64::from(on))
        .bind(user.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
