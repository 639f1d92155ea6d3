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

// --- Service administration (helper "platform") ---

use super::{
    refusal::ServiceRefusal,
    services::{self, Service},
};

/// A service or role code is lower-case letters, digits and `_`, 40 at most: it appears in
/// URLs and claims.
pub fn code_is_well_formed(code: &str) -> Result<(), ServiceRefusal> {
    let ok = !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ServiceRefusal::InvalidCode(code.to_owned()))
    }
}

/// A label shown to people is not blank.
pub fn label_is_given(label: &str) -> Result<(), ServiceRefusal> {
    if label.trim().is_empty() {
        return Err(ServiceRefusal::EmptyLabel);
    }
    Ok(())
}

/// A service's home page is an absolute URL.
pub fn home_url_is_valid(url: Option<&str>) -> Result<(), ServiceRefusal> {
    match url {
        Some(u) if url::Url::parse(u).is_err() => Err(ServiceRefusal::InvalidHomeUrl(u.into())),
        _ => Ok(()),
    }
}

/// A published document has a title and a text.
pub fn document_is_given(title: &str, body: &str) -> Result<(), ServiceRefusal> {
    if title.trim().is_empty() || body.trim().is_empty() {
        return Err(ServiceRefusal::EmptyDocument);
    }
    Ok(())
}

/// The service `code` exists.
pub async fn service_exists(
    conn: &mut sqlx::AnyConnection,
    code: &str,
) -> Result<Service, AccessRefusal> {
    services::by_code_in(conn, code)
        .await?
        .ok_or_else(|| ServiceRefusal::UnknownService(code.to_owned()).into())
}
