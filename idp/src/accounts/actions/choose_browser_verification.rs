//! The person's choice to confirm new browsers by an e-mailed code (« Mon compte »,
//! « Navigateurs reconnus », when `assurance.verify_new_browsers = "optional"`): recorded and
//! `browser.verification_chosen` audited, in one transaction.

use super::{AccountRefusal, UserId};
use crate::{
    accounts::browsers::store,
    action::{self, Event},
    store::Db,
};

/// Turns the verification of new browsers on or off for `user`.
pub async fn choose_browser_verification(
    db: &Db,
    now: i64,
    user: &UserId,
    on: bool,
) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        store::set_opted_in_in(tx, user, on).await?;
        let event = Event::new(user.as_str(), "browser.verification_chosen", user.as_str())
            .with(serde_json::json!({ "on": on }));
        Ok(((), event))
    })
    .await
}
