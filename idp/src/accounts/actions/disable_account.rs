//! Disable an account (`idp users disable`, `POST /api/v1/admin/users/{id}/disable`): it can no
//! longer log in, its sessions end on every node, its grants are revoked (no refresh, its access
//! tokens inactive) and the clients its sessions logged into get a logout token;
//! `account.disabled` is audited with the operator and the reason, in one transaction. The
//! caller then wakes the back-channel worker and tells the nodes' revocation lists.

use super::{AccountRefusal, UserId, end_everything_in, existing_standing_in, store};
use crate::{action, admin::AdminCall, store::Db};

/// Disables `user`; returns how many logout tokens were queued.
pub async fn disable_account(
    db: &Db,
    now: i64,
    by: &AdminCall,
    user: &UserId,
    access_ttl: u64,
) -> Result<usize, AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let standing = existing_standing_in(tx, user).await?;
        if standing.disabled_at.is_some() {
            return Err(AccountRefusal::AlreadyDisabled);
        }
        store::set_disabled_in(tx, user, Some((now, by.reason.as_str())), now).await?;
        let queued = end_everything_in(tx, user, now, access_ttl).await?;
        let event = by.event(
            "account.disabled",
            user.as_str(),
            serde_json::json!({ "logout_tokens": queued }),
        );
        Ok((queued, event))
    })
    .await
}
