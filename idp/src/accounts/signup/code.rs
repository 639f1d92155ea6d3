//! Step 2 of sign-up: the 6-digit code e-mailed at step 1. Codes are stored hashed in the
//! shared store, one per address (a new code replaces the old one), valid
//! [`SIGNUP_CODE_TTL`], at most [`TRIES_PER_CODE`] tries; a new one may be asked for after
//! [`RESEND_COOLDOWN`].
//!
//! The e-mail also carries a link (`/inscription/lien?jeton=…`, guide `002` §3.2: « cliquer sur
//! le bouton ci-dessous ») that opens step 2 with the code filled in, in whichever browser it
//! is opened: its random token names the pending code itself, not the cookie of the browser
//! that asked for it. Opening it spends nothing (mail scanners follow links): the code it fills
//! in goes through the same check as a typed one, tries and limits included, and once the code
//! is spent or replaced the link says it has expired.

use std::time::Duration;

use askama::Template;
use axum::{extract::State, http::HeaderMap, http::StatusCode, response::Response};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use super::{At, Frame, Posted, Session, Step, reply, reply_with};
use crate::web::page::PlainForm;
use crate::{
    AppState,
    accounts::{Email, store},
    error::PageError,
    mail::messages::{self, SIGNUP_CODE_TTL},
    secrets,
    store::now,
    web::{client_ip::ClientIp, rate_limit},
};

/// At most this many code requests per address per [`SEND_WINDOW`].
pub const SENDS_PER_ADDRESS: u64 = 10;
/// At most this many code requests per client address per [`SEND_WINDOW`].
pub const SENDS_PER_IP: u64 = 30;
/// Window of the step-1 limits.
pub const SEND_WINDOW: Duration = Duration::from_secs(3600);

/// Counts the sending of a code (step 1, or « Renvoyer un code ») against the limits per
/// client address and per address.
pub async fn count_send(state: &AppState, ip: &ClientIp, email: &Email) -> Result<(), PageError> {
    let window = SEND_WINDOW;
    let limits = &state.ephemeral;
    rate_limit::hit(limits, "signup-send-ip", &ip.key(), SENDS_PER_IP, window).await??;
    rate_limit::hit(
        limits,
        "signup-send-address",
        email.as_str(),
        SENDS_PER_ADDRESS,
        window,
    )
    .await??;
    Ok(())
}

/// Where step 2's « Renvoyer un code » posts.
pub const RESEND_PATH: &str = "/inscription/code/renvoyer";
/// Wrong tries a code survives.
pub const TRIES_PER_CODE: u64 = 5;
/// Time before another code may be sent to the same address.
pub const RESEND_COOLDOWN: Duration = Duration::from_secs(60);
/// At most this many code checks per address per [`CHECK_WINDOW`] (all codes together).
pub const CHECKS_PER_ADDRESS: u64 = 30;
/// At most this many code checks per client address per [`CHECK_WINDOW`].
pub const CHECKS_PER_IP: u64 = 60;
/// Window of the code-check limits.
pub const CHECK_WINDOW: Duration = Duration::from_secs(900);

/// The pending code of an address.
#[derive(Serialize, Deserialize)]
struct PendingCode {
    /// Random id of this code: its try counter is keyed on it, so a new code starts afresh.
    id: String,
    /// SHA-256 of address and code; `None` when the address already has an account, so that
    /// no code validates (and the page still counts tries down the same way).
    hash: Option<String>,
    /// SHA-256 of the e-mailed link's token; `None` with `hash`.
    #[serde(default)]
    link: Option<String>,
}

/// What the link's token leads to, under [`link_key`]: the address, and the code sealed
/// under the KEK bound to the token's hash (the store alone never holds a usable code).
#[derive(Serialize, Deserialize)]
struct PendingLink {
    email: String,
    sealed_code: String,
    /// The service's authorization request the sign-up started from, so that a sign-up
    /// finished in another browser also goes back to it.
    #[serde(default)]
    authreq: Option<String>,
}

/// Where the e-mailed link leads, with its token in `jeton`.
pub const LINK_PATH: &str = "/inscription/lien";

fn link_key(token_hash: &str) -> String {
    format!("signup-link:{token_hash}")
}

fn code_key(email: &Email) -> String {
    format!("signup-code:{}", secrets::hash(email.as_str()))
}

/// Key of the resend cooldown of `email` in the shared store (tests clear it to skip the wait).
pub fn cooldown_key(email: &Email) -> String {
    format!("signup-cooldown:{}", secrets::hash(email.as_str()))
}

fn code_hash(email: &Email, code: &str) -> String {
    secrets::hash(&format!("{}\n{code}", email.as_str()))
}

/// Sends a new code to `email` (or the "account exists" e-mail), replacing the previous code;
/// its link carries `authreq`, the service's request the sign-up started from. Within the
/// cooldown nothing is sent and the wait left is returned.
pub async fn send(
    state: &AppState,
    email: &Email,
    authreq: Option<&str>,
) -> Result<Option<Duration>, PageError> {
    let cooldown = cooldown_key(email);
    let until = now() + RESEND_COOLDOWN.as_secs() as i64;
    if !state
        .ephemeral
        .put_if_absent(&cooldown, &until.to_string(), RESEND_COOLDOWN)
        .await?
    {
        let until: i64 = state
            .ephemeral
            .get(&cooldown)
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        return Ok(Some(Duration::from_secs((until - now()).max(1) as u64)));
    }
    let exists = store::user_by_email(&state.db, email).await?.is_some();
    let (pending, message) = if exists {
        let message = messages::account_exists(&state.config.issuer, email);
        (
            PendingCode {
                id: secrets::random_token(16),
                hash: None,
                link: None,
            },
            message,
        )
    } else {
        let code = secrets::six_digits();
        let token = secrets::random_token(32);
        let token_hash = secrets::hash(&token);
        let link = PendingLink {
            email: email.as_str().to_owned(),
            sealed_code: STANDARD.encode(state.kek.seal(&token_hash, code.as_bytes())),
            authreq: authreq.map(str::to_owned),
        };
        let raw =
            serde_json::to_string(&link).map_err(|e| PageError::internal("signup link", &e))?;
        state
            .ephemeral
            .put(&link_key(&token_hash), &raw, SIGNUP_CODE_TTL)
            .await?;
        let message = messages::signup_code(&state.config.issuer, email, &code, &token);
        (
            PendingCode {
                id: secrets::random_token(16),
                hash: Some(code_hash(email, &code)),
                link: Some(token_hash),
            },
            message,
        )
    };
    let raw =
        serde_json::to_string(&pending).map_err(|e| PageError::internal("signup code", &e))?;
    state
        .ephemeral
        .put(&code_key(email), &raw, SIGNUP_CODE_TTL)
        .await?;
    let sent = match message {
        Ok(message) => state.mailer.send(&message).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        // Nothing arrived: the person may ask again at once.
        state.ephemeral.delete(&cooldown).await?;
        tracing::error!(error.message = %e, "sign-up e-mail not sent");
        return Err(PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Envoi impossible",
            "L'e-mail n'a pas pu être envoyé. Veuillez réessayer dans quelques instants.",
        ));
    }
    tracing::info!(signup.existing_account = exists, "sign-up e-mail sent");
    Ok(None)
}

/// What a try at a code gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// The right code: it is spent.
    Valid,
    /// Wrong; this many tries are left.
    Wrong(u64),
    /// No more tries for this code.
    Exhausted,
    /// No live code for the address.
    Expired,
}

/// Tries `code` for `email`. Every try counts (atomically, across nodes) before the
/// comparison, so concurrent guesses cannot exceed [`TRIES_PER_CODE`].
pub async fn check(state: &AppState, email: &Email, code: &str) -> Result<Check, PageError> {
    let Some(raw) = state.ephemeral.get(&code_key(email)).await? else {
        return Ok(Check::Expired);
    };
    let Ok(pending) = serde_json::from_str::<PendingCode>(&raw) else {
        return Ok(Check::Expired);
    };
    let (tries, _) = state
        .ephemeral
        .hit(&format!("signup-tries:{}", pending.id), SIGNUP_CODE_TTL)
        .await?;
    if tries > TRIES_PER_CODE {
        return Ok(Check::Exhausted);
    }
    let submitted = code_hash(email, code);
    let valid = pending
        .hash
        .as_deref()
        .is_some_and(|h| secrets::constant_time_eq(h.as_bytes(), submitted.as_bytes()));
    if valid {
        state.ephemeral.delete(&code_key(email)).await?;
        if let Some(link) = &pending.link {
            state.ephemeral.delete(&link_key(link)).await?;
        }
        Ok(Check::Valid)
    } else {
        Ok(Check::Wrong(TRIES_PER_CODE - tries))
    }
}

#[derive(Template)]
#[template(path = "signup_code.html")]
struct CodePage {
    f: Frame,
    notice: Option<String>,
    /// The code filled in by the e-mailed link.
    code: String,
}

fn page(session: &Session, state: &AppState, headers: &HeaderMap) -> CodePage {
    CodePage {
        f: session.frame(state, headers, Step::Code),
        notice: None,
        code: String::new(),
    }
}

/// What the link's `token` leads to, while it is the pending code's link.
struct Followed {
    email: Email,
    code: String,
    authreq: Option<String>,
}

/// What the link's `token` leads to, while it is the pending code's link.
async fn follow(state: &AppState, token: &str) -> Result<Option<Followed>, PageError> {
    if token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    let token_hash = secrets::hash(token);
    let Some(link) = state
        .ephemeral
        .get(&link_key(&token_hash))
        .await?
        .and_then(|raw| serde_json::from_str::<PendingLink>(&raw).ok())
    else {
        return Ok(None);
    };
    let Ok(email) = Email::parse(&link.email) else {
        return Ok(None);
    };
    // A newer code replaced the one this link was sent with.
    let current = state
        .ephemeral
        .get(&code_key(&email))
        .await?
        .and_then(|raw| serde_json::from_str::<PendingCode>(&raw).ok())
        .and_then(|pending| pending.link)
        .is_some_and(|h| secrets::constant_time_eq(h.as_bytes(), token_hash.as_bytes()));
    if !current {
        return Ok(None);
    }
    let code = STANDARD
        .decode(&link.sealed_code)
        .ok()
        .and_then(|sealed| state.kek.open(&token_hash, &sealed).ok())
        .and_then(|plain| String::from_utf8(plain).ok());
    Ok(code.map(|code| Followed {
        email,
        code,
        authreq: link.authreq,
    }))
}

/// Query of the e-mailed link.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LinkQuery {
    jeton: String,
}

/// `GET /inscription/lien?jeton=…`: step 2 with the code filled in, in this browser's journey
/// (started here when the link is opened elsewhere than where the code was asked for).
pub async fn follow_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LinkQuery>,
) -> Result<Response, PageError> {
    let Some(Followed {
        email,
        code,
        authreq,
    }) = follow(&state, &q.jeton).await?
    else {
        return Err(PageError::new(
            StatusCode::GONE,
            "Lien expiré",
            "Ce lien a expiré ou a déjà été utilisé. Recommencez la création de votre compte pour recevoir un nouveau code.",
        ));
    };
    let mut session = Session::load(&state, &headers).await?;
    if session.journey.email.as_deref() != Some(email.as_str()) {
        // Another address's journey in this browser: what it proved does not carry over.
        session.journey = super::Journey {
            email: Some(email.as_str().to_owned()),
            authreq: authreq.or(session.journey.authreq.take()),
            ..Default::default()
        };
        session.save(&state).await?;
    } else if session.journey.code_verified {
        return Ok(session.redirect(session.journey.next_step().path()));
    }
    let mut page = page(&session, &state, &headers);
    page.code = code;
    page.notice = Some(
        "Le code de validation reçu par e-mail a été saisi pour vous : cliquez sur « Suivant »."
            .into(),
    );
    reply(page.f.take_cookies(), &page)
}

/// `GET /inscription/code`: step 2.
pub async fn show(
    State(state): State<AppState>,
    At(session): At<{ Step::Code as u8 }>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if session.journey.code_verified {
        // Already proven: nothing to type again.
        return Ok(session.redirect(session.journey.next_step().path()));
    }
    let mut page = page(&session, &state, &headers);
    reply(page.f.take_cookies(), &page)
}

/// Fields of step 2.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

const RESEND_HINT: &str = "Demandez un nouveau code avec le bouton « Envoyer le code ».";

/// `POST /inscription/code`: checks the code, goes to step 3.
pub async fn submit(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Posted(mut session, form): Posted<{ Step::Code as u8 }, CodeForm>,
) -> Result<Response, PageError> {
    if session.journey.code_verified {
        return Ok(session.redirect(session.journey.next_step().path()));
    }
    let Some(email) = session.email() else {
        return Ok(session.redirect(Step::Email.path()));
    };
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let error = if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        "Le code doit comporter 6 chiffres.".to_owned()
    } else {
        rate_limit::hit(
            &state.ephemeral,
            "signup-check-ip",
            &ip.key(),
            CHECKS_PER_IP,
            CHECK_WINDOW,
        )
        .await??;
        rate_limit::hit(
            &state.ephemeral,
            "signup-check-address",
            email.as_str(),
            CHECKS_PER_ADDRESS,
            CHECK_WINDOW,
        )
        .await??;
        match check(&state, &email, &code).await? {
            Check::Valid => {
                session.journey.code_verified = true;
                session.save(&state).await?;
                return Ok(session.redirect(Step::Password.path()));
            }
            Check::Wrong(0) => {
                format!("Le code saisi est incorrect. Ce code n'est plus utilisable. {RESEND_HINT}")
            }
            Check::Wrong(1) => "Le code saisi est incorrect. Il vous reste 1 essai.".to_owned(),
            Check::Wrong(n) => format!("Le code saisi est incorrect. Il vous reste {n} essais."),
            Check::Exhausted => format!(
                "Ce code n'est plus utilisable après {TRIES_PER_CODE} essais incorrects. {RESEND_HINT}"
            ),
            Check::Expired => format!("Ce code a expiré (il est valable 1 heure). {RESEND_HINT}"),
        }
    };
    let mut page = page(&session, &state, &headers);
    page.f = page.f.with_error("code", error);
    reply_with(page.f.take_cookies(), &page, StatusCode::BAD_REQUEST)
}

/// `POST /inscription/code/renvoyer`: a new code, after the cooldown.
pub async fn resend(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Posted(session, _): Posted<{ Step::Code as u8 }, PlainForm>,
) -> Result<Response, PageError> {
    if session.journey.code_verified {
        return Ok(session.redirect(session.journey.next_step().path()));
    }
    let Some(email) = session.email() else {
        return Ok(session.redirect(Step::Email.path()));
    };
    let mut page = page(&session, &state, &headers);
    if let Some(wait) = cooldown_left(&state, &email).await? {
        page.f = page.f.with_error("", wait_message(wait));
        let reply = reply_with(page.f.take_cookies(), &page, StatusCode::TOO_MANY_REQUESTS)?;
        return Ok(rate_limit::with_retry_after(reply, wait));
    }
    count_send(&state, &ip, &email).await?;
    if let Some(wait) = send(&state, &email, session.journey.authreq.as_deref()).await? {
        page.f = page.f.with_error("", wait_message(wait));
        let reply = reply_with(page.f.take_cookies(), &page, StatusCode::TOO_MANY_REQUESTS)?;
        return Ok(rate_limit::with_retry_after(reply, wait));
    }
    page.notice = Some(
        "Un nouveau code vous a été envoyé par e-mail. Le code précédent n'est plus valable."
            .into(),
    );
    reply(page.f.take_cookies(), &page)
}

async fn cooldown_left(state: &AppState, email: &Email) -> Result<Option<Duration>, PageError> {
    Ok(state
        .ephemeral
        .get(&cooldown_key(email))
        .await?
        .and_then(|v| v.parse::<i64>().ok())
        .map(|until| Duration::from_secs((until - now()).max(1) as u64)))
}

fn wait_message(wait: Duration) -> String {
    format!(
        "Un code vient de vous être envoyé. Vous pourrez demander un nouveau code dans {}.",
        rate_limit::french_duration(wait)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = secrets::six_digits();
            assert_eq!(code.len(), 6);
            assert!(code.chars().all(|c| c.is_ascii_digit()));
        }
    }
}

crate::with_csrf!(CodeForm);
