//! Change one's e-mail address (« Mon compte », after the code sent to the new address): the
//! new address (proven) and `email.changed` audited, in one transaction. The caller then sends
//! the notice to the old address.

use super::{AccountRefusal, UserId, store};
use crate::{accounts::Email, audit, store::Db};

/// Gives `user` the address `email`; [`AccountRefusal::EmailTaken`] when another account got
/// it since the code was sent.
pub async fn change_email(
    db: &Db,
    now: i64,
    user: &UserId,
    email: &Email,
) -> Result<(), AccountRefusal> {
    let mut tx = db.begin().await?;
    if !store::set_email_in(&mut tx, user, email, now).await? {
        return Err(AccountRefusal::EmailTaken);
    }
    let (actor, details) = (user.as_str(), serde_json::json!({}));
    audit::record(&mut tx, now, actor, "email.changed", actor, details).await?;
    tx.commit().await?;
    Ok(())
}
