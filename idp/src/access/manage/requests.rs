//! The « Demandes d'accès » tab.

use askama::Template;
use axum::{http::StatusCode, response::Response};

use crate::{
    access::{dates, manager::Manager, requests, services::Service},
    error::PageError,
    web::page::Page,
};

#[derive(Template)]
#[template(path = "access_manage_requests.html")]
struct RequestsPage {
    service: Service,
    requests: Vec<requests::AccessRequest>,
    pending: i64,
}

impl RequestsPage {
    fn date(&self, t: &i64) -> String {
        dates::french_date_time(*t)
    }
}

/// `GET /acces/{service}/gestion/demandes`: the « Demandes d'accès » tab: the pending
/// requests of the manager's establishments, oldest first, each opening its decision page.
pub async fn requests(page: Page, m: Manager) -> Result<Response, PageError> {
    let requests = requests::pending_for_manager(&page.db, &m.user.id, &m.service.code).await?;
    let pending = i64::try_from(requests.len()).unwrap_or(i64::MAX);
    page.render(StatusCode::OK, |_| RequestsPage {
        service: m.service,
        requests,
        pending,
    })
}
