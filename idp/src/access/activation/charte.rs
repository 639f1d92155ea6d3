//! « Charte du responsable des accès » (guide `002` §3.2): shown to a Responsable des accès
//! before their pages, accepted once per version and establishment.

use askama::Template;
use axum::{
    extract::{Path, Query},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{establishment_name, manager_visit};
use crate::web::page::CsrfForm;
use crate::{
    access::{
        actions::accept_charte::accept_charte as accept,
        pages::{self, AccessQuery},
        refusal::AccessRefusal,
        services::{self, DocumentKind, Service},
    },
    accounts::UserId,
    error::PageError,
    organizations::Siret,
    web::page::{Page, safe_return},
};

#[derive(Template)]
#[template(path = "access_charte.html")]
struct ChartePage {
    csrf: String,
    service: Service,
    authreq: String,
    retour: String,
    siret: String,
    establishment: String,
    title: String,
    blocks: Vec<services::Block>,
    error: Option<String>,
}

async fn charte_page(
    page: &Page,
    service: Service,
    authreq: String,
    retour: String,
    siret: &Siret,
    error: Option<String>,
) -> Result<Response, PageError> {
    let doc = services::current_document(&page.db, &service.code, DocumentKind::Charte)
        .await?
        .ok_or_else(PageError::not_found)?;
    let establishment = establishment_name(page, siret).await?;
    page.render_form(error.is_some(), |csrf| ChartePage {
        csrf,
        service,
        authreq,
        retour,
        siret: siret.to_string(),
        establishment,
        title: doc.title.clone(),
        blocks: doc.blocks(),
        error,
    })
}

/// `GET /acces/{service}/charte?siret=…`: the « Charte du responsable des accès ».
pub async fn show_charte(
    page: Page,
    Path(code): Path<String>,
    Query(q): Query<AccessQuery>,
) -> Result<Response, PageError> {
    let visit = manager_visit(&page, &code, "/charte", &q.authreq, &q.siret).await?;
    let (service, _, siret) = match visit {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    charte_page(&page, service, q.authreq, q.retour, &siret, None).await
}

/// The charte form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CharteForm {
    csrf: String,
    authreq: String,
    siret: String,
    retour: String,
    accepte: Option<String>,
}

/// `POST /acces/{service}/charte`: « J'accepte de devenir responsable des accès » → recorded
/// with the version and the date (the action `accept_charte`).
pub async fn accept_charte(
    page: Page,
    Path(code): Path<String>,
    CsrfForm(form): CsrfForm<CharteForm>,
) -> Result<Response, PageError> {
    let visit = manager_visit(&page, &code, "/charte", &form.authreq, &form.siret);
    let (service, user, siret) = match visit.await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    if form.accepte.is_none() {
        let error = "Cochez la case « J'accepte de devenir responsable des accès » pour continuer.";
        let (authreq, retour) = (form.authreq, form.retour);
        return charte_page(&page, service, authreq, retour, &siret, Some(error.into())).await;
    }
    let by = UserId::from_stored(user.id.clone());
    match accept(&page.db, &page.clock, &by, &service.code, &siret).await {
        Ok(_) => {}
        Err(AccessRefusal::NoCharte) => return Err(PageError::not_found()),
        Err(refused) => return Err(PageError::refused(&refused)),
    }
    // Sent here by a manager's page: back to it. Else on to « Gestion de mes accès ».
    if let Some(back) = safe_return(&form.retour) {
        return Ok(Redirect::to(back).into_response());
    }
    let next = pages::with_query(
        &format!("/acces/{}/mes-acces", service.code),
        &form.authreq,
        siret.as_str(),
    );
    Ok(Redirect::to(&next).into_response())
}

crate::with_csrf!(CharteForm);
