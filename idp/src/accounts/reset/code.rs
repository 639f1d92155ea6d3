//! Step 2 of the reset: the e-mailed code (`/mot-de-passe-oublie/code`).

use super::*;
use crate::web::page::{CsrfForm, PlainForm};

#[derive(Template, WebTemplate)]
#[template(path = "reset_code.html")]
struct CodePage {
    csrf: String,
    email: String,
    error: Option<String>,
    /// Set when a new code was just sent (« Renvoyer le code »).
    notice: Option<&'static str>,
    title: &'static str,
}

/// `GET /mot-de-passe-oublie/code`: step 2, the e-mailed code.
pub async fn show_code(page: Page) -> Result<Response, PageError> {
    let Some((_, flow)) = load_flow(&page).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    page.render(StatusCode::OK, |csrf| CodePage {
        csrf,
        title: flow.title(),
        email: flow.email,
        error: None,
        notice: None,
    })
}

/// Fields of step 2.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

/// Checks `code` against the pending request of `email`, counting the try; the proof for step
/// 3, or the message and status to show step 2 again with.
async fn check_code(
    state: &AppState,
    email: &str,
    code: &str,
) -> Result<Result<Verified, (String, StatusCode)>, PageError> {
    let refused = |message: &str, status| Ok(Err((message.to_owned(), status)));
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return refused(
            "Le code doit comporter 6 chiffres.",
            StatusCode::BAD_REQUEST,
        );
    }
    let key = request_key(email);
    let stored = state.ephemeral.get(&key).await?;
    let Some(request) = stored.and_then(|raw| ResetRequest::read(&raw, state.clock.now())) else {
        return refused(CODE_EXPIRED, StatusCode::GONE);
    };
    // Counted before the comparison, atomically: concurrent guesses cannot exceed the limit.
    let tries_key = format!("reset:tries:{}", request.rid);
    let (tries, _) = state.ephemeral.hit(&tries_key, ttl(state)).await?;
    if tries > MAX_CODE_TRIES {
        state.ephemeral.delete(&key).await?;
        return refused(CODE_DEAD, StatusCode::GONE);
    }
    let right = secrets::constant_time_eq(
        code_hash(&request.rid, code).as_bytes(),
        request.code_hash.as_bytes(),
    );
    if let Some(user_id) = request.user_id.filter(|_| right) {
        let via = "code".into();
        let rid = request.rid;
        return Ok(Ok(Verified { user_id, rid, via }));
    }
    let left = MAX_CODE_TRIES - tries;
    if left == 0 {
        state.ephemeral.delete(&key).await?;
        return refused(CODE_DEAD, StatusCode::BAD_REQUEST);
    }
    let message = if left == 1 {
        format!("{CODE_INCORRECT} Il vous reste 1 essai.")
    } else {
        format!("{CODE_INCORRECT} Il vous reste {left} essais.")
    };
    refused(&message, StatusCode::BAD_REQUEST)
}

/// `POST /mot-de-passe-oublie/code`: checks the code, 5 wrong tries at most.
pub async fn submit_code(
    page: Page,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let Some((token, mut flow)) = load_flow(&page).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    match check_code(&page, &flow.email, &code).await? {
        Ok(verified) => {
            flow.verified = Some(verified);
            save_flow(&page, &token, &flow).await?;
            Ok(see_other(RESET_PASSWORD_PATH, None))
        }
        Err((error, status)) => page.render(status, |csrf| CodePage {
            csrf,
            title: flow.title(),
            email: flow.email.clone(),
            error: Some(error),
            notice: None,
        }),
    }
}

/// New codes (« Renvoyer le code ») allowed per address in [`RESEND_WINDOW`], on top of step
/// 1's limits, which a resend counts too: enough for a mail that got lost or a code typed too
/// late, not to flood a mailbox.
pub const RESEND_PER_ADDRESS: u64 = 3;
/// The window of [`RESEND_PER_ADDRESS`]: 15 minutes, the code's own lifetime by default.
pub const RESEND_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What step 2 says once a new code was sent; the same whether or not an account exists.
const RESENT: &str = "Un nouveau code vous a été envoyé si un compte existe pour cette adresse. Le code précédent n'est plus valable.";

/// `POST /mot-de-passe-oublie/code/renvoyer`: a new code to the journey's address, the
/// previous one dead, within [`RESEND_PER_ADDRESS`]; the answer is the same whether or not an
/// account exists.
pub async fn resend_code(
    page: Page,
    ip: ClientIp,
    // Only the CSRF token: the address is the journey's.
    CsrfForm(_): CsrfForm<PlainForm>,
) -> Result<Response, PageError> {
    let Some((token, mut flow)) = load_flow(&page).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    let (title, address) = (flow.title(), flow.email.clone());
    let again = |status: StatusCode, error: Option<String>, notice: Option<&'static str>| {
        page.render(status, |csrf| CodePage {
            csrf,
            title,
            email: address.clone(),
            error,
            notice,
        })
    };
    // The journey's address was parsed at step 1; a flow that no longer parses starts over.
    let Ok(email) = Email::parse(&flow.email) else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    let resends = rate_limit::hit(
        &page.ephemeral,
        "reset-resend",
        email.as_str(),
        RESEND_PER_ADDRESS,
        RESEND_WINDOW,
    )
    .await?;
    if let Err(limit) = resends {
        let wait = rate_limit::french_duration(limit.retry_after);
        let error =
            format!("Vous avez demandé trop de nouveaux codes. Veuillez réessayer dans {wait}.");
        let page = again(StatusCode::TOO_MANY_REQUESTS, Some(error), None)?;
        return Ok(rate_limit::with_retry_after(page, limit.retry_after));
    }
    if let Some((error, wait)) = super::start::limit_requests(&page, &ip, &email).await? {
        let page = again(StatusCode::TOO_MANY_REQUESTS, Some(error), None)?;
        return Ok(rate_limit::with_retry_after(page, wait));
    }
    super::start::issue_code(&page, &email, &flow.back).await?;
    // A code checked before the resend belonged to the request just replaced.
    if flow.verified.take().is_some() {
        save_flow(&page, &token, &flow).await?;
    }
    again(StatusCode::OK, None, Some(RESENT))
}

crate::with_csrf!(CodeForm);
