//! "Vous n'avez pas accès au service numérique CERES": the page of a person with no CERES
//! habilitation, with the activation-code form (`POST /activation`, redeemed through the
//! provider's API) and the link to ask for access at the provider.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{CSRF_FAILED, FieldError, HeaderUser};
use crate::{
    AppState, Config, PageError, oidc,
    provider_api::{self, ActivationCode, ApiError, Siret},
};

/// `templates/no_access.html`.
#[derive(Template, WebTemplate)]
#[template(path = "no_access.html")]
pub struct NoAccessPage {
    /// Header.
    pub user: Option<HeaderUser>,
    /// CSRF token.
    pub csrf: String,
    /// The code as typed (after an error).
    pub code: String,
    /// The SIRET as typed.
    pub siret: String,
    /// What is wrong with the SIRET.
    pub siret_error: Option<String>,
    /// What is wrong with the code (or the API's refusal).
    pub code_error: Option<String>,
    /// "Faire une demande d'accès" at the provider.
    pub request_url: String,
    /// Ministry agents also get a link to the agent area.
    pub is_agent: bool,
}

/// The page for `person`.
pub fn page(
    state: &AppState,
    person: &oidc::Person,
    code: String,
    siret: String,
    error: Option<FieldError>,
) -> NoAccessPage {
    NoAccessPage {
        user: Some(HeaderUser::of(person, &state.config)),
        csrf: person.session.csrf.clone(),
        code,
        siret,
        siret_error: error
            .as_ref()
            .filter(|e| e.is("siret"))
            .map(|e| e.message.clone()),
        code_error: error
            .as_ref()
            .filter(|e| !e.is("siret"))
            .map(|e| e.message.clone()),
        request_url: state
            .config
            .provider_url(&format!("/acces/{}/demande", state.config.service)),
        is_agent: person.profile.ministry_agent,
    }
}

/// The activation form.
#[derive(Deserialize)]
pub struct ActivationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    siret: String,
}

/// Only a page of the provider may follow an activation: `next` comes from the API, but an
/// open redirect costs nothing to prevent.
fn safe_next(config: &Config, next: &str) -> String {
    let same_origin = match (url::Url::parse(next), url::Url::parse(&config.issuer)) {
        (Ok(n), Ok(i)) => n.origin() == i.origin(),
        _ => false,
    };
    if same_origin {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

/// `POST /activation`: redeems the code, then on to the provider's charte page.
pub async fn redeem(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<ActivationForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = super::form(form)?;
    let Some(mut person) = oidc::person(&state, &headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !person.session.csrf_ok(&form.csrf) {
        return Err(PageError::BadRequest(CSRF_FAILED));
    }
    let refuse = |person: &oidc::Person, field: &'static str, message: String| {
        let error = Some(FieldError { field, message });
        (
            StatusCode::BAD_REQUEST,
            page(&state, person, form.code.clone(), form.siret.clone(), error),
        )
            .into_response()
    };
    let code = match ActivationCode::parse(&form.code) {
        Ok(c) => c,
        Err(message) => return Ok(refuse(&person, "code", message.into())),
    };
    let siret = match form.siret.trim() {
        "" => None,
        typed => match Siret::parse(typed) {
            Ok(s) => Some(s),
            Err(message) => return Ok(refuse(&person, "siret", message.into())),
        },
    };
    let token = person.login()?.access_token.clone();
    match provider_api::activate(
        &state.http,
        &state.config.issuer,
        &token,
        &code,
        siret.as_ref(),
    )
    .await
    {
        Ok(done) => {
            // The person's habilitations changed at the provider: next page, fresh tokens.
            person.session.refresh_needed = true;
            tracing::info!(user.sub = %person.profile.sub, siret = %done.siret, service = %done.service, "activation code redeemed");
            Ok(Redirect::to(&safe_next(&state.config, &done.next)).into_response())
        }
        Err(ApiError::Refused {
            error, description, ..
        }) => {
            let field = if error.contains("siret") {
                "siret"
            } else {
                "code"
            };
            Ok(refuse(&person, field, description))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_providers_pages_follow_an_activation() {
        let config = Config::from_lookup(|k| match k {
            "RP_CLIENT_SECRET" => Some("s".into()),
            "RP_ISSUER" => Some("http://127.0.0.1:8080".into()),
            _ => None,
        })
        .expect("config");
        assert_eq!(
            safe_next(&config, "http://127.0.0.1:8080/acces/ceres/charte?siret=1"),
            "http://127.0.0.1:8080/acces/ceres/charte?siret=1"
        );
        assert_eq!(safe_next(&config, "https://evil.example/"), "/");
        assert_eq!(safe_next(&config, "/relative"), "/");
    }
}
