//! Delete one's account (`/compte/suppression`, identity proven again): the OIDC rows (grants
//! listed as revoked, refresh tokens, consents), the second factor and the account go, and
//! `account.deleted` is audited, in one transaction. The caller then tells the nodes'
//! revocation lists, ends every session and sends the last e-mail.

use super::{AccountRefusal, UserId, store};
use crate::{
    action::{self, Event},
    oidc::grants,
    store::Db,
};

/// Deletes `user` and everything hanging on it; `access_ttl` is how long its access tokens can
/// still live (their grants stay listed as revoked that long).
pub async fn delete_account(
    db: &Db,
    now: i64,
    user: &UserId,
    access_ttl: u64,
) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        grants::delete_for_user(tx, user, now, access_ttl).await?;
        store::delete_user_in(tx, user).await?;
        let details = serde_json::json!({ "via": "account" });
        let event = Event::new(user.as_str(), "account.deleted", user.as_str()).with(details);
        Ok(((), event))
    })
    .await
}
