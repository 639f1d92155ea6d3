//! [`Manager`]: the Responsable des accès acting on `/acces/{service}/gestion…`, as a handler
//! argument. It resolves the service of the URL, the logged-in person and the establishments
//! they manage for it, each with the current charte accepted; anyone else gets the same answer
//! on every page (the login page, the charte, or 403), so no handler checks rights by hand.

use axum::{
    extract::{FromRequestParts, RawPathParams},
    http::{Method, request::Parts},
    response::{IntoResponse, Redirect, Response},
};

use super::{activation, managers, pages, services::Service};
use crate::{
    AppState,
    accounts::{UserId, store::User},
    error::PageError,
    organizations::{Siret, register},
};

/// One of the manager's establishments.
#[derive(Clone, Debug)]
pub struct Establishment {
    /// SIRET.
    pub siret: String,
    /// Name in the register, or empty.
    pub name: String,
    /// Open (a closed one gets no new habilitation).
    pub active: bool,
}

impl Establishment {
    /// The establishment of `siret` as the register has it (open, without a name, when the
    /// register does not know it).
    pub async fn of(db: &crate::store::Db, siret: String) -> Result<Self, sqlx::Error> {
        let found = match Siret::parse(&siret) {
            Ok(s) => register::by_siret(db, &s).await?,
            Err(_) => None,
        };
        Ok(Self {
            name: found.as_ref().map(|e| e.name.clone()).unwrap_or_default(),
            active: found.as_ref().is_none_or(|e| e.active),
            siret,
        })
    }

    /// « CENTRE DU LAC — SIRET 130… » for lists.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("SIRET {}", self.siret)
        } else {
            format!("{} — SIRET {}", self.name, self.siret)
        }
    }
}

/// Who is acting: their account and the establishments they manage (charte accepted).
pub struct Manager {
    /// Their account.
    pub user: User,
    /// Their id, typed, for the actions.
    pub id: UserId,
    /// The service of the URL.
    pub service: Service,
    /// The establishments they manage for it.
    pub establishments: Vec<Establishment>,
    /// The login session's public id (keys per-session state such as the invitation wizard).
    pub sid: String,
}

impl Manager {
    /// Whether `siret` is one of theirs.
    pub fn manages(&self, siret: &str) -> bool {
        self.establishments.iter().any(|e| e.siret == siret)
    }

    /// One of theirs, by SIRET.
    pub fn establishment(&self, siret: &str) -> Option<&Establishment> {
        self.establishments.iter().find(|e| e.siret == siret)
    }

    /// The refusal of an establishment that is not theirs.
    pub fn not_manager(&self) -> PageError {
        not_manager(&self.service)
    }

    /// The acting manager of `service_code`, or the page to go to first (login coming back to
    /// `here`, or the charte of an establishment whose current version they have not accepted).
    async fn resolve(
        state: &AppState,
        headers: &axum::http::HeaderMap,
        service_code: &str,
        here: &str,
    ) -> Result<Result<Self, Response>, PageError> {
        let service = pages::service(state, service_code).await?;
        let (session, user) = match pages::person(state, headers, here).await? {
            Ok(found) => found,
            Err(login) => return Ok(Err(login)),
        };
        let sirets = managers::establishments_of(&state.db, &user.id, &service.code).await?;
        if sirets.is_empty() {
            return Err(PageError::forbidden(format!(
                "Vous n'êtes responsable des accès d'aucun établissement pour le service numérique {}.",
                service.label
            )));
        }
        if let Some(step_up) =
            crate::accounts::step_up::before_own_page(state, headers, &session, here).await?
        {
            return Ok(Err(step_up));
        }
        let mut establishments = Vec::with_capacity(sirets.len());
        for siret in sirets {
            if !activation::charte_accepted(state, &user.id, &service, &siret).await? {
                let to = pages::charte_then(&service.code, &siret, here);
                return Ok(Err(Redirect::to(&to).into_response()));
            }
            establishments.push(Establishment::of(&state.db, siret).await?);
        }
        Ok(Ok(Self {
            id: UserId::from_stored(user.id.clone()),
            user,
            service,
            establishments,
            sid: session.sid,
        }))
    }
}

/// « Vous n'êtes pas responsable des accès de cet établissement … » (403).
pub fn not_manager(service: &Service) -> PageError {
    PageError::forbidden(format!(
        "Vous n'êtes pas responsable des accès de cet établissement pour le service numérique {}.",
        service.label
    ))
}

/// The page a login (or the charte) started from this request comes back to: a page itself,
/// or for a form's target, the page that holds the form.
fn return_to(method: &Method, path: &str, query: Option<&str>) -> String {
    if method == Method::GET {
        return match query {
            Some(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.to_owned(),
        };
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    // ["", "acces", service, "gestion", …]
    let (base, rest) = segments.split_at(segments.len().min(4));
    let page: &[&str] = match rest {
        ["utilisateurs", id, ..] => &["utilisateurs", id],
        ["invitations", ..] => &["invitations"],
        ["inviter", "habilitations", ..] | ["inviter", "terminer"] => &["inviter", "habilitations"],
        ["inviter", step] => &["inviter", step],
        ["inviter"] => &["inviter"],
        _ => &[],
    };
    base.iter()
        .chain(page)
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

impl FromRequestParts<AppState> for Manager {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(code) = params
            .iter()
            .find(|(name, _)| *name == "service")
            .map(|(_, value)| value.to_owned())
        else {
            return Err(PageError::not_found().into_response());
        };
        let here = return_to(&parts.method, parts.uri.path(), parts.uri.query());
        match Self::resolve(state, &parts.headers, &code, &here).await {
            Ok(Ok(manager)) => Ok(manager),
            Ok(Err(first)) => Err(first),
            Err(e) => Err(e.into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_comes_back_to_the_page_that_holds_it() {
        let post = Method::POST;
        let cases = [
            (
                "/acces/ceres/gestion/utilisateurs/u1/habilitations",
                "/acces/ceres/gestion/utilisateurs/u1",
            ),
            (
                "/acces/ceres/gestion/utilisateurs/u1/responsable/retirer",
                "/acces/ceres/gestion/utilisateurs/u1",
            ),
            (
                "/acces/ceres/gestion/habilitations/h1/retirer",
                "/acces/ceres/gestion",
            ),
            (
                "/acces/ceres/gestion/invitations/i1/relancer",
                "/acces/ceres/gestion/invitations",
            ),
            (
                "/acces/ceres/gestion/inviter/habilitations/retirer",
                "/acces/ceres/gestion/inviter/habilitations",
            ),
            (
                "/acces/ceres/gestion/inviter/terminer",
                "/acces/ceres/gestion/inviter/habilitations",
            ),
            (
                "/acces/ceres/gestion/inviter/identite",
                "/acces/ceres/gestion/inviter/identite",
            ),
            (
                "/acces/ceres/gestion/inviter",
                "/acces/ceres/gestion/inviter",
            ),
        ];
        for (path, page) in cases {
            assert_eq!(return_to(&post, path, None), page, "{path}");
        }
        assert_eq!(
            return_to(&Method::GET, "/acces/ceres/gestion", Some("role=agent")),
            "/acces/ceres/gestion?role=agent"
        );
    }
}
