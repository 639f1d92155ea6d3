//! The access rules: each rule one named function, called by the access actions (never by a
//! handler), inside the action's transaction.

use super::refusal::{AccessRefusal, NewAccess};
use crate::organizations::{Siret, register};

/// An establishment receives new access only if the register does not have it closed (one that
/// the register does not hold, a recent creation, is accepted: people type SIRETs the import has
/// not seen yet).
pub async fn establishment_accepts_new_access(
    conn: &mut sqlx::AnyConnection,
    siret: &Siret,
    what: NewAccess,
) -> Result<(), AccessRefusal> {
    match register::by_siret_in(conn, siret).await? {
        Some(found) if !found.active => Err(AccessRefusal::ClosedEstablishment(what)),
        _ => Ok(()),
    }
}

// --- whom a Responsable des accès may see and change (helper "manage") ---

/// Whom a Responsable des accès may see and change: themselves, or a person who has a
/// habilitation, a manager right, a pending request or an invitation in one of the `sirets` the
/// manager manages for `service`. Reading a person's page and every change to them go through
/// this one rule, so a habilitation reaches someone new only through an invitation or their
/// own request.
pub async fn may_manage(
    conn: &mut sqlx::AnyConnection,
    manager: &crate::accounts::UserId,
    service: &str,
    sirets: &[String],
    person: &crate::accounts::UserId,
) -> Result<(), AccessRefusal> {
    if manager == person || super::people::known_in(conn, person, service, sirets).await? {
        Ok(())
    } else {
        Err(AccessRefusal::NotManagedPerson)
    }
}

/// Only a person with a live habilitation for `siret` may become its Responsable des accès.
pub async fn habilitated_there(
    conn: &mut sqlx::AnyConnection,
    person: &crate::accounts::UserId,
    service: &str,
    siret: &str,
    now: i64,
) -> Result<(), AccessRefusal> {
    let today = jiff::Timestamp::from_second(now)
        .map(super::dates::today_at)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| super::dates::today_iso());
    if super::people::live_habilitation_in(conn, person, service, siret, &today).await? {
        Ok(())
    } else {
        Err(AccessRefusal::NotHabilitatedThere)
    }
}

/// A right is withdrawn only from its holder; the establishment's last one only once confirmed
/// (nobody could grant access there any more until a new activation code).
pub async fn may_withdraw_right(
    conn: &mut sqlx::AnyConnection,
    person: &crate::accounts::UserId,
    service: &str,
    siret: &str,
    confirm_last: bool,
) -> Result<(), AccessRefusal> {
    let holders = super::managers::holders_in(conn, service, siret).await?;
    if !holders.iter().any(|h| h == person.as_str()) {
        return Err(AccessRefusal::NotHolder);
    }
    if holders.len() == 1 && !confirm_last {
        return Err(AccessRefusal::LastManager);
    }
    Ok(())
}
