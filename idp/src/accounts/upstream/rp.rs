//! The relying party of an upstream OpenID provider: discovery, the authorization URL (code
//! flow, PKCE S256, `state`, `nonce`), the code exchange (`client_secret_basic`), the ID token's
//! validation and userinfo. Built on reqwest and jsonwebtoken (aws-lc-rs): the `openidconnect`
//! crate would bring the `rsa` crate into the provider (docs/architecture.md). Every call has
//! the configured timeout and follows no redirect.

use std::{sync::OnceLock, time::Duration};

use jsonwebtoken::{DecodingKey, Validation, jwk::JwkSet};
use serde::{Deserialize, Serialize};

use crate::config::UpstreamConfig;

/// Why a login at an upstream failed: the audit's `reason`, and what the page says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// Unreachable, too slow, or not an OpenID provider (discovery, keys, token, userinfo).
    Unavailable(&'static str),
    /// The upstream answered the login with an error (`access_denied`…): the person may not.
    Refused(String),
    /// The ID token (or userinfo) is not acceptable: signature, `iss`, `aud`, `exp`, `nonce`.
    BadToken(&'static str),
    /// An address missing, unverified or outside the allowed domains (at a first login, or at
    /// a linked one when domains are listed).
    DomainNotAllowed,
}

impl UpstreamError {
    /// The stable code of the audit event.
    pub fn code(&self) -> &str {
        match self {
            Self::Unavailable(why) | Self::BadToken(why) => why,
            Self::Refused(_) => "upstream_refused",
            Self::DomainNotAllowed => "domain_not_allowed",
        }
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unavailable(_) => {
                "Le service d'identification des agents ne répond pas pour le moment. Veuillez réessayer dans quelques minutes."
            }
            Self::Refused(_) => {
                "Le service d'identification des agents n'a pas autorisé votre connexion. Si vous êtes agent du ministère, contactez votre service informatique."
            }
            Self::DomainNotAllowed => {
                "Votre adresse électronique n'appartient pas à un domaine autorisé pour les agents du ministère : la connexion d'agent est impossible, aucun compte n'a été créé ni modifié. Contactez votre service informatique si vous êtes agent du ministère."
            }
            Self::BadToken(_) => {
                "La réponse du service d'identification des agents n'a pas pu être vérifiée. Aucun compte n'a été créé ni modifié ; veuillez réessayer."
            }
        })
    }
}

fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        // reqwest uses the process's rustls provider: make sure there is one.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("EFP Connect")
            .build()
            .expect("HTTP client")
    })
}

/// The parts of the upstream's discovery document we use.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Discovery {
    /// Must be the configured issuer, exactly.
    pub issuer: String,
    /// Where the browser goes.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// Its signing keys.
    pub jwks_uri: String,
    /// Claims of the person.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// Whether it takes the `claims` parameter (then `acr` and `amr` are asked for by name:
    /// some providers put them in the ID token only when asked).
    #[serde(default)]
    pub claims_parameter_supported: bool,
    /// RFC 9207: it names itself (`iss`) in its authorization responses, so a response
    /// without it is refused (mix-up defence).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// RP-initiated logout: where our logout sends the browser to end the upstream session.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// RFC 9207's mix-up defence on the callback: an `iss` present must be the upstream's own,
/// and one is required when its discovery promises it.
pub fn check_response_issuer(
    discovery: &Discovery,
    iss: Option<&str>,
) -> Result<(), UpstreamError> {
    match iss {
        Some(iss) if iss == discovery.issuer => Ok(()),
        None if !discovery.authorization_response_iss_parameter_supported => Ok(()),
        _ => Err(UpstreamError::BadToken("authorization_response_iss")),
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    url: &str,
    bearer: Option<&str>,
    timeout: Duration,
) -> Result<T, UpstreamError> {
    let mut request = http().get(url).timeout(timeout);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|_| UpstreamError::Unavailable("upstream_unreachable"))?;
    if !response.status().is_success() {
        return Err(UpstreamError::Unavailable("upstream_error_status"));
    }
    response
        .json()
        .await
        .map_err(|_| UpstreamError::Unavailable("upstream_bad_answer"))
}

/// Reads the upstream's discovery document; its `issuer` must be the configured one.
pub async fn discover(
    upstream: &UpstreamConfig,
    timeout: Duration,
) -> Result<Discovery, UpstreamError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        upstream.issuer.trim_end_matches('/')
    );
    let discovery: Discovery = get_json(&url, None, timeout).await?;
    if discovery.issuer != upstream.issuer {
        return Err(UpstreamError::BadToken("upstream_issuer_mismatch"));
    }
    Ok(discovery)
}

/// The URL the browser is sent to.
pub fn authorization_url(
    discovery: &Discovery,
    upstream: &UpstreamConfig,
    redirect_uri: &str,
    state: &str,
    nonce: &str,
    challenge: &str,
) -> Result<String, UpstreamError> {
    let mut url = url::Url::parse(&discovery.authorization_endpoint)
        .map_err(|_| UpstreamError::Unavailable("upstream_bad_answer"))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &upstream.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid email profile")
        .append_pair("state", state)
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    if discovery.claims_parameter_supported {
        url.query_pairs_mut()
            .append_pair("claims", r#"{"id_token":{"acr":null,"amr":null}}"#);
    }
    Ok(url.into())
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: String,
    access_token: String,
}

/// The claims of a valid upstream ID token that we keep.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    /// The upstream's issuer.
    pub iss: String,
    /// The person at the upstream: with `iss`, the link.
    pub sub: String,
    /// Must be the one we sent.
    #[serde(default)]
    pub nonce: Option<String>,
    /// The upstream's authentication context.
    #[serde(default)]
    pub acr: Option<String>,
    /// How the person authenticated upstream (RFC 8176).
    #[serde(default)]
    pub amr: Vec<String>,
}

/// The person's claims from userinfo.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Person {
    /// Same as the ID token's.
    pub sub: String,
    /// The agent's address.
    #[serde(default)]
    pub email: Option<String>,
    /// Only a verified address is used.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Prénom.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Nom (`usual_name` at the State's agents' federation).
    #[serde(default, alias = "usual_name")]
    pub family_name: Option<String>,
}

/// Exchanges the code (with the PKCE verifier), validates the ID token (signature by a key of
/// the upstream's JWKS, `iss`, `aud`, `exp`, `nonce`) and reads userinfo (same `sub`); the ID
/// token itself is returned too, the `id_token_hint` of the upstream logout.
pub async fn complete(
    discovery: &Discovery,
    upstream: &UpstreamConfig,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
    nonce: &str,
    timeout: Duration,
) -> Result<(IdClaims, Person, String), UpstreamError> {
    let response = http()
        .post(&discovery.token_endpoint)
        .timeout(timeout)
        .basic_auth(
            form_encode(&upstream.client_id),
            Some(form_encode(&upstream.client_secret)),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|_| UpstreamError::Unavailable("upstream_unreachable"))?;
    if !response.status().is_success() {
        return Err(UpstreamError::Unavailable("upstream_token_refused"));
    }
    let tokens: TokenAnswer = response
        .json()
        .await
        .map_err(|_| UpstreamError::Unavailable("upstream_bad_answer"))?;
    let keys: JwkSet = get_json(&discovery.jwks_uri, None, timeout).await?;
    let claims = validate_id_token(&tokens.id_token, &keys, upstream, nonce)?;
    let person = match &discovery.userinfo_endpoint {
        Some(url) => get_json::<Person>(url, Some(&tokens.access_token), timeout)
            .await
            .map_err(|_| UpstreamError::Unavailable("upstream_userinfo_failed"))?,
        None => Person::default(),
    };
    if person.sub != claims.sub {
        return Err(UpstreamError::BadToken("upstream_userinfo_sub_mismatch"));
    }
    Ok((claims, person, tokens.id_token))
}

/// The upstream's RP-initiated logout URL: its ID token as `id_token_hint`, back to
/// `post_logout_redirect_uri` with `state`. `None` if the endpoint is not a URL.
pub fn end_session_url(
    logout: &crate::accounts::session::UpstreamLogout,
    post_logout_redirect_uri: &str,
    state: &str,
) -> Option<String> {
    let mut url = url::Url::parse(&logout.end_session_endpoint).ok()?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", &logout.id_token_hint)
        .append_pair("post_logout_redirect_uri", post_logout_redirect_uri)
        .append_pair("state", state);
    Some(url.into())
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before HTTP Basic.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Checks an upstream ID token; the error says which check failed.
pub fn validate_id_token(
    token: &str,
    keys: &JwkSet,
    upstream: &UpstreamConfig,
    nonce: &str,
) -> Result<IdClaims, UpstreamError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| UpstreamError::BadToken("id_token_malformed"))?;
    use jsonwebtoken::Algorithm::{HS256, HS384, HS512};
    if matches!(header.alg, HS256 | HS384 | HS512) {
        return Err(UpstreamError::BadToken("id_token_signature"));
    }
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[&upstream.client_id]);
    validation.set_issuer(&[&upstream.issuer]);
    validation.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
    validation.leeway = 30;
    let candidates = keys
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
        .filter_map(|k| DecodingKey::from_jwk(k).ok());
    let mut last = UpstreamError::BadToken("id_token_signature");
    for key in candidates {
        match jsonwebtoken::decode::<IdClaims>(token, &key, &validation) {
            Ok(data) => {
                let claims = data.claims;
                let nonce_ok = claims.nonce.as_deref().is_some_and(|n| {
                    crate::secrets::constant_time_eq(n.as_bytes(), nonce.as_bytes())
                });
                if !nonce_ok {
                    return Err(UpstreamError::BadToken("id_token_nonce"));
                }
                return Ok(claims);
            }
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind;
                last = UpstreamError::BadToken(match e.kind() {
                    ErrorKind::InvalidIssuer => "id_token_issuer",
                    ErrorKind::InvalidAudience => "id_token_audience",
                    ErrorKind::ExpiredSignature => "id_token_expired",
                    ErrorKind::InvalidSignature => "id_token_signature",
                    _ => "id_token_invalid",
                });
            }
        }
    }
    Err(last)
}
