//! A WebAuthn ceremony between its two requests: the state `webauthn-rs` needs to check the
//! answer waits in the shared store (any node may receive the answer) under a random token the
//! page's form carries, for a few minutes, and is taken once; and the page that runs it in the
//! browser (`/static/passkeys.js` reads the options from the form's `data-options`).

use askama::Template;
use axum::{http::StatusCode, response::Response};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::CEREMONY_TTL;
use crate::{error::PageError, secrets, web::page::Page};

fn key(kind: &str, token: &str) -> String {
    format!("passkey-{kind}:{}", secrets::hash(token))
}

/// Keeps `waiting` for the answer of a ceremony of `kind`; returns the form's token.
pub(super) async fn keep<T: Serialize>(
    page: &Page,
    kind: &str,
    waiting: &T,
) -> Result<String, PageError> {
    let token = secrets::random_token(32);
    let value = serde_json::to_string(waiting)
        .map_err(|e| PageError::internal("passkey ceremony state", &e))?;
    page.ephemeral
        .put(&key(kind, &token), &value, CEREMONY_TTL)
        .await?;
    Ok(token)
}

/// Takes the waiting state of a ceremony of `kind` (once: a replayed answer finds nothing);
/// « expired » when there is none.
pub(super) async fn take<T: DeserializeOwned>(
    page: &Page,
    kind: &str,
    token: &str,
) -> Result<T, PageError> {
    let expired = || {
        PageError::bad_request(
            "Cette demande de clé d'accès a expiré ou a déjà été utilisée. Veuillez recommencer.",
        )
    };
    if token.is_empty() || token.len() > 64 {
        return Err(expired());
    }
    let raw = page
        .ephemeral
        .take(&key(kind, token))
        .await?
        .ok_or_else(expired)?;
    serde_json::from_str(&raw).map_err(|_| expired())
}

/// The browser's answer as posted by `/static/passkeys.js`, read as `T` (a registration or an
/// assertion); a French error when it is not one.
pub(super) fn answer<T: DeserializeOwned>(credential: &str) -> Result<T, PageError> {
    serde_json::from_str(credential).map_err(|_| {
        PageError::bad_request(
            "Votre navigateur n'a pas transmis de réponse de clé d'accès lisible. Veuillez recommencer.",
        )
    })
}

/// What the browser is asked to do.
#[derive(Clone, Copy, Serialize, Deserialize)]
pub(super) enum Mode {
    /// Create a credential (`navigator.credentials.create`).
    Create,
    /// Sign the challenge with one (`navigator.credentials.get`).
    Get,
}

#[derive(Template, askama_web::WebTemplate)]
#[template(path = "passkey_ceremony.html")]
struct CeremonyPage {
    csrf: String,
    title: &'static str,
    explanation: &'static str,
    button: &'static str,
    mode: &'static str,
    /// The options as JSON (escaped by the template into the attribute).
    options: String,
    action: &'static str,
    ceremony: String,
    cancel: String,
}

/// What a ceremony page says and where it goes.
pub(super) struct Run {
    /// The heading.
    pub title: &'static str,
    /// What the person is about to do.
    pub explanation: &'static str,
    /// The button that starts the browser's ceremony.
    pub button: &'static str,
    /// Create or get.
    pub mode: Mode,
    /// Where the answer is posted.
    pub action: &'static str,
    /// « Annuler » goes there.
    pub cancel: String,
}

/// The page that runs a ceremony: `options` (`CreationChallengeResponse` or
/// `RequestChallengeResponse` as JSON) for the browser, the answer posted with `token`.
pub(super) fn page(
    page: &Page,
    run: Run,
    options: &serde_json::Value,
    token: String,
) -> Result<Response, PageError> {
    page.render(StatusCode::OK, |csrf| CeremonyPage {
        csrf,
        title: run.title,
        explanation: run.explanation,
        button: run.button,
        mode: match run.mode {
            Mode::Create => "create",
            Mode::Get => "get",
        },
        options: options.to_string(),
        action: run.action,
        ceremony: token,
        cancel: run.cancel,
    })
}

/// Fields of every ceremony's answer.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnswerForm {
    csrf: String,
    /// The ceremony's token.
    pub ceremony: String,
    /// The browser's answer, JSON.
    pub credential: String,
}

crate::with_csrf!(AnswerForm);
