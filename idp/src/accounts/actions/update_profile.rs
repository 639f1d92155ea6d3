//! Update one's identity (« Mon compte », `/compte/identite`): civilité, nom, prénom, poste,
//! and `account.identity_changed` audited, in one transaction.

use super::{AccountRefusal, UserId, store};
use crate::{
    accounts::store::Identity,
    action::{self, Event},
    store::Db,
};

/// Replaces the identity of `user`.
pub async fn update_profile(
    db: &Db,
    now: i64,
    user: &UserId,
    identity: &Identity<'_>,
) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        store::update_identity_in(tx, user, identity, now).await?;
        let event = Event::new(user.as_str(), "account.identity_changed", user.as_str());
        Ok(((), event))
    })
    .await
}
