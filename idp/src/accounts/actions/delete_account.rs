//! Delete an account: by its owner (`/compte/suppression`, identity proven again) or by an
//! operator (`idp users delete`, `DELETE /api/v1/admin/users/{id}`). The logout tokens of the
//! person's live sessions are queued for the clients they logged into (found from the grants, so
//! before the grants go), then the OIDC rows (grants listed as revoked, refresh tokens,
//! consents), the second factor and the account go, and `account.deleted` is audited (with the
//! operator and the reason when an operator deleted it), in one transaction. The caller then
//! wakes the back-channel worker, tells the nodes' revocation lists, ends every session and
//! sends the last e-mail.

use super::{AccountRefusal, UserId, existing_standing_in, store};
use crate::{
    action::{self, Event},
    admin::AdminCall,
    oidc::{actions::logout_queue, backchannel::EndedSession, grants},
    store::Db,
};

/// Who deletes the account.
pub enum Deleter<'a> {
    /// The person, with their live sessions (read from the shared store by the page).
    Owner {
        /// Its live sessions, whose clients receive a logout token.
        sessions: &'a [EndedSession],
    },
    /// An operator: the sessions are found from the live grants, as the command line may not
    /// reach the store that holds them.
    Operator(&'a AdminCall),
}

/// Deletes `user` and everything hanging on it; `access_ttl` is how long its access tokens can
/// still live (their grants stay listed as revoked that long). Returns how many logout tokens
/// were queued.
pub async fn delete_account(
    db: &Db,
    now: i64,
    user: &UserId,
    by: Deleter<'_>,
    access_ttl: u64,
) -> Result<usize, AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        existing_standing_in(tx, user).await?;
        let sessions = match by {
            Deleter::Owner { sessions } => sessions
                .iter()
                .filter(|s| s.user_id == user.as_str())
                .cloned()
                .collect(),
            Deleter::Operator(_) => grants::live_sessions_in(tx, user).await?,
        };
        let queued = logout_queue::queue_in(tx, &sessions, now).await?;
        grants::delete_for_user(tx, user, now, access_ttl).await?;
        store::delete_user_in(tx, user).await?;
        let event = match by {
            Deleter::Owner { .. } => Event::new(user.as_str(), "account.deleted", user.as_str())
                .with(serde_json::json!({ "via": "account" })),
            Deleter::Operator(call) => call.event(
                "account.deleted",
                user.as_str(),
                serde_json::json!({ "logout_tokens": queued }),
            ),
        };
        Ok((queued, event))
    })
    .await
}
