//! Sign up (`/inscription/organisation`, the last of five steps): the account (address proven
//! by its code, password hashed, identity, organisation), its acceptance of EFP Connect's
//! current CGU (the box ticked on that step) and `account.created` audited, in one
//! transaction. The caller then sends the welcome e-mail.

use super::{AccountRefusal, UserId, store};
use crate::{
    accounts::{Email, cgu, store::NewUser},
    action::{self, Event},
    organizations::Siren,
    store::Db,
};

/// Creates the account; [`AccountRefusal::EmailTaken`] when the address got an account since
/// its code was sent (another journey finished first).
pub async fn sign_up(
    db: &Db,
    now: i64,
    email: &Email,
    phc: &str,
    new: &NewUser,
    siren: &Siren,
) -> Result<UserId, AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let Some(user) = store::insert_user_in(tx, email, Some(phc), new, now).await? else {
            return Err(AccountRefusal::EmailTaken);
        };
        let cgu = cgu::current_in(&mut *tx).await?.map(|c| c.document.version);
        if let Some(version) = cgu {
            cgu::accept_in(tx, user.as_str(), version, now).await?;
        }
        let details =
            serde_json::json!({ "via": "signup", "siren": siren.as_str(), "cgu_version": cgu });
        let event = Event::new(user.as_str(), "account.created", user.as_str()).with(details);
        Ok((user, event))
    })
    .await
}
