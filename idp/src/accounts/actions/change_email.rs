//! Change one's e-mail address (« Mon compte », after the code sent to the new address): the
//! new address (proven) and `email.changed` audited, in one transaction. The caller then sends
//! the notice to the old address.

use super::{AccountRefusal, UserId, store};
use crate::{
    accounts::Email,
    action::{self, Event},
    store::Db,
};

/// Gives `user` the address `email`; [`AccountRefusal::EmailTaken`] when another account got
/// it since the code was sent.
pub async fn change_email(
    db: &Db,
    now: i64,
    user: &UserId,
    email: &Email,
) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        if !store::set_email_in(tx, user, email, now).await? {
            return Err(AccountRefusal::EmailTaken);
        }
        Ok((
            (),
            Event::new(user.as_str(), "email.changed", user.as_str()),
        ))
    })
    .await
}
