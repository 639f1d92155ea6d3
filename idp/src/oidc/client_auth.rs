//! Client authentication at the token, revocation and introspection endpoints: exactly one of
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none`, and it must be the
//! one the client registered.

use std::{collections::HashMap, time::Duration};

use axum::{
    extract::{FromRequest, RawForm, Request},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use jsonwebtoken::{DecodingKey, Validation, jwk::Jwk};
use serde::Deserialize;

use super::clients::{AuthMethod, Client};
use crate::{AppState, error::OAuthError, secrets};

/// Parses a form body, refusing repeated parameters (RFC 6749 §3.2).
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("Corps de requête illisible."))?;
    let mut form = HashMap::new();
    for (k, v) in pairs {
        if form.insert(k.clone(), v).is_some() {
            return Err(OAuthError::invalid_request(format!(
                "Le paramètre {k} est répété."
            )));
        }
    }
    Ok(form)
}

/// A back-channel call (token, revocation, introspection): its form, no parameter repeated,
/// from the client it authenticated. The endpoint called is an accepted assertion audience.
pub struct ClientCall {
    pub client: Client,
    pub form: HashMap<String, String>,
}

impl ClientCall {
    /// The `token` parameter of a revocation or an introspection.
    pub fn token(&self) -> Result<&str, OAuthError> {
        self.form
            .get("token")
            .map(String::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("Le paramètre token est obligatoire."))
    }
}

impl FromRequest<AppState> for ClientCall {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let endpoint = state.config.url(req.uri().path());
        let headers = req.headers().clone();
        let RawForm(body) = RawForm::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = parse_form(&body).map_err(IntoResponse::into_response)?;
        let client = authenticate(state, &headers, &form, &endpoint)
            .await
            .map_err(IntoResponse::into_response)?;
        crate::web::request_id::record_client(&client.client_id);
        Ok(Self { client, form })
    }
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    jti: String,
}

fn url_decode(s: &str) -> Option<String> {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()?
        .pop()
        .map(|(_, v)| v)
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| OAuthError::invalid_client("En-tête Authorization illisible."))?;
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| OAuthError::invalid_client("Authentification Basic mal formée."))?;
    let decoded = String::from_utf8(decoded)
        .map_err(|_| OAuthError::invalid_client("Authentification Basic mal formée."))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| OAuthError::invalid_client("Authentification Basic mal formée."))?;
    match (url_decode(id), url_decode(secret)) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        _ => Err(OAuthError::invalid_client(
            "Authentification Basic mal formée.",
        )),
    }
}

const UNKNOWN: &str = "Authentification du client refusée.";

/// Authenticates the calling client; `endpoint` is the URL called (an accepted assertion
/// audience besides the issuer and the token endpoint).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    endpoint: &str,
) -> Result<Client, OAuthError> {
    let basic = basic_credentials(headers)?;
    let form_secret = form.get("client_secret").filter(|s| !s.is_empty());
    let assertion = form.get("client_assertion").filter(|s| !s.is_empty());
    let used = [basic.is_some(), form_secret.is_some(), assertion.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if used > 1 {
        return Err(OAuthError::invalid_request(
            "Une seule méthode d'authentification du client est permise.",
        ));
    }
    let form_id = form.get("client_id").filter(|s| !s.is_empty()).cloned();

    if let Some((id, secret)) = basic {
        if form_id.as_ref().is_some_and(|f| *f != id) {
            return Err(OAuthError::invalid_client(
                "client_id ne correspond pas à l'authentification.",
            ));
        }
        return check_secret(state, &id, &secret, AuthMethod::ClientSecretBasic).await;
    }
    if let Some(secret) = form_secret {
        let id = form_id.ok_or_else(|| OAuthError::invalid_client(UNKNOWN))?;
        return check_secret(state, &id, secret, AuthMethod::ClientSecretPost).await;
    }
    if let Some(assertion) = assertion {
        if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_client(
                "client_assertion_type non pris en charge.",
            ));
        }
        return check_assertion(state, assertion, form_id.as_deref(), endpoint).await;
    }
    let id =
        form_id.ok_or_else(|| OAuthError::invalid_client("Authentification du client requise."))?;
    let client = state
        .clients
        .get(&state.db, &id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client(UNKNOWN))?;
    if client.auth_method != AuthMethod::None {
        return Err(OAuthError::invalid_client(UNKNOWN));
    }
    Ok(client)
}

async fn check_secret(
    state: &AppState,
    id: &str,
    secret: &str,
    method: AuthMethod,
) -> Result<Client, OAuthError> {
    let client = state.clients.get(&state.db, id).await?;
    let presented = secrets::hash(secret);
    // Compare against a fixed dummy when the client is unknown, so timing tells nothing.
    let stored = client
        .as_ref()
        .and_then(|c| c.secret_hash.clone())
        .unwrap_or_else(|| secrets::hash("unknown-client"));
    let matches = secrets::constant_time_eq(presented.as_bytes(), stored.as_bytes());
    match client {
        Some(c) if matches && c.auth_method == method && c.secret_hash.is_some() => Ok(c),
        _ => Err(OAuthError::invalid_client(UNKNOWN)),
    }
}

/// The `iss` of an assertion, read before any check: it names the client whose keys verify it.
fn unverified_issuer(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let unverified: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    unverified["iss"].as_str().map(str::to_owned)
}

/// The assertion's claims, if one of the client's registered keys verifies it for one of
/// `audiences`, issued and subject by the client itself.
fn verified_claims(
    client: &Client,
    assertion: &str,
    header: &jsonwebtoken::Header,
    audiences: &[String],
) -> Option<AssertionClaims> {
    let id = &client.client_id;
    let keys: Vec<Jwk> = client
        .jwks
        .as_ref()
        .and_then(|j| j["keys"].as_array())
        .map(|keys| {
            keys.iter()
                .filter_map(|k| serde_json::from_value(k.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(audiences);
    validation.set_issuer(&[id]);
    validation.sub = Some(id.clone());
    validation.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
    validation.leeway = 30;
    let claims = keys
        .iter()
        .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .find_map(|key| jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation).ok())?
        .claims;
    (claims.iss == *id && claims.sub == *id && !claims.jti.is_empty()).then_some(claims)
}

async fn check_assertion(
    state: &AppState,
    assertion: &str,
    form_id: Option<&str>,
    endpoint: &str,
) -> Result<Client, OAuthError> {
    let refused = || OAuthError::invalid_client("Assertion du client refusée.");
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| refused())?;
    // The client is named by the unverified `iss`; nothing is trusted before the signature.
    let id = unverified_issuer(assertion).ok_or_else(refused)?;
    if form_id.is_some_and(|f| f != id) {
        return Err(refused());
    }
    let client = state
        .clients
        .get(&state.db, &id)
        .await?
        .ok_or_else(refused)?;
    if client.auth_method != AuthMethod::PrivateKeyJwt {
        return Err(refused());
    }
    let audiences = [
        state.config.issuer.clone(),
        state.config.url("/token"),
        endpoint.to_owned(),
    ];
    let claims = verified_claims(&client, assertion, &header, &audiences).ok_or_else(refused)?;
    // One use per jti for as long as the assertion is valid (RFC 7523 §3, item 7).
    let ttl = Duration::from_secs(
        u64::try_from(claims.exp - state.clock.now() + 60)
            .unwrap_or(60)
            .max(60),
    );
    let fresh = state
        .ephemeral
        .put_if_absent(
            &format!("jti:{}:{}", id, secrets::hash(&claims.jti)),
            "1",
            ttl,
        )
        .await?;
    if !fresh {
        return Err(OAuthError::invalid_client(
            "Assertion du client déjà utilisée.",
        ));
    }
    Ok(client)
}
