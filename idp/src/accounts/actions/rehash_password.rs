//! Replace a password hash that verified but is not of today's kind (an imported account's
//! bcrypt or PBKDF2, or argon2 with older parameters) by an argon2id one with the current
//! parameters, at the login that proved the password: `password.rehashed` is audited with the
//! scheme left, in the same transaction. Only if the stored hash is still the one that verified:
//! a password changed meanwhile wins.

use super::{AccountRefusal, UserId};
use crate::{action::Event, store::Db};

/// Replaces `old` (which `scheme` names) by `new` for `user`; `false` when the stored hash
/// changed in between (nothing written).
pub async fn rehash_password(
    db: &Db,
    now: i64,
    user: &UserId,
    old: &str,
    new: &str,
    scheme: &str,
) -> Result<bool, AccountRefusal> {
    let mut tx = db.begin().await?;
    let replaced =
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
            .bind(new)
            .bind(user.as_str())
            .bind(old)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    if replaced {
        Event::new(user.as_str(), "password.rehashed", user.as_str())
            .with(serde_json::json!({ "from": scheme }))
            .record_in(&mut tx, now)
            .await?;
        tx.commit().await?;
    }
    Ok(replaced)
}
