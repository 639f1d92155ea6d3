//! What every page's footer shows that comes from the configuration: the assistance line (the
//! guide's N°Vert, its hours, the portal).
//!
//! Forty-odd page templates extend `layout.html`; rather than give each of them a field, the
//! router runs every request inside [`scope`], and the layout reads [`assistance`].

use std::sync::Arc;

use axum::{extract::Request, middleware::Next, response::Response};

use crate::{
    AppState,
    config::{AssistanceConfig, Config},
};

tokio::task_local! {
    // The whole configuration, as the state holds it: one reference count per request.
    static CONFIG: Arc<Config>;
}

/// Middleware: the request's handler (and the page it renders) sees this deployment's
/// configuration.
pub async fn scope(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    CONFIG
        .scope(Arc::clone(&state.config), next.run(request))
        .await
}

/// The assistance settings of the request being answered. Outside a request (a template
/// rendered by a unit test), the configuration's defaults: the guide's own number and hours.
pub fn assistance() -> AssistanceConfig {
    CONFIG
        .try_with(|config| config.assistance.clone())
        .unwrap_or_default()
}

impl AssistanceConfig {
    /// The number as a `tel:` link target: its digits (and a leading `+`), without the spaces
    /// it is written with.
    pub fn tel_href(&self) -> String {
        let dialled: String = self
            .phone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        format!("tel:{dialled}")
    }
}
