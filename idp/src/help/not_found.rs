//! The router's fallback: an unknown path. A browser gets the DSFR « Page non trouvée » page;
//! API clients and protocol clients keep the bare 404 they always had.

use askama::Template;
use axum::{
    extract::Request,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{error::PageError, web::page::Page};

#[derive(Template)]
#[template(path = "help_not_found.html")]
struct NotFoundPage;

/// Any path no route matches: 404, with the French page when the client asks for HTML (a
/// browser's navigation sends `Accept: text/html`) and the path is not the JSON API's.
pub async fn fallback(page: Page, request: Request) -> Result<Response, PageError> {
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_html || request.uri().path().starts_with("/api/") {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    page.render(StatusCode::NOT_FOUND, |_| NotFoundPage)
}
