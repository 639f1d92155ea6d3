//! Remove the TOTP second factor (`/compte/double-authentification/desactivation`, the
//! password typed again): the secret and the recovery codes go, and `totp.disable` is audited,
//! in one transaction.

use super::{AccountRefusal, UserId, store};
use crate::{audit, store::Db};

/// Removes the second factor of `user`.
pub async fn remove_totp(db: &Db, now: i64, user: &UserId) -> Result<(), AccountRefusal> {
    let mut tx = db.begin().await?;
    store::delete_totp_in(&mut tx, user).await?;
    let (actor, details) = (user.as_str(), serde_json::json!({}));
    audit::record(&mut tx, now, actor, "totp.disable", actor, details).await?;
    tx.commit().await?;
    Ok(())
}
