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

/// An activation code is issued only for an establishment that the register holds and has
/// open: the letter goes to the register's address, and a code for a SIRET nobody can check
/// would make whoever types it Responsable des accès of an establishment that does not exist.
pub async fn code_may_be_issued_for(
    conn: &mut sqlx::AnyConnection,
    siret: &Siret,
) -> Result<register::Establishment, AccessRefusal> {
    match register::by_siret_in(conn, siret).await? {
        None => Err(AccessRefusal::UnknownEstablishment),
        Some(found) if !found.active => Err(AccessRefusal::ClosedEstablishment(NewAccess::Code)),
        Some(found) => Ok(found),
    }
}
