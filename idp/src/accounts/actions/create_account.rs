//! An operator creates an account (`idp users create`): the account and `user.created` in one
//! transaction.

use super::{AccountRefusal, UserId, store};
use crate::{
    accounts::{Email, store::NewUser},
    action::{self, Event},
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
    action::in_one_transaction(db, now, async |tx| {
        let Some(user) = store::insert_user_in(tx, email, Some(phc), new, now).await? else {
            return Err(AccountRefusal::EmailTaken);
        };
        let details = serde_json::json!({ "agent": new.is_agent });
        let event = Event::new(by, "user.created", user.as_str()).with(details);
        Ok((user, event))
    })
    .await
}
