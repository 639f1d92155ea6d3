//! The CGU's pages: the public page of the current version (`/cgu`, linked from the sign-up's
//! box and the site map), and the login's interstitial that asks a person to accept the
//! current version before their session starts.
//!
//! The interstitial remembers the authenticated person for [`WAITING_TTL`] under a random
//! token carried by its form (as the second factor's step does): no session exists until the
//! CGU are accepted, so refusing — or leaving — means not being logged in.

use std::time::Duration;

use askama::Template;
use axum::{http::StatusCode, response::Response};
use serde::{Deserialize, Serialize};

use super::{Cgu, current};
use crate::{
    access::services::Block,
    accounts::login_end::{expired, start_session_via, waiting_step},
    accounts::session::ViaUpstream,
    accounts::{UserId, actions::accept_cgu::accept_cgu, refusal::AccountRefusal},
    error::PageError,
    secrets,
    web::page::{CsrfForm, Page},
};

/// How long the interstitial waits for an answer.
pub const WAITING_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Template)]
#[template(path = "cgu.html")]
struct CguPage {
    title: String,
    version: i64,
    date: String,
    blocks: Vec<Block>,
}

/// `GET /cgu`: the current version, with its number and date.
pub async fn show(page: Page) -> Result<Response, PageError> {
    let Some(cgu) = current(&page.db).await? else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "Page non trouvée",
            "Les conditions générales d'utilisation ne sont pas encore publiées.",
        ));
    };
    page.render(StatusCode::OK, |_| CguPage {
        title: cgu.document.title.clone(),
        version: cgu.document.version,
        date: cgu.date(),
        blocks: cgu.document.blocks(),
    })
}

/// An authenticated person waiting at the interstitial.
#[derive(Serialize, Deserialize)]
struct Waiting {
    user_id: String,
    amr: Vec<String>,
    /// The upstream provider of an agent's login (« AGENT DU MINISTÈRE »).
    #[serde(default)]
    upstream: Option<ViaUpstream>,
    authreq: String,
    retour: String,
    /// The version shown, the one accepted by ticking the box.
    version: i64,
    /// The person accepted an older version (the page says the CGU changed).
    updated: bool,
}

fn waiting_key(token: &str) -> String {
    format!("login-cgu:{}", secrets::hash(token))
}

#[derive(Template)]
#[template(path = "cgu_accept.html")]
struct AcceptPage {
    csrf: String,
    step: String,
    title: String,
    version: i64,
    date: String,
    blocks: Vec<Block>,
    error: Option<String>,
    updated: bool,
}

impl AcceptPage {
    fn of(csrf: String, step: &str, cgu: &Cgu, updated: bool, error: Option<String>) -> Self {
        Self {
            csrf,
            step: step.to_owned(),
            updated,
            title: cgu.document.title.clone(),
            version: cgu.document.version,
            date: cgu.date(),
            blocks: cgu.document.blocks(),
            error,
        }
    }
}

/// Called by the login once the person is authenticated but has not accepted `cgu` (the
/// current version): remembers them and shows the text with its acceptance box. No session.
pub async fn ask(
    page: &Page,
    user_id: &str,
    (amr, upstream): (Vec<String>, Option<ViaUpstream>),
    authreq: &str,
    retour: &str,
    cgu: &Cgu,
) -> Result<Response, PageError> {
    let token = secrets::random_token(32);
    let waiting = Waiting {
        user_id: user_id.to_owned(),
        amr,
        upstream,
        authreq: authreq.to_owned(),
        retour: retour.to_owned(),
        version: cgu.document.version,
        updated: super::accepted(&page.db, user_id).await?.is_some(),
    };
    save(page, &token, &waiting).await?;
    let updated = waiting.updated;
    page.render(StatusCode::OK, |csrf| {
        AcceptPage::of(csrf, &token, cgu, updated, None)
    })
}

async fn save(page: &Page, token: &str, waiting: &Waiting) -> Result<(), PageError> {
    let raw = serde_json::to_string(waiting).map_err(|e| PageError::internal("cgu", &e))?;
    page.ephemeral
        .put(&waiting_key(token), &raw, WAITING_TTL)
        .await?;
    Ok(())
}

/// Fields of the interstitial.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnswerForm {
    csrf: String,
    step: String,
    /// The box: `oui` when ticked.
    accepte: String,
    /// « Refuser » was pressed.
    refuser: String,
}

#[derive(Template)]
#[template(path = "cgu_refused.html")]
struct RefusedPage {
    login_href: String,
}

/// `POST /cgu/accepter`: accepted → recorded, then the session starts and the login goes
/// on; refused → not logged in.
pub async fn answer(
    page: Page,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<Response, PageError> {
    let (key, mut waiting): (_, Waiting) = waiting_step(&page, &form.step, waiting_key).await?;
    if !form.refuser.is_empty() {
        page.ephemeral.delete(&key).await?;
        tracing::info!(user.id = %waiting.user_id, "cgu refused: not logged in");
        let mut login_href = "/connexion".to_owned();
        if !waiting.authreq.is_empty() {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("authreq", &waiting.authreq)
                .finish();
            login_href = format!("{login_href}?{query}");
        }
        return page.render(StatusCode::OK, |_| RefusedPage { login_href });
    }
    let updated = waiting.updated;
    let again = |cgu: &Cgu, message: String, status: StatusCode| {
        page.render(status, |csrf| {
            AcceptPage::of(csrf, &form.step, cgu, updated, Some(message))
        })
    };
    let Some(cgu) = current(&page.db).await? else {
        return Err(expired());
    };
    if form.accepte != "oui" {
        let message = "Pour vous connecter, cochez la case « J'accepte les conditions générales d'utilisation », ou refusez-les.";
        return again(&cgu, message.into(), StatusCode::BAD_REQUEST);
    }
    let user = UserId::from_stored(waiting.user_id.clone());
    match accept_cgu(&page.db, page.clock.now(), &user, waiting.version).await {
        Ok(()) => {}
        Err(refusal @ AccountRefusal::CguOutdated) => {
            // A newer version was published while the page was open: that one is shown now.
            waiting.version = cgu.document.version;
            save(&page, &form.step, &waiting).await?;
            return again(&cgu, refusal.to_string(), StatusCode::CONFLICT);
        }
        Err(refusal) => return Err(refusal.into()),
    }
    // Spent: the same form cannot start a second session.
    if page.ephemeral.take(&key).await?.is_none() {
        return Err(expired());
    }
    tracing::info!(user.id = %waiting.user_id, cgu.version = waiting.version, "cgu accepted");
    let Waiting {
        user_id,
        amr,
        upstream,
        authreq,
        retour,
        ..
    } = waiting;
    start_session_via(&page, &user_id, amr, upstream, &authreq, &retour).await
}

crate::with_csrf!(AnswerForm);
