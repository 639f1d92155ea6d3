//! « Mes habilitations » (`/compte/habilitations`): what a person may do in each of the
//! ministry's services, who gave it and until when, the establishments they are Responsable des
//! accès of, and the ways to get an access they do not have. Relying parties link here from
//! their « Gérer mes habilitations ».

use askama::Template;
use axum::{http::StatusCode, response::Response};

use super::{
    habilitations, managers,
    services::{self, DocumentKind},
};
use crate::{
    AppState,
    accounts::account::logged_in,
    error::PageError,
    organizations::{Siret, register},
    web::page::{Page, login_then},
};

/// The page's path.
pub const PATH: &str = "/compte/habilitations";

/// One habilitation as the page shows it.
struct Line {
    establishment: String,
    role_label: String,
    end: String,
    origin: String,
    live: bool,
}

/// One establishment the person manages, and the charte they accepted for it.
struct Managed {
    siret: String,
    establishment: String,
    /// « charte acceptée le … (version 2) ».
    charte: String,
    /// A newer version of the charte waits for their acceptance.
    charte_to_accept: bool,
}

/// One service and what the person holds there.
struct ServiceBlock {
    code: String,
    label: String,
    lines: Vec<Line>,
    managed: Vec<Managed>,
}

impl ServiceBlock {
    fn has_live(&self) -> bool {
        self.lines.iter().any(|l| l.live)
    }
}

#[derive(Template)]
#[template(path = "mine.html")]
struct MinePage {
    services: Vec<ServiceBlock>,
}

/// « NOM — SIRET … » from the register, or the SIRET alone.
async fn establishment_label(
    state: &AppState,
    siret: &str,
    known: Option<&str>,
) -> Result<String, PageError> {
    let name = match known {
        Some(n) => Some(n.to_owned()),
        None => match Siret::parse(siret) {
            Ok(s) => register::by_siret(&state.db, &s).await?.map(|e| e.name),
            Err(_) => None,
        },
    };
    Ok(match name.filter(|n| !n.is_empty()) {
        Some(n) => format!("{n} — SIRET {siret}"),
        None => format!("SIRET {siret}"),
    })
}

/// `GET /compte/habilitations`.
pub async fn show(page: Page) -> Result<Response, PageError> {
    let Some((_, user)) = logged_in(&page, page.headers()).await? else {
        return Ok(login_then(PATH));
    };
    let mut blocks = Vec::new();
    for service in services::all(&page.db).await? {
        let mut lines = Vec::new();
        for h in habilitations::of_user(&page.db, &user.id, &service.code).await? {
            lines.push(Line {
                establishment: establishment_label(&page, &h.siret, h.establishment.as_deref())
                    .await?,
                role_label: h.role_label.clone(),
                end: h
                    .end_date
                    .map_or_else(|| "Sans date de fin".to_owned(), |d| d.french()),
                origin: h.origin(),
                live: h.is_live(),
            });
        }
        // Live ones first, the ended ones after them as a history.
        lines.sort_by_key(|l| !l.live);
        let mut managed = Vec::new();
        let charte = services::current_document(&page.db, &service.code, DocumentKind::Charte)
            .await?
            .map(|d| d.version);
        for m in managers::of_user(&page.db, &user.id, &service.code).await? {
            managed.push(Managed {
                establishment: establishment_label(&page, &m.siret, None).await?,
                charte: m.charte_status(),
                charte_to_accept: charte
                    .is_some_and(|current| m.charte.is_none_or(|(accepted, _)| accepted < current)),
                siret: m.siret,
            });
        }
        blocks.push(ServiceBlock {
            code: service.code,
            label: service.label,
            lines,
            managed,
        });
    }
    page.render(StatusCode::OK, |_| MinePage { services: blocks })
}
