//! Enrol a TOTP second factor (`/compte/double-authentification`, the first code checked): the
//! sealed secret with its accepted time step, the hashes of the recovery codes, and
//! `totp.enrol` audited, in one transaction.

use super::{AccountRefusal, UserId, store};
use crate::{
    action::{self, Event},
    store::Db,
};

/// What the enrolment stores.
#[derive(Debug)]
pub struct Enrolment<'a> {
    /// The secret, sealed under the KEK for this account.
    pub sealed: &'a [u8],
    /// The time step of the code that confirmed it (spent: it cannot log in).
    pub accepted_step: i64,
    /// SHA-256 hashes of the recovery codes shown once.
    pub code_hashes: &'a [String],
}

/// Gives `user` this second factor, replacing any earlier one.
pub async fn enrol_totp(
    db: &Db,
    now: i64,
    user: &UserId,
    enrolment: &Enrolment<'_>,
) -> Result<(), AccountRefusal> {
    let Enrolment {
        sealed,
        accepted_step,
        code_hashes,
    } = enrolment;
    action::in_one_transaction(db, now, async |tx| {
        store::replace_totp_in(tx, user, sealed, *accepted_step, code_hashes, now).await?;
        Ok(((), Event::new(user.as_str(), "totp.enrol", user.as_str())))
    })
    .await
}
