//! Step 1 of sign-up: the e-mail address. A code is sent to it (or, when the address already
//! has an account, the "account exists" e-mail instead — the page is the same either way).

use askama::Template;
use axum::{
    extract::{Query, State},
    http::HeaderMap,
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::{Frame, Session, Step, code, reply, reply_with};
use crate::{
    AppState,
    accounts::Email,
    error::PageError,
    oidc::pending::PendingAuthorization,
    web::{anti_robot, client_ip::ClientIp},
};
use crate::{accounts::EmailForm, web::page::CsrfForm};

/// Local parts of shared or role mailboxes, refused because an account must be one person's
/// (guide `002` §3.2: « il est interdit d'utiliser une adresse e-mail partagée »). Only what
/// we can tell from the address itself; a shared `jean.dupont@` cannot be detected.
pub const SHARED_MAILBOXES: &[&str] = &[
    "accueil",
    "admin",
    "administration",
    "compta",
    "comptabilite",
    "contact",
    "direction",
    "formation",
    "info",
    "infos",
    "information",
    "no-reply",
    "noreply",
    "rh",
    "secretariat",
    "service",
    "support",
];

/// The message for a shared mailbox.
pub const SHARED_MAILBOX_MESSAGE: &str = "Pour des raisons de sécurité, il est interdit d'utiliser une adresse e-mail partagée (contact@, accueil@…) : saisissez votre adresse e-mail professionnelle personnelle.";

/// Whether the address is a role mailbox of [`SHARED_MAILBOXES`].
pub fn is_shared_mailbox(email: &Email) -> bool {
    let local = email.as_str().split('@').next().unwrap_or_default();
    // `contact+x@` and `contact.paris@` are the same role mailbox.
    let head = local.split(['+', '.', '_']).next().unwrap_or_default();
    SHARED_MAILBOXES.contains(&local) || SHARED_MAILBOXES.contains(&head)
}

#[derive(Template)]
#[template(path = "signup_email.html")]
struct EmailPage {
    f: Frame,
    email: String,
    robot: anti_robot::AntiRobot,
}

/// `?authreq=…`: the authorization request the login page was showing.
#[derive(Deserialize, Default)]
pub struct EmailQuery {
    #[serde(default)]
    authreq: String,
}

/// `GET /inscription`: step 1, filled in when coming back with "Modifier".
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EmailQuery>,
) -> Result<Response, PageError> {
    let mut session = Session::load(&state, &headers).await?;
    // Kept only while it is a live request: the value goes back into a link at the end.
    if !q.authreq.is_empty()
        && PendingAuthorization::load(&state, &q.authreq)
            .await?
            .is_some()
    {
        session.journey.authreq = Some(q.authreq);
        session.save(&state).await?;
    }
    let mut page = EmailPage {
        f: session.frame(&state, &headers, Step::Email),
        email: session.journey.email.clone().unwrap_or_default(),
        robot: anti_robot::issue(&state),
    };
    reply(page.f.take_cookies(), &page)
}

/// `POST /inscription`: checks the address, sends the code, goes to step 2.
pub async fn submit(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Result<Response, PageError> {
    let mut session = Session::load(&state, &headers).await?;
    let again = |session: &Session, message: String| {
        let robot = anti_robot::issue(&state).failed_if(Some(&message), "signup-error");
        let mut page = EmailPage {
            f: session
                .frame(&state, &headers, Step::Email)
                .with_error("email", message),
            email: form.email.clone(),
            robot,
        };
        reply_with(page.f.take_cookies(), &page, StatusCode::BAD_REQUEST)
    };
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => return again(&session, e.to_string()),
    };
    if is_shared_mailbox(&email) {
        return again(&session, SHARED_MAILBOX_MESSAGE.into());
    }
    // The anti-robot check, before anything is counted or sent.
    if !anti_robot::verify(&state, &form.robot).await? {
        return again(&session, anti_robot::FAILED.into());
    }

    // The same address again (a refresh, or "Modifier" without a change): keep what was done.
    if session.journey.email.as_deref() == Some(email.as_str()) {
        return Ok(session.redirect(session.journey.next_step().path()));
    }
    code::count_send(&state, &ip, &email).await?;
    // Within the cooldown the code sent a moment ago stays the valid one: go on to step 2.
    code::send(&state, &email, session.journey.authreq.as_deref()).await?;
    // A new address: what was proven for the previous one no longer holds.
    session.journey.email = Some(email.as_str().to_owned());
    session.journey.code_verified = false;
    session.journey.password_hash = None;
    session.journey.sealed_password = None;
    session.save(&state).await?;
    Ok(session.redirect(Step::Code.path()))
}
