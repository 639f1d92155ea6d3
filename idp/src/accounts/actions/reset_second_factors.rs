//! Reset the second factors of a person who lost them (`idp users reset-second-factor`,
//! `POST /api/v1/admin/users/{id}/reset-second-factor`): the TOTP application, the recovery
//! codes, the passkeys and the browsers confirmed with them go, and
//! `account.second_factors_reset` is audited with the operator, the reason and what was removed,
//! in one transaction. The person logs in with the password alone and enrols again (or is made
//! to, where the level a service asks needs it).

use super::{AccountRefusal, UserId, existing_standing_in, store};
use crate::{action, admin::AdminCall, store::Db};

/// Removes every second factor of `user`; what was removed.
pub async fn reset_second_factors(
    db: &Db,
    now: i64,
    by: &AdminCall,
    user: &UserId,
) -> Result<store::SecondFactorsRemoved, AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        existing_standing_in(tx, user).await?;
        let removed = store::remove_second_factors_in(tx, user).await?;
        if !removed.any() {
            return Err(AccountRefusal::Unchanged(
                "Ce compte n'a ni second facteur ni appareil reconnu.",
            ));
        }
        let details = serde_json::to_value(removed).unwrap_or_default();
        let event = by.event("account.second_factors_reset", user.as_str(), details);
        Ok((removed, event))
    })
    .await
}
