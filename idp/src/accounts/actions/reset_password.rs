//! Reset a password (`/mot-de-passe-oublie/nouveau`, after the e-mailed code or link): the new
//! hash, every grant of the account revoked, `password.reset` audited, in one transaction. The
//! caller then ends every session and tells the nodes' revocation lists.

use super::{AccountRefusal, UserId, replace_password};
use crate::store::Db;

/// Resets the password of `user` to `phc`; `via` (`code` or `link`) is how the request was
/// proven.
pub async fn reset_password(
    db: &Db,
    now: i64,
    user: &UserId,
    phc: &str,
    via: &str,
    access_ttl: u64,
) -> Result<(), AccountRefusal> {
    let event = ("password.reset", serde_json::json!({ "via": via }));
    replace_password(db, now, user, phc, access_ttl, event).await
}
