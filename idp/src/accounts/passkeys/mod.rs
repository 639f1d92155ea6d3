//! Passkeys (WebAuthn, with kanidm's `webauthn-rs`): several named credentials per account,
//! registered on « Mon compte » ([`manage`]), used as the login's second factor and for a
//! step-up ([`second_step`]), or to log in without a password ([`passwordless`]).
//!
//! The relying party is the issuer: its host is the RP ID and its origin the only accepted
//! origin, so passkeys are offered only when the issuer's host is a domain name (WebAuthn
//! refuses IP addresses). Every ceremony runs over two requests: its state waits in the shared
//! store ([`ceremony`]) a few minutes and is taken once. The browser's half is
//! `/static/passkeys.js` (no inline script: the CSP is `script-src 'self'`).

pub mod actions;
mod ceremony;
pub mod manage;
pub mod passwordless;
pub mod second_step;
pub mod store;

use std::time::Duration;

use axum::{
    Router,
    http::header,
    response::IntoResponse,
    routing::{get, post},
};
use webauthn_rs::{
    Webauthn, WebauthnBuilder,
    prelude::{AuthenticationResult, PublicKeyCredential, Url, WebauthnError},
};

use crate::{AppState, config::Config, error::PageError, web::client_ip::ClientIp};

/// « Ajouter une clé d'accès »: its name, then the browser's ceremony.
pub const NEW_PATH: &str = "/compte/cles-d-acces/nouvelle";
/// Where the registration ceremony's answer is posted.
pub const REGISTER_PATH: &str = "/compte/cles-d-acces/enregistrement";
/// « Supprimer »: the confirmation page and its form.
pub const REMOVE_PATH: &str = "/compte/cles-d-acces/suppression";
/// « Se connecter avec une clé d'accès », from the login page.
pub const LOGIN_PATH: &str = "/connexion/cle-d-acces";
/// Where the passwordless ceremony's answer is posted.
pub const LOGIN_VERIFY_PATH: &str = "/connexion/cle-d-acces/verification";
/// « Utiliser une clé d'accès », from the login's second step.
pub const SECOND_STEP_PATH: &str = "/connexion/code/cle-d-acces";
/// Where the second step's ceremony answer is posted.
pub const SECOND_STEP_VERIFY_PATH: &str = "/connexion/code/cle-d-acces/verification";
/// The browser's half of the ceremonies.
const SCRIPT_PATH: &str = "/static/passkeys.js";

/// How long a ceremony waits for the browser's answer.
const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);
/// How recent the login must be to register a passkey (a left-open session must not add one).
const RECENT_LOGIN_SECONDS: i64 = 10 * 60;
/// Most passkeys an account may hold.
pub const MAX_PER_ACCOUNT: usize = 10;

/// The WebAuthn relying party of this issuer: RP ID its host, origin its scheme, host and port;
/// `None` when the issuer's host is not a domain name.
pub fn relying_party(config: &Config) -> Option<Webauthn> {
    let origin = Url::parse(&config.issuer).ok()?;
    let rp_id = origin.domain()?.to_owned();
    let webauthn = WebauthnBuilder::new(&rp_id, &origin)
        .ok()?
        .rp_name("EFP Connect")
        .build();
    match webauthn {
        Ok(webauthn) => Some(webauthn),
        Err(e) => {
            tracing::warn!(error.message = %e, "passkeys unavailable for this issuer");
            None
        }
    }
}

/// Whether passkeys are offered at all (the issuer's host is a domain name).
pub fn available(config: &Config) -> bool {
    url::Url::parse(&config.issuer)
        .ok()
        .is_some_and(|u| u.domain().is_some())
}

/// The relying party, or the page saying passkeys are not offered here.
fn relying_party_or_refuse(config: &Config) -> Result<Webauthn, PageError> {
    relying_party(config)
        .ok_or_else(|| PageError::bad_request("Les clés d'accès ne sont pas disponibles."))
}

/// The WebAuthn user handle of an account: its id when that is a UUID (every account created
/// by the provider), otherwise one derived from it, so it is stable either way.
fn user_handle(user_id: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(user_id).unwrap_or_else(|_| {
        let digest = crate::secrets::hash(user_id);
        let mut bytes = [0u8; 16];
        for (b, d) in bytes.iter_mut().zip(digest.bytes()) {
            *b = d;
        }
        uuid::Uuid::from_bytes(bytes)
    })
}

/// Counts one passkey assertion against the limits of second factors: per account (the login's
/// budget, as TOTP codes) and per client address.
async fn count_assertion(state: &AppState, ip: &ClientIp, user_id: &str) -> Result<(), PageError> {
    count_from_ip(state, ip).await?;
    super::count_account_attempt(state, "login-passkey", user_id).await
}

/// Counts one passkey ceremony from this client address.
async fn count_from_ip(state: &AppState, ip: &ClientIp) -> Result<(), PageError> {
    super::count_ip_attempt(state, "passkey-ip", ip).await
}

/// « Clé d'accès refusée »: an answer that names no passkey of the account, or whose signature
/// does not check (said the same way: no hint of which).
fn not_verified() -> PageError {
    PageError::bad_request(
        "Cette clé d'accès n'a pas pu être vérifiée. Utilisez une clé d'accès enregistrée sur votre compte, ou une autre méthode de connexion.",
    )
}

/// Accepts the assertion `answer` checked by `webauthn-rs` (`outcome`) for the account
/// `user_id`: the passkey it names must be one of that account's; a counter that did not go up
/// refuses it (audited); otherwise its new counter and flags are stored with the use. Returns
/// the passkey and whether the authenticator verified the person (PIN, biometrics).
async fn accept_assertion(
    state: &AppState,
    answer: &PublicKeyCredential,
    outcome: Result<AuthenticationResult, WebauthnError>,
    user_id: &str,
    how: actions::Use,
) -> Result<(store::Stored, bool), PageError> {
    let credential = store::base64url(answer.get_credential_id());
    let Some(stored) = store::by_credential_id(&state.db, &credential).await? else {
        return Err(not_verified());
    };
    if stored.user_id != user_id {
        return Err(not_verified());
    }
    let now = state.clock.now();
    match outcome {
        Ok(result) => {
            let mut updated = stored.passkey.clone();
            updated.update_credential(&result);
            actions::use_passkey(&state.db, now, &stored, &updated, how).await?;
            Ok((stored, result.user_verified()))
        }
        Err(WebauthnError::CredentialPossibleCompromise) => {
            Err(actions::refuse_cloned(&state.db, now, &stored, how)
                .await
                .err()
                .map_or_else(not_verified, PageError::from))
        }
        Err(e) => {
            tracing::info!(error.message = %e, user.id = %user_id, "passkey assertion refused");
            Err(not_verified())
        }
    }
}

/// `GET /static/passkeys.js`.
async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../../static/passkeys.js"),
    )
}

/// The passkeys' pages and their ceremonies' answers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(SCRIPT_PATH, get(script))
        .route(NEW_PATH, get(manage::show_new).post(manage::start))
        .route(REGISTER_PATH, post(manage::register))
        .route(REMOVE_PATH, get(manage::show_remove).post(manage::remove))
        .route(LOGIN_PATH, post(passwordless::start))
        .route(LOGIN_VERIFY_PATH, post(passwordless::verify))
        .route(SECOND_STEP_PATH, post(second_step::start))
        .route(SECOND_STEP_VERIFY_PATH, post(second_step::verify))
}
