//! The `user_passkeys` table: an account's credentials, the serialised `webauthn-rs` passkey
//! (public key, counter, flags) with the counter and backup flags also in columns, so the
//! counter's rule is one conditional UPDATE and the flags can be read without parsing.

use sqlx::Row;
use webauthn_rs::prelude::{Credential, Passkey};

use crate::{accounts::UserId, store::Db};

/// A passkey as « Mon compte » lists it.
#[derive(Clone, Debug)]
pub struct Listed {
    /// Its id (what the removal form names).
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// When it was registered (seconds).
    pub created_at: i64,
    /// When it was last used to log in (seconds).
    pub last_used_at: Option<i64>,
}

impl Listed {
    /// `JJ/MM/AAAA` of the registration.
    pub fn created(&self) -> String {
        crate::access::dates::french_date(self.created_at)
    }

    /// `JJ/MM/AAAA à HHhMM` of the last use, or « Jamais ».
    pub fn last_used(&self) -> String {
        self.last_used_at.map_or_else(
            || "Jamais".to_owned(),
            crate::access::dates::french_date_time,
        )
    }
}

/// A stored passkey, for a ceremony.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Its id.
    pub id: String,
    /// Its account.
    pub user_id: String,
    /// The name its owner gave it.
    pub name: String,
    /// The credential.
    pub passkey: Passkey,
}

/// The credential id of a passkey as stored: base64url.
pub fn credential_id(passkey: &Passkey) -> String {
    base64url(passkey.cred_id().as_ref())
}

/// Bytes in base64url without padding, as WebAuthn writes credential ids.
pub fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The counter and backup flags of a passkey.
fn flags(passkey: &Passkey) -> (i64, i64, i64) {
    let cred = Credential::from(passkey.clone());
    (
        i64::from(cred.counter),
        i64::from(cred.backup_eligible),
        i64::from(cred.backup_state),
    )
}

fn stored(row: &sqlx::any::AnyRow) -> Result<Stored, sqlx::Error> {
    let json: String = row.try_get("passkey")?;
    let passkey = serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Stored {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        passkey,
    })
}

/// The passkeys of an account, oldest first.
pub async fn list(db: &Db, user_id: &str) -> Result<Vec<Listed>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, created_at, last_used_at FROM user_passkeys WHERE user_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Listed {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        })
        .collect()
}

/// Whether the account has at least one passkey.
pub async fn has_any(db: &Db, user_id: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT id FROM user_passkeys WHERE user_id = $1 LIMIT 1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?
            .is_some(),
    )
}

/// The credentials of an account, for its second step.
pub async fn of_account(db: &Db, user_id: &str) -> Result<Vec<Stored>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, user_id, name, passkey FROM user_passkeys WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(stored).collect()
}

/// The passkey with this credential id (base64url), whoever's it is.
pub async fn by_credential_id(db: &Db, credential_id: &str) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query("SELECT id, user_id, name, passkey FROM user_passkeys WHERE credential_id = $1")
        .bind(credential_id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(stored)
        .transpose()
}

/// How many passkeys the account has, in the transaction.
pub async fn count_in(conn: &mut sqlx::AnyConnection, user: &UserId) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM user_passkeys WHERE user_id = $1")
        .bind(user.as_str())
        .fetch_one(conn)
        .await?
        .try_get("n")
}

/// Whether a credential id is registered already (to any account), in the transaction.
pub async fn credential_taken_in(
    conn: &mut sqlx::AnyConnection,
    credential_id: &str,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT id FROM user_passkeys WHERE credential_id = $1")
            .bind(credential_id)
            .fetch_optional(conn)
            .await?
            .is_some(),
    )
}

/// A new passkey of `user`; returns its id.
pub async fn insert_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    name: &str,
    passkey: &Passkey,
    now: i64,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let json = serde_json::to_string(passkey).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let (counter, eligible, backed_up) = flags(passkey);
    sqlx::query(
        "INSERT INTO user_passkeys (id, user_id, credential_id, name, passkey, sign_count, \
         backup_eligible, backup_state, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
    )
    .bind(&id)
    .bind(user.as_str())
    .bind(credential_id(passkey))
    .bind(name)
    .bind(json)
    .bind(counter)
    .bind(eligible)
    .bind(backed_up)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Removes a passkey of `user`; returns its name, `None` when it is not one of theirs.
pub async fn delete_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let name = sqlx::query("SELECT name FROM user_passkeys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get::<String, _>("name"))
        .transpose()?;
    if name.is_some() {
        sqlx::query("DELETE FROM user_passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(name)
}

/// Records a use of the passkey `id`, updated after the assertion (`passkey`): its new counter,
/// flags and the time. One conditional UPDATE: only when the counter went up, or when both the
/// stored and the new one are zero (authenticators without a counter, synchronised passkeys),
/// so two nodes cannot both accept the same counter value. `false`: refused, nothing written.
pub async fn record_use_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    passkey: &Passkey,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let json = serde_json::to_string(passkey).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let (counter, eligible, backed_up) = flags(passkey);
    let done = sqlx::query(
        "UPDATE user_passkeys SET passkey = $1, sign_count = $2, backup_eligible = $3, \
         backup_state = $4, last_used_at = $5 \
         WHERE id = $6 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))",
    )
    .bind(json)
    .bind(counter)
    .bind(eligible)
    .bind(backed_up)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
