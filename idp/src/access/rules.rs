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
