//! The passkeys' use cases, each one transaction with its audit event: registering one
//! (`passkey.register`), removing one (`passkey.remove`), using one (`passkey.use`, its counter
//! checked) and refusing one whose counter did not go up (`passkey.refused`, alone: nothing
//! else is written).

use webauthn_rs::prelude::Passkey;

use super::{MAX_PER_ACCOUNT, store};
use crate::{
    accounts::{UserId, store as users},
    action::{self, Event, Refusal, RefusalKind},
    audit,
    store::Db,
};

/// Why a passkey action says no.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyRefusal {
    /// The authenticator's credential is registered already.
    #[error("Cette clé d'accès est déjà enregistrée.")]
    AlreadyRegistered,
    /// The account holds the most passkeys allowed.
    #[error(
        "Vous avez atteint le nombre maximal de clés d'accès (10). Supprimez-en une pour en ajouter une autre."
    )]
    TooMany,
    /// No such passkey on this account.
    #[error("Cette clé d'accès n'existe pas ou a déjà été supprimée.")]
    NotFound,
    /// The signature counter did not go up: the credential may have been copied.
    #[error(
        "Cette clé d'accès a été refusée : elle a peut-être été copiée. Utilisez une autre méthode de connexion, puis supprimez cette clé de votre compte."
    )]
    Cloned,
    /// Storage failed.
    #[error("base de données : {0}")]
    Storage(#[from] sqlx::Error),
}

impl Refusal for PasskeyRefusal {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyRegistered => "passkey_registered",
            Self::TooMany => "too_many_passkeys",
            Self::NotFound => "passkey_not_found",
            Self::Cloned => "passkey_counter",
            Self::Storage(_) => "server_error",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::AlreadyRegistered | Self::TooMany => RefusalKind::Conflict,
            Self::NotFound => RefusalKind::NotFound,
            Self::Cloned => RefusalKind::Forbidden,
            Self::Storage(_) => RefusalKind::Internal,
        }
    }
}

impl From<PasskeyRefusal> for crate::error::PageError {
    fn from(refusal: PasskeyRefusal) -> Self {
        Self::refused(&refusal)
    }
}

/// Gives `user` the passkey `name`, unless its credential is registered already or the account
/// holds [`MAX_PER_ACCOUNT`]; returns its id. `recovery_codes`: hashes of recovery codes given
/// with it (the first second factor of an account without any), stored in the same transaction.
pub async fn register_passkey(
    db: &Db,
    now: i64,
    user: &UserId,
    name: &str,
    passkey: &Passkey,
    recovery_codes: &[String],
) -> Result<String, PasskeyRefusal> {
    let credential = store::credential_id(passkey);
    action::in_one_transaction(db, now, async |tx| {
        if store::credential_taken_in(tx, &credential).await? {
            return Err(PasskeyRefusal::AlreadyRegistered);
        }
        let held = usize::try_from(store::count_in(tx, user).await?).unwrap_or(usize::MAX);
        if held >= MAX_PER_ACCOUNT {
            return Err(PasskeyRefusal::TooMany);
        }
        let id = store::insert_in(tx, user, name, passkey, now).await?;
        users::add_recovery_codes_in(tx, user, recovery_codes).await?;
        let event = Event::new(user.as_str(), "passkey.register", user.as_str()).with(
            serde_json::json!({ "passkey": id, "name": name, "recovery_codes": recovery_codes.len() }),
        );
        Ok((id, event))
    })
    .await
}

/// Removes the passkey `id` of `user`.
pub async fn remove_passkey(
    db: &Db,
    now: i64,
    user: &UserId,
    id: &str,
) -> Result<(), PasskeyRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let Some(name) = store::delete_in(tx, user, id).await? else {
            return Err(PasskeyRefusal::NotFound);
        };
        let event = Event::new(user.as_str(), "passkey.remove", user.as_str())
            .with(serde_json::json!({ "passkey": id, "name": name }));
        Ok(((), event))
    })
    .await
}

/// How a passkey was used.
#[derive(Clone, Copy, Debug)]
pub enum Use {
    /// The second factor after the password (or a step-up).
    SecondFactor,
    /// A login without a password.
    Passwordless,
}

impl Use {
    fn as_str(self) -> &'static str {
        match self {
            Self::SecondFactor => "second_factor",
            Self::Passwordless => "passwordless",
        }
    }
}

/// Records a use of `stored`, updated after the assertion (`updated`), if its counter went up
/// (or both are zero); otherwise refuses it as possibly cloned ([`refuse_cloned`]) and writes
/// nothing else.
pub async fn use_passkey(
    db: &Db,
    now: i64,
    stored: &store::Stored,
    updated: &Passkey,
    how: Use,
) -> Result<(), PasskeyRefusal> {
    let mut tx = db.begin().await?;
    if !store::record_use_in(&mut tx, &stored.id, updated, now).await? {
        drop(tx);
        return refuse_cloned(db, now, stored, how).await;
    }
    Event::new(&stored.user_id, "passkey.use", &stored.user_id)
        .with(serde_json::json!({ "passkey": stored.id, "name": stored.name, "how": how.as_str() }))
        .record_in(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Records (alone) that `stored` was refused because its counter did not go up.
pub async fn refuse_cloned(
    db: &Db,
    now: i64,
    stored: &store::Stored,
    how: Use,
) -> Result<(), PasskeyRefusal> {
    tracing::warn!(user.id = %stored.user_id, passkey = %stored.id, "passkey refused: signature counter did not increase");
    audit::record_alone(
        db,
        now,
        &stored.user_id,
        "passkey.refused",
        &stored.user_id,
        serde_json::json!({ "passkey": stored.id, "name": stored.name, "how": how.as_str(), "reason": "counter" }),
    )
    .await?;
    Err(PasskeyRefusal::Cloned)
}
