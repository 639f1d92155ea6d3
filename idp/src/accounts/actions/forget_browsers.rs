//! Forget confirmed browsers (« Mon compte », « Navigateurs reconnus »): one or all of them go,
//! and `browser.forgotten` is audited, in one transaction. The next login from a forgotten
//! browser asks for an e-mailed code again.

use super::{AccountRefusal, UserId};
use crate::{
    accounts::browsers::store,
    action::{self, Event},
    store::Db,
};

/// Which browsers to forget.
pub enum Forget<'a> {
    /// The one with this id (ignored when it is not the person's).
    One(&'a str),
    /// Every one.
    All,
}

/// Forgets browsers of `user`; how many went.
pub async fn forget_browsers(
    db: &Db,
    now: i64,
    user: &UserId,
    which: Forget<'_>,
) -> Result<u64, AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let (gone, target) = match which {
            Forget::One(id) => (u64::from(store::forget_in(tx, user, id).await?), id),
            Forget::All => (store::forget_all_in(tx, user).await?, "*"),
        };
        let event = Event::new(user.as_str(), "browser.forgotten", target)
            .with(serde_json::json!({ "count": gone }));
        Ok((gone, event))
    })
    .await
}
