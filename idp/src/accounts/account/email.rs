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

use askama::Template;
use axum::{
    Form,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use super::{back_to_overview, check_csrf, full_name, password_matches, render, send_notice};
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
                random_code,
            },
            email::{SHARED_MAILBOX_MESSAGE, is_shared_mailbox},
        },
        store as users,
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
pub async fn show(
    State(state): State<AppState>,
    LoggedIn { user, .. }: LoggedIn,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    render(&state, &headers, StatusCode::OK, |csrf| EmailPage {
        csrf,
        current_email: user.email.clone(),
        email: String::new(),
        error: None,
        invalid: "",
    })
}

/// Fields of step 1.
#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /compte/adresse-electronique`: checks the address and the password, sends the code.
pub async fn submit(
    State(state): State<AppState>,
    LoggedIn { user, .. }: LoggedIn,
    headers: HeaderMap,
    Form(form): Form<EmailForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let again = |field: &'static str, message: &str, status: StatusCode| {
        render(&state, &headers, status, |csrf| EmailPage {
            csrf,
            current_email: user.email.clone(),
            email: form.email.clone(),
            error: Some(message.to_owned()),
            invalid: field,
        })
    };
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => return again("email", &e.to_string(), StatusCode::BAD_REQUEST),
    };
    if is_shared_mailbox(&email) {
        return again("email", SHARED_MAILBOX_MESSAGE, StatusCode::BAD_REQUEST);
    }
    if email.as_str() == user.email {
        return again(
            "email",
            "Cette adresse est déjà celle de votre compte.",
            StatusCode::BAD_REQUEST,
        );
    }
    if !password_matches(&state, &user, &form.password).await? {
        return again(
            "password",
            "Le mot de passe actuel est incorrect.",
            StatusCode::UNAUTHORIZED,
        );
    }
    for (bucket, subject) in [
        ("account-email-send", user.id.as_str()),
        ("account-email-send-address", email.as_str()),
    ] {
        if let Err(limit) = rate_limit::hit(
            &state.ephemeral,
            bucket,
            subject,
            SENDS_PER_ADDRESS,
            SEND_WINDOW,
        )
        .await?
        {
            let message = format!(
                "Trop de demandes de changement d'adresse. Veuillez réessayer dans {}.",
                rate_limit::french_duration(limit.retry_after)
            );
            return again("", &message, StatusCode::TOO_MANY_REQUESTS);
        }
    }
    let taken = users::user_by_email(&state.db, &email).await?.is_some();
    let id = secrets::random_token(16);
    let (hash, message) = if taken {
        (
            None,
            messages::email_change_taken(&state.config.issuer, &email),
        )
    } else {
        let code = random_code();
        let name = full_name(&user);
        (
            Some(code_hash(&id, email.as_str(), &code)),
            messages::email_change_code(&email, name.as_deref(), &code),
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
        return again("", NOT_SENT, StatusCode::SERVICE_UNAVAILABLE);
    }
    tracing::info!(user.id = %user.id, "e-mail change code sent");
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
pub async fn show_code(
    State(state): State<AppState>,
    LoggedIn { user, .. }: LoggedIn,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(pending) = load_pending(&state, &user.id).await? else {
        return Ok(Redirect::to(PATH).into_response());
    };
    render(&state, &headers, StatusCode::OK, |csrf| CodePage {
        csrf,
        email: pending.email,
        error: None,
    })
}

/// Fields of step 2.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// `POST /compte/adresse-electronique/code`: checks the code and changes the address.
pub async fn submit_code(
    State(state): State<AppState>,
    LoggedIn { user, .. }: LoggedIn,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let key = pending_key(&user.id);
    let pending = load_pending(&state, &user.id).await?;
    let again = |email: &str, message: String, status: StatusCode| {
        render(&state, &headers, status, |csrf| CodePage {
            csrf,
            email: email.to_owned(),
            error: Some(message),
        })
    };
    let Some(pending) = pending else {
        return again(
            "",
            format!("Ce code a expiré ou a déjà été utilisé. {ASK_AGAIN}"),
            StatusCode::GONE,
        );
    };
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return again(
            &pending.email,
            "Le code doit comporter 6 chiffres.".into(),
            StatusCode::BAD_REQUEST,
        );
    }
    rate_limit::hit(
        &state.ephemeral,
        "account-email-check",
        &user.id,
        CHECKS_PER_ADDRESS,
        CHECK_WINDOW,
    )
    .await??;
    // Counted before the comparison, atomically: concurrent guesses cannot exceed the limit.
    let (tries, _) = state
        .ephemeral
        .hit(
            &format!("account-email-tries:{}", pending.id),
            EMAIL_CHANGE_CODE_TTL,
        )
        .await?;
    if tries > TRIES_PER_CODE {
        state.ephemeral.delete(&key).await?;
        return again(
            &pending.email,
            format!(
                "Ce code n'est plus utilisable après {TRIES_PER_CODE} essais incorrects. {ASK_AGAIN}"
            ),
            StatusCode::GONE,
        );
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
        return again(&pending.email, message, StatusCode::BAD_REQUEST);
    }
    // Spent here: of two tabs sending the right code, one changes the address.
    if state.ephemeral.take(&key).await?.is_none() {
        return again(
            "",
            format!("Ce code a expiré ou a déjà été utilisé. {ASK_AGAIN}"),
            StatusCode::GONE,
        );
    }
    let new_email =
        Email::parse(&pending.email).map_err(|e| PageError::internal("pending e-mail", &e))?;
    let id = UserId::from_stored(user.id.clone());
    let changed = change_email(&state.db, state.clock.now(), &id, &new_email).await;
    if let Err(AccountRefusal::EmailTaken) = changed {
        tracing::info!(user.id = %user.id, "e-mail change refused: address taken meanwhile");
        return render(&state, &headers, StatusCode::CONFLICT, |csrf| EmailPage {
            csrf,
            current_email: user.email.clone(),
            email: pending.email.clone(),
            error: Some(NOT_DONE.into()),
            invalid: "email",
        });
    }
    changed?;
    tracing::info!(user.id = %user.id, "e-mail changed");
    if let Ok(old) = Email::parse(&user.email) {
        let name = full_name(&user);
        send_notice(
            &state,
            messages::email_changed(&state.config.issuer, &old, name.as_deref(), &new_email),
        )
        .await;
    }
    Ok(back_to_overview("adresse"))
}
