//! Accounts in the database.

use sqlx::Row;

use super::{Email, UserId};
use crate::store::{Db, now};

/// An account: its identity ([`NewUser`], readable through the account itself) and what the
/// provider keeps about it.
#[derive(Clone, Debug)]
pub struct User {
    /// Opaque, stable id; the OIDC `sub`.
    pub id: String,
    /// Login and contact address.
    pub email: String,
    /// Whether the address was proven.
    pub email_verified: bool,
    /// argon2id PHC string, `None` until the person sets a password.
    pub password_hash: Option<String>,
    /// Civilité, names, poste, organisation, agent.
    pub profile: NewUser,
    /// Last change of the profile, seconds.
    pub updated_at: i64,
    /// Whether it may log in and which sessions hold ([`super::standing`]).
    pub standing: super::standing::Standing,
    /// Last successful login, seconds.
    pub last_login_at: Option<i64>,
}

impl std::ops::Deref for User {
    type Target = NewUser;

    fn deref(&self) -> &NewUser {
        &self.profile
    }
}

/// What a new account starts with.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    /// Prénom.
    pub given_name: String,
    /// Nom.
    pub family_name: String,
    /// `female` or `male`.
    pub gender: Option<String>,
    /// Poste.
    pub job: Option<String>,
    /// SIRET.
    pub siret: Option<String>,
    /// Raison sociale.
    pub organization_label: Option<String>,
    /// Ministry agent.
    pub is_agent: bool,
}

/// The columns [`from_row`] reads (also read by userinfo's query, `oidc::grants`).
pub(crate) const COLUMNS: &str = "id, email, email_verified, password_hash, given_name, family_name, gender, job, siret, organization_label, is_agent, updated_at, disabled_at, sessions_not_before, last_login_at";

/// An account from a row holding [`COLUMNS`].
pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        password_hash: row.try_get("password_hash")?,
        profile: NewUser {
            given_name: row.try_get("given_name")?,
            family_name: row.try_get("family_name")?,
            gender: row.try_get("gender")?,
            job: row.try_get("job")?,
            siret: row.try_get("siret")?,
            organization_label: row.try_get("organization_label")?,
            is_agent: row.try_get::<i64, _>("is_agent")? != 0,
        },
        updated_at: row.try_get("updated_at")?,
        standing: super::standing::Standing {
            disabled_at: row.try_get("disabled_at")?,
            sessions_not_before: row.try_get("sessions_not_before")?,
        },
        last_login_at: row.try_get("last_login_at")?,
    })
}

/// Creates an account with a verified e-mail; `None` when the address is taken.
pub async fn insert_user(
    db: &Db,
    email: &Email,
    password_hash: Option<&str>,
    new: &NewUser,
) -> Result<Option<User>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let id = insert_user_in(&mut tx, email, password_hash, new, now()).await?;
    tx.commit().await?;
    match id {
        Some(id) => user_by_id(db, id.as_str()).await,
        None => Ok(None),
    }
}

/// Creates an account with a verified e-mail at `now`, inside the caller's transaction; `None`
/// when the address is taken.
pub async fn insert_user_in(
    conn: &mut sqlx::AnyConnection,
    email: &Email,
    password_hash: Option<&str>,
    new: &NewUser,
    now: i64,
) -> Result<Option<UserId>, sqlx::Error> {
    let id = UserId::generate();
    let result = sqlx::query(
        "INSERT INTO users (id, email, email_verified, password_hash, given_name, family_name, gender, job, siret, organization_label, is_agent, created_at, updated_at) \
         VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT (email) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(email.as_str())
    .bind(password_hash)
    .bind(&new.given_name)
    .bind(&new.family_name)
    .bind(&new.gender)
    .bind(&new.job)
    .bind(&new.siret)
    .bind(&new.organization_label)
    .bind(i64::from(new.is_agent))
    .bind(now)
    .execute(conn)
    .await?;
    Ok((result.rows_affected() == 1).then_some(id))
}

/// The account with this address.
pub async fn user_by_email(db: &Db, email: &Email) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(email.as_str())
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The account with this id.
pub async fn user_by_id(db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Replaces an account's civilité, nom, prénom and poste at `now`, inside the caller's
/// transaction.
pub async fn update_identity_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    identity: &Identity<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET gender = $1, family_name = $2, given_name = $3, job = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(identity.gender)
    .bind(identity.family_name)
    .bind(identity.given_name)
    .bind(identity.job)
    .bind(now)
    .bind(user.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// What « Mon compte » lets a person change about who they are.
#[derive(Clone, Copy, Debug)]
pub struct Identity<'a> {
    /// `female` or `male`.
    pub gender: &'a str,
    /// Nom.
    pub family_name: &'a str,
    /// Prénom.
    pub given_name: &'a str,
    /// Poste.
    pub job: Option<&'a str>,
}

/// Gives an account a new (proven) address at `now`, inside the caller's transaction; `false`
/// when another account has it.
pub async fn set_email_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    email: &Email,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE users SET email = $1, email_verified = 1, updated_at = $2 \
         WHERE id = $3 AND NOT EXISTS (SELECT 1 FROM users WHERE email = $1)",
    )
    .bind(email.as_str())
    .bind(now)
    .bind(user.as_str())
    .execute(conn)
    .await;
    match result {
        Ok(done) => Ok(done.rows_affected() == 1),
        // Taken between the check and the write by a concurrent change.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes an account and what the accounts domain keeps about it (second factor, recovery
/// codes), inside the caller's transaction. The OIDC rows go through
/// [`crate::oidc::grants::delete_for_user`] in the same transaction; the audit trail is kept.
pub async fn delete_user_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
) -> Result<(), sqlx::Error> {
    delete_totp_in(&mut *conn, user).await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces an account's password hash at `now`, inside the caller's transaction.
pub async fn set_password_hash_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    phc: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(phc)
        .bind(now)
        .bind(user.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores a sealed TOTP secret (its `accepted_step` spent) and the hashes of the recovery
/// codes at `now`, replacing any earlier ones, inside the caller's transaction.
pub async fn replace_totp_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    sealed: &[u8],
    accepted_step: i64,
    code_hashes: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    delete_totp_in(&mut *conn, user).await?;
    sqlx::query(
        "INSERT INTO user_totp (user_id, secret, last_step, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(user.as_str())
    .bind(sealed.to_vec())
    .bind(accepted_step)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    add_recovery_codes_in(conn, user, code_hashes).await
}

/// Stores the hashes of new recovery codes of an account, inside the caller's transaction
/// (with a TOTP enrolment, or with the first passkey of an account without any).
pub async fn add_recovery_codes_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    code_hashes: &[String],
) -> Result<(), sqlx::Error> {
    for hash in code_hashes {
        sqlx::query("INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user.as_str())
            .bind(hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Removes an account's TOTP secret and recovery codes, inside the caller's transaction.
pub async fn delete_totp_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
) -> Result<(), sqlx::Error> {
    for sql in [
        "DELETE FROM totp_recovery_codes WHERE user_id = $1",
        "DELETE FROM user_totp WHERE user_id = $1",
    ] {
        sqlx::query(sql)
            .bind(user.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Disables an account at `now` for `reason` (`Some`), or enables it again (`None`), inside the
/// caller's transaction.
pub async fn set_disabled_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    disabled: Option<(i64, &str)>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET disabled_at = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(disabled.map(|(at, _)| at))
    .bind(disabled.map(|(_, reason)| reason))
    .bind(now)
    .bind(user.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Voids every session of an account started before `not_before`, on every node (they read it
/// at each request: [`crate::accounts::standing`]), inside the caller's transaction.
pub async fn void_sessions_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    not_before: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET sessions_not_before = $1 WHERE id = $2")
        .bind(not_before)
        .bind(user.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets or clears the ministry-agent flag of an account (the break-glass of
/// [`crate::access::rules::is_agent`]) inside the caller's transaction; `false` when it already
/// had that value.
pub async fn set_agent_flag_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    agent: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE users SET is_agent = $1, updated_at = $2 WHERE id = $3 AND is_agent <> $1",
    )
    .bind(i64::from(agent))
    .bind(now)
    .bind(user.as_str())
    .execute(conn)
    .await?;
    Ok(changed.rows_affected() == 1)
}

/// Records a successful login at `now` (support reads it; `idp users list --inactive-since`),
/// inside the caller's transaction.
pub async fn set_last_login_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// What an operator's reset of an account's second factors removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SecondFactorsRemoved {
    /// Its TOTP application (0 or 1).
    pub totp: u64,
    /// Its recovery codes.
    pub recovery_codes: u64,
    /// Its passkeys.
    pub passkeys: u64,
    /// Its known browsers (confirmed with a factor now gone).
    pub known_browsers: u64,
}

impl SecondFactorsRemoved {
    /// Whether there was anything to remove.
    pub fn any(&self) -> bool {
        self.totp + self.recovery_codes + self.passkeys + self.known_browsers > 0
    }
}

/// Removes every second factor of an account (TOTP, recovery codes, passkeys) and its known
/// browsers, inside the caller's transaction.
pub async fn remove_second_factors_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
) -> Result<SecondFactorsRemoved, sqlx::Error> {
    let mut counts = [0; 4];
    for (count, sql) in counts.iter_mut().zip([
        "DELETE FROM user_totp WHERE user_id = $1",
        "DELETE FROM totp_recovery_codes WHERE user_id = $1",
        "DELETE FROM user_passkeys WHERE user_id = $1",
        "DELETE FROM known_browsers WHERE user_id = $1",
    ]) {
        *count = sqlx::query(sql)
            .bind(user.as_str())
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    let [totp, recovery_codes, passkeys, known_browsers] = counts;
    Ok(SecondFactorsRemoved {
        totp,
        recovery_codes,
        passkeys,
        known_browsers,
    })
}
