//! Activation codes: what a ministry agent (or the service itself) issues for an
//! establishment and a service, and the post brings to the centre. Whoever redeems it first
//! becomes Responsable des accès of that establishment for that service.
//!
//! A code is 12 characters from an alphabet without look-alikes (no I, O, 0 or 1: about 60
//! bits), single use, with an expiry. Only a keyed hash is stored (HMAC-SHA-256 under a key
//! derived from the KEK), so the table alone does not allow an offline search of the codes.

use std::fmt;

use aws_lc_rs::{hmac, rand::SecureRandom};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sqlx::Row;

use crate::{
    accounts::UserId,
    organizations::Siret,
    store::{Db, now},
};

/// The characters of a code.
pub const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Its length.
pub const LENGTH: usize = 12;

/// A well-formed activation code (not necessarily a valid one).
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode(String);

/// Why typed text is not an activation code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeFormatError {
    /// Wrong length.
    #[error("Le code d'activation comporte 12 caractères (lettres et chiffres).")]
    Length,
    /// A character outside the alphabet.
    #[error(
        "Le code d'activation ne contient que des lettres majuscules et des chiffres de 2 à 9 (ni I, ni O, ni 0, ni 1)."
    )]
    Character,
}

impl ActivationCode {
    /// Parses what a person typed: case, spaces and dashes do not matter.
    pub fn parse(input: &str) -> Result<Self, CodeFormatError> {
        let cleaned: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if cleaned.chars().count() != LENGTH {
            return Err(CodeFormatError::Length);
        }
        if !cleaned.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(CodeFormatError::Character);
        }
        Ok(Self(cleaned))
    }

    /// A new random code (uniform over the alphabet: 32 divides 256).
    pub fn generate() -> Self {
        let mut bytes = [0u8; LENGTH];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system random generator works");
        Self(
            bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
                .collect(),
        )
    }

    /// The 12 characters, for the letter.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The keyed hash that is stored.
    pub fn hash(&self, key: &[u8; 32]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        URL_SAFE_NO_PAD.encode(hmac::sign(&key, self.0.as_bytes()).as_ref())
    }
}

// Never printed by accident (logs, panics): a code is a credential.
impl fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationCode(…)")
    }
}

/// The label under which the code-hashing key is derived from the KEK.
pub const HASH_KEY_LABEL: &str = "activation-codes";

/// Where a code stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeStatus {
    /// Can be redeemed.
    Live,
    /// Past its expiry.
    Expired,
    /// Revoked, or replaced by a newer code.
    Revoked,
    /// Redeemed by this user id.
    Redeemed(String),
}

impl CodeStatus {
    /// In French, for lists.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Live => "valide",
            Self::Expired => "expiré",
            Self::Revoked => "révoqué",
            Self::Redeemed(_) => "utilisé",
        }
    }
}

/// A code as listed (never the code itself).
#[derive(Clone, Debug)]
pub struct CodeInfo {
    /// Id, for revoking.
    pub id: String,
    /// Service.
    pub service_code: String,
    /// Establishment.
    pub siret: String,
    /// Who issued it.
    pub issued_by: String,
    /// When.
    pub issued_at: i64,
    /// Until when.
    pub expires_at: i64,
    /// Status now.
    pub status: CodeStatus,
    /// When it was redeemed or revoked.
    pub closed_at: Option<i64>,
}

/// A code just issued: the only time it exists in clear.
#[derive(Debug)]
pub struct IssuedCode {
    /// Id.
    pub id: String,
    /// The code, to print in the letter.
    pub code: ActivationCode,
    /// Service.
    pub service_code: String,
    /// Establishment.
    pub siret: String,
    /// Until when (seconds).
    pub expires_at: i64,
}

/// Issues a code for an establishment and a service at `now`; the codes issued before for the
/// same pair that were not used are revoked (only the newest letter works). Inside the
/// caller's transaction: the issue action checks the register and records the event there.
pub async fn issue_in(
    conn: &mut sqlx::AnyConnection,
    key: &[u8; 32],
    service_code: &str,
    siret: &Siret,
    issued_by: &str,
    now: i64,
    ttl_seconds: i64,
) -> Result<IssuedCode, sqlx::Error> {
    store_new(
        conn,
        key,
        service_code,
        siret.as_str(),
        issued_by,
        now,
        ttl_seconds,
    )
    .await
}

/// [`issue_in`] in a transaction of its own, without the register check nor the audit: for
/// seeding tests only; every surface issues through `actions::issue_code`.
pub async fn issue(
    db: &Db,
    key: &[u8; 32],
    service_code: &str,
    siret: &str,
    issued_by: &str,
    ttl_seconds: i64,
) -> Result<IssuedCode, sqlx::Error> {
    let mut tx = db.begin().await?;
    let issued = store_new(
        &mut tx,
        key,
        service_code,
        siret,
        issued_by,
        now(),
        ttl_seconds,
    )
    .await?;
    tx.commit().await?;
    Ok(issued)
}

async fn store_new(
    conn: &mut sqlx::AnyConnection,
    key: &[u8; 32],
    service_code: &str,
    siret: &str,
    issued_by: &str,
    t: i64,
    ttl_seconds: i64,
) -> Result<IssuedCode, sqlx::Error> {
    let code = ActivationCode::generate();
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "UPDATE activation_codes SET revoked_at = $1 WHERE service_code = $2 AND siret = $3 \
         AND redeemed_at IS NULL AND revoked_at IS NULL",
    )
    .bind(t)
    .bind(service_code)
    .bind(siret)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO activation_codes (id, code_hash, service_code, siret, issued_by, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(code.hash(key))
    .bind(service_code)
    .bind(siret)
    .bind(issued_by)
    .bind(t)
    .bind(t + ttl_seconds)
    .execute(&mut *conn)
    .await?;
    Ok(IssuedCode {
        id,
        code,
        service_code: service_code.to_owned(),
        siret: siret.to_owned(),
        expires_at: t + ttl_seconds,
    })
}

/// Within one second, the live code (at most one per establishment) before those it replaced.
const LIVE_FIRST: &str = "CASE WHEN redeemed_at IS NULL AND revoked_at IS NULL THEN 0 ELSE 1 END";

const SELECT: &str = "SELECT id, service_code, siret, issued_by, issued_at, expires_at, revoked_at, \
    redeemed_at, redeemed_by FROM activation_codes";

fn from_row(row: &sqlx::any::AnyRow, t: i64) -> Result<CodeInfo, sqlx::Error> {
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let redeemed_at: Option<i64> = row.try_get("redeemed_at")?;
    let redeemed_by: Option<String> = row.try_get("redeemed_by")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let status = match (redeemed_by, revoked_at) {
        (Some(by), _) => CodeStatus::Redeemed(by),
        (None, Some(_)) => CodeStatus::Revoked,
        (None, None) if expires_at <= t => CodeStatus::Expired,
        (None, None) => CodeStatus::Live,
    };
    Ok(CodeInfo {
        id: row.try_get("id")?,
        service_code: row.try_get("service_code")?,
        siret: row.try_get("siret")?,
        issued_by: row.try_get("issued_by")?,
        issued_at: row.try_get("issued_at")?,
        expires_at,
        status,
        closed_at: redeemed_at.or(revoked_at),
    })
}

/// The codes of a service, newest first, optionally for one establishment.
pub async fn list(
    db: &Db,
    service_code: &str,
    siret: Option<&str>,
) -> Result<Vec<CodeInfo>, sqlx::Error> {
    list_at(db, service_code, siret, now()).await
}

/// [`list`], each code's status as it stands at `t` (the pages' clock).
pub async fn list_at(
    db: &Db,
    service_code: &str,
    siret: Option<&str>,
    t: i64,
) -> Result<Vec<CodeInfo>, sqlx::Error> {
    let rows = match siret {
        Some(siret) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE service_code = $1 AND siret = $2 ORDER BY issued_at DESC, {LIVE_FIRST}"
        )))
        .bind(service_code)
        .bind(siret)
        .fetch_all(&db.pool)
        .await?,
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE service_code = $1 ORDER BY issued_at DESC, {LIVE_FIRST} LIMIT 500"
            )))
            .bind(service_code)
            .fetch_all(&db.pool)
            .await?
        }
    };
    rows.iter().map(|r| from_row(r, t)).collect()
}

/// One code by id.
pub async fn by_id(db: &Db, id: &str) -> Result<Option<CodeInfo>, sqlx::Error> {
    by_id_in(&mut *db.pool.acquire().await?, id, now()).await
}

/// One code by id, as it stands at `now`, inside the caller's transaction.
pub async fn by_id_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    now: i64,
) -> Result<Option<CodeInfo>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
        .bind(id.to_owned())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(|r| from_row(r, now))
        .transpose()
}

/// The code of `service_code` that `code` is, as it stands at `now`.
pub async fn find_in(
    conn: &mut sqlx::AnyConnection,
    key: &[u8; 32],
    code: &ActivationCode,
    service_code: &str,
    now: i64,
) -> Result<Option<CodeInfo>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE code_hash = $1 AND service_code = $2"
    )))
    .bind(code.hash(key))
    .bind(service_code.to_owned())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(|r| from_row(r, now))
    .transpose()
}

/// Marks the live code `id` redeemed by `user_id` at `now`; `false` when it is no longer live
/// (someone else was quicker, on this node or another, or it was revoked meanwhile): the
/// conditional update lets exactly one concurrent redemption through on both engines.
pub async fn take_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    user_id: &UserId,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE activation_codes SET redeemed_at = $1, redeemed_by = $2 WHERE id = $3 \
         AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(user_id.as_str().to_owned())
    .bind(id.to_owned())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes a code that was not used, at `now`; `false` when there is no such live or expired
/// code.
pub async fn revoke_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE activation_codes SET revoked_at = $1 WHERE id = $2 AND redeemed_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id.to_owned())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// [`revoke_in`] on its own, without the audit: for seeding tests only; every surface revokes
/// through `actions::revoke_code`.
pub async fn revoke(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    revoke_in(&mut *db.pool.acquire().await?, id, now()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_leniently_and_checked_strictly() {
        let c = ActivationCode::parse(" kbj9-slms n8f7 ").unwrap();
        assert_eq!(c.as_str(), "KBJ9SLMSN8F7");
        assert_eq!(
            ActivationCode::parse("KBJ9SLMSN8F"),
            Err(CodeFormatError::Length)
        );
        assert_eq!(
            ActivationCode::parse("KBJ9SLMSN8F0"),
            Err(CodeFormatError::Character)
        );
        assert_eq!(
            ActivationCode::parse("KBJ9SLMSN8FÉ"),
            Err(CodeFormatError::Character)
        );
        assert_eq!(format!("{c:?}"), "ActivationCode(…)");
    }

    #[test]
    fn generated_codes_parse_and_differ_and_hash_under_the_key() {
        let a = ActivationCode::generate();
        let b = ActivationCode::generate();
        assert_ne!(a, b);
        assert_eq!(ActivationCode::parse(a.as_str()).unwrap(), a);
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        assert_eq!(a.hash(&k1), a.hash(&k1));
        assert_ne!(a.hash(&k1), a.hash(&k2));
        assert_ne!(a.hash(&k1), b.hash(&k1));
    }
}
