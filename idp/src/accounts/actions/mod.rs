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
pub mod disable_account;
pub mod enable_account;
pub mod end_sessions;
pub mod enrol_totp;
pub mod export_account;
pub mod forget_browsers;
pub mod import_accounts;
pub mod publish_cgu;
pub mod record_login;
pub mod rehash_password;
pub mod remember_browser;
pub mod remove_totp;
pub mod reset_password;
pub mod reset_second_factors;
pub mod set_agent;
pub mod sign_up;
pub mod unlock_account;
pub mod update_profile;

use super::{
    UserId,
    refusal::AccountRefusal,
    standing::{self, Standing},
    store,
};
use crate::{
    action::{self, Event},
    oidc::{actions::logout_queue, grants},
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

/// The standing of the account an administrative action names, read in its transaction;
/// [`AccountRefusal::NoSuchAccount`] when there is none.
async fn existing_standing_in(
    tx: &mut sqlx::AnyConnection,
    user: &UserId,
) -> Result<Standing, AccountRefusal> {
    standing::of(&mut *tx, user)
        .await?
        .ok_or(AccountRefusal::NoSuchAccount)
}

/// What disabling an account and an operator's end of its sessions share, inside their
/// transaction: its sessions are void on every node from the next second (a login in this very
/// second is void too: better than one an attacker started while the operator acted), the
/// clients of those with a live grant get a logout token (found from the grants, as the
/// sessions themselves may live in another process's memory), and every grant is revoked.
/// Returns how many logout tokens were queued; the caller wakes the worker and tells the
/// nodes' revocation lists once committed.
async fn end_everything_in(
    tx: &mut sqlx::AnyConnection,
    user: &UserId,
    now: i64,
    access_ttl: u64,
) -> Result<usize, sqlx::Error> {
    store::void_sessions_in(tx, user, now + 1).await?;
    let sessions = grants::live_sessions_in(tx, user).await?;
    let queued = logout_queue::queue_in(tx, &sessions, now).await?;
    grants::revoke_user_grants_in(tx, user, now, access_ttl).await?;
    Ok(queued)
}
