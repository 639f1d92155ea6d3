//! Test harness: the provider on port 0 with its own fresh database (a SQLite file, or a
//! PostgreSQL database created for the test when `IDP_TEST_DATABASE_URL` is set) and its own
//! Redis key space (when `IDP_TEST_REDIS_URL` is set), plus a browser-like HTTP client and
//! helpers that speak the domain.

use std::{net::SocketAddr, sync::Once, time::Duration};

use base64::Engine;
use idp::{
    AppState,
    accounts::{Email, Password, PasswordHasher, store as users},
    config::Config,
    keys::SigningAlg,
    oidc::clients::{self, AuthMethod, ClientRegistration},
};
use tokio::{sync::oneshot, task::JoinHandle};

pub mod access;
pub mod pages;
pub mod proxy;
pub mod store;
pub mod tls;

pub use openidconnect;
pub use pages::{
    assert_redirect, assert_shows, code_of, content_type, page_of, reset_link_of, text,
};
pub use reqwest;

/// A password that meets the rules, for test accounts.
pub const PASSWORD: &str = "Motdepasse-solide-42";
/// Redirect URI registered for test clients (nothing listens there: tests read the Location).
pub const REDIRECT_URI: &str = "https://rp.example/callback";
/// Post-logout redirect URI registered for test clients.
pub const POST_LOGOUT_URI: &str = "https://rp.example/logged-out";
/// The bearer token the test configuration gives `/metrics` (`metrics.token`): with none,
/// the main listener serves it to nobody.
pub const METRICS_TOKEN: &str = "jeton-de-supervision-des-tests";

static CRYPTO: Once = Once::new();

/// The process's TLS provider (both rustls back-ends are in the tree): every test that makes
/// an HTTP client without a [`TestApp`] calls it first.
pub fn install_crypto() {
    CRYPTO.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// Which storage the suite runs on, from the environment (see `scripts/test.sh`).
#[derive(Clone, Debug)]
pub struct Backend {
    /// Admin URL of the PostgreSQL server, if PostgreSQL is selected.
    pub postgres_admin: Option<String>,
    /// Redis URL, if Redis is selected.
    pub redis: Option<String>,
}

impl Backend {
    /// From `IDP_TEST_DATABASE_URL` and `IDP_TEST_REDIS_URL`.
    pub fn from_env() -> Self {
        let var = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
        Self {
            postgres_admin: var("IDP_TEST_DATABASE_URL"),
            redis: var("IDP_TEST_REDIS_URL"),
        }
    }

    /// Whether several nodes can share state (PostgreSQL and Redis).
    pub fn is_clustered(&self) -> bool {
        self.postgres_admin.is_some() && self.redis.is_some()
    }

    /// For the tests that need two nodes on shared storage: they are marked ignored, so the
    /// embedded run reports them as skipped, and `scripts/test.sh` runs them on PostgreSQL +
    /// Redis with `--include-ignored` (the same build serves both runs). Run without those
    /// servers, such a test fails here rather than passing without having tested anything.
    pub fn require_cluster() {
        assert!(
            Self::from_env().is_clustered(),
            "this test needs PostgreSQL and Redis (IDP_TEST_DATABASE_URL and IDP_TEST_REDIS_URL)"
        );
    }
}

/// Storage made for one test: dropped with it.
struct Storage {
    database_url: String,
    redis_prefix: String,
    kek: String,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl Storage {
    async fn create(backend: &Backend) -> Self {
        install_crypto();
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().expect("temp dir");
        let name = format!("idp_test_{}", uuid::Uuid::new_v4().simple());
        let (database_url, postgres) = match &backend.postgres_admin {
            Some(admin) => {
                use sqlx::Connection;
                let mut conn = sqlx::AnyConnection::connect(admin)
                    .await
                    .expect("PostgreSQL reachable at IDP_TEST_DATABASE_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let mut url = url::Url::parse(admin).expect("admin URL");
                url.set_path(&format!("/{name}"));
                (url.to_string(), Some((admin.clone(), name)))
            }
            None => (
                format!("sqlite://{}?mode=rwc", dir.path().join("idp.db").display()),
                None,
            ),
        };
        let mut kek = [0u8; 32];
        kek.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (uuid::Uuid::new_v4().as_bytes()[i % 16]) ^ (i as u8));
        Self {
            database_url,
            redis_prefix: format!("t{}:", uuid::Uuid::new_v4().simple()),
            kek: base64::engine::general_purpose::STANDARD.encode(kek),
            dir,
            postgres,
        }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        // Drop the test database on a thread of its own: Drop cannot await.
        if let Some((admin, name)) = self.postgres.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// One running provider node.
pub struct TestApp {
    /// Its address.
    pub addr: SocketAddr,
    /// Its base URL (also the issuer for a single node).
    pub base: String,
    /// The issuer.
    pub issuer: String,
    /// Its state: direct access to storage and keys for assertions.
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    storage: std::sync::Arc<Storage>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// A registered test client.
#[derive(Clone, Debug)]
pub struct TestClient {
    /// Client id.
    pub id: String,
    /// Secret (secret clients).
    pub secret: Option<String>,
}

fn test_config(storage: &Storage, backend: &Backend, issuer: &str, listen: SocketAddr) -> Config {
    let mut config = Config {
        issuer: issuer.to_owned(),
        listen,
        database_url: storage.database_url.clone(),
        redis_url: backend.redis.clone(),
        redis_key_prefix: storage.redis_prefix.clone(),
        ..Config::default()
    };
    config.keys.kek = Some(storage.kek.clone());
    // The janitor would run at each start, beside what a test arranges; the retention tests
    // turn it on (or call it) themselves.
    config.retention.interval_seconds = 0;
    config.keys.dir = storage.dir.path().join("keys");
    config.keys.refresh_interval_seconds = 1;
    // Plain-HTTP test clients do not send `Secure` cookies; one test checks the real ones.
    config.session.secure_cookies = false;
    config.limits.hash_concurrency = 2;
    config.metrics.token = Some(METRICS_TOKEN.to_owned());
    // Most tests are not about the anti-robot check (tests/tests/anti_robot.rs turns it on).
    config.anti_robot.enabled = false;
    // The outbox of the default (embedded) transport goes with the test's storage.
    config.mail.outbox_dir = storage.dir.path().join("outbox");
    config
}

impl TestApp {
    /// A fresh provider on the suite's backend with the default test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A fresh provider whose e-mails go to `sink`.
    pub async fn mailing_to(sink: &SmtpSink) -> Self {
        Self::spawn_with(|config| sink.configure(config)).await
    }

    /// A fresh provider whose configuration `adjust` may change.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let backend = Backend::from_env();
        let storage = std::sync::Arc::new(Storage::create(&backend).await);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://127.0.0.1:{}", addr.port());
        let mut config = test_config(&storage, &backend, &base, addr);
        adjust(&mut config);
        Self::start(config, listener, storage).await
    }

    /// POSTs `form` to `path` with `client`'s client_secret_basic: the answer.
    pub async fn client_post(
        &self,
        client: &TestClient,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http()
            .post(self.url(path))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// [`TestApp::with_mailbox`], `adjust` applied to the configuration too.
    pub async fn with_mailbox_and(adjust: impl FnOnce(&mut Config)) -> (SmtpSink, Self) {
        let sink = SmtpSink::start().await;
        let app = Self::spawn_with(|config| {
            sink.configure(config);
            adjust(config);
        })
        .await;
        (sink, app)
    }

    /// A new SMTP sink and a provider mailing to it ([`TestApp::mailing_to`]).
    pub async fn with_mailbox() -> (SmtpSink, Self) {
        let sink = SmtpSink::start().await;
        let app = Self::mailing_to(&sink).await;
        (sink, app)
    }

    /// Two nodes of one deployment ([`TestApp::spawn`] and [`TestApp::another_node`]); the
    /// test fails at once without PostgreSQL and Redis ([`Backend::require_cluster`]).
    pub async fn two_nodes() -> (Self, Self) {
        Backend::require_cluster();
        let a = Self::spawn().await;
        let b = a.another_node().await;
        (a, b)
    }

    /// Where `client`'s plain authorization request ([`auth_url`]) ends for a new browser
    /// logging in as `email` ([`Browser::authorize`]).
    pub async fn authorized(&self, client: &TestClient, email: &str) -> String {
        self.browser()
            .authorize(&auth_url(self, client, &[]), email)
            .await
    }

    /// Another node of the same deployment: same database, same Redis key space, same KEK and
    /// issuer, its own port.
    pub async fn another_node(&self) -> Self {
        self.another_node_with(|_| {}).await
    }

    /// [`TestApp::another_node`] with its configuration adjusted (another KEK, say).
    pub async fn another_node_with(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let mut config = (*self.state.config).clone();
        adjust(&mut config);
        config.listen = listener.local_addr().expect("addr");
        Self::start(config, listener, self.storage.clone()).await
    }

    async fn start(
        config: Config,
        listener: tokio::net::TcpListener,
        storage: std::sync::Arc<Storage>,
    ) -> Self {
        let addr = listener.local_addr().expect("addr");
        let issuer = config.issuer.clone();
        let metrics_listen = config.metrics.listen;
        let state = AppState::open(config).await.expect("provider starts");
        let (tx, rx) = oneshot::channel::<()>();
        let server_state = state.clone();
        let handle = tokio::spawn(async move {
            let _ = idp::serve(server_state, listener, async {
                let _ = rx.await;
            })
            .await;
        });
        // The server binds the dedicated metrics listener itself, as it starts.
        if let Some(address) = metrics_listen {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while tokio::net::TcpStream::connect(address).await.is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the metrics listener {address} never opened"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Self {
            addr,
            base: format!("http://127.0.0.1:{}", addr.port()),
            issuer,
            state,
            shutdown: Some(tx),
            handle: Some(handle),
            storage,
        }
    }

    /// Starts the node's shutdown, as SIGTERM does.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Registers a confidential client (client_secret_basic, RS256, code + refresh, consent
    /// skipped) after `adjust` changes the registration.
    pub async fn client_with(
        &self,
        id: &str,
        adjust: impl FnOnce(&mut ClientRegistration),
    ) -> TestClient {
        let mut reg = ClientRegistration {
            client_id: id.to_owned(),
            name: format!("Application {id}"),
            auth_method: AuthMethod::ClientSecretBasic,
            redirect_uris: vec![REDIRECT_URI.to_owned()],
            post_logout_redirect_uris: vec![POST_LOGOUT_URI.to_owned()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: [
                "openid",
                "email",
                "profile",
                "organization",
                "offline_access",
            ]
            .map(String::from)
            .to_vec(),
            id_token_alg: SigningAlg::RS256,
            jwks: None,
            skip_consent: true,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            require_mfa: false,
            // Most tests drive the code flow by hand without PKCE: their client says so, as an
            // operator would (`--require-pkce false`). The relying parties of `interop` and
            // `relying_party`, and the tests of PKCE itself, register with it required.
            require_pkce: false,
            introspects: Vec::new(),
            forwards_end_user_ip: false,
        };
        adjust(&mut reg);
        let secret = clients::insert_client(&self.state.db, &reg)
            .await
            .expect("db")
            .expect("valid registration");
        TestClient {
            id: id.to_owned(),
            secret,
        }
    }

    /// A confidential client with the defaults.
    pub async fn client(&self, id: &str) -> TestClient {
        self.client_with(id, |_| {}).await
    }

    /// An account with [`PASSWORD`].
    pub async fn user(&self, email: &str) -> users::User {
        self.user_with(
            email,
            users::NewUser {
                given_name: "Alice".into(),
                family_name: "Martin".into(),
                gender: Some("female".into()),
                job: Some("Responsable formation".into()),
                siret: Some("13002526500013".into()),
                organization_label: Some("Centre de formation de test".into()),
                is_agent: false,
            },
        )
        .await
    }

    /// An account `new` with [`PASSWORD`].
    pub async fn user_with(&self, email: &str, new: users::NewUser) -> users::User {
        let hasher = PasswordHasher::new(1, 1);
        let phc = hasher
            .hash(&Password::parse(PASSWORD).expect("test password"))
            .await
            .expect("hash");
        let user = users::insert_user(
            &self.state.db,
            &Email::parse(email).expect("email"),
            Some(&phc),
            &new,
        )
        .await
        .expect("db")
        .expect("new account");
        self.accept_current_cgu(&user.id).await;
        user
    }

    /// Records that `user_id` accepted EFP Connect's current CGU, as the sign-up does: such
    /// an account logs in without the CGU interstitial.
    pub async fn accept_current_cgu(&self, user_id: &str) {
        let current = idp::accounts::cgu::current(&self.state.db)
            .await
            .expect("db")
            .expect("the migrations publish version 1");
        let mut conn = self.state.db.pool.acquire().await.expect("db");
        idp::accounts::cgu::accept_in(&mut conn, user_id, current.document.version, 0)
            .await
            .expect("db");
    }

    /// Makes every later audit event `action` fail to be written, as a crash between an
    /// action's writes would: the fault tests then check that nothing of that action remains.
    /// The audit event is an action's last write, so its failure rolls back all the others.
    pub async fn fail_audit_of(&self, action: &str) {
        // Test-only SQL, with the action name checked so it cannot break out of the literal.
        assert!(
            action
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'),
            "audit action names are plain: {action}"
        );
        let statements = match self.state.db.engine {
            idp::store::db::Engine::Sqlite => vec![format!(
                "CREATE TRIGGER fail_{name} BEFORE INSERT ON audit_events \
                 WHEN NEW.action = '{action}' BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
                name = action.replace('.', "_")
            )],
            idp::store::db::Engine::Postgres => vec![
                "CREATE OR REPLACE FUNCTION idp_test_injected_fault() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$"
                    .to_owned(),
                format!(
                    "CREATE TRIGGER fail_{name} BEFORE INSERT ON audit_events FOR EACH ROW \
                     WHEN (NEW.action = '{action}') EXECUTE FUNCTION idp_test_injected_fault()",
                    name = action.replace('.', "_")
                ),
            ],
        };
        for statement in statements {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&self.state.db.pool)
                .await
                .expect("install the fault trigger");
        }
    }

    /// How many rows `sql` (a `SELECT count(*) …` with `$1` bound to `arg`) counts: for the
    /// fault tests' « nothing remains » checks.
    pub async fn count(&self, sql: &str, arg: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(arg.to_owned())
            .fetch_one(&self.state.db.pool)
            .await
            .expect("count query")
            .try_get::<i64, _>(0)
            .expect("a count")
    }

    /// A new browser (its own cookies) pointed at this node.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// A new browser connecting from `ip`, a loopback address other than 127.0.0.1 (Linux
    /// routes all of 127.0.0.0/8 here): the provider's per-address limits see another client.
    pub fn browser_from(&self, ip: &str) -> Browser {
        Browser::from_address(&self.base, Some(ip.parse().expect("an IP address")))
    }

    /// `GET path` on this node, asserted 200: the JSON body (the JWKS, the discovery document).
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self
            .http()
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(response.status(), 200, "GET {path}");
        response
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
    }

    /// `GET path` on this node: the body as text, whatever the status (the JWKS).
    pub async fn get_text(&self, path: &str) -> String {
        self.http()
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `GET /metrics` with the test configuration's token ([`METRICS_TOKEN`]), asserted 200:
    /// the exposition.
    pub async fn metrics(&self) -> String {
        let response = self
            .http()
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200, "GET /metrics");
        response.text().await.expect("GET /metrics")
    }

    /// An HTTP client that follows no redirect, as `openidconnect` requires.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }
}

/// A browser: keeps cookies, follows no redirect by itself so tests see every hop.
#[derive(Clone)]
pub struct Browser {
    /// The HTTP client with its cookie jar.
    pub client: reqwest::Client,
    base: String,
}

/// The hidden CSRF field of a page.
pub fn csrf_of(html: &str) -> String {
    hidden_field(html, "csrf").expect("page has a csrf field")
}

/// The value of hidden field `name`.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The `Location` header of a response.
pub fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The query parameters of a URL.
pub fn query_of(uri: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(uri)
        .expect("absolute URL")
        .query_pairs()
        .into_owned()
        .collect()
}

impl Browser {
    /// A browser for a provider at `base`.
    pub fn new(base: &str) -> Self {
        Self::from_address(base, None)
    }

    /// A browser for a provider at `base`, connecting from `local` (else the system's choice).
    pub fn from_address(base: &str, local: Option<std::net::IpAddr>) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(local)
            .build()
            .expect("client");
        Self {
            client,
            base: base.to_owned(),
        }
    }

    /// Points the same cookie jar at another node.
    pub fn on(&self, base: &str) -> Self {
        Self {
            client: self.client.clone(),
            base: base.to_owned(),
        }
    }

    fn absolute(&self, uri: &str) -> String {
        if uri.starts_with('/') {
            format!("{}{}", self.base, uri)
        } else {
            uri.to_owned()
        }
    }

    /// GET without following redirects.
    pub async fn get(&self, uri: &str) -> reqwest::Response {
        self.client
            .get(self.absolute(uri))
            .send()
            .await
            .expect("GET")
    }

    /// POST a form without following redirects.
    pub async fn post_form(&self, uri: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.absolute(uri))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// Follows provider redirects from `uri` until one leaves the provider or a page is
    /// shown; returns the last response and the URI it came from.
    pub async fn follow(&self, uri: &str) -> (reqwest::Response, String) {
        let mut current = self.absolute(uri);
        for _ in 0..10 {
            let response = self.get(&current).await;
            match location(&response) {
                Some(next) => {
                    let next = self.absolute(&next);
                    if !next.starts_with(&self.base) {
                        return (response, current);
                    }
                    current = next;
                }
                None => return (response, current),
            }
        }
        panic!("too many redirects from {uri}");
    }

    /// This browser's CSRF token as its pages carry it now (it changes at login and logout),
    /// read from a page every browser may open.
    pub async fn csrf(&self) -> String {
        let page = self.get("/mot-de-passe-oublie").await;
        assert_eq!(page.status(), 200, "GET /mot-de-passe-oublie");
        csrf_of(&page.text().await.expect("page"))
    }

    /// Submits the login form found at `page_uri` and returns the provider's answer.
    pub async fn submit_login(
        &self,
        page_uri: &str,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = self.get(page_uri).await.text().await.expect("login page");
        let csrf = csrf_of(&page);
        let authreq = hidden_field(&page, "authreq").unwrap_or_default();
        self.post_form(
            "/connexion",
            &[
                ("csrf", &csrf),
                ("authreq", &authreq),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    /// Submits, as `email` with [`PASSWORD`], the login form at `login_uri` that a page asking
    /// for a login sent to (its `retour` field kept): the provider's answer.
    pub async fn log_in_back(&self, login_uri: &str, email: &str) -> reqwest::Response {
        let page = self.get(login_uri).await.text().await.expect("login page");
        self.post_form(
            "/connexion",
            &[
                ("csrf", &csrf_of(&page)),
                ("retour", &hidden_field(&page, "retour").expect("retour")),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await
    }

    /// Runs an authorization request to its end: logs in with `email` and [`PASSWORD`] if the
    /// provider asks, consents if asked, and returns where the provider finally redirects
    /// (the client's redirect URI with `code` or `error`).
    pub async fn authorize(&self, auth_url: &str, email: &str) -> String {
        let (response, at) = self.follow(auth_url).await;
        if let Some(out) = location(&response) {
            return out;
        }
        assert!(
            at.contains("/connexion"),
            "expected the login page, got {at} ({})",
            response.status()
        );
        let response = self.submit_login(&at, email, PASSWORD).await;
        let next =
            location(&response).unwrap_or_else(|| panic!("login failed: {}", response.status()));
        let (response, at) = self.follow(&next).await;
        if let Some(out) = location(&response) {
            return out;
        }
        assert!(
            at.contains("/consentement"),
            "expected the consent page, got {at}"
        );
        self.consent(&at, "allow").await
    }

    /// Answers the consent page at `page_uri`; returns where the provider redirects.
    pub async fn consent(&self, page_uri: &str, decision: &str) -> String {
        let page = self.get(page_uri).await.text().await.expect("consent page");
        let response = self
            .post_form(
                "/consentement",
                &[
                    ("csrf", &csrf_of(&page)),
                    (
                        "authreq",
                        &hidden_field(&page, "authreq").unwrap_or_default(),
                    ),
                    ("decision", decision),
                ],
            )
            .await;
        let next = location(&response).expect("consent redirects");
        // Allowing resumes the request at once: the answer may already be the client's URI.
        if !self.absolute(&next).starts_with(&self.base) {
            return next;
        }
        let (response, _) = self.follow(&next).await;
        location(&response).expect("back to the client")
    }
}

/// A plain authorization URL for `client` with PKCE off.
pub fn auth_url(app: &TestApp, client: &TestClient, extra: &[(&str, &str)]) -> String {
    auth_url_for(app, client, "openid email profile", extra)
}

/// [`auth_url`] asking for `scope`.
pub fn auth_url_for(
    app: &TestApp,
    client: &TestClient,
    scope: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut url = url::Url::parse(&app.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", "etat-123")
        .append_pair("nonce", "nonce-456");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

impl Browser {
    /// Runs `auth_url` to its end as `email` ([`Browser::authorize`]) and exchanges the code:
    /// the token endpoint's JSON answer.
    pub async fn tokens(
        &self,
        app: &TestApp,
        client: &TestClient,
        auth_url: &str,
        email: &str,
    ) -> serde_json::Value {
        let out = self.authorize(auth_url, email).await;
        exchange_redirect(app, client, &out).await
    }

    /// `response` (the provider's answer at the end of a login) through to the client's code,
    /// exchanged: the token endpoint's JSON answer.
    pub async fn tokens_after(
        &self,
        app: &TestApp,
        client: &TestClient,
        response: reqwest::Response,
    ) -> serde_json::Value {
        let (response, _) = self.follow(&location(&response).expect("on")).await;
        let out = location(&response).expect("to the client");
        exchange_redirect(app, client, &out).await
    }
}

/// Exchanges the code of the redirect to the client `out`: the token endpoint's JSON answer.
async fn exchange_redirect(app: &TestApp, client: &TestClient, out: &str) -> serde_json::Value {
    let code = query_of(out).remove("code").expect("a code");
    exchange_code(app, client, &code, &[])
        .await
        .json()
        .await
        .expect("token answer")
}

/// POSTs `form` to `app`'s token endpoint with `client`'s client_secret_basic: the answer.
pub async fn token_request(
    app: &TestApp,
    client: &TestClient,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.client_post(client, "/token", form).await
}

/// The kid of the key that signs with `alg` now on `app`.
pub fn signing_kid(app: &TestApp, alg: SigningAlg) -> String {
    app.state
        .keys
        .current()
        .signer(alg)
        .unwrap_or_else(|| panic!("a {alg:?} signer"))
        .kid
        .clone()
}

/// The decoding key of the JWK `kid` in the JWK set `jwks`; panics when it is not served.
pub fn served_key(jwks: &serde_json::Value, kid: &str) -> jsonwebtoken::DecodingKey {
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("{kid} is not served: {jwks}"));
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).expect("JWK");
    jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("decoding key")
}

/// Exchanges `code` at `app`'s token endpoint with client_secret_basic.
pub async fn exchange_code(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ];
    form.extend_from_slice(extra);
    token_request(app, client, &form).await
}

/// A response's status and JSON body (`null` when the body is not JSON).
pub async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// Asserts that the JSON answer `status` and `body` is the error `error` with `expected` status.
#[track_caller]
pub fn assert_error(status: u16, body: &serde_json::Value, expected: u16, error: &str) {
    assert_eq!(
        (status, body["error"].as_str()),
        (expected, Some(error)),
        "{body}"
    );
}

/// The string member `key` of `v`; panics naming it when absent.
pub fn string(v: &serde_json::Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}

/// `GET /userinfo` with `access_token`: status and body.
pub async fn userinfo(app: &TestApp, access_token: &str) -> (u16, serde_json::Value) {
    json(
        app.http()
            .get(app.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("GET /userinfo"),
    )
    .await
}

/// `token` introspected by the client `by` at `app` (client_secret_basic): the JSON answer.
pub async fn introspect(app: &TestApp, by: &TestClient, token: &str) -> serde_json::Value {
    json(
        app.http()
            .post(app.url("/introspect"))
            .basic_auth(&by.id, by.secret.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .expect("introspection"),
    )
    .await
    .1
}

/// A refresh at `app`'s token endpoint with client_secret_basic: the answer.
pub async fn refresh_response(
    app: &TestApp,
    client: &TestClient,
    refresh_token: &str,
) -> reqwest::Response {
    token_request(
        app,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// [`refresh_response`]: status and body.
pub async fn refresh(
    app: &TestApp,
    client: &TestClient,
    refresh_token: &str,
) -> (u16, serde_json::Value) {
    json(refresh_response(app, client, refresh_token).await).await
}

/// The workspace's root (the folder that holds `tests/`).
pub fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds tests/")
        .to_owned()
}

/// The `idp` binary next to the test binaries (`scripts/test.sh` builds it first).
pub fn idp_binary() -> std::path::PathBuf {
    // target/<profile>/deps/suite-<hash> → target/<profile>/idp
    let exe = std::env::current_exe().expect("test binary");
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>")
        .join("idp");
    assert!(
        bin.is_file(),
        "{} not found: build it first (cargo build -p idp)",
        bin.display()
    );
    bin
}

impl TestApp {
    /// Runs `idp <args>` as an operator would on a node of this deployment (same database,
    /// same Redis key space), from an empty directory, with `IDP_OPERATOR` set to `Claire`:
    /// `(exit status, stdout, stderr)`.
    pub async fn cli(&self, args: &[&str]) -> (i32, String, String) {
        self.cli_env(args, &[]).await
    }

    /// [`TestApp::cli`] with these variables on top (`IDP_KEYS__KEK`…).
    pub async fn cli_env(&self, args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
        let dir = tempfile::tempdir().expect("dir");
        let config = &self.state.config;
        let mut command = tokio::process::Command::new(idp_binary());
        command.args(args).current_dir(dir.path());
        // Only what this deployment says: nothing of the shell the tests run in.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("IDP_") {
                command.env_remove(name);
            }
        }
        command
            .env("IDP_ISSUER", &config.issuer)
            .env("IDP_DATABASE_URL", &config.database_url)
            .env("IDP_REDIS_KEY_PREFIX", &config.redis_key_prefix)
            .env("IDP_OPERATOR", "Claire");
        if let Some(url) = &config.redis_url {
            command.env("IDP_REDIS_URL", url);
        }
        if let Some(kek) = &config.keys.kek {
            command.env("IDP_KEYS__KEK", kek);
        }
        command.envs(vars.iter().copied());
        let out = command.output().await.expect("idp runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// Asserts that `tests/<dir>` has its node modules (`package` among them) and that chromium is
/// installed: the chromium binary's path.
pub fn node_and_chromium(dir: &str, package: &str) -> String {
    assert!(
        repo()
            .join(format!("tests/{dir}/node_modules/{package}"))
            .is_dir(),
        "run scripts/test.sh first (npm ci in tests/{dir})"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).is_file(),
        "{chromium} is missing (scripts/test.sh installs Debian's chromium)"
    );
    chromium
}

/// Waits until `check` holds, polling for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A real SMTP server on a free local port: `tests/smtp_sink.py` (aiosmtpd, installed by
/// `scripts/test.sh`), which keeps every message it receives. Killed when dropped.
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    // Held so the process lives as long as the sink (`kill_on_drop`).
    _child: tokio::process::Child,
}

/// A message the sink received, as Python's own e-mail parser reads it.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// SMTP envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// SMTP envelope recipients (`RCPT TO`).
    pub rcpt_tos: Vec<String>,
    /// `From` header, decoded.
    pub from: String,
    /// `To` header, decoded.
    pub to: String,
    /// `Subject` header, decoded.
    pub subject: String,
    /// Top-level content type (`multipart/alternative`).
    pub content_type: String,
    /// The `text/plain` part, decoded.
    pub text: String,
    /// The `text/html` part, decoded.
    pub html: String,
    /// Whether the message came over TLS.
    pub tls: bool,
    /// The common name of the certificate the client presented, if any.
    pub client_cert_cn: Option<String>,
}

impl SmtpSink {
    /// Starts the sink and waits until it answers.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a sink in TLS with `pki`'s server certificate: `mode` is `starttls` or `tls`
    /// (implicit); with `client_certificate`, the client must present one of `pki`'s CA.
    pub async fn start_tls(mode: &str, pki: &tls::TestPki, client_certificate: bool) -> Self {
        let (cert, key) = pki.server();
        let mut args = vec![
            "--tls".to_owned(),
            mode.to_owned(),
            "--cert".to_owned(),
            cert.display().to_string(),
            "--key".to_owned(),
            key.display().to_string(),
        ];
        if client_certificate {
            args.extend(["--client-ca".to_owned(), pki.ca().display().to_string()]);
        }
        Self::start_with(&args).await
    }

    async fn start_with(options: &[String]) -> Self {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/smtp_sink.py");
        // A free port may be taken again before the sink binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut child = tokio::process::Command::new("python3")
                .arg(script)
                .arg(port.to_string())
                .arg(dir.path())
                .args(options)
                .stdout(std::process::Stdio::piped())
                // The sink exits when this pipe closes: no orphan if the test process dies.
                .stdin(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("python3 runs tests/smtp_sink.py");
            let stdout = child.stdout.take().expect("piped stdout");
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
            if let Ok(Ok(Some(line))) = first
                && line.trim() == "ready"
            {
                return Self {
                    port,
                    dir,
                    _child: child,
                };
            }
            let _ = child.kill().await;
        }
        panic!("the SMTP sink did not start (is aiosmtpd installed? scripts/test.sh installs it)");
    }

    /// Points `config` at this sink: SMTP, plain text (a local sink has no certificate).
    pub fn configure(&self, config: &mut Config) {
        config.mail.transport = idp::config::MailTransport::Smtp;
        config.mail.smtp_host = "127.0.0.1".into();
        config.mail.smtp_port = self.port;
        config.mail.smtp_tls = idp::config::SmtpTls::None;
    }

    /// The folder the sink writes to: `<n>.eml` and `<n>.json` per message (tests/smtp_sink.py).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("sink folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| {
                let v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json");
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                ReceivedMail {
                    mail_from: s("mail_from"),
                    rcpt_tos: v["rcpt_tos"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|r| r.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                    from: s("from"),
                    to: s("to"),
                    subject: s("subject"),
                    content_type: s("content_type"),
                    text: s("text"),
                    html: s("html"),
                    tls: v["tls"].as_bool().unwrap_or(false),
                    client_cert_cn: v["client_cert_subject"]["commonName"]
                        .as_str()
                        .map(str::to_owned),
                }
            })
            .collect()
    }

    /// Waits (at most 10 s) until `count` messages arrived; returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<ReceivedMail> {
        assert!(
            eventually(Duration::from_secs(10), || async {
                self.messages().len() >= count
            })
            .await,
            "the SMTP sink did not receive {count} message(s)"
        );
        self.messages()
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The text of a PDF as poppler's `pdftotext -layout` reads it (Debian `poppler-utils`,
/// installed by `scripts/test.sh`): a reader we did not write, so a letter that only our own
/// code could read back would fail.
pub fn pdf_text(pdf: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("pdftotext (Debian poppler-utils; scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pdf)
        .expect("write the PDF");
    let out = child.wait_with_output().expect("pdftotext runs");
    assert!(out.status.success(), "pdftotext failed: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

// Activation codes: the fixtures of the access tests.
impl TestApp {
    /// The key activation codes are hashed under.
    pub fn code_key(&self) -> [u8; 32] {
        self.state.kek.derive(idp::access::codes::HASH_KEY_LABEL)
    }

    /// A new account marked ministry agent (`idp users create --agent`).
    pub async fn agent(&self, email: &str) -> users::User {
        let agent = self.user(email).await;
        self.set_agent(&agent.id, true).await;
        agent
    }

    /// Puts an establishment in the register (open or closed), as the SIRENE import would.
    pub async fn establishment(&self, siret: &str, name: &str, active: bool) {
        idp::organizations::register::upsert(
            &self.state.db,
            &[idp::organizations::Establishment {
                siret: idp::organizations::Siret::parse(siret).expect("siret"),
                name: name.into(),
                address: "1 RUE DE LA PAIX".into(),
                postcode: "75002".into(),
                commune: "PARIS".into(),
                active,
                head_office: true,
            }],
            self.state.clock.now(),
        )
        .await
        .expect("register");
    }

    /// Redeems `code` for `user_id` through the action the page and the JSON API call.
    pub async fn redeem_code(
        &self,
        code: &idp::access::ActivationCode,
        siret: Option<&str>,
        user_id: &str,
    ) -> Result<idp::access::actions::redeem_code::Redeemed, idp::access::refusal::AccessRefusal>
    {
        let siret = siret.map(|s| idp::organizations::Siret::parse(s).expect("siret"));
        let by = idp::accounts::UserId::from_stored(user_id);
        let input = idp::access::actions::redeem_code::Redemption {
            by: &by,
            service_code: "ceres",
            siret: siret.as_ref(),
            code,
            via: None,
        };
        idp::access::actions::redeem_code::redeem_code(
            &self.state.db,
            &self.state.clock,
            &self.code_key(),
            &input,
        )
        .await
    }
}
