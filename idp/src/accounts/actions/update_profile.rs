//! Update one's identity (« Mon compte », `/compte/identite`): civilité, nom, prénom, poste,
//! and `account.identity_changed` audited, in one transaction.

use super::{AccountRefusal, UserId, store};
use crate::{accounts::store::Identity, audit, store::Db};

/// Replaces the identity of `user`.
pub async fn update_profile(
    db: &Db,
    now: i64,
    user: &UserId,
    identity: &Identity<'_>,
) -> Result<(), AccountRefusal> {
    let mut tx = db.begin().await?;
    store::update_identity_in(&mut tx, user, identity, now).await?;
    let (actor, details) = (user.as_str(), serde_json::json!({}));
    audit::record(
        &mut tx,
        now,
        actor,
        "account.identity_changed",
        actor,
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
