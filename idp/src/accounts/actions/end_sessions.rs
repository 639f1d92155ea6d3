//! End every session of an account (`idp users end-sessions`,
//! `POST /api/v1/admin/users/{id}/end-sessions`): its sessions are void on every node, its grants
//! revoked (refresh tokens refused, access tokens inactive), and the clients its sessions logged
//! into get a logout token; `account.sessions_ended` is audited with the operator and the reason,
//! in one transaction. The person can log in again at once.

use super::{AccountRefusal, UserId, end_everything_in, existing_standing_in};
use crate::{action, admin::AdminCall, store::Db};

/// Ends every session and grant of `user`; returns how many logout tokens were queued.
pub async fn end_sessions(
    db: &Db,
    now: i64,
    by: &AdminCall,
    user: &UserId,
    access_ttl: u64,
) -> Result<usize, AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        existing_standing_in(tx, user).await?;
        let queued = end_everything_in(tx, user, now, access_ttl).await?;
        let event = by.event(
            "account.sessions_ended",
            user.as_str(),
            serde_json::json!({ "logout_tokens": queued }),
        );
        Ok((queued, event))
    })
    .await
}
