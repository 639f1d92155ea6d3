//! `/compte/adresse-electronique`: a new address for the account, in two steps.
//!
//! 1. The new address (the sign-up rules: `Email::parse`, no shared mailbox) and the current
//!    password. A 6-digit code goes to the new address; it is stored only as a hash, in the
//!    shared store under the account (`account-email:<hash of user id>`), for
//!    [`EMAIL_CHANGE_CODE_TTL`], [`TRIES_PER_CODE`] tries, one live code per account.
//! 2. `/compte/adresse-electronique/code`: the code. Right, the address changes and the
//!    previous one is told by e-mail.
//!
//! An address that already has an account is handled as at sign-up: the same pages and the
//! same countdown, but that address receives `messages::email_change_taken` instead of a code
//! and no code can validate, so a logged-in person cannot use this form to learn who has an
//! account. If the address is taken between the code and its check, the page says only that
//! the change could not be made.

use std::time::Duration;

use askama::Template;
use axum::{
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use super::{Page, back_to_overview, full_name, password_matches, send_notice};
use crate::web::{client_ip::ClientIp, page::CsrfForm};
use crate::{
    AppState,
    accounts::logged_in::LoggedIn,
    accounts::{
        Email, UserId,
        actions::change_email::change_email,
        refusal::AccountRefusal,
        signup::{
            code::{
                CHECK_WINDOW, CHECKS_PER_ADDRESS, SEND_WINDOW, SENDS_PER_ADDRESS, TRIES_PER_CODE,
            },
            email::{SHARED_MAILBOX_MESSAGE, is_shared_mailbox},
        },
        store::{self as users, User},
    },
    error::PageError,
    mail::messages::{self, EMAIL_CHANGE_CODE_TTL},
    secrets,
    web::rate_limit,
};

/// Step 1.
pub const PATH: &str = "/compte/adresse-electronique";
/// Step 2.
pub const CODE_PATH: &str = "/compte/adresse-electronique/code";

const NOT_SENT: &str =
    "L'e-mail contenant le code n'a pas pu être envoyé. Veuillez réessayer dans quelques instants.";
const NOT_DONE: &str = "La modification de votre adresse e-mail n'a pas pu être effectuée. Vérifiez l'adresse saisie ou choisissez-en une autre.";
const ASK_AGAIN: &str = "Demandez un nouveau code en saisissant à nouveau votre nouvelle adresse.";

/// The change waiting for its code.
#[derive(Serialize, Deserialize)]
struct PendingChange {
    /// Random id of this code: its try counter is keyed on it.
    id: String,
    /// The new address.
    email: String,
    /// SHA-256 of id, address and code; `None` when the address already has an account.
    hash: Option<String>,
}

fn pending_key(user_id: &str) -> String {
    format!("account-email:{}", secrets::hash(user_id))
}

fn code_hash(id: &str, email: &str, code: &str) -> String {
    secrets::hash(&format!("{id}\n{email}\n{code}"))
}

async fn load_pending(state: &AppState, user_id: &str) -> Result<Option<PendingChange>, PageError> {
    Ok(state
        .ephemeral
        .get(&pending_key(user_id))
        .await?
        .and_then(|raw| serde_json::from_str(&raw).ok()))
}

#[derive(Template)]
#[template(path = "account_email.html")]
struct EmailPage {
    csrf: String,
    current_email: String,
    email: String,
    error: Option<String>,
    /// `email`, `password` or `""`.
    invalid: &'static str,
}

/// `GET /compte/adresse-electronique`: step 1.
pub async fn show(page: Page, LoggedIn { user, .. }: LoggedIn) -> Result<Response, PageError> {
    page.render(StatusCode::OK, |csrf| EmailPage {
        csrf,
        current_email: user.email.clone(),
        email: String::new(),
        error: None,
        invalid: "",
    })
}

/// Fields of step 1.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EmailForm {
    csrf: String,
    email: String,
    password: String,
}

/// Why step 1 is shown again: the field, the message, the status.
type Again = (&'static str, String, StatusCode);

/// The new address of the form, if it can be asked for: a valid, personal address other than
/// the account's, with the right current password.
async fn check_request(
    state: &AppState,
    ip: &ClientIp,
    user: &User,
    form: &EmailForm,
) -> Result<Result<Email, Again>, PageError> {
    let bad = |message: &str| Ok(Err(("email", message.to_owned(), StatusCode::BAD_REQUEST)));
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => return bad(&e.to_string()),
    };
    if is_shared_mailbox(&email) {
        return bad(SHARED_MAILBOX_MESSAGE);
    }
    if email.as_str() == user.email {
        return bad("Cette adresse est déjà celle de votre compte.");
    }
    if !password_matches(state, ip, user, &form.password).await? {
        let message = "Le mot de passe actuel est incorrect.".to_owned();
        return Ok(Err(("password", message, StatusCode::UNAUTHORIZED)));
    }
    Ok(Ok(email))
}

/// Counts a code sent for `user` and to `email`; the wait when a limit is reached.
async fn limit_sends(
    state: &AppState,
    user: &User,
    email: &Email,
) -> Result<Option<Duration>, PageError> {
    for (bucket, subject) in [
        ("account-email-send", user.id.as_str()),
        ("account-email-send-address", email.as_str()),
    ] {
        let limits = &state.ephemeral;
        let hit = rate_limit::hit(limits, bucket, subject, SENDS_PER_ADDRESS, SEND_WINDOW).await?;
        if let Err(limit) = hit {
            return Ok(Some(limit.retry_after));
        }
    }
    Ok(None)
}

/// Records the pending change and e-mails its code to the new address (or, when another
/// account has it, the "address taken" e-mail, without a code); `false` when the e-mail could
/// not be sent (then nothing is pending).
async fn send_code(state: &AppState, user: &User, email: &Email) -> Result<bool, PageError> {
    let taken = users::user_by_email(&state.db, email).await?.is_some();
    let id = secrets::random_token(16);
    let (hash, message) = if taken {
        (
            None,
            messages::email_change_taken(&state.config.issuer, email),
        )
    } else {
        let code = secrets::six_digits();
        let name = full_name(user);
        (
            Some(code_hash(&id, email.as_str(), &code)),
            messages::email_change_code(email, name.as_deref(), &code),
        )
    };
    let pending = PendingChange {
        id,
        email: email.as_str().to_owned(),
        hash,
    };
    let raw = serde_json::to_string(&pending).expect("pending change serialises");
    let key = pending_key(&user.id);
    state
        .ephemeral
        .put(&key, &raw, EMAIL_CHANGE_CODE_TTL)
        .await?;
    let sent = match message {
        Ok(message) => state.mailer.send(&message).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        tracing::error!(user.id = %user.id, error.message = %e, "e-mail change code not sent");
        state.ephemeral.delete(&key).await?;
        return Ok(false);
    }
    tracing::info!(user.id = %user.id, "e-mail change code sent");
    Ok(true)
}

/// `POST /compte/adresse-electronique`: checks the address and the password, sends the code.
pub async fn submit(
    page: Page,
    LoggedIn { user, .. }: LoggedIn,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Result<Response, PageError> {
    let again = |(field, message, status): Again| {
        page.render(status, |csrf| EmailPage {
            csrf,
            current_email: user.email.clone(),
            email: form.email.clone(),
            error: Some(message),
            invalid: field,
        })
    };
    let email = match check_request(&page, &ip, &user, &form).await? {
        Ok(email) => email,
        Err(refused) => return again(refused),
    };
    if let Some(wait) = limit_sends(&page, &user, &email).await? {
        let message = format!(
            "Trop de demandes de changement d'adresse. Veuillez réessayer dans {}.",
            rate_limit::french_duration(wait)
        );
        let page = again(("", message, StatusCode::TOO_MANY_REQUESTS))?;
        return Ok(rate_limit::with_retry_after(page, wait));
    }
    if !send_code(&page, &user, &email).await? {
        return again(("", NOT_SENT.to_owned(), StatusCode::SERVICE_UNAVAILABLE));
    }
    Ok(Redirect::to(CODE_PATH).into_response())
}

#[derive(Template)]
#[template(path = "account_email_code.html")]
struct CodePage {
    csrf: String,
    email: String,
    error: Option<String>,
}

/// `GET /compte/adresse-electronique/code`: step 2.
pub async fn show_code(page: Page, LoggedIn { user, .. }: LoggedIn) -> Result<Response, PageError> {
    let Some(pending) = load_pending(&page, &user.id).await? else {
        return Ok(Redirect::to(PATH).into_response());
    };
    page.render(StatusCode::OK, |csrf| CodePage {
        csrf,
        email: pending.email,
        error: None,
    })
}

/// Fields of step 2.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

/// Why the code of step 2 is refused.
enum CodeRefused {
    /// Wrong, malformed or dead: the message and status.
    Wrong(String, StatusCode),
    /// Spent meanwhile (another tab changed the address with it).
    Spent,
}

/// Checks the code typed against the pending change and spends it; or why the step is shown
/// again.
async fn check_code(
    state: &AppState,
    user: &User,
    pending: &PendingChange,
    typed: &str,
) -> Result<Result<(), CodeRefused>, PageError> {
    let key = pending_key(&user.id);
    let code: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        let message = "Le code doit comporter 6 chiffres.".to_owned();
        return Ok(Err(CodeRefused::Wrong(message, StatusCode::BAD_REQUEST)));
    }
    let limits = &state.ephemeral;
    let bucket = "account-email-check";
    rate_limit::hit(limits, bucket, &user.id, CHECKS_PER_ADDRESS, CHECK_WINDOW).await??;
    // Counted before the comparison, atomically: concurrent guesses cannot exceed the limit.
    let tries_key = format!("account-email-tries:{}", pending.id);
    let (tries, _) = state
        .ephemeral
        .hit(&tries_key, EMAIL_CHANGE_CODE_TTL)
        .await?;
    if tries > TRIES_PER_CODE {
        state.ephemeral.delete(&key).await?;
        let message = format!(
            "Ce code n'est plus utilisable après {TRIES_PER_CODE} essais incorrects. {ASK_AGAIN}"
        );
        return Ok(Err(CodeRefused::Wrong(message, StatusCode::GONE)));
    }
    let submitted = code_hash(&pending.id, &pending.email, &code);
    let right = pending
        .hash
        .as_deref()
        .is_some_and(|h| secrets::constant_time_eq(h.as_bytes(), submitted.as_bytes()));
    if !right {
        let message = match TRIES_PER_CODE - tries {
            0 => {
                state.ephemeral.delete(&key).await?;
                format!("Le code saisi est incorrect. Ce code n'est plus utilisable. {ASK_AGAIN}")
            }
            1 => "Le code saisi est incorrect. Il vous reste 1 essai.".to_owned(),
            n => format!("Le code saisi est incorrect. Il vous reste {n} essais."),
        };
        return Ok(Err(CodeRefused::Wrong(message, StatusCode::BAD_REQUEST)));
    }
    // Spent here: of two tabs sending the right code, one changes the address.
    if state.ephemeral.take(&key).await?.is_none() {
        return Ok(Err(CodeRefused::Spent));
    }
    Ok(Ok(()))
}

/// `POST /compte/adresse-electronique/code`: checks the code and changes the address.
pub async fn submit_code(
    page: Page,
    LoggedIn { user, .. }: LoggedIn,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let again = |email: &str, message: String, status: StatusCode| {
        page.render(status, |csrf| CodePage {
            csrf,
            email: email.to_owned(),
            error: Some(message),
        })
    };
    let gone = format!("Ce code a expiré ou a déjà été utilisé. {ASK_AGAIN}");
    let Some(pending) = load_pending(&page, &user.id).await? else {
        return again("", gone, StatusCode::GONE);
    };
    match check_code(&page, &user, &pending, &form.code).await? {
        Ok(()) => {}
        Err(CodeRefused::Spent) => return again("", gone, StatusCode::GONE),
        Err(CodeRefused::Wrong(message, status)) => {
            return again(&pending.email, message, status);
        }
    }
    let new_email =
        Email::parse(&pending.email).map_err(|e| PageError::internal("pending e-mail", &e))?;
    let id = UserId::from_stored(user.id.clone());
    let changed = change_email(&page.db, page.clock.now(), &id, &new_email).await;
    if let Err(AccountRefusal::EmailTaken) = changed {
        tracing::info!(user.id = %user.id, "e-mail change refused: address taken meanwhile");
        return page.render(StatusCode::CONFLICT, |csrf| EmailPage {
            csrf,
            current_email: user.email.clone(),
            email: pending.email.clone(),
            error: Some(NOT_DONE.into()),
            invalid: "email",
        });
    }
    changed?;
    // Userinfo on every node shows the new address from the next request.
    page.revocations.changed(&page.db, &page.ephemeral).await?;
    tracing::info!(user.id = %user.id, "e-mail changed");
    if let Ok(old) = Email::parse(&user.email) {
        let name = full_name(&user);
        let notice =
            messages::email_changed(&page.config.issuer, &old, name.as_deref(), &new_email);
        send_notice(&page, notice).await;
    }
    Ok(back_to_overview("adresse"))
}

crate::with_csrf!(CodeForm, EmailForm);
