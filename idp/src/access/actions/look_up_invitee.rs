//! Step 1 of « Inviter un utilisateur »: whether the typed address already has an account
//! (then the wizard skips to the habilitations and shows that person's name).
//!
//! The answer tells whether an address has an account, which login, reset and sign-up take care
//! never to reveal: a Responsable des accès gets it, but only [`LOOKUPS_PER_MANAGER`] times in
//! [`LOOKUP_WINDOW`], and every look-up is in the audit trail.

use std::time::Duration;

use crate::{
    access::{refusal::AccessRefusal, services::Service},
    accounts::{Email, UserId, store as users},
    audit,
    clock::Clock,
    secrets,
    store::{Db, Ephemeral},
};

/// Look-ups allowed per Responsable des accès in [`LOOKUP_WINDOW`]: inviting a team takes a few
/// dozen; harvesting which addresses have accounts takes thousands.
pub const LOOKUPS_PER_MANAGER: u64 = 30;
/// The window of that limit.
pub const LOOKUP_WINDOW: Duration = Duration::from_secs(3600);

/// The account behind `email`, if any; refused past the limit. Records
/// `invitation.address_looked_up` (the address only as a hash, the account's id as target).
pub async fn look_up_invitee(
    db: &Db,
    ephemeral: &Ephemeral,
    clock: &Clock,
    by: &UserId,
    service: &Service,
    email: &Email,
) -> Result<Option<UserId>, AccessRefusal> {
    super::within_limit(
        ephemeral,
        "invite-lookup",
        by,
        LOOKUPS_PER_MANAGER,
        LOOKUP_WINDOW,
    )
    .await?;
    let found = users::user_by_email(db, email)
        .await?
        .map(|u| UserId::from_stored(u.id));
    audit::record_alone(
        db,
        clock.now(),
        by.as_str(),
        "invitation.address_looked_up",
        found.as_ref().map_or("", UserId::as_str),
        serde_json::json!({
            "service": service.code,
            "address_hash": secrets::hash(email.as_str()),
            "found": found.is_some(),
        }),
    )
    .await?;
    Ok(found)
}
