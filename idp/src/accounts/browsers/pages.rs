//! The pages of the verification of new browsers: the login's code step
//! (`/connexion/navigateur`) and « Navigateurs reconnus » in « Mon compte ».

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::Path,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use super::{ACCOUNT_PATH, CODE_TTL, COOKIE, COOKIE_MAX_AGE, store};
use crate::{
    accounts::{
        UserId,
        account::{full_name, sessions::short_user_agent},
        actions::{
            choose_browser_verification::choose_browser_verification,
            forget_browsers::{Forget, forget_browsers},
            remember_browser::remember_browser,
        },
        count_account_attempt, count_ip_attempt,
        logged_in::LoggedIn,
        store as users,
    },
    error::PageError,
    mail::messages,
    secrets,
    web::{
        client_ip::ClientIp,
        cookies,
        page::{CsrfForm, Page},
        rate_limit,
    },
};

/// Wrong codes allowed per e-mailed code, across nodes.
const TRIES_PER_CODE: u64 = 5;
/// Codes sent per account in [`SEND_WINDOW`] (the first one and « Renvoyer le code »).
const SENDS_PER_ACCOUNT: u64 = 5;
const SEND_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// What is remembered between the password and the code (the shared store, [`CODE_TTL`]).
#[derive(Serialize, Deserialize)]
struct Step {
    user_id: String,
    authreq: String,
    retour: String,
    /// SHA-256 of the step's id and the code.
    code_hash: String,
    /// The browser, as the e-mail names it.
    label: String,
}

fn step_key(step: &str) -> String {
    format!("login-browser:{}", secrets::hash(step))
}

fn code_hash(step: &str, code: &str) -> String {
    secrets::hash(&format!("{step}:{code}"))
}

/// « Firefox sur Windows » for this request's browser.
fn label_of(headers: &HeaderMap) -> String {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    short_user_agent(ua)
}

#[derive(Template, WebTemplate)]
#[template(path = "browser_code.html")]
struct CodePage {
    csrf: String,
    step: String,
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

/// Called by the login once the password is right and [`super::needs_code`] says so: e-mails a
/// code and shows its page. No session yet.
pub async fn ask(
    page: &Page,
    user_id: &str,
    authreq: &str,
    retour: &str,
) -> Result<Response, PageError> {
    let step = secrets::random_token(32);
    let mut pending = Step {
        user_id: user_id.to_owned(),
        authreq: authreq.to_owned(),
        retour: retour.to_owned(),
        code_hash: String::new(),
        label: label_of(page.headers()),
    };
    let email = send_code(page, &step, &mut pending).await?;
    page.render(StatusCode::OK, |csrf| CodePage {
        csrf,
        step,
        email,
        error: None,
        notice: None,
    })
}

/// Draws a new code for `pending`, stores it and e-mails it; the address it went to. The send
/// is counted per account, so a loop of logins or « Renvoyer » cannot flood the mailbox.
async fn send_code(page: &Page, step: &str, pending: &mut Step) -> Result<String, PageError> {
    rate_limit::hit(
        &page.ephemeral,
        "browser-code-send",
        &pending.user_id,
        SENDS_PER_ACCOUNT,
        SEND_WINDOW,
    )
    .await??;
    let Some(user) = users::user_by_id(&page.db, &pending.user_id).await? else {
        return Err(PageError::bad_request(
            "Le délai est dépassé : reconnectez-vous.",
        ));
    };
    let to = crate::accounts::Email::parse(&user.email)
        .map_err(|e| PageError::internal("stored address", &e))?;
    let code = secrets::six_digits();
    pending.code_hash = code_hash(step, &code);
    let raw = serde_json::to_string(pending).expect("step serialises");
    page.ephemeral.put(&step_key(step), &raw, CODE_TTL).await?;
    let when = crate::access::dates::french_date_time(page.clock.now());
    let message = messages::browser_code(
        &to,
        full_name(&user).as_deref(),
        &code,
        &pending.label,
        &when,
        "10 minutes",
    );
    let sent = match message {
        Ok(message) => page.mailer.send(&message).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        tracing::error!(user.id = %user.id, error.message = %e, "browser code not sent");
        page.ephemeral.delete(&step_key(step)).await?;
        return Err(PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service momentanément indisponible",
            "Le code n'a pas pu être envoyé. Veuillez réessayer dans quelques instants.",
        ));
    }
    tracing::info!(user.id = %user.id, "browser code sent");
    Ok(user.email)
}

/// The step of `step`, if it is still waiting.
async fn load(page: &Page, step: &str) -> Result<Option<Step>, PageError> {
    let raw = page.ephemeral.get(&step_key(step)).await?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}

/// A step that is gone (too late, used, or never was): back to the login.
fn expired() -> PageError {
    PageError::bad_request(
        "Le délai est dépassé ou ce code a déjà été utilisé : reconnectez-vous pour recevoir un nouveau code.",
    )
}

/// Fields of the code step.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    step: String,
    code: String,
}

/// `POST /connexion/navigateur`: the code; right, the browser is remembered and the login goes
/// on as it would have without the step.
pub async fn submit(
    page: Page,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    count_ip_attempt(&page, "browser-code-ip", &ip).await?;
    let Some(pending) = load(&page, &form.step).await? else {
        return Err(expired());
    };
    count_account_attempt(&page, "browser-code", &pending.user_id).await?;
    let tries = rate_limit::hit(
        &page.ephemeral,
        "browser-code-tries",
        &secrets::hash(&form.step),
        TRIES_PER_CODE,
        CODE_TTL,
    )
    .await?;
    if tries.is_err() {
        page.ephemeral.delete(&step_key(&form.step)).await?;
        return Err(expired());
    }
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let right = code.len() == 6
        && secrets::constant_time_eq(
            code_hash(&form.step, &code).as_bytes(),
            pending.code_hash.as_bytes(),
        );
    if !right {
        tracing::info!(user.id = %pending.user_id, login.step = "browser", "browser code refused");
        let email = users::user_by_id(&page.db, &pending.user_id)
            .await?
            .map(|u| u.email)
            .unwrap_or_default();
        return page.render(StatusCode::UNAUTHORIZED, |csrf| CodePage {
            csrf,
            step: form.step.clone(),
            email,
            error: Some("Code de vérification incorrect.".into()),
            notice: None,
        });
    }
    // Taken only now, once: two tabs with the right code cannot both go on.
    if page.ephemeral.take(&step_key(&form.step)).await?.is_none() {
        return Err(expired());
    }
    let token = secrets::random_token(32);
    let user = UserId::from_stored(pending.user_id.clone());
    remember_browser(
        &page.db,
        page.clock.now(),
        &user,
        &secrets::hash(&token),
        &pending.label,
    )
    .await
    .map_err(|e| PageError::refused(&e))?;
    let secure = page.config.session.secure_cookies;
    let cookie = cookies::set(COOKIE, &token, secure, Some(COOKIE_MAX_AGE));
    let mut response = crate::accounts::login::finish(
        &page,
        &pending.user_id,
        vec!["pwd".into()],
        &pending.authreq,
        &pending.retour,
    )
    .await?;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Fields of « Renvoyer le code ».
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResendForm {
    csrf: String,
    step: String,
}

/// `POST /connexion/navigateur/renvoyer`: a new code replaces the previous one.
pub async fn resend(
    page: Page,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<ResendForm>,
) -> Result<Response, PageError> {
    count_ip_attempt(&page, "browser-code-ip", &ip).await?;
    let Some(mut pending) = load(&page, &form.step).await? else {
        return Err(expired());
    };
    let email = send_code(&page, &form.step, &mut pending).await?;
    page.render(StatusCode::OK, |csrf| CodePage {
        csrf,
        step: form.step.clone(),
        email,
        error: None,
        notice: Some("Un nouveau code vous a été envoyé.".into()),
    })
}

/// One line of « Navigateurs reconnus ».
struct BrowserLine {
    id: String,
    label: String,
    created: String,
    last_seen: String,
    current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "account_browsers.html")]
struct AccountPage {
    csrf: String,
    browsers: Vec<BrowserLine>,
    /// The person may turn the verification on or off.
    may_choose: bool,
    /// The verification applies to this account.
    active: bool,
    /// Why it does not (a second factor, or the setting).
    why_not: Option<&'static str>,
    notice: Option<String>,
}

/// `GET /compte/navigateurs`.
pub async fn show(page: Page, logged_in: LoggedIn) -> Result<Response, PageError> {
    account_page(&page, &logged_in, None).await
}

async fn account_page(
    page: &Page,
    LoggedIn { user, .. }: &LoggedIn,
    notice: Option<String>,
) -> Result<Response, PageError> {
    use crate::config::NewBrowsers;
    let setting = page.config.assurance.verify_new_browsers;
    let second_factor = super::has_second_factor(page, &user.id).await?;
    let opted_in = store::opted_in(&page.db, &user.id).await?;
    let current = super::token_hash(page, page.headers());
    let date = crate::access::dates::french_date_time;
    let browsers = store::list(&page.db, &user.id)
        .await?
        .into_iter()
        .map(|b| BrowserLine {
            current: current.as_deref() == Some(b.token_hash.as_str()),
            id: b.id,
            label: b.label,
            created: date(b.created_at),
            last_seen: date(b.last_seen_at),
        })
        .collect();
    let why_not = if second_factor {
        Some(
            "Votre compte est protégé par la double authentification : aucun code n'est demandé aux nouveaux navigateurs.",
        )
    } else if setting == NewBrowsers::Off {
        Some("La vérification des nouveaux navigateurs n'est pas proposée sur ce service.")
    } else {
        None
    };
    page.render(StatusCode::OK, |csrf| AccountPage {
        csrf,
        browsers,
        may_choose: super::may_choose(setting, second_factor),
        active: super::must_verify(setting, opted_in, second_factor),
        why_not,
        notice,
    })
}

/// Fields of the account page's forms.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChoiceForm {
    csrf: String,
    /// « oui » or « non ».
    verifier: String,
}

/// `POST /compte/navigateurs/choix`: the person's choice, when the setting leaves it to them.
pub async fn choose(
    page: Page,
    logged_in: LoggedIn,
    CsrfForm(form): CsrfForm<ChoiceForm>,
) -> Result<Response, PageError> {
    let user = &logged_in.user;
    let setting = page.config.assurance.verify_new_browsers;
    if !super::may_choose(setting, super::has_second_factor(&page, &user.id).await?) {
        return Err(PageError::bad_request(
            "Ce choix n'est pas proposé pour votre compte.",
        ));
    }
    let on = match form.verifier.as_str() {
        "oui" => true,
        "non" => false,
        _ => return Err(PageError::bad_request("Choix invalide.")),
    };
    let id = UserId::from_stored(user.id.clone());
    choose_browser_verification(&page.db, page.clock.now(), &id, on)
        .await
        .map_err(|e| PageError::refused(&e))?;
    let notice = if on {
        "Un code vous sera demandé à la première connexion depuis un nouveau navigateur."
    } else {
        "Aucun code ne sera plus demandé aux nouveaux navigateurs."
    };
    account_page(&page, &logged_in, Some(notice.into())).await
}

/// Fields of « Oublier ».
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ForgetForm {
    csrf: String,
}

/// `POST /compte/navigateurs/{id}/oublier`, or `…/tous/oublier` for every one.
pub async fn forget(
    page: Page,
    logged_in: LoggedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<ForgetForm>,
) -> Result<Response, PageError> {
    let user = UserId::from_stored(logged_in.user.id.clone());
    let which = if id == "tous" {
        Forget::All
    } else {
        Forget::One(&id)
    };
    forget_browsers(&page.db, page.clock.now(), &user, which)
        .await
        .map_err(|e| PageError::refused(&e))?;
    Ok(Redirect::to(ACCOUNT_PATH).into_response())
}
crate::with_csrf!(CodeForm, ResendForm, ChoiceForm, ForgetForm);
