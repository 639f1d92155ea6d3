//! Step 1 of the reset: the address (`/mot-de-passe-oublie`).

use super::*;
use crate::mail::messages;
use crate::{accounts::EmailForm, web::page::CsrfForm};

#[derive(Template, WebTemplate)]
#[template(path = "reset_email.html")]
struct EmailPage {
    csrf: String,
    email: String,
    error: Option<String>,
    robot: anti_robot::AntiRobot,
    /// The pending authorization of the login page the person came from.
    authreq: String,
}

/// `GET /mot-de-passe-oublie`'s query: the login page's pending authorization, if any.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartQuery {
    authreq: String,
}

/// `GET /mot-de-passe-oublie`: step 1, the address.
pub async fn show_start(page: Page, Query(q): Query<StartQuery>) -> Result<Response, PageError> {
    page.render(StatusCode::OK, |csrf| EmailPage {
        csrf,
        email: String::new(),
        error: None,
        robot: anti_robot::issue(&page),
        authreq: q.authreq,
    })
}

/// Counts a request against the limits per client address and per address; the message to
/// show and the wait when one is reached.
pub(super) async fn limit_requests(
    state: &AppState,
    ip: &ClientIp,
    email: &Email,
) -> Result<Option<(String, Duration)>, PageError> {
    let limits = &state.config.limits;
    let window = Duration::from_secs(limits.reset_window_seconds);
    let address = email.as_str().to_owned();
    for (bucket, subject, max) in [
        ("reset-ip", ip.key(), limits.reset_per_ip),
        ("reset-address", address, limits.reset_per_address),
    ] {
        if let Err(limit) = rate_limit::hit(&state.ephemeral, bucket, &subject, max, window).await?
        {
            let message = format!(
                "Trop de demandes de réinitialisation. Veuillez réessayer dans {}.",
                rate_limit::french_duration(limit.retry_after)
            );
            return Ok(Some((message, limit.retry_after)));
        }
    }
    Ok(None)
}

/// E-mails the code and link of a request to the account's owner, after the answer, never
/// before: waiting for the SMTP server would make a known address's answer tens of
/// milliseconds slower than an unknown one's, and tell them apart (measured by
/// tests/cluster/probe.py). A failed delivery is logged and counted; the person sees no e-mail
/// and asks again, as with an unknown address.
fn send_later(state: &AppState, email: &Email, user: store::User, request: NewRequest) {
    let (background, state) = (state.background.clone(), state.clone());
    let email = email.clone();
    background.spawn(async move {
        let NewRequest { code, link_token } = request;
        let name = format!("{} {}", user.given_name, user.family_name);
        let name = Some(name.trim()).filter(|n| !n.is_empty());
        let issuer = &state.config.issuer;
        let sent = match messages::password_reset(issuer, &email, name, &code, &link_token) {
            Ok(message) => state.mailer.send(&message).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            tracing::error!(user.id = %user.id, error.message = %e, "password reset e-mail not sent");
            // The code nobody received stays unusable; the next request makes a new one.
            for key in [request_key(email.as_str()), link_key(&link_token)] {
                if let Err(e) = state.ephemeral.delete(&key).await {
                    tracing::warn!(error.message = %e, "unsent reset request not deleted");
                }
            }
        }
    });
}

/// Stores a new request for `email`, replacing its pending one (whose code and link stop
/// working), and e-mails its code when the account exists. Step 1 and step 2's « Renvoyer le
/// code » both come here, so both do the same work for a known and an unknown address: a
/// request is stored either way (an unknown address's can never succeed), only the e-mail
/// differs, and it leaves after the answer.
pub(super) async fn issue_code(
    state: &AppState,
    email: &Email,
    back: &Back,
) -> Result<(), PageError> {
    let user = store::user_by_email(&state.db, email).await?;
    let user_id = user.as_ref().map(|u| u.id.as_str());
    let request = create_request(state, email, user_id, ttl(state), false, back).await?;
    if let Some(user) = user {
        tracing::info!(user.id = %user.id, "password reset requested");
        send_later(state, email, user, request);
    }
    Ok(())
}

/// `POST /mot-de-passe-oublie`: records a request and e-mails its code when the account
/// exists; the answer is the same either way.
pub async fn submit_start(
    page: Page,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Result<Response, PageError> {
    let again = |error: String, status: StatusCode| {
        page.render(status, |csrf| EmailPage {
            csrf,
            email: form.email.clone(),
            robot: anti_robot::issue(&page).failed_if(Some(&error), "reset-error"),
            error: Some(error),
            authreq: form.authreq.clone(),
        })
    };
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => return again(e.to_string(), StatusCode::BAD_REQUEST),
    };
    // The anti-robot check, before anything is counted or sent.
    if !anti_robot::verify(&page, &form.robot).await? {
        return again(anti_robot::FAILED.into(), StatusCode::BAD_REQUEST);
    }
    if let Some((message, wait)) = limit_requests(&page, &ip, &email).await? {
        let page = again(message, StatusCode::TOO_MANY_REQUESTS)?;
        return Ok(rate_limit::with_retry_after(page, wait));
    }
    let back = Back::of_authreq(&page, &form.authreq).await?;
    issue_code(&page, &email, &back).await?;
    let flow = Flow {
        email: email.as_str().to_owned(),
        verified: None,
        first_password: false,
        back,
    };
    let cookie = start_flow(&page, &flow).await?;
    Ok(see_other(RESET_CODE_PATH, Some(cookie)))
}
