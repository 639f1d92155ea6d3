//! The access rules: each rule one named function, called by the access actions (never by a
//! handler), inside the action's transaction.

use super::refusal::{AccessRefusal, NewAccess};
use crate::{
    accounts::store::User,
    organizations::{Siret, register},
};

/// Agent status, the one rule of the agents' pages, the `ministry_agent` claim and the
/// second-factor policy: `user` logged in through the upstream provider `upstream`
/// (« AGENT DU MINISTÈRE »: a session gets one only when the upstream accepted the login and
/// the linked address is still of an allowed domain, so an agent the upstream no longer lets
/// in is no agent from the next login on), or the account is a break-glass agent marked by the
/// operator (`idp users create --agent`).
pub fn is_agent(user: &User, upstream: Option<&str>) -> bool {
    user.is_agent || upstream.is_some()
}

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

// --- Service administration ---

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

// --- « Gérer les accès de mon entreprise » ---

/// A Responsable des accès acts only on the establishments they manage for the service.
pub async fn manages(
    conn: &mut sqlx::AnyConnection,
    by: &crate::accounts::UserId,
    service: &Service,
    siret: &str,
) -> Result<(), AccessRefusal> {
    let theirs = super::managers::establishments_of_in(conn, by, &service.code).await?;
    if theirs.iter().any(|s| s == siret) {
        Ok(())
    } else {
        Err(AccessRefusal::NotManager(service.label.clone()))
    }
}

/// Whom a Responsable des accès may see and change: themselves, and whoever has a habilitation,
/// the Responsable des accès right, a pending request for access or an invitation in one of the
/// establishments they manage for the service. Reading a person's page and changing their access
/// both go through here, so a manager cannot reach, by an account's id, someone they cannot see:
/// a habilitation reaches a new person only through an invitation or that person's own request.
pub async fn may_manage(
    conn: &mut sqlx::AnyConnection,
    by: &crate::accounts::UserId,
    service: &Service,
    person: &crate::accounts::UserId,
) -> Result<(), AccessRefusal> {
    if by == person {
        return Ok(());
    }
    let theirs = super::managers::establishments_of_in(conn, by, &service.code).await?;
    if super::people::known_in(conn, person, &service.code, &theirs).await? {
        Ok(())
    } else {
        Err(AccessRefusal::NotYourPerson)
    }
}

/// Only a person with a live habilitation for an establishment may become its Responsable des
/// accès.
pub async fn may_become_manager(
    conn: &mut sqlx::AnyConnection,
    person: &crate::accounts::UserId,
    service: &Service,
    siret: &str,
) -> Result<(), AccessRefusal> {
    let habilitated = super::habilitations::live_in(conn, person, &service.code)
        .await?
        .iter()
        .any(|h| h.siret == siret);
    if habilitated {
        Ok(())
    } else {
        Err(AccessRefusal::NotHabilitated)
    }
}

/// A habilitation names one of the service's roles.
pub async fn role_of_service(
    conn: &mut sqlx::AnyConnection,
    service: &Service,
    role: &str,
) -> Result<services::Role, AccessRefusal> {
    services::roles_in(conn, &service.code)
        .await?
        .into_iter()
        .find(|r| r.code == role)
        .ok_or_else(|| AccessRefusal::UnknownRole(role.to_owned()))
}

// --- Requests for access ---

/// The message to the Responsables des accès, trimmed, holds at most
/// [`super::requests::MAX_MESSAGE_CHARS`] characters.
pub fn request_message(message: &str) -> Result<&str, AccessRefusal> {
    trimmed_within_limit(message, AccessRefusal::MessageTooLong)
}

/// The reason of a refusal, trimmed, holds at most [`super::requests::MAX_MESSAGE_CHARS`]
/// characters.
pub fn refusal_reason(reason: &str) -> Result<&str, AccessRefusal> {
    trimmed_within_limit(reason, AccessRefusal::ReasonTooLong)
}

/// `text` trimmed, or `too_long` when it holds more than
/// [`super::requests::MAX_MESSAGE_CHARS`] characters: the one limit of what people write to
/// each other about a request.
fn trimmed_within_limit(
    text: &str,
    too_long: fn(usize) -> AccessRefusal,
) -> Result<&str, AccessRefusal> {
    let text = text.trim();
    let max = super::requests::MAX_MESSAGE_CHARS;
    if text.chars().count() > max {
        Err(too_long(max))
    } else {
        Ok(text)
    }
}

/// A request for access goes only to an establishment that has a Responsable des accès for the
/// service: otherwise nobody could answer it (the person is sent to the activation code).
pub async fn has_manager(
    conn: &mut sqlx::AnyConnection,
    service: &Service,
    siret: &Siret,
) -> Result<bool, AccessRefusal> {
    let managers =
        super::managers::of_establishment_in(conn, &service.code, siret.as_str()).await?;
    Ok(!managers.is_empty())
}
