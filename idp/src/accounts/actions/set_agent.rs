//! Make an account a ministry agent, or no longer one (`idp users set-agent` / `unset-agent`,
//! `PUT|DELETE /api/v1/admin/users/{id}/agent`): the break-glass flag of
//! [`crate::access::rules::is_agent`], for an agent who cannot log in through the ministry's
//! directory. `account.agent_set` or `account.agent_unset` is audited with the operator and the
//! reason, in the same transaction. It counts from the person's next login.

use super::{AccountRefusal, UserId, existing_standing_in, store};
use crate::{action, admin::AdminCall, store::Db};

/// Sets (`agent`) or clears the flag of `user`.
pub async fn set_agent(
    db: &Db,
    now: i64,
    by: &AdminCall,
    user: &UserId,
    agent: bool,
) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        existing_standing_in(tx, user).await?;
        if !store::set_agent_flag_in(tx, user, agent, now).await? {
            return Err(AccountRefusal::Unchanged(if agent {
                "Ce compte est déjà marqué agent du ministère."
            } else {
                "Ce compte n'est pas marqué agent du ministère."
            }));
        }
        let action = if agent {
            "account.agent_set"
        } else {
            "account.agent_unset"
        };
        Ok(((), by.event(action, user.as_str(), serde_json::json!({}))))
    })
    .await
}
