//! EFP Connect: the OpenID Connect provider of the ministry's digital services.
//!
//! HTTP handlers live in their domain module (`oidc`, `accounts`) and call down into domain
//! logic and storage (`store`, `keys`); nothing below the handlers knows about HTTP.

pub mod accounts;
pub mod audit;
pub mod cli;
pub mod config;
pub mod error;
pub mod health;
pub mod keys;
pub mod mail;
pub mod oidc;
pub mod organizations;
pub mod secrets;
pub mod store;
pub mod web;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    routing::{get, post},
};

use crate::{
    accounts::PasswordHasher,
    config::Config,
    keys::{
        SharedKeySet,
        kek::Kek,
        rotation::{self, KeyPolicy},
    },
    store::{Db, Ephemeral},
};

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Configuration, read once.
    pub config: Arc<Config>,
    /// Durable storage.
    pub db: Db,
    /// Short-lived shared storage.
    pub ephemeral: Ephemeral,
    /// Published and signing keys.
    pub keys: SharedKeySet,
    /// Key-encryption key.
    pub kek: Arc<Kek>,
    /// Password hashing with bounded concurrency.
    pub hasher: PasswordHasher,
    /// The discovery document, serialised once.
    pub discovery: Arc<str>,
    /// Outgoing e-mail (SMTP or the local outbox).
    pub mailer: mail::Mailer,
}

/// Why the provider could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Database.
    #[error(transparent)]
    Db(#[from] store::db::DbError),
    /// Redis.
    #[error(transparent)]
    Ephemeral(#[from] store::ephemeral::EphemeralError),
    /// Key-encryption key.
    #[error(transparent)]
    Kek(#[from] keys::kek::KekError),
    /// Signing keys.
    #[error(transparent)]
    Keys(#[from] rotation::RotationError),
    /// Outgoing e-mail.
    #[error(transparent)]
    Mail(#[from] mail::MailError),
}

impl AppState {
    /// Opens storage (migrating it), loads the KEK, makes sure every algorithm has a signing
    /// key, and loads the key set.
    pub async fn open(config: Config) -> Result<Self, StartError> {
        let mailer = mail::Mailer::from_config(&config.mail)?;
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
        let ephemeral = match config.redis_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => Ephemeral::redis(url, &config.redis_key_prefix).await?,
            None => Ephemeral::memory(),
        };
        let kek = Kek::load(config.keys.kek.as_deref(), &config.keys.dir)?;
        let policy = KeyPolicy::from_config(&config);
        let now = store::now();
        // Two nodes starting at once on an empty database must not both create keys.
        if ephemeral
            .put_if_absent("lease:key-bootstrap", "1", Duration::from_secs(30))
            .await?
        {
            rotation::ensure_signers(&db, &kek, &policy, now).await?;
            ephemeral.delete("lease:key-bootstrap").await?;
        } else {
            for _ in 0..60 {
                // Read the clock at each look: keys made after our start are active by now.
                if rotation::list(&db, store::now())
                    .await?
                    .iter()
                    .filter(|k| k.state == rotation::KeyState::Active)
                    .count()
                    >= 2
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        let keyset = rotation::load(&db, &kek, store::now()).await?;
        let discovery = oidc::discovery::document(&config).to_string().into();
        let hasher = PasswordHasher::new(config.limits.hash_concurrency, config.limits.hash_queue);
        Ok(Self {
            config: Arc::new(config),
            db,
            ephemeral,
            keys: SharedKeySet::new(keyset),
            kek: Arc::new(kek),
            hasher,
            discovery,
            mailer,
        })
    }

    /// Reloads the key set from the database (every node, every refresh interval).
    pub async fn reload_keys(&self) -> Result<(), rotation::RotationError> {
        let set = rotation::load(&self.db, &self.kek, store::now()).await?;
        self.keys.replace(set);
        Ok(())
    }

    /// One round of the key scheduler: the node holding the lease rotates what is due; every
    /// node reloads its key set.
    pub async fn key_tick(&self, node_id: &str) -> Result<(), StartError> {
        let interval = Duration::from_secs(self.config.keys.refresh_interval_seconds);
        let lease = "lease:key-scheduler";
        let holds = match self.ephemeral.get(lease).await? {
            Some(holder) => holder == node_id,
            None => {
                self.ephemeral
                    .put_if_absent(lease, node_id, interval * 3)
                    .await?
            }
        };
        if holds {
            self.ephemeral.put(lease, node_id, interval * 3).await?;
            let policy = KeyPolicy::from_config(&self.config);
            let rotated =
                rotation::scheduled_rotation(&self.db, &self.kek, &policy, store::now()).await?;
            for kid in rotated {
                tracing::info!(key.kid = %kid, "scheduled key rotation started");
            }
        }
        self.reload_keys().await?;
        Ok(())
    }
}

/// Builds the router of the whole provider.
pub fn router(state: AppState) -> Router {
    use oidc::{
        authorize, consent, discovery, end_session, introspection, jwks, revocation, token,
        userinfo,
    };
    // The outbox viewer is a development tool: mounted only when mail goes to the outbox.
    let outbox = match state.mailer.outbox() {
        Some(_) => Router::new()
            .route("/outbox", get(mail::outbox::list))
            .route("/outbox/{id}", get(mail::outbox::show)),
        None => Router::new(),
    };
    Router::new()
        .merge(outbox)
        .route("/", get(accounts::login::home))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery),
        )
        .route("/jwks", get(jwks::jwks))
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/authorize/continue", get(authorize::resume))
        .route("/token", post(token::token))
        .route("/userinfo", get(userinfo::get).post(userinfo::post))
        .route("/revoke", post(revocation::revoke))
        .route("/introspect", post(introspection::introspect))
        .route("/logout", get(end_session::get).post(end_session::post))
        .route(
            "/connexion",
            get(accounts::login::show).post(accounts::login::submit),
        )
        .route("/connexion/code", post(accounts::totp::submit_code))
        .route(
            "/compte/double-authentification",
            get(accounts::totp::show).post(accounts::totp::enrol),
        )
        .route(
            "/compte/double-authentification/desactivation",
            post(accounts::totp::disable),
        )
        .route("/consentement", get(consent::show).post(consent::submit))
        .route(
            "/inscription",
            get(accounts::signup::email::show).post(accounts::signup::email::submit),
        )
        .route(
            "/inscription/code",
            get(accounts::signup::code::show).post(accounts::signup::code::submit),
        )
        .route(
            "/inscription/code/renvoyer",
            post(accounts::signup::code::resend),
        )
        .route(
            "/inscription/mot-de-passe",
            get(accounts::signup::password::show).post(accounts::signup::password::submit),
        )
        .route(
            "/inscription/identite",
            get(accounts::signup::identity::show).post(accounts::signup::identity::submit),
        )
        .route(
            "/inscription/organisation",
            get(accounts::signup::organization::show).post(accounts::signup::organization::submit),
        )
        .route(
            mail::messages::RESET_START_PATH,
            get(accounts::reset::show_start).post(accounts::reset::submit_start),
        )
        .route(
            accounts::reset::RESET_CODE_PATH,
            get(accounts::reset::show_code).post(accounts::reset::submit_code),
        )
        .route(
            mail::messages::RESET_LINK_PATH,
            get(accounts::reset::follow_link),
        )
        .route(
            accounts::reset::RESET_PASSWORD_PATH,
            get(accounts::reset::show_password).post(accounts::reset::submit_password),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/idp.css", get(health::stylesheet))
        .route("/static/anti_robot.js", get(health::anti_robot_script))
        .nest_service("/static/dsfr", web::assets::dsfr(&state.config.static_dir))
        .layer(axum::middleware::from_fn(web::security_headers::add))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Runs the server until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let node_id = secrets::random_token(9);
    let ticker_state = state.clone();
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(
            ticker_state.config.keys.refresh_interval_seconds,
        ));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(e) = ticker_state.key_tick(&node_id).await {
                tracing::error!(error.message = %e, "key refresh failed; keeping the previous key set");
            }
        }
    });
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    ticker.abort();
    result
}
