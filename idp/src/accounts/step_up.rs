//! The provider's own pages that need two factors (the managers' and agents' pages, with
//! `assurance.mfa_for_managers_and_agents`): a session opened with the password alone proves its
//! second factor, or enrols one, without the password again, then comes back to the page. The
//! same steps as a client's step-up (`/authorize/continue`), with a page instead of a request.

use axum::{
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};

use super::{session::LoginSession, totp};
use crate::{AppState, error::PageError, oidc::assurance, web::page::Page};

/// The step-up this session needs before the page `here`, if any: the second step (TOTP or
/// recovery code, or passkey) when the account has a second factor, its enrolment otherwise.
pub async fn before_own_page(
    state: &AppState,
    headers: &HeaderMap,
    session: &LoginSession,
    here: &str,
) -> Result<Option<Response>, PageError> {
    if !assurance::own_pages_need_second_factor(&state.config.assurance, session) {
        return Ok(None);
    }
    // An agent's identity, and so its strength, comes from the upstream provider: a second
    // factor here would not make that login any stronger.
    if session.upstream.is_some() {
        return Err(PageError::forbidden(
            "Cet espace demande une connexion avec deux facteurs : reconnectez-vous avec « AGENT DU MINISTÈRE » en utilisant votre second facteur (carte agent ou application d'authentification).",
        ));
    }
    if totp::has_second_factor(state, &session.user_id).await? {
        let page = Page::new(state, headers);
        let here = crate::web::page::safe_return(here).unwrap_or("/");
        return Ok(Some(
            totp::ask_code_then(&page, &session.user_id, "", here).await?,
        ));
    }
    totp::remember_page(state, &session.sid, here).await?;
    Ok(Some(Redirect::to(totp::PATH).into_response()))
}
