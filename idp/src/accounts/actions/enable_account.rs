//! Enable a disabled account again (`idp users enable`, `POST /api/v1/admin/users/{id}/enable`):
//! the person can log in; what disabling revoked stays revoked. `account.enabled` is audited
//! with the operator and the reason, in the same transaction.

use super::{AccountRefusal, UserId, existing_standing_in, store};
use crate::{action, admin::AdminCall, store::Db};

/// Enables `user` again.
pub async fn enable_account(
    db: &Db,
    now: i64,
    by: &AdminCall,
    user: &UserId,
) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let standing = existing_standing_in(tx, user).await?;
        if standing.disabled_at.is_none() {
            return Err(AccountRefusal::NotDisabled);
        }
        store::set_disabled_in(tx, user, None, now).await?;
        let event = by.event("account.enabled", user.as_str(), serde_json::json!({}));
        Ok(((), event))
    })
    .await
}
