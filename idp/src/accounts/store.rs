//! Accounts in the database.

use sqlx::Row;

use super::Email;
use crate::store::{Db, now};

/// An account.
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
    /// Prénom.
    pub given_name: String,
    /// Nom.
    pub family_name: String,
    /// Civilité as an OIDC gender: `female` or `male`.
    pub gender: Option<String>,
    /// Poste.
    pub job: Option<String>,
    /// Establishment of the person's organisation.
    pub siret: Option<String>,
    /// Raison sociale of that organisation.
    pub organization_label: Option<String>,
    /// Ministry agent.
    pub is_agent: bool,
    /// Last change of the profile, seconds.
    pub updated_at: i64,
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

const COLUMNS: &str = "id, email, email_verified, password_hash, given_name, family_name, gender, job, siret, organization_label, is_agent, updated_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        password_hash: row.try_get("password_hash")?,
        given_name: row.try_get("given_name")?,
        family_name: row.try_get("family_name")?,
        gender: row.try_get("gender")?,
        job: row.try_get("job")?,
        siret: row.try_get("siret")?,
        organization_label: row.try_get("organization_label")?,
        is_agent: row.try_get::<i64, _>("is_agent")? != 0,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Creates an account with a verified e-mail; `None` when the address is taken.
pub async fn insert_user(
    db: &Db,
    email: &Email,
    password_hash: Option<&str>,
    new: &NewUser,
) -> Result<Option<User>, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let t = now();
    let result = sqlx::query(
        "INSERT INTO users (id, email, email_verified, password_hash, given_name, family_name, gender, job, siret, organization_label, is_agent, created_at, updated_at) \
         VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT (email) DO NOTHING",
    )
    .bind(&id)
    .bind(email.as_str())
    .bind(password_hash)
    .bind(&new.given_name)
    .bind(&new.family_name)
    .bind(&new.gender)
    .bind(&new.job)
    .bind(&new.siret)
    .bind(&new.organization_label)
    .bind(i64::from(new.is_agent))
    .bind(t)
    .execute(&db.pool)
    .await?;
    if result.rows_affected() == 0 {
        return Ok(None);
    }
    user_by_id(db, &id).await
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

/// Replaces an account's password hash.
pub async fn set_password_hash(db: &Db, id: &str, phc: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(phc)
        .bind(now())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Replaces an account's civilité, nom, prénom and poste.
pub async fn update_identity(
    db: &Db,
    id: &str,
    gender: &str,
    family_name: &str,
    given_name: &str,
    job: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET gender = $1, family_name = $2, given_name = $3, job = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(gender)
    .bind(family_name)
    .bind(given_name)
    .bind(job)
    .bind(now())
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Gives an account a new (proven) address; `false` when another account has it.
pub async fn set_email(db: &Db, id: &str, email: &Email) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE users SET email = $1, email_verified = 1, updated_at = $2 \
         WHERE id = $3 AND NOT EXISTS (SELECT 1 FROM users WHERE email = $1)",
    )
    .bind(email.as_str())
    .bind(now())
    .bind(id)
    .execute(&db.pool)
    .await;
    match result {
        Ok(done) => Ok(done.rows_affected() == 1),
        // Taken between the check and the write by a concurrent change.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes an account and everything that hangs on it, in one transaction: its grants are
/// listed as revoked for as long as their access tokens (`access_ttl`) can live, then its
/// refresh tokens and grants go (so every token stops working), consents, second factor, and
/// the account itself. The audit trail is kept. Nodes' revocation lists must be told after.
pub async fn delete_user(db: &Db, id: &str, access_ttl: u64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    crate::oidc::grants::list_user_grants_revoked(&mut tx, id, access_ttl).await?;
    for sql in [
        "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE user_id = $1)",
        "DELETE FROM grants WHERE user_id = $1",
        "DELETE FROM consents WHERE user_id = $1",
        "DELETE FROM totp_recovery_codes WHERE user_id = $1",
        "DELETE FROM user_totp WHERE user_id = $1",
        "DELETE FROM users WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await
}

// --- appended by helper "manage" (invitation finish creates the account in its transaction) ---

/// [`insert_user`] inside the caller's transaction, at `at`: the new account's id, or `None`
/// when the address is taken.
pub async fn insert_user_in(
    conn: &mut sqlx::AnyConnection,
    email: &Email,
    password_hash: Option<&str>,
    new: &NewUser,
    at: i64,
) -> Result<Option<crate::accounts::UserId>, sqlx::Error> {
    let id = crate::accounts::UserId::generate();
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
    .bind(at)
    .execute(conn)
    .await?;
    Ok((result.rows_affected() > 0).then_some(id))
}
