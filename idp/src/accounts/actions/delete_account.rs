//! Delete one's account (`/compte/suppression`, identity proven again): the logout tokens of
//! the person's live sessions are queued for the clients they logged into (found from the
//! grants, so before the grants go), then the OIDC rows (grants listed as revoked, refresh
//! tokens, consents), the second factor and the account go, and `account.deleted` is audited,
//! in one transaction. The caller then wakes the back-channel worker, tells the nodes'
//! revocation lists, ends every session and sends the last e-mail.

use super::{AccountRefusal, UserId, store};
use crate::{
    action::{self, Event},
    oidc::{actions::logout_queue, backchannel::EndedSession, grants},
    store::Db,
};

/// Deletes `user` and everything hanging on it; `sessions` are its live sessions, whose
/// clients receive a logout token; `access_ttl` is how long its access tokens can still live
/// (their grants stay listed as revoked that long). Returns how many logout tokens were queued.
pub async fn delete_account(
    db: &Db,
    now: i64,
    user: &UserId,
    sessions: &[EndedSession],
    access_ttl: u64,
) -> Result<usize, AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let ours: Vec<_> = sessions
            .iter()
            .filter(|s| s.user_id == user.as_str())
            .cloned()
            .collect();
        let queued = logout_queue::queue_in(tx, &ours, now).await?;
        grants::delete_for_user(tx, user, now, access_ttl).await?;
        store::delete_user_in(tx, user).await?;
        let details = serde_json::json!({ "via": "account" });
        let event = Event::new(user.as_str(), "account.deleted", user.as_str()).with(details);
        Ok((queued, event))
    })
    .await
}
