//! The French error page of every failure (see [`crate::PageError`]).

use askama::Template;
use askama_web::WebTemplate;

use super::HeaderUser;
use crate::PageError;

/// `templates/error.html`.
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Title and h1.
    pub title: &'static str,
    /// What happened, in French.
    pub message: String,
    /// Where to go from here.
    pub link: &'static str,
    /// Its label.
    pub link_label: &'static str,
    /// The layout's header: no name on error pages.
    pub user: Option<HeaderUser>,
}

/// Any unknown URL.
pub async fn not_found() -> PageError {
    PageError::NotFound
}
