//! The state design system (DSFR) served by the provider itself, from the npm package's
//! `dist` folder (`static_dir`, installed by `scripts/assets.sh`): no CDN, nothing fetched
//! from another origin, so the CSP stays `'self'`.

use std::path::Path;

use axum::{
    Router,
    http::{HeaderValue, header},
    response::Response,
};
use tower_http::{
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
};

/// Cache lifetime of DSFR files. The layout links the stylesheet and scripts with `?v=<DSFR
/// version>`, so an upgrade reaches browsers at once; fonts and icons keep their names.
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The DSFR files the pages use, under `/static/dsfr/`: the stylesheet, the scripts, and the
/// fonts, icons and favicons they point to. Nothing else of the package is published.
pub fn dsfr(dir: &Path) -> Router {
    if !dir.join("dsfr.min.css").is_file() {
        tracing::warn!(
            static_dir = %dir.display(),
            "DSFR assets not found: pages will be unstyled (run scripts/assets.sh)"
        );
    }
    let file = |name: &str| ServeFile::new(dir.join(name));
    Router::new()
        .route_service("/dsfr.min.css", file("dsfr.min.css"))
        .route_service("/dsfr.module.min.js", file("dsfr.module.min.js"))
        .route_service("/dsfr.nomodule.min.js", file("dsfr.nomodule.min.js"))
        // The `fr-icon-*` classes are not in dsfr.min.css; their SVGs are under /icons.
        .route_service(
            "/utility/icons/icons.min.css",
            file("utility/icons/icons.min.css"),
        )
        .nest_service("/fonts", ServeDir::new(dir.join("fonts")))
        .nest_service("/icons", ServeDir::new(dir.join("icons")))
        .nest_service("/favicon", ServeDir::new(dir.join("favicon")))
        // Only what was found: a 404 must not stick in caches once the files are installed.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            |response: &Response| {
                response
                    .status()
                    .is_success()
                    .then(|| HeaderValue::from_static(CACHE_CONTROL))
            },
        ))
}
