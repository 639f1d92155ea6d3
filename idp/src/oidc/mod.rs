//! The OpenID Connect protocol: discovery, keys, authorization, tokens, userinfo, revocation,
//! introspection and logout. Pages (login, consent) only hand back to it.

pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod clients;
pub mod consent;
pub mod denylist;
pub mod discovery;
pub mod end_session;
pub mod grants;
pub mod introspection;
pub mod jwks;
pub mod revocation;
pub mod token;
pub mod tokens;
pub mod userinfo;

/// Scopes the provider knows. Others are ignored in requests.
pub const SUPPORTED_SCOPES: [&str; 6] = [
    "openid",
    "email",
    "profile",
    "organization",
    "habilitations",
    "offline_access",
];
