//! The provider's home (`/`): who is logged in, and the services they can go to. Guide 002's
//! people arrive here after a journey that lost its service; the page gives them the way back
//! (each service they hold a live habilitation for, with a link to its home page) and says what
//! to do when they hold none.

use askama::Template;
use askama_web::WebTemplate;
use axum::response::{IntoResponse, Response};

use super::{session::LoginSession, store};
use crate::{
    access::{habilitations, services},
    error::PageError,
    web::page::Page,
};

/// One service the person may use.
struct ServiceLine {
    label: String,
    description: String,
    /// The service's home page, when it is registered.
    home_url: Option<String>,
    /// « Centre agréé — CENTRE DU LAC (jusqu'à fin 06/2027) », one per live habilitation.
    habilitations: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    /// Set when logged in: their name (possibly empty).
    name: Option<String>,
    services: Vec<ServiceLine>,
}

/// The services `user_id` holds a live habilitation for, by label.
async fn services_of(page: &Page, user_id: &str) -> Result<Vec<ServiceLine>, PageError> {
    let mut lines = Vec::new();
    for service in services::all(&page.db).await? {
        let live = habilitations::live(&page.db, user_id, &service.code).await?;
        if live.is_empty() {
            continue;
        }
        let habilitations = live
            .iter()
            .map(|h| {
                let at = h
                    .establishment
                    .clone()
                    .unwrap_or_else(|| format!("SIRET {}", h.siret));
                match h.end_date {
                    Some(end) => format!("{} — {at} ({})", h.role_label, end.until()),
                    None => format!("{} — {at}", h.role_label),
                }
            })
            .collect();
        lines.push(ServiceLine {
            label: service.label,
            description: service.description,
            home_url: service.home_url,
            habilitations,
        });
    }
    Ok(lines)
}

/// `GET /`: who is logged in here, and their services.
pub async fn show(page: Page) -> Result<Response, PageError> {
    let Some(session) = LoginSession::from_headers(&page, page.headers()).await? else {
        return Ok(HomePage {
            name: None,
            services: Vec::new(),
        }
        .into_response());
    };
    let Some(user) = store::user_by_id(&page.db, &session.user_id).await? else {
        return Ok(HomePage {
            name: None,
            services: Vec::new(),
        }
        .into_response());
    };
    let name = format!("{} {}", user.given_name, user.family_name)
        .trim()
        .to_owned();
    let services = services_of(&page, &user.id).await?;
    Ok(HomePage {
        name: Some(name),
        services,
    }
    .into_response())
}
