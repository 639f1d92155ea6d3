//! Remove the TOTP second factor (`/compte/double-authentification/desactivation`, the
//! password typed again): the secret and the recovery codes go, and `totp.disable` is audited,
//! in one transaction.

use super::{AccountRefusal, UserId, store};
use crate::{
    action::{self, Event},
    store::Db,
};

/// Removes the second factor of `user`.
pub async fn remove_totp(db: &Db, now: i64, user: &UserId) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        store::delete_totp_in(tx, user).await?;
        Ok(((), Event::new(user.as_str(), "totp.disable", user.as_str())))
    })
    .await
}
