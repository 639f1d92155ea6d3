//! An operator creates an account (`idp users create`): the account and `user.created` in one
//! transaction.

use super::{AccountRefusal, UserId, store};
use crate::{
    accounts::{Email, store::NewUser},
    audit,
    store::Db,
};

/// Creates it; [`AccountRefusal::EmailTaken`] when the address has an account.
pub async fn create_account(
    db: &Db,
    now: i64,
    by: &str,
    email: &Email,
    phc: &str,
    new: &NewUser,
) -> Result<UserId, AccountRefusal> {
    let mut tx = db.begin().await?;
    let Some(user) = store::insert_user_in(&mut tx, email, Some(phc), new, now).await? else {
        return Err(AccountRefusal::EmailTaken);
    };
    let details = serde_json::json!({ "agent": new.is_agent });
    audit::record(&mut tx, now, by, "user.created", user.as_str(), details).await?;
    tx.commit().await?;
    Ok(user)
}
