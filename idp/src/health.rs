//! Liveness, readiness, the page stylesheet and the anti-robot script.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::AppState;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database and the shared store answer, a signing key is loaded, and the
/// node is not shutting down.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "draining": true })),
        )
            .into_response();
    }
    // Bounded: a load balancer's check must get an answer while a dependency hangs.
    let limit = std::time::Duration::from_secs(1);
    let (db, store) = tokio::join!(
        tokio::time::timeout(limit, state.db.ping()),
        tokio::time::timeout(limit, state.ephemeral.ping()),
    );
    let db = matches!(db, Ok(Ok(())));
    let store = matches!(store, Ok(Ok(())));
    let keys = state
        .keys
        .current()
        .signer(crate::keys::SigningAlg::RS256)
        .is_some();
    let status = if db && store && keys {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({ "database": db, "store": store, "signing_key": keys })),
    )
        .into_response()
}

/// `GET /static/idp.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/idp.css"),
    )
        .into_response()
}

/// `GET /static/anti_robot.js`: the anti-robot check's script (`web/anti_robot.rs`).
pub async fn anti_robot_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/anti_robot.js"),
    )
        .into_response()
}

/// Liveness, readiness, metrics and the provider's own static files.
pub fn routes() -> axum::Router<crate::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::scrape))
        .route("/static/idp.css", get(stylesheet))
        .route("/static/anti_robot.js", get(anti_robot_script))
}
