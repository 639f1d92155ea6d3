//! EFP Connect: the OpenID Connect provider of the ministry's digital services.
//!
//! HTTP handlers live in their domain module (`oidc`, `accounts`) and call down into domain
//! logic and storage (`store`, `keys`); nothing below the handlers knows about HTTP.

pub mod access;
pub mod accounts;
pub mod action;
pub mod admin;
pub mod audit;
pub mod background;
pub mod cli;
pub mod clock;
pub mod config;
pub mod config_check;
pub mod error;
pub mod health;
pub mod help;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod organizations;
pub mod retention;
pub mod secrets;
pub mod store;
pub mod web;

use std::{sync::Arc, time::Duration};

use axum::{Router, routing::get};

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

/// What every request handler can reach: the fields of [`AppStateInner`] (through `Deref`).
///
/// One reference count: the router clones the state for every request, and a clone per field
/// was a dozen atomic increments and decrements on lines both cores write.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// The state itself, shared by every clone of [`AppState`].
pub struct AppStateInner {
    /// Configuration, read once.
    pub config: Arc<Config>,
    /// Durable storage.
    pub db: Db,
    /// The time actions read (tests move it forward).
    pub clock: clock::Clock,
    /// Work spawned after an answer.
    pub background: background::Background,
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
    /// The INSEE Sirene API, when configured (`sirene.api_base_url`).
    pub insee: Option<organizations::insee::InseeClient>,
    /// Client registrations, as this node last read them.
    pub clients: oidc::clients::ClientCache,
    /// Posts logout tokens to relying parties (Back-Channel Logout).
    pub backchannel: oidc::backchannel::Sender,
    /// Revoked access tokens, as this node last read them.
    pub revocations: oidc::denylist::DenyList,
    /// Access tokens whose signature this node verified already.
    pub verified: oidc::verified::VerifiedTokens<oidc::tokens::AccessClaims>,
    /// Accounts as userinfo last read them on this node, as fresh as `revocations`.
    pub known_accounts: oidc::known_accounts::KnownAccounts,
    /// Set once shutdown began: `/readyz` answers 503 while in-flight work finishes.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
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
    /// The derivation root sealed under the key-encryption key.
    #[error("secret de dérivation : {0}")]
    Root(#[from] keys::store::RootError),
    /// Signing keys.
    #[error(transparent)]
    Keys(#[from] rotation::RotationError),
    /// Outgoing e-mail.
    #[error(transparent)]
    Mail(#[from] mail::MailError),
    /// A read or write of the database failed.
    #[error("base de données : {0}")]
    Storage(#[from] sqlx::Error),
}

impl AppState {
    /// Opens storage (migrating it), loads the KEK, makes sure every algorithm has a signing
    /// key, and loads the key set.
    pub async fn open(config: Config) -> Result<Self, StartError> {
        let mailer = mail::Mailer::from_config(&config.mail)?;
        let db = Db::connect_with(&config.database_url, config.database_max_connections).await?;
        db.migrate().await?;
        let ephemeral = Ephemeral::from_config(&config).await?;
        let kek = open_kek(&config, &db).await?;
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
        let insee = organizations::insee::InseeClient::from_config(&config.sirene);
        let clients =
            oidc::clients::ClientCache::new(Duration::from_secs(config.clients.cache_seconds));
        let revocations = oidc::denylist::DenyList::load(&db).await?;
        let backchannel = oidc::backchannel::Sender::new(&config.backchannel_logout);
        Ok(Self(Arc::new(AppStateInner {
            config: Arc::new(config),
            db,
            clock: clock::Clock::system(),
            background: background::Background::default(),
            ephemeral,
            keys: SharedKeySet::new(keyset),
            kek: Arc::new(kek),
            hasher,
            discovery,
            mailer,
            insee,
            clients,
            backchannel,
            revocations,
            verified: oidc::verified::VerifiedTokens::default(),
            known_accounts: oidc::known_accounts::KnownAccounts::default(),
            draining: Arc::default(),
        })))
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
            // The same node purges revocations no token can need any more.
            let purged = oidc::denylist::purge(&self.db).await?;
            if purged > 0 {
                tracing::info!(purged, "expired revocations purged");
            }
        }
        self.reload_keys().await?;
        Ok(())
    }
}

/// The key-encryption key of the configuration — the current one, the previous ones — with the
/// installation's derivation root (recorded at the first start: [`keys::store::derivation_root`]).
pub async fn open_kek(config: &Config, db: &Db) -> Result<Kek, StartError> {
    let kek = Kek::load(config.keys.kek.as_deref(), &config.keys.dir)?
        .with_previous(&config.keys.previous_keks)?;
    let root = keys::store::derivation_root(db, &kek).await?;
    Ok(kek.with_derivation_root(&root))
}

/// Builds the router of the whole provider.
pub fn router(state: AppState) -> Router {
    let deployment = web::security_headers::DeploymentLayer::new(&state.config);
    let trusted = web::client_ip::TrustedProxies::from_config(&state.config.proxy);
    with_middleware(routes(state), trusted).layer(deployment)
}

/// Every route, without the middleware that [`router`] adds; public for the benchmarks, which
/// price each layer against this bare router.
#[doc(hidden)]
pub fn routes(state: AppState) -> Router {
    // The outbox viewer shows everyone's codes: mounted only when asked for, on the outbox
    // transport, with a localhost issuer (config_check.rs refuses the rest at start-up).
    let outbox = match state.mailer.outbox() {
        Some(_) if config_check::outbox_viewer_enabled(&state.config) => Router::new()
            .route("/outbox", get(mail::outbox::list))
            .route("/outbox/{id}", get(mail::outbox::show)),
        _ => Router::new(),
    };
    Router::new()
        .merge(outbox)
        .merge(oidc::routes())
        .merge(accounts::routes())
        .merge(accounts::upstream::routes())
        .merge(access::routes())
        .merge(health::routes())
        .merge(help::routes())
        .nest(dsfr_assets::MOUNT, dsfr_assets::router())
        .fallback(help::not_found::fallback)
        // Pages read the deployment's assistance line from here (web/footer.rs); the fallback
        // renders a page too, so it comes before.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::footer::scope,
        ))
        // Added after that layer, so outside it: the protocol's JSON endpoints render no page,
        // and the scope (a boxed middleware, its state cloned per request) was a third of the
        // bare router's time on `GET /jwks`.
        .merge(oidc::api_routes())
        .with_state(state)
}

/// The middleware every response goes through, around `routes`; `trusted` are the proxies
/// whose forwarding headers name the client.
pub fn with_middleware(routes: Router, trusted: web::client_ip::TrustedProxies) -> Router {
    // Counters recorded before the recorder exists would be lost.
    metrics::handle();
    routes
        // One `layer` call for the whole stack: axum wraps what each call returns in a boxed
        // route that it clones, and whose future it boxes, on every request; six calls paid
        // that six times. Listed outermost first.
        .layer(
            tower::ServiceBuilder::new()
                // The id exists before the span that carries it and goes back to the client
                // (`x-request-id`), so a support request can name its log lines.
                .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
                    web::request_id::MakeRequestUuid,
                ))
                .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
                // The real client, once, before the span that records its address.
                .layer(web::client_ip::layer(trusted))
                .layer(
                    tower_http::trace::TraceLayer::new_for_http()
                        .make_span_with(web::request_id::span)
                        .on_response(web::request_id::on_response),
                )
                .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
                .layer(web::security_headers::layer())
                // Innermost, so it times the handler alone; the route template is known
                // (`MatchedPath`) whatever the position, as the router matches before any layer.
                .layer(metrics::TrackLayer),
        )
}

/// Runs the server until `shutdown` resolves; in-flight requests and the work they spawned
/// finish first.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The dedicated metrics listener, bound before anything runs: a wrong address stops the
    // start rather than leaving the node unwatched.
    let metrics_server = match state.config.metrics.listen {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address).await?;
            tracing::info!(listen = %listener.local_addr()?, "metrics listening");
            let routes = metrics::dedicated_routes(state.clone());
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, routes).await {
                    tracing::error!(error.message = %e, "metrics listener stopped");
                }
            }))
        }
        None => None,
    };
    let node_id = secrets::random_token(9);
    let janitor_node = node_id.clone();
    let upkeep = tokio::spawn(async {
        let mut interval = tokio::time::interval(Duration::from_secs(10));
        loop {
            interval.tick().await;
            metrics::upkeep();
        }
    });
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
    let janitor_state = state.clone();
    let janitor = tokio::spawn(async move {
        let every = janitor_state.config.retention.interval_seconds;
        if every == 0 {
            return;
        }
        let mut interval = tokio::time::interval(Duration::from_secs(every));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let s = &janitor_state;
            let now = s.clock.now();
            let run = retention::scheduled(&s.db, &s.ephemeral, &s.config, now, &janitor_node);
            if let Err(e) = run.await {
                tracing::error!(error.message = %e, "retention run failed; next one at the next interval");
            }
        }
    });
    let logout_worker = tokio::spawn(oidc::backchannel::run(state.clone()));
    let draining = state.draining.clone();
    let drain = Duration::from_secs(state.config.shutdown_drain_seconds);
    let shutdown = async move {
        shutdown.await;
        // The load balancer sees /readyz fail and stops sending requests; those it still
        // sends meanwhile are served. Then the node stops accepting and finishes what it has.
        draining.store(true, std::sync::atomic::Ordering::SeqCst);
        if !drain.is_zero() {
            tracing::info!(seconds = drain.as_secs(), "draining: /readyz answers 503");
            tokio::time::sleep(drain).await;
        }
        tracing::info!("no longer accepting: finishing in-flight requests");
    };
    let background = state.background.clone();
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    // E-mails promised after an answer go before the node stops.
    background.idle().await;
    ticker.abort();
    janitor.abort();
    upkeep.abort();
    logout_worker.abort();
    if let Some(server) = metrics_server {
        server.abort();
    }
    result
}
