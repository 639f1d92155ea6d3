//! A person accepts EFP Connect's current CGU at the login's interstitial: the acceptance and
//! `cgu.accepted` in one transaction.

use super::{AccountRefusal, UserId};
use crate::{
    accounts::cgu,
    action::{self, Event},
    store::Db,
};

/// Records that `user` accepted `version`; [`AccountRefusal::CguOutdated`] when it is no
/// longer the current one (a newer was published while the page was open).
pub async fn accept_cgu(
    db: &Db,
    now: i64,
    user: &UserId,
    version: i64,
) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let current = cgu::current_in(&mut *tx).await?;
        if current.map(|c| c.document.version) != Some(version) {
            return Err(AccountRefusal::CguOutdated);
        }
        cgu::accept_in(tx, user.as_str(), version, now).await?;
        let details = serde_json::json!({ "version": version });
        let event = Event::new(user.as_str(), "cgu.accepted", user.as_str()).with(details);
        Ok(((), event))
    })
    .await
}
