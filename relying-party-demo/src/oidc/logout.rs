//! `POST /logout` ("Me déconnecter"): ends the CERES session and sends the browser to the
//! provider's end-session endpoint (RP-initiated logout), which ends the provider's session
//! and comes back to `{base}/`.

use axum::{
    Form,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use crate::{
    AppState, PageError,
    session::{clear_cookie, random_token},
};

/// The logout form.
#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(|_| PageError::BadRequest("Formulaire invalide."))?;
    let Some(handle) = state.sessions.find(&state.config, &headers) else {
        return Ok(Redirect::to("/").into_response());
    };
    let id_token = {
        let session = handle.session.lock().await;
        if !session.csrf_ok(&form.csrf) {
            return Err(PageError::BadRequest(
                "Le formulaire a expiré. Veuillez recharger la page et recommencer.",
            ));
        }
        session.login.as_ref().map(|l| l.id_token.clone())
    };
    state.sessions.remove(&handle.id);
    let cookie = [(header::SET_COOKIE, clear_cookie(&state.config))];
    let end_session = state.provider.current().end_session.clone();
    let (Some(end_session), Some(id_token)) = (end_session, id_token) else {
        return Ok((cookie, Redirect::to("/")).into_response());
    };
    let mut url = url::Url::parse(&end_session)
        .map_err(|e| PageError::Internal(format!("end_session_endpoint: {e}")))?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("client_id", &state.config.client_id)
        .append_pair("post_logout_redirect_uri", &state.config.post_logout_uri())
        .append_pair("state", &random_token());
    Ok((cookie, Redirect::to(url.as_str())).into_response())
}
