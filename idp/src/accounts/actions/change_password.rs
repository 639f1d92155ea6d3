//! Change one's password (« Mon compte », `/compte/mot-de-passe`, the current one proven): the
//! new hash, every grant revoked, `password.changed` audited, in one transaction. The caller
//! then ends the other sessions, tells the nodes' revocation lists and sends the notice.

use super::{AccountRefusal, UserId, replace_password};
use crate::store::Db;

/// Changes the password of `user` to `phc`.
pub async fn change_password(
    db: &Db,
    now: i64,
    user: &UserId,
    phc: &str,
    access_ttl: u64,
) -> Result<(), AccountRefusal> {
    let event = ("password.changed", serde_json::json!({}));
    replace_password(db, now, user, phc, access_ttl, event).await
}
