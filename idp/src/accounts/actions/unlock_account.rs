//! Unlock an account whose login tries reached their limits (`idp users unlock`,
//! `POST /api/v1/admin/users/{id}/unlock`): the counters of the shared store go
//! ([`crate::accounts::guard::unlock`]) and `account.unlocked` is audited with the operator, the
//! reason and how many counters there were. The counters live in the shared store only (no
//! row changes): the event is the one row written.

use super::{AccountRefusal, UserId, store};
use crate::{
    accounts::guard,
    admin::AdminCall,
    audit,
    store::{Db, Ephemeral, ephemeral::EphemeralError},
};

/// Why an unlock failed.
#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    /// The action refused.
    #[error(transparent)]
    Refused(#[from] AccountRefusal),
    /// The shared store failed.
    #[error(transparent)]
    Store(#[from] EphemeralError),
}

impl From<sqlx::Error> for UnlockError {
    fn from(e: sqlx::Error) -> Self {
        Self::Refused(e.into())
    }
}

/// Unlocks `user`; how many counters were removed.
pub async fn unlock_account(
    db: &Db,
    shared: &Ephemeral,
    now: i64,
    by: &AdminCall,
    user: &UserId,
) -> Result<usize, UnlockError> {
    let account = store::user_by_id(db, user.as_str())
        .await?
        .ok_or(AccountRefusal::NoSuchAccount)?;
    let found = guard::unlock(shared, &account.email, user.as_str()).await?;
    let event = by.details(serde_json::json!({ "counters": found }));
    audit::record_alone(
        db,
        now,
        by.actor(),
        "account.unlocked",
        user.as_str(),
        event,
    )
    .await?;
    Ok(found)
}
