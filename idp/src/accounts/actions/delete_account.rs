//! Delete one's account (`/compte/suppression`, identity proven again): the OIDC rows (grants
//! listed as revoked, refresh tokens, consents), the second factor and the account go, and
//! `account.deleted` is audited, in one transaction. The caller then tells the nodes'
//! revocation lists, ends every session and sends the last e-mail.

use super::{AccountRefusal, UserId, store};
use crate::{audit, oidc::grants, store::Db};

/// Deletes `user` and everything hanging on it; `access_ttl` is how long its access tokens can
/// still live (their grants stay listed as revoked that long).
pub async fn delete_account(
    db: &Db,
    now: i64,
    user: &UserId,
    access_ttl: u64,
) -> Result<(), AccountRefusal> {
    let mut tx = db.begin().await?;
    grants::delete_for_user(&mut tx, user, now, access_ttl).await?;
    store::delete_user_in(&mut tx, user).await?;
    let details = serde_json::json!({ "via": "account" });
    audit::record(
        &mut tx,
        now,
        user.as_str(),
        "account.deleted",
        user.as_str(),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
