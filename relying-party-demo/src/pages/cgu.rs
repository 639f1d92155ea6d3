//! CERES's CGU: asked once per version (`RP_CGU_VERSION`) of each person, before the
//! dashboard; `POST /cgu` records the acceptance (see [`crate::store`]).

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{CSRF_FAILED, HeaderUser};
use crate::{AppState, PageError, oidc};

/// `templates/cgu.html`.
#[derive(Template, WebTemplate)]
#[template(path = "cgu.html")]
pub struct CguPage {
    /// Header.
    pub user: Option<HeaderUser>,
    /// CSRF token.
    pub csrf: String,
    /// CGU version.
    pub version: String,
    /// The box was not ticked.
    pub missing: bool,
}

/// The page for `person`.
pub fn page(state: &AppState, person: &oidc::Person, missing: bool) -> CguPage {
    CguPage {
        user: Some(HeaderUser::of(person, &state.config)),
        csrf: person.session.csrf.clone(),
        version: state.config.cgu_version.clone(),
        missing,
    }
}

/// The CGU form.
#[derive(Deserialize)]
pub struct CguForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    accept: Option<String>,
}

/// `POST /cgu`.
pub async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CguForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = super::form(form)?;
    let Some(person) = oidc::person(&state, &headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !person.session.csrf_ok(&form.csrf) {
        return Err(PageError::BadRequest(CSRF_FAILED));
    }
    if form.accept.is_none() {
        return Ok((StatusCode::BAD_REQUEST, page(&state, &person, true)).into_response());
    }
    state
        .store
        .accept(&person.profile.sub, &state.config.cgu_version)
        .await?;
    tracing::info!(user.sub = %person.profile.sub, cgu.version = %state.config.cgu_version, "CGU accepted");
    // The dashboard then says « Félicitations ! », as guide 002 shows after the CGU.
    Ok(Redirect::to("/?bienvenue=1").into_response())
}
