//! OpenID Provider metadata (`GET /.well-known/openid-configuration`), built once at start-up.

use axum::{extract::State, response::Response};
use serde_json::{Value, json};

use super::{SUPPORTED_SCOPES, claims::USER_CLAIMS};
use crate::{AppState, config::Config};

/// The metadata document for this configuration.
pub fn document(config: &Config) -> Value {
    let mut claims = vec![
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "sid",
        "azp",
        "at_hash",
    ];
    claims.extend(USER_CLAIMS);
    claims.extend(crate::access::claims::CLAIMS);
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.url("/authorize"),
        "token_endpoint": config.url("/token"),
        "userinfo_endpoint": config.url("/userinfo"),
        "jwks_uri": config.url("/jwks"),
        "end_session_endpoint": config.url("/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "revocation_endpoint": config.url("/revoke"),
        "introspection_endpoint": config.url("/introspect"),
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims,
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
        "acr_values_supported": super::assurance::values_supported(&config.assurance),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "display_values_supported": ["page"],
        "ui_locales_supported": ["fr-FR"],
        "claims_locales_supported": ["fr-FR"],
        "service_documentation": config.url("/"),
    })
}

/// `GET /.well-known/openid-configuration`.
pub async fn discovery(State(state): State<AppState>) -> Response {
    super::public_document(
        "application/json",
        state.discovery.to_string(),
        "public, max-age=3600",
    )
}
