//! `/compte/sessions`: the account's live login sessions (when each started, on which
//! browser, which one is this browser's), and ending one of the others or all of them.
//! Sessions are found through the per-user index of `accounts::session`; ending one logs
//! that browser out, like « Me déconnecter » there (its tokens live on until they expire).

use askama::Template;
use axum::{
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::Page;
use crate::web::page::CsrfForm;
use crate::{
    accounts::{logged_in::LoggedIn, session},
    audit,
    error::PageError,
};

/// The page.
pub const PATH: &str = "/compte/sessions";

/// One line of the list.
struct SessionLine {
    sid: String,
    started: String,
    browser: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account_sessions.html")]
struct SessionsPage {
    csrf: String,
    sessions: Vec<SessionLine>,
    error: Option<String>,
}

/// « 22/11/2026 à 21h30 » in France's time; empty for a session stored before the time was
/// recorded.
fn french_time(seconds: i64) -> String {
    if seconds <= 0 {
        return String::new();
    }
    crate::access::dates::french_date_time(seconds)
}

/// « Firefox sur Windows »: the browser and system named by a `User-Agent`, as far as the
/// common ones go; « Navigateur inconnu » otherwise.
pub fn short_user_agent(ua: &str) -> String {
    // Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    // Android says Linux, iOS says Mac OS X.
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} sur {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => format!("Navigateur sur {s}"),
        (None, None) if ua.trim().is_empty() => "Navigateur inconnu".to_owned(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

async fn sessions_page(
    page: &Page,
    LoggedIn {
        session: current,
        user,
    }: &LoggedIn,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let mut sessions: Vec<SessionLine> = session::list_for_user(page, &user.id)
        .await?
        .into_iter()
        .map(|s| SessionLine {
            current: s.sid == current.sid,
            started: french_time(s.started_at),
            browser: short_user_agent(&s.user_agent),
            sid: s.sid,
        })
        .collect();
    // This browser's first, then the newest.
    sessions.reverse();
    sessions.sort_by_key(|s| !s.current);
    page.render(status, |csrf| SessionsPage {
        csrf,
        sessions,
        error,
    })
}

/// `GET /compte/sessions`: the list.
pub async fn show(page: Page, me: LoggedIn) -> Result<Response, PageError> {
    sessions_page(&page, &me, StatusCode::OK, None).await
}

/// Fields of the forms of the page: one session (`sid`) or every other one (`autres`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EndForm {
    csrf: String,
    sid: String,
    autres: String,
}

/// `POST /compte/sessions`: ends one session of the account, or all but this browser's.
pub async fn end(
    page: Page,
    me: LoggedIn,
    CsrfForm(form): CsrfForm<EndForm>,
) -> Result<Response, PageError> {
    let (current, user) = (&me.session, &me.user);
    let ended = if !form.autres.is_empty() {
        session::end_others_for_user(&page, &user.id, &current.sid).await?
    } else if form.sid == current.sid {
        return sessions_page(
            &page,
            &me,
            StatusCode::BAD_REQUEST,
            Some("Pour fermer la session de ce navigateur, utilisez « Me déconnecter ».".into()),
        )
        .await;
    } else if !form.sid.is_empty()
        && form.sid.len() <= 64
        && session::end_by_sid(&page, &user.id, &form.sid).await?
    {
        1
    } else {
        return sessions_page(
            &page,
            &me,
            StatusCode::NOT_FOUND,
            Some("Cette session est déjà terminée.".into()),
        )
        .await;
    };
    audit::record_alone(
        &page.db,
        page.clock.now(),
        &user.id,
        "session.ended",
        &user.id,
        serde_json::json!({ "count": ended }),
    )
    .await?;
    tracing::info!(user.id = %user.id, sessions.ended = ended, "sessions ended from the account page");
    Ok(Redirect::to(PATH).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_shortened_to_browser_and_system() {
        assert_eq!(
            short_user_agent(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
            ),
            "Firefox sur Windows"
        );
        assert_eq!(
            short_user_agent(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
            ),
            "Edge sur macOS"
        );
        assert_eq!(
            short_user_agent(
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
            ),
            "Chrome sur Android"
        );
        assert_eq!(short_user_agent(""), "Navigateur inconnu");
    }

    #[test]
    fn times_are_french() {
        assert_eq!(french_time(1_763_847_000), "22/11/2025 à 22h30");
        assert_eq!(french_time(0), "");
    }
}

crate::with_csrf!(EndForm);
