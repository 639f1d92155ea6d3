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

use super::habilitations::GrantedHow;
use crate::store::{Db, now};

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

/// Issues a code for an establishment and a service; the codes issued before for the same
/// pair that were not used are revoked (only the newest letter works).
pub async fn issue(
    db: &Db,
    key: &[u8; 32],
    service_code: &str,
    siret: &str,
    issued_by: &str,
    ttl_seconds: i64,
) -> Result<IssuedCode, sqlx::Error> {
    let t = now();
    let code = ActivationCode::generate();
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE activation_codes SET revoked_at = $1 WHERE service_code = $2 AND siret = $3 \
         AND redeemed_at IS NULL AND revoked_at IS NULL",
    )
    .bind(t)
    .bind(service_code)
    .bind(siret)
    .execute(&mut *tx)
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
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
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
    let t = now();
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
    let t = now();
    sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(|r| from_row(r, t))
        .transpose()
}

/// Revokes a code that was not used; `false` when there is no such live or expired code.
pub async fn revoke(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE activation_codes SET revoked_at = $1 WHERE id = $2 AND redeemed_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Why a code was not accepted; each has its own message.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// No code of that service is this one.
    #[error(
        "Ce code d'activation n'est pas valide. Vérifiez le code indiqué dans le courrier que vous avez reçu."
    )]
    Unknown,
    /// The code is for another establishment than the SIRET typed with it.
    #[error(
        "Ce code d'activation ne correspond pas au SIRET indiqué. Vérifiez le SIRET de l'établissement destinataire du courrier."
    )]
    WrongSiret,
    /// Past its expiry.
    #[error(
        "Ce code d'activation a expiré. Demandez un nouveau courrier d'activation à votre DREETS ou DDETS."
    )]
    Expired,
    /// Revoked or replaced.
    #[error(
        "Ce code d'activation a été révoqué ou remplacé par un code plus récent. Utilisez le code du dernier courrier reçu."
    )]
    Revoked,
    /// Someone redeemed it already.
    #[error(
        "Ce code d'activation a déjà été utilisé. Adressez-vous au responsable des accès de votre établissement ou demandez un nouveau code."
    )]
    AlreadyUsed,
    /// Storage.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What a redemption gave.
#[derive(Clone, Debug)]
pub struct Redeemed {
    /// The code's id.
    pub id: String,
    /// The establishment the person now manages.
    pub siret: String,
}

/// Redeems `code` for `service_code` as `user_id`: exactly one redemption succeeds, even on
/// concurrent tries on several nodes; it makes the person Responsable des accès of the code's
/// establishment in the same transaction. `siret`, when the page asked for it, must match.
pub async fn redeem(
    db: &Db,
    key: &[u8; 32],
    code: &ActivationCode,
    service_code: &str,
    siret: Option<&str>,
    user_id: &str,
) -> Result<Redeemed, RedeemError> {
    let t = now();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE code_hash = $1 AND service_code = $2"
    )))
    .bind(code.hash(key))
    .bind(service_code)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Err(RedeemError::Unknown);
    };
    let info = from_row(&row, t)?;
    if siret.is_some_and(|s| s != info.siret) {
        return Err(RedeemError::WrongSiret);
    }
    match info.status {
        CodeStatus::Live => {}
        CodeStatus::Expired => return Err(RedeemError::Expired),
        CodeStatus::Revoked => return Err(RedeemError::Revoked),
        CodeStatus::Redeemed(_) => return Err(RedeemError::AlreadyUsed),
    }
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE activation_codes SET redeemed_at = $1, redeemed_by = $2 WHERE id = $3 \
         AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(t)
    .bind(user_id)
    .bind(&info.id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        // Someone else was quicker, or it was revoked meanwhile.
        return Err(RedeemError::AlreadyUsed);
    }
    sqlx::query(
        "INSERT INTO access_managers (user_id, service_code, siret, granted_by, granted_how, granted_at) \
         VALUES ($1, $2, $3, NULL, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(service_code)
    .bind(&info.siret)
    .bind(GrantedHow::ActivationCode.as_str())
    .bind(t)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Redeemed {
        id: info.id,
        siret: info.siret,
    })
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
