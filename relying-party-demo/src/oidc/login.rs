//! `GET /login` starts the authorization code flow (PKCE, `state`, `nonce`);
//! `GET /callback` checks the provider's answer, exchanges the code and verifies the ID token.

use std::{collections::HashMap, time::Instant};

use axum::{
    extract::{Query, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Redirect, Response},
};
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    Scope, TokenResponse, core::CoreAuthenticationFlow,
};
use subtle::ConstantTimeEq;

use super::{SCOPES, token_error};
use crate::{
    AppState, PageError,
    session::{Login, PendingLogin, random_token, set_cookie},
};

/// `GET /login`: to the provider's authorization endpoint.
pub async fn start(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let handle = state
        .sessions
        .find(&state.config, &headers)
        .unwrap_or_else(|| state.sessions.create());
    let discovered = state.provider.current();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf_state, nonce) = discovered
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scopes(SCOPES.map(|s| Scope::new(s.into())))
        .set_pkce_challenge(challenge)
        .url();
    handle.session.lock().await.pending = Some(PendingLogin {
        state: csrf_state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
    });
    (
        [(header::SET_COOKIE, set_cookie(&state.config, &handle.id))],
        Redirect::to(url.as_str()),
    )
        .into_response()
}

/// `GET /callback?code=…&state=…` (or `error=…`).
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let handle = state
        .sessions
        .find(&state.config, &headers)
        .ok_or(PageError::BadCallback("no session"))?;
    let mut session = handle.session.lock().await;
    // Taken at once: a callback is answered once, whatever the outcome.
    let pending = session
        .pending
        .take()
        .ok_or(PageError::BadCallback("no login in progress"))?;
    match query.get("state") {
        Some(s) if bool::from(s.as_bytes().ct_eq(pending.state.as_bytes())) => {}
        Some(_) => return Err(PageError::BadCallback("state mismatch")),
        None if query.contains_key("error") => {}
        None => return Err(PageError::BadCallback("no state")),
    }
    if let Some(error) = query.get("error") {
        return Err(PageError::Provider(error.clone()));
    }
    // RFC 9207: when the provider names itself, it must be ours.
    if query
        .get("iss")
        .is_some_and(|iss| iss.trim_end_matches('/') != state.config.issuer.trim_end_matches('/'))
    {
        return Err(PageError::BadCallback("iss mismatch"));
    }
    let code = query.get("code").ok_or(PageError::BadCallback("no code"))?;
    let discovered = state.provider.current();
    let token = discovered
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .map_err(|e| PageError::Internal(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
        .request_async(&state.http)
        .await
        .map_err(token_error)?;
    let id_token = token
        .id_token()
        .ok_or_else(|| PageError::TokenRejected("no id_token".into()))?;
    let sub = state
        .provider
        .verify_id_token(&state.config, &state.http, id_token, &pending.nonce, true)
        .await?;
    tracing::info!(user.sub = %sub, "login");
    session.login = Some(Login {
        sub: sub.clone(),
        id_token: id_token.to_string(),
        nonce: pending.nonce,
        access_token: token.access_token().secret().clone(),
        refresh_token: token.refresh_token().map(|r| r.secret().clone()),
        expires_at: token.expires_in().map(|d| Instant::now() + d),
    });
    session.csrf = random_token();
    drop(session);
    // A new id for the logged-in session: one known before the login is worthless.
    let sid = super::backchannel::sid_of(&id_token.to_string());
    let handle = state.sessions.rotate(&handle, &sub, sid);
    Ok((
        [(header::SET_COOKIE, set_cookie(&state.config, &handle.id))],
        Redirect::to("/"),
    )
        .into_response())
}
