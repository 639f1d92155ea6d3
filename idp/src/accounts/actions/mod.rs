//! The accounts use cases, one file each: typed input and the time (`now`, from the state's
//! clock) → one transaction with its audit event (the last write) → a typed outcome or an
//! [`AccountRefusal`](super::refusal::AccountRefusal). None sees HTTP; sessions (ephemeral
//! storage), nodes' revocation lists and e-mails are the caller's, after the commit.

pub mod accept_cgu;
pub mod agent_login;
pub mod change_email;
pub mod change_password;
pub mod choose_browser_verification;
pub mod create_account;
pub mod delete_account;
pub mod enrol_totp;
pub mod forget_browsers;
pub mod publish_cgu;
pub mod remember_browser;
pub mod remove_totp;
pub mod reset_password;
pub mod sign_up;
pub mod update_profile;

use super::{UserId, refusal::AccountRefusal, store};
use crate::{
    action::{self, Event},
    oidc::grants,
    store::Db,
};

/// Sets a new password hash, revokes every live grant of the account, and records `action`
/// (with `details`), in one transaction: what a password reset and a password change share.
async fn replace_password(
    db: &Db,
    now: i64,
    user: &UserId,
    phc: &str,
    access_ttl: u64,
    (action, details): (&'static str, serde_json::Value),
) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        store::set_password_hash_in(tx, user, phc, now).await?;
        grants::revoke_user_grants_in(tx, user, now, access_ttl).await?;
        // Whoever knew the old password may have had a browser confirmed with it.
        crate::accounts::browsers::store::forget_all_in(tx, user).await?;
        Ok((
            (),
            Event::new(user.as_str(), action, user.as_str()).with(details),
        ))
    })
    .await
}
