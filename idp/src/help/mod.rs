//! The pages every French public service shows beside its journeys: mentions légales, données
//! personnelles, the accessibility statement, the site map (linked from every page's footer),
//! and the « Page non trouvée » answer to unknown paths.

pub mod legal;
pub mod not_found;

use axum::{Router, routing::get};

use crate::AppState;

/// `GET /mentions-legales`.
pub const LEGAL_NOTICE_PATH: &str = "/mentions-legales";
/// `GET /donnees-personnelles`.
pub const PERSONAL_DATA_PATH: &str = "/donnees-personnelles";
/// `GET /accessibilite`.
pub const ACCESSIBILITY_PATH: &str = "/accessibilite";
/// `GET /plan-du-site`.
pub const SITE_MAP_PATH: &str = "/plan-du-site";

/// The legal pages' routes (the 404 is the router's fallback, set in `lib.rs`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(LEGAL_NOTICE_PATH, get(legal::legal_notice))
        .route(PERSONAL_DATA_PATH, get(legal::personal_data))
        .route(ACCESSIBILITY_PATH, get(legal::accessibility))
        .route(SITE_MAP_PATH, get(legal::site_map))
}
