//! The token endpoint (`POST /token`): authorization_code, refresh_token, client_credentials.

use std::collections::HashMap;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::{
    authorize::{CodeData, code_key, spent_code_key},
    client_auth::ClientCall,
    clients::Client,
    grants::{self, Grant, Issue},
    tokens::{self, TokenResponse},
};
use crate::{AppState, error::OAuthError, secrets};

/// How long a spent code is remembered, to revoke what it produced if it comes back.
const SPENT_CODE_MEMORY: std::time::Duration = std::time::Duration::from_secs(600);

/// `POST /token`.
pub async fn token(State(state): State<AppState>, call: ClientCall) -> Response {
    match exchange(&state, call).await {
        Ok(response) => {
            let mut response = Json(response).into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn exchange(
    state: &AppState,
    ClientCall { client, form }: ClientCall,
) -> Result<TokenResponse, OAuthError> {
    let grant_type = form
        .get("grant_type")
        .map(String::as_str)
        .unwrap_or_default();
    if grant_type.is_empty() {
        return Err(OAuthError::invalid_request(
            "Le paramètre grant_type est obligatoire.",
        ));
    }
    if !matches!(
        grant_type,
        "authorization_code" | "refresh_token" | "client_credentials"
    ) {
        return Err(OAuthError::unsupported_grant_type(format!(
            "grant_type « {grant_type} » non pris en charge."
        )));
    }
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::unauthorized_client(format!(
            "Ce client n'est pas autorisé à utiliser {grant_type}."
        )));
    }
    let (issued, label) = match grant_type {
        "authorization_code" => (
            authorization_code(state, &client, &form).await,
            "authorization_code",
        ),
        "refresh_token" => (refresh_token(state, &client, &form).await, "refresh_token"),
        _ => (
            client_credentials(state, &client, &form).await,
            "client_credentials",
        ),
    };
    if issued.is_ok() {
        crate::metrics::tokens_issued(label);
    }
    issued
}

/// The `code_verifier` against the request's `code_challenge` (RFC 7636 §4.6, S256 only).
fn verify_pkce(challenge: Option<&str>, verifier: Option<&String>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            let valid_verifier = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
            if !valid_verifier
                || !secrets::constant_time_eq(
                    secrets::pkce_s256(verifier).as_bytes(),
                    challenge.as_bytes(),
                )
            {
                return Err(OAuthError::invalid_grant(
                    "code_verifier ne correspond pas au code_challenge.",
                ));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier manquant.")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sans code_challenge dans la demande.",
            ));
        }
        (None, None) => {}
    }
    Ok(())
}

async fn authorization_code(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let code = form
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("Le paramètre code est obligatoire."))?;
    // Taken and remembered as spent in one step: the spent code keeps what it carried.
    let taken = state
        .ephemeral
        .take_and_keep(&code_key(code), &spent_code_key(code), SPENT_CODE_MEMORY)
        .await?;
    let Some(raw) = taken else {
        // Spent before: whatever it produced is revoked (RFC 6749 §4.1.2).
        if let Some(spent) = state.ephemeral.get(&spent_code_key(code)).await? {
            // Before 2026-12-05 the spent marker held the grant's id alone.
            let grant_id = serde_json::from_str::<CodeData>(&spent).map_or(spent, |d| d.grant.id);
            let why = tokens::GrantRevocation::Reuse {
                kind: "authorization_code",
                client_id: &client.client_id,
            };
            tokens::revoke_grant(state, &grant_id, why).await?;
            tracing::warn!(grant.id = %grant_id, "authorization code reused: grant revoked");
        }
        return Err(OAuthError::invalid_grant(
            "Code d'autorisation invalide, expiré ou déjà utilisé.",
        ));
    };
    let data: CodeData =
        serde_json::from_str(&raw).map_err(|e| OAuthError::internal("code decoding", &e))?;
    if data.expires_at.is_some_and(|at| state.clock.now() >= at) {
        return Err(OAuthError::invalid_grant(
            "Code d'autorisation invalide, expiré ou déjà utilisé.",
        ));
    }
    if data.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "Ce code a été délivré à un autre client.",
        ));
    }
    if form.get("redirect_uri") != Some(&data.redirect_uri) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri ne correspond pas à celle de la demande d'autorisation.",
        ));
    }
    // A code asked for before the client was made to need PKCE is not exchanged without it.
    if data.code_challenge.is_none() && client.needs_pkce() {
        return Err(OAuthError::invalid_grant(
            "PKCE est obligatoire pour cette application : code_challenge manquant dans la demande.",
        ));
    }
    verify_pkce(data.code_challenge.as_deref(), form.get("code_verifier"))?;
    tokens::issue(
        state,
        client,
        &data.grant,
        data.nonce.as_deref(),
        Issue::NewGrant,
    )
    .await
}

async fn refresh_token(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let token = form
        .get("refresh_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            OAuthError::invalid_request("Le paramètre refresh_token est obligatoire.")
        })?;
    let invalid =
        || OAuthError::invalid_grant("Jeton de rafraîchissement invalide, expiré ou révoqué.");
    // Without a narrower scope to check first, the token is spent, its successor recorded and
    // its grant and account read in one step; a refusal is read again below to say why.
    if form.get("scope").is_none_or(|s| s.is_empty()) {
        let (ttl, now) = (
            state.config.tokens.refresh_token_ttl_seconds,
            state.clock.now(),
        );
        if let Some(grants::Rotated {
            grant,
            user,
            refresh_token,
        }) = grants::rotate(&state.db, token, &client.client_id, ttl, now).await?
        {
            return tokens::issue_rotated(state, client, &grant, &user, refresh_token).await;
        }
    }
    let (stored, grant) = grants::refresh_token(&state.db, token)
        .await?
        .ok_or_else(invalid)?;
    let grant = grant.ok_or_else(invalid)?;
    if grant.client_id != client.client_id {
        return Err(invalid());
    }
    if stored.used_at.is_some() {
        // A spent token came back: it was stolen, or the client leaks. End the family.
        let why = tokens::GrantRevocation::Reuse {
            kind: "refresh_token",
            client_id: &client.client_id,
        };
        tokens::revoke_grant(state, &grant.id, why).await?;
        tracing::warn!(grant.id = %grant.id, "refresh token reused: family revoked");
        return Err(invalid());
    }
    if stored.expires_at <= state.clock.now() {
        return Err(invalid());
    }
    let grant = match form.get("scope").filter(|s| !s.is_empty()) {
        None => grant,
        Some(scope) => {
            let held: Vec<&str> = grant.scope.split(' ').collect();
            let narrowed: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
            if narrowed.iter().any(|s| !held.contains(s)) {
                return Err(OAuthError::invalid_scope(
                    "Le scope demandé dépasse celui de l'autorisation initiale.",
                ));
            }
            Grant {
                scope: narrowed.join(" "),
                ..grant
            }
        }
    };
    // Spent in the same transaction as its successor is recorded: a failure in between can no
    // longer leave the client without a working refresh token.
    tokens::issue(
        state,
        client,
        &grant,
        None,
        Issue::Rotation { spent: token },
    )
    .await
}

async fn client_credentials(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::unauthorized_client(
            "Un client public ne peut pas utiliser client_credentials.",
        ));
    }
    let requested: Vec<&str> = form
        .get("scope")
        .map(|s| s.split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    // Service scopes only: user scopes mean nothing without a user.
    let service_scopes: Vec<&str> = client
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !super::SUPPORTED_SCOPES.contains(s))
        .collect();
    let scope: Vec<&str> = if requested.is_empty() {
        service_scopes.clone()
    } else {
        requested
    };
    if let Some(bad) = scope.iter().find(|s| !service_scopes.contains(s)) {
        return Err(OAuthError::invalid_scope(format!(
            "Scope « {bad} » non autorisé pour ce client."
        )));
    }
    let scope = scope.join(" ");
    let (access_token, expires_in) =
        tokens::access_token(state, client, &client.client_id, &scope, None)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        scope,
        id_token: None,
        refresh_token: None,
    })
}
