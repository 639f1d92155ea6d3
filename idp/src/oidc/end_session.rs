//! RP-initiated logout (`GET`/`POST /logout`, OpenID Connect RP-Initiated Logout 1.0).
//!
//! With a valid `id_token_hint` the session ends at once; without one the person confirms.
//! `post_logout_redirect_uri` must exactly match one registered for the client named by the
//! hint or by `client_id`; otherwise nobody is redirected.
//!
//! An agent who logged in through an upstream provider that has RP-initiated logout is logged
//! out there too (docs/accounts.md « Agents »): the browser goes to the upstream's
//! `end_session_endpoint` with its ID token, comes back to
//! [`crate::accounts::upstream::LOGOUT_RETURN_PATH`], and our logout ends as it would have.

use std::{collections::HashMap, time::Duration};

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::{Query, RawForm, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::clients::Client;
use crate::{
    AppState,
    accounts::{session, upstream},
    error::PageError,
    secrets,
    web::{csrf, security_headers},
};

#[derive(Template, WebTemplate)]
#[template(path = "logout_confirm.html")]
struct ConfirmPage {
    csrf: String,
    client_id: String,
    post_logout_redirect_uri: String,
    state: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "logged_out.html")]
struct LoggedOutPage {}

#[derive(Deserialize)]
struct HintClaims {
    aud: Audience,
    #[serde(default)]
    azp: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// `GET /logout`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    logout(&state, &headers, params, false).await
}

/// `POST /logout`: the relying party's form, or the person's confirmation.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let params: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let confirmed = params.contains_key("csrf");
    if confirmed
        && !csrf::verify(
            &state,
            &headers,
            params.get("csrf").map(String::as_str).unwrap_or_default(),
        )
    {
        return Err(PageError::form_expired());
    }
    logout(&state, &headers, params, confirmed).await
}

/// The client named by the request (its ID token hint, else its `client_id`) and whether the
/// hint was a valid ID token of ours.
async fn client_of(
    state: &AppState,
    get: impl Fn(&str) -> Option<String>,
) -> Result<(Option<Client>, bool), PageError> {
    let mut client: Option<Client> = None;
    let hint_valid = match get("id_token_hint") {
        None => false,
        Some(hint) => {
            // An expired ID token is still a fine hint of who is logging out (§2).
            let claims: HintClaims = state
                .keys
                .current()
                .verify(&hint, &state.config.issuer, false)
                .map_err(|_| PageError::bad_request("Le jeton fourni par l'application (id_token_hint) n'est pas valide. Vous n'avez pas été déconnecté."))?;
            let client_id = claims.azp.unwrap_or(match claims.aud {
                Audience::One(a) => a,
                Audience::Many(v) => v.into_iter().next().unwrap_or_default(),
            });
            client = state.clients.get(&state.db, &client_id).await?;
            true
        }
    };
    if let Some(id) = get("client_id") {
        match &client {
            Some(c) if c.client_id != id => {
                return Err(PageError::bad_request(
                    "L'application indiquée ne correspond pas au jeton fourni. Vous n'avez pas été déconnecté.",
                ));
            }
            Some(_) => {}
            None => client = state.clients.get(&state.db, &id).await?,
        }
    }
    Ok((client, hint_valid))
}

async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    params: HashMap<String, String>,
    confirmed: bool,
) -> Result<Response, PageError> {
    let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let (client, hint_valid) = client_of(state, get).await?;
    let redirect = match get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => match &client {
            Some(c) if c.has_post_logout_redirect_uri(&uri) => Some(uri),
            _ => {
                return Err(PageError::bad_request(
                    "L'adresse de retour après déconnexion n'est pas enregistrée pour cette application. Par sécurité, vous n'y avez pas été redirigé.",
                ));
            }
        },
    };

    if !hint_valid && !confirmed {
        let token = csrf::token(state, headers);
        let page = ConfirmPage {
            csrf: token.value,
            client_id: client.map(|c| c.registration.client_id).unwrap_or_default(),
            post_logout_redirect_uri: redirect.clone().unwrap_or_default(),
            state: get("state").unwrap_or_default(),
        };
        let mut response = page.into_response();
        if let Some(cookie) = token.set_cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        // The confirmation's answer redirects to the client's registered address.
        if let Some(uri) = &redirect {
            security_headers::allow_form_action(&mut response, uri);
        }
        return Ok(response);
    }

    let (ended, clear) = session::end_returning(state, headers).await?;
    if let Some(session) = &ended {
        let details = serde_json::json!({
            "sid": session.sid,
            "client_id": client.as_ref().map(|c| c.registration.client_id.as_str()),
        });
        let (db, now, user) = (&state.db, state.clock.now(), &session.user_id);
        crate::audit::record_alone(db, now, user, "session.logout", user, details).await?;
    }
    let then = redirect.map(|uri| {
        let mut url = url::Url::parse(&uri).expect("registered URIs are absolute");
        if let Some(s) = get("state") {
            url.query_pairs_mut().append_pair("state", &s);
        }
        url.to_string()
    });
    let logout = ended.and_then(|s| s.upstream_logout);
    let mut response = match logout {
        Some(logout) => at_upstream(state, &logout, then).await?,
        None => finished(then),
    };
    clear.add_to(&mut response);
    Ok(response)
}

/// The end of a logout: to the client's `post_logout_redirect_uri` (with its `state`), or our
/// page.
fn finished(then: Option<String>) -> Response {
    match then {
        Some(url) => Redirect::to(&url).into_response(),
        None => LoggedOutPage {}.into_response(),
    }
}

fn upstream_logout_key(state: &str) -> String {
    format!("upstream-logout:{}", secrets::hash(state))
}

/// To the upstream's logout; where ours goes on afterwards waits in the shared store under the
/// `state` sent there, so a forged return can redirect nowhere but to our page.
async fn at_upstream(
    state: &AppState,
    logout: &session::UpstreamLogout,
    then: Option<String>,
) -> Result<Response, PageError> {
    let token = secrets::random_token(32);
    let back = state.config.url(upstream::LOGOUT_RETURN_PATH);
    let Some(url) = upstream::rp::end_session_url(logout, &back, &token) else {
        return Ok(finished(then));
    };
    let ttl = Duration::from_secs(state.config.agents.login_ttl_seconds);
    let value = then.unwrap_or_default();
    state
        .ephemeral
        .put(&upstream_logout_key(&token), &value, ttl)
        .await?;
    Ok(Redirect::to(&url).into_response())
}

/// `state` of the upstream's return.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UpstreamReturn {
    state: String,
}

/// `GET /deconnexion/agent`: back from the upstream's logout, our logout ends.
pub async fn back_from_upstream(
    State(state): State<AppState>,
    Query(q): Query<UpstreamReturn>,
) -> Result<Response, PageError> {
    let then = if q.state.is_empty() || q.state.len() > 128 {
        None
    } else {
        state.ephemeral.take(&upstream_logout_key(&q.state)).await?
    };
    Ok(finished(then.filter(|t| !t.is_empty())))
}
