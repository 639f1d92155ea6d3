//! Sign up (`/inscription/organisation`, the last of five steps): the account (address proven
//! by its code, password hashed, identity, organisation) and `account.created` audited, in one
//! transaction. The caller then sends the welcome e-mail.

use super::{AccountRefusal, UserId, store};
use crate::{
    accounts::{Email, store::NewUser},
    audit,
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
    let mut tx = db.begin().await?;
    let Some(user) = store::insert_user_in(&mut tx, email, Some(phc), new, now).await? else {
        return Err(AccountRefusal::EmailTaken);
    };
    let details = serde_json::json!({ "via": "signup", "siren": siren.as_str() });
    let actor = user.as_str();
    audit::record(&mut tx, now, actor, "account.created", actor, details).await?;
    tx.commit().await?;
    Ok(user)
}
