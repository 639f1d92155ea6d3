//! Step 3 of the reset: the new password (`/mot-de-passe-oublie/nouveau`).

use super::*;
use crate::accounts::password::check_not_name;
use crate::web::page::CsrfForm;

#[derive(Template, WebTemplate)]
#[template(path = "reset_password.html")]
struct PasswordPage {
    csrf: String,
    email: String,
    error: Option<String>,
    title: &'static str,
}

/// `GET /mot-de-passe-oublie/nouveau`: step 3, the new password.
pub async fn show_password(page: Page) -> Result<Response, PageError> {
    let Some((_, flow)) = load_flow(&page).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    if flow.verified.is_none() {
        return Ok(see_other(RESET_CODE_PATH, None));
    }
    page.render(StatusCode::OK, |csrf| PasswordPage {
        csrf,
        title: flow.title(),
        email: flow.email,
        error: None,
    })
}

/// Fields of step 3: those of the sign-up's password step.
pub use crate::accounts::signup::password::PasswordForm;

/// Spends the pending request of `email` if it is still the one verified (`rid`), atomically:
/// of two browsers holding the same code, one changes the password. A newer request taken by
/// mistake is put back untouched.
async fn spend_request(
    state: &AppState,
    email: &str,
    rid: &str,
) -> Result<Option<ResetRequest>, PageError> {
    let key = request_key(email);
    let spent = state
        .ephemeral
        .take(&key)
        .await?
        .and_then(|raw| ResetRequest::read(&raw, state.clock.now()));
    match spent {
        Some(request) if request.rid == rid => Ok(Some(request)),
        other => {
            if let Some(request) = other {
                put_back(state, email, &request).await?;
            }
            Ok(None)
        }
    }
}

/// Stores a request again, as it was.
async fn put_back(state: &AppState, email: &str, request: &ResetRequest) -> Result<(), PageError> {
    let value = serde_json::to_string(request).expect("request serialises");
    let key = request_key(email);
    state.ephemeral.put(&key, &value, ttl(state)).await?;
    Ok(())
}

/// The end of the journey: `message`, with `status`, never cached.
fn outcome(flow: &Flow, success: bool, message: &str, status: StatusCode) -> Response {
    outcome_then(flow, success, message, status, None)
}

/// [`outcome`], with the link back to the service the journey came from.
fn outcome_then(
    flow: &Flow,
    success: bool,
    message: &str,
    status: StatusCode,
    next: Option<crate::accounts::back::Continue>,
) -> Response {
    let mut response = MessagePage {
        success,
        message: message.into(),
        title: flow.title(),
        next,
    }
    .into_response();
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /mot-de-passe-oublie/nouveau`: sets the password, spends the request, ends every
/// session and token of the account.
pub async fn submit_password(
    page: Page,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let Some((token, mut flow)) = load_flow(&page).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    let Some(verified) = flow.verified.take() else {
        return Ok(see_other(RESET_CODE_PATH, None));
    };
    let again = |error: String| {
        page.render(StatusCode::BAD_REQUEST, |csrf| PasswordPage {
            csrf,
            title: flow.title(),
            email: flow.email.clone(),
            error: Some(error),
        })
    };
    let password = match Password::parse(&form.password) {
        Ok(password) => password,
        Err(e) => return again(e.to_string()),
    };
    // The person's names, when the account has them (an invited person's come from the
    // invitation).
    if let Some(user) = store::user_by_id(&page.db, &verified.user_id).await?
        && let Err(e) = check_not_name(&form.password, &[&user.family_name, &user.given_name])
    {
        return again(e.to_string());
    }
    if form.password != form.confirmation {
        return again("Les mots de passe ne correspondent pas.".into());
    }
    let phc = page.hasher.hash(&password).await?;
    let Some(request) = spend_request(&page, &flow.email, &verified.rid).await? else {
        save_flow(&page, &token, &flow).await?;
        return Ok(outcome(&flow, false, CODE_EXPIRED, StatusCode::GONE));
    };
    let id = UserId::from_stored(verified.user_id.clone());
    let ttl = page.config.tokens.access_token_ttl_seconds;
    let now = page.clock.now();
    if let Err(refusal) = reset_password(&page.db, now, &id, &phc, &verified.via, ttl).await {
        // Nothing changed: the code stays usable, the journey at step 3.
        put_back(&page, &flow.email, &request).await?;
        return Err(refusal.into());
    }
    page.revocations.changed(&page.db, &page.ephemeral).await?;
    session::end_all_for_user(&page, &verified.user_id).await?;
    tracing::info!(user.id = %verified.user_id, "password reset");
    // The journey stays, back at step 2: going back and re-entering the code says it is spent.
    save_flow(&page, &token, &flow).await?;
    let done = if flow.first_password {
        "Votre mot de passe a été créé."
    } else {
        "Votre mot de passe a été modifié avec succès."
    };
    let next = flow.back.link(&page).await?;
    Ok(outcome_then(&flow, true, done, StatusCode::OK, next))
}
