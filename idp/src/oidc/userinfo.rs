//! The userinfo endpoint (`GET`/`POST /userinfo`, RFC 6750 bearer tokens).

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    claims::{self, ClaimsRequest},
    denylist::Generation,
    grants,
    known_accounts::AccountView,
    tokens::{self, AccessTokenError},
};
use crate::{AppState, access::claims as access_claims, error::OAuthError};

/// The bearer token of a request: the `Authorization` header, or `access_token` in a
/// form body (RFC 6750 §2.2); never both.
pub fn bearer(
    headers: &HeaderMap,
    form: Option<&HashMap<String, String>>,
) -> Result<String, OAuthError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    let from_form = form
        .and_then(|f| f.get("access_token"))
        .filter(|t| !t.is_empty())
        .cloned();
    match (from_header, from_form) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("Jeton présenté deux fois.")),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => {
            let mut e = OAuthError::invalid_token("Jeton d'accès manquant.");
            // RFC 6750 §3.1: no error code when the request carried no token at all.
            e.www_authenticate = Some("Bearer realm=\"efp-connect\"".into());
            Err(e)
        }
    }
}

/// `GET /userinfo`.
pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(&state, &headers, None).await
}

/// `POST /userinfo`: the token in the header (any body, often none and without a content
/// type), or in a form-encoded body (RFC 6750 §2.2).
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form = if body.is_empty() || !is_form {
        None
    } else {
        super::client_auth::parse_form(&body).ok()
    };
    respond(&state, &headers, form.as_ref()).await
}

async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    form: Option<&HashMap<String, String>>,
) -> Response {
    match userinfo(state, headers, form).await {
        Ok(body) => crate::web::no_store(Json(body)),
        Err(e) => e.into_response(),
    }
}

/// The claims of the request's bearer token (header, or `form`), once verified: signature,
/// issuer, expiry, revocation.
pub async fn verified(
    state: &AppState,
    headers: &HeaderMap,
    form: Option<&HashMap<String, String>>,
) -> Result<tokens::AccessClaims, OAuthError> {
    verified_by(state, headers, form).await.map(|(c, _)| c)
}

/// [`verified`], and the loading of the revocation list it went by.
async fn verified_by(
    state: &AppState,
    headers: &HeaderMap,
    form: Option<&HashMap<String, String>>,
) -> Result<(tokens::AccessClaims, Option<Generation>), OAuthError> {
    let token = bearer(headers, form)?;
    let (claims, generation) = tokens::verify_access_token_by(state, &token)
        .await
        .map_err(|e| match e {
            AccessTokenError::Db(e) => OAuthError::from(e),
            other => OAuthError::invalid_token(other.to_string()),
        })?;
    crate::web::request_id::record_client(&claims.client_id);
    Ok((claims, generation))
}

/// The account and the live grant of a verified token: as this node read them under the same
/// loading of the revocation list ([`super::known_accounts`]), or from the database in one
/// query (userinfo is called at every page of some clients).
async fn account_of(
    state: &AppState,
    claims: &tokens::AccessClaims,
    generation: Option<Generation>,
) -> Result<Arc<AccountView>, OAuthError> {
    let grant = claims.gid.as_deref();
    if let Some(g) = generation
        && let Some(known) = state.known_accounts.get(&claims.sub, grant, g)
    {
        return Ok(known);
    }
    let view = grants::user_with_live_grant(&state.db, &claims.sub, grant)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("Le compte n'existe plus."))?;
    Ok(match generation {
        Some(g) => state.known_accounts.insert(grant, g, view),
        None => Arc::new(view),
    })
}

async fn userinfo(
    state: &AppState,
    headers: &HeaderMap,
    form: Option<&HashMap<String, String>>,
) -> Result<Value, OAuthError> {
    let (claims, generation) = verified_by(state, headers, form).await?;
    let scopes: Vec<&str> = claims.scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return Err(OAuthError::insufficient_scope(
            "Ce jeton ne donne pas accès à userinfo (scope openid requis).",
        ));
    }
    let view = account_of(state, &claims, generation).await?;
    let (user, grant) = &*view;
    // Its grants were revoked when it was disabled; this holds while a node's list catches up.
    if user.standing.may_log_in().is_err() {
        return Err(OAuthError::invalid_token("Le compte est désactivé."));
    }
    if claims.gid.is_some() && grant.is_none() {
        return Err(OAuthError::invalid_token("Jeton d'accès révoqué."));
    }
    // Claims asked for through the `claims` parameter of the authorization request.
    let requested = grant
        .as_ref()
        .and_then(|g| g.claims.as_deref())
        .and_then(|raw| ClaimsRequest::parse(raw).ok())
        .map(|c| c.userinfo)
        .unwrap_or_default();
    let upstream = grant.as_ref().and_then(|g| g.upstream.as_deref());
    let mut body = claims::user_claims(user, scopes.iter().copied(), &requested);
    if scopes.contains(&access_claims::SCOPE) {
        body.extend({
            let link = state.clients.link(&state.db, &claims.client_id).await?;
            access_claims::for_client(&state.db, user, link.as_ref(), upstream).await?
        });
    }
    body.insert("sub".into(), json!(user.id));
    Ok(Value::Object(body))
}
