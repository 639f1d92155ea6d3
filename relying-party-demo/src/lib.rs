//! CERES (démonstration): a relying party of EFP Connect standing in for the ministry's CERES
//! application.
//!
//! It logs people in through the provider (`oidc`), keeps a server-side session per browser
//! (`session`), asks for CERES's CGU once per version (`store`), shows the dashboard built from
//! the person's live claims, the "no access" page with the activation-code form, and an agent
//! area that prints the activation letter as a PDF (`pages`, `letter`), calling the provider's
//! JSON API for what is not in the tokens (`provider_api`).
//!
//! Page order for a logged-in person: no CERES habilitation → the no-access page (there is
//! nothing to accept yet); otherwise the CGU until the current version is accepted; then the
//! dashboard. The agent area only checks the `ministry_agent` claim.

pub mod config;
pub mod error;
pub mod letter;
pub mod oidc;
pub mod pages;
pub mod provider_api;
pub mod session;
pub mod store;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    http::{HeaderValue, header},
    response::IntoResponse,
    routing::{get, post},
};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::Config;
pub use error::{Error, PageError};

/// How long one call to the provider may take before the page gives up.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a handler needs: cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// Configuration, read once at start-up.
    pub config: Config,
    /// The HTTP client for the provider: follows no redirect (an endpoint that redirects
    /// elsewhere must not make the relying party call an arbitrary host).
    pub http: reqwest::Client,
    /// The provider as discovered, and the service token cache.
    pub provider: oidc::Provider,
    /// Browser sessions.
    pub sessions: session::SessionStore,
    /// CGU acceptances.
    pub store: store::Store,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Discovers the provider, opens the database and returns the application's routes.
pub async fn build(config: Config) -> Result<Router, Error> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .build()
        .map_err(|e| Error::Http(e.to_string()))?;
    let provider = oidc::Provider::discover(&config, &http).await?;
    let store = store::Store::open(&config.database_url).await?;
    let state = AppState(Arc::new(Inner {
        config,
        http,
        provider,
        sessions: session::SessionStore::default(),
        store,
    }));
    let csp = content_security_policy(&state.config.issuer);
    let header = |name, value: HeaderValue| SetResponseHeaderLayer::if_not_present(name, value);
    let pages = Router::new()
        .route("/", get(pages::home::show))
        .route("/login", get(oidc::login::start))
        .route("/callback", get(oidc::login::callback))
        .route("/logout", post(oidc::logout::logout))
        .route("/backchannel-logout", post(oidc::backchannel::receive))
        .route("/cgu", post(pages::cgu::accept))
        .route("/activation", post(pages::no_access::redeem))
        .route("/agent", get(pages::agent::show))
        .route("/agent/courrier", post(pages::agent::letter))
        .fallback(pages::error::not_found)
        // Pages show personal data: never kept by a browser or a proxy.
        .layer(header(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    Ok(Router::new()
        .nest(dsfr_assets::MOUNT, dsfr_assets::router())
        .route("/static/ceres.css", get(ceres_css))
        .merge(pages)
        .layer(header(header::CONTENT_SECURITY_POLICY, csp))
        .layer(header(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(header(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .with_state(state))
}

/// Everything from the demo itself; forms may also lead to the provider, because logout and
/// activation answer with a redirect there (browsers apply `form-action` to it).
fn content_security_policy(issuer: &str) -> HeaderValue {
    let provider = url::Url::parse(issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let policy = format!(
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; \
         frame-ancestors 'none'; form-action 'self' {provider}"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

/// Serves the application on `listener` until the process ends.
pub async fn serve(config: Config, listener: tokio::net::TcpListener) -> Result<(), Error> {
    let app = build(config).await?;
    axum::serve(listener, app)
        .await
        .map_err(|e| Error::Http(e.to_string()))
}

/// The demo's own stylesheet (the pastille, the side panel), embedded in the binary.
async fn ceres_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/ceres.css"),
    )
}
