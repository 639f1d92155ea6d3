//! « AGENT DU MINISTÈRE »: agents log in through an upstream OpenID provider. The upstream is a
//! real third-party OP started here (npm `oidc-provider`, OpenID-certified; tests/upstream-op),
//! not our code: happy path with the pending authorization request kept, wrong `nonce`, wrong
//! `iss`, expired ID token (well signed by the OP's own key: tests/upstream-op/op.mjs), the
//! upstream's refusal, a disallowed domain, an unreachable upstream, and the link of an existing
//! account after its password.

use std::process::Stdio;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use idp_tests::{
    Browser, PASSWORD, TestApp, TestClient, assert_shows, auth_url, auth_url_for, csrf_of,
    hidden_field, location, query_of, refresh, userinfo,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const UPSTREAM: &str = "ministere";
const CLIENT_ID: &str = "efp-connect";
const CLIENT_SECRET: &str = "secret-de-test-de-la-federation";

/// A running upstream OP (killed when dropped).
pub(crate) struct Upstream {
    _child: tokio::process::Child,
}

/// A free port for the upstream, so that its issuer is known before the provider starts.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The configuration of the upstream at `port` (domains `travail.gouv.fr`).
pub(crate) fn upstream_config(port: u16) -> idp::config::UpstreamConfig {
    idp::config::UpstreamConfig {
        id: UPSTREAM.into(),
        label: "Fédération des agents (test)".into(),
        issuer: format!("http://127.0.0.1:{port}"),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        allowed_domains: vec!["travail.gouv.fr".into()],
    }
}

/// The provider with one upstream, and that upstream started with `tamper` (see op.mjs).
async fn app_and_upstream(tamper: &str) -> (TestApp, Upstream) {
    let port = free_port();
    let app = TestApp::spawn_with(|config| {
        config.agents.upstreams = vec![upstream_config(port)];
        config.agents.timeout_seconds = 2;
    })
    .await;
    let upstream = start_upstream(&app, port, tamper).await;
    (app, upstream)
}

/// Starts tests/upstream-op/op.mjs at `port` for `app` (configured with [`upstream_config`]).
pub(crate) async fn start_upstream(app: &TestApp, port: u16, tamper: &str) -> Upstream {
    let dir = idp_tests::repo().join("tests/upstream-op");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "run scripts/test.sh first (npm ci in tests/upstream-op)"
    );
    let issuer = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new("node")
        .arg(dir.join("op.mjs"))
        .env("UPSTREAM_PORT", port.to_string())
        .env("UPSTREAM_CLIENT_ID", CLIENT_ID)
        .env("UPSTREAM_CLIENT_SECRET", CLIENT_SECRET)
        .env("UPSTREAM_REDIRECT_URI", app.url("/connexion/agent/retour"))
        .env(
            "UPSTREAM_POST_LOGOUT_REDIRECT_URI",
            app.url("/deconnexion/agent"),
        )
        .env("UPSTREAM_TAMPER", tamper)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs tests/upstream-op/op.mjs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .expect("the upstream starts")
        .expect("its output");
    assert_eq!(
        ready.as_deref(),
        Some(format!("listening {issuer}").as_str())
    );
    // Whatever it prints later is drained: a closed pipe would stop it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Upstream { _child: child }
}

fn absolute(base: &str, location: &str) -> String {
    reqwest::Url::parse(base)
        .and_then(|b| b.join(location))
        .expect("a URL")
        .to_string()
}

/// From the login page at `login_uri`: clicks « AGENT DU MINISTÈRE », logs in upstream as
/// `login`, and returns our provider's answer to the callback.
async fn agent_login(
    app: &TestApp,
    browser: &Browser,
    login_uri: &str,
    login: &str,
) -> reqwest::Response {
    agent_login_via(app, browser, login_uri, login, str::to_owned).await
}

/// [`agent_login`], the upstream's redirect to our callback rewritten by `forge` (an attacker
/// in the middle).
async fn agent_login_via(
    app: &TestApp,
    browser: &Browser,
    login_uri: &str,
    login: &str,
    forge: impl Fn(&str) -> String,
) -> reqwest::Response {
    let page = browser
        .get(login_uri)
        .await
        .text()
        .await
        .expect("login page");
    assert!(page.contains("AGENT DU MINISTÈRE"), "the button: {page}");
    let href = page
        .split("id=\"agent-login\"")
        .nth(1)
        .and_then(|rest| rest.split("href=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("the button's link")
        .replace("&amp;", "&");
    let started = browser.get(&href).await;
    let mut at = absolute(&app.url("/"), &location(&started).expect("to the upstream"));
    // The upstream's own pages, up to its login form.
    let form_page = loop {
        let response = browser.get(&at).await;
        match location(&response) {
            Some(next) => at = absolute(&at, &next),
            None => break response.text().await.expect("upstream page"),
        }
    };
    let action = form_page
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the upstream's login form");
    let mut response = browser
        .post_form(&absolute(&at, action), &[("login", login)])
        .await;
    // Back through the upstream's redirects to our callback.
    loop {
        let next = absolute(&at, &location(&response).expect("the upstream redirects"));
        at = next.clone();
        if next.starts_with(&app.url("/connexion/agent/retour")) {
            return browser.get(&forge(&next)).await;
        }
        response = browser.get(&next).await;
    }
}

/// The provider's answer after the CGU interstitial a first login meets.
async fn accept_cgu(browser: &Browser, response: reqwest::Response) -> reqwest::Response {
    assert_eq!(response.status(), 200, "the CGU interstitial");
    let html = response.text().await.expect("page");
    let step = hidden_field(&html, "step").expect("step");
    browser
        .post_form(
            "/cgu/accepter",
            &[
                ("csrf", &csrf_of(&html)),
                ("step", &step),
                ("accepte", "oui"),
            ],
        )
        .await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.count(sql, "").await
}

#[tokio::test]
async fn an_agent_logs_in_upstream_gets_an_account_the_agents_pages_and_the_waiting_client_its_code()
 {
    let (app, _upstream) = app_and_upstream("").await;
    let client = app.client("rp-agent").await;
    let browser = app.browser();
    let (_, login_uri) = browser.follow(&auth_url(&app, &client, &[])).await;
    assert!(login_uri.contains("authreq="), "{login_uri}");
    let back = agent_login(&app, &browser, &login_uri, "carte.jeanne@travail.gouv.fr").await;
    let next = location(&accept_cgu(&browser, back).await).expect("after the CGU");
    assert!(
        next.starts_with("/authorize/continue?authreq="),
        "the request kept: {next}"
    );
    let (response, at) = browser.follow(&next).await;
    let out = match location(&response) {
        Some(out) => out,
        None => browser.consent(&at, "allow").await,
    };
    assert!(query_of(&out).contains_key("code"), "{out}");
    assert_eq!(browser.get("/agent").await.status(), 200, "agent pages");

    let users = "SELECT COUNT(*) FROM users WHERE email = 'carte.jeanne@travail.gouv.fr' AND password_hash IS NULL AND given_name = 'carte' AND $1 = ''";
    assert_eq!(count(&app, users).await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM upstream_links WHERE subject = 'agent-carte.jeanne@travail.gouv.fr' AND $1 = ''").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'user.created' AND details LIKE '%ministere%' AND $1 = ''").await, 1);

    // The second login goes through the link: no new account, an `upstream.login` event with
    // the upstream's smart-card `amr`.
    let browser = app.browser();
    let back = agent_login(&app, &browser, "/connexion", "carte.jeanne@travail.gouv.fr").await;
    assert_eq!(location(&back).as_deref(), Some("/"));
    assert_eq!(browser.get("/agent").await.status(), 200);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM users WHERE $1 = ''").await,
        1
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'upstream.login' AND details LIKE '%hwk%' AND $1 = ''").await, 1);
}

#[tokio::test]
async fn without_an_upstream_the_login_page_has_no_agent_button() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/connexion").await.text().await.unwrap();
    assert!(!page.contains("AGENT DU MINISTÈRE"));
    assert_eq!(
        app.browser()
            .get("/connexion/agent/ministere")
            .await
            .status(),
        404
    );
}

/// A failed login: a French page, no account, no link, an `upstream.login_failed` event.
async fn refused(app: &TestApp, response: reqwest::Response, reason: &str, status: u16) {
    assert_eq!(response.status(), status);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Connexion agent impossible") || page.contains("domaine autorisé"),
        "{page}"
    );
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM users WHERE $1 = ''").await,
        0
    );
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM upstream_links WHERE $1 = ''").await,
        0
    );
    let event = format!(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'upstream.login_failed' AND details LIKE '%{reason}%' AND $1 = ''"
    );
    assert_eq!(count(app, &event).await, 1, "{reason}");
}

#[tokio::test]
async fn a_token_with_another_nonce_is_refused() {
    let (app, _upstream) = app_and_upstream("nonce").await;
    let browser = app.browser();
    let back = agent_login(&app, &browser, "/connexion", "jeanne@travail.gouv.fr").await;
    refused(&app, back, "id_token_nonce", 502).await;
    assert_eq!(browser.get("/agent").await.status(), 303, "no session");
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let (app, _upstream) = app_and_upstream("iss").await;
    let browser = app.browser();
    let back = agent_login(&app, &browser, "/connexion", "jeanne@travail.gouv.fr").await;
    refused(&app, back, "id_token_issuer", 502).await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let (app, _upstream) = app_and_upstream("exp").await;
    let browser = app.browser();
    let back = agent_login(&app, &browser, "/connexion", "jeanne@travail.gouv.fr").await;
    refused(&app, back, "id_token_expired", 502).await;
}

/// The callback `url` with its `iss` replaced by `iss` (removed if `None`); panics if the
/// upstream sent none.
fn with_iss(url: &str, iss: Option<&str>) -> String {
    let mut forged = reqwest::Url::parse(url).unwrap();
    let mut pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let sent = pairs.len();
    pairs.retain(|(k, _)| k != "iss");
    assert_eq!(pairs.len() + 1, sent, "oidc-provider sends iss: {url}");
    pairs.extend(iss.map(|i| ("iss".to_owned(), i.to_owned())));
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    forged.to_string()
}

#[tokio::test]
async fn a_callback_without_the_upstreams_iss_is_refused_as_a_mix_up() {
    // oidc-provider says `authorization_response_iss_parameter_supported` and sends `iss`.
    let (app, _upstream) = app_and_upstream("").await;
    // Another provider's `iss`, then none.
    for iss in [Some("https://faux-fournisseur.example"), None] {
        let browser = app.browser();
        let forge = |url: &str| with_iss(url, iss);
        let back = agent_login_via(
            &app,
            &browser,
            "/connexion",
            "jeanne@travail.gouv.fr",
            forge,
        )
        .await;
        assert_eq!(back.status(), 502, "{iss:?}");
        let page = back.text().await.unwrap();
        assert!(page.contains("Connexion agent impossible"), "{page}");
        assert_eq!(browser.get("/agent").await.status(), 303, "no session");
    }
    let failed = "SELECT COUNT(*) FROM audit_events WHERE action = 'upstream.login_failed' AND details LIKE '%authorization_response_iss%' AND $1 = ''";
    assert_eq!(count(&app, failed).await, 2);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM users WHERE $1 = ''").await,
        0
    );
    // The same callback, untouched, logs in: the check is not what refused it.
    let back = agent_login(&app, &app.browser(), "/connexion", "jeanne@travail.gouv.fr").await;
    assert_eq!(back.status(), 200, "the CGU of a first login");
}

#[tokio::test]
async fn a_disallowed_domain_or_an_upstream_refusal_creates_nothing() {
    let (app, _upstream) = app_and_upstream("").await;
    let back = agent_login(&app, &app.browser(), "/connexion", "jeanne@example.com").await;
    refused(&app, back, "domain_not_allowed", 403).await;
    let back = agent_login(&app, &app.browser(), "/connexion", "refuse@travail.gouv.fr").await;
    assert_eq!(back.status(), 403);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'upstream.login_failed' AND details LIKE '%upstream_refused%' AND $1 = ''").await, 1);
}

/// The provider with one upstream at `issuer` that is not an `oidc-provider`.
async fn app_with_issuer(issuer: String) -> TestApp {
    TestApp::spawn_with(|config| {
        config.agents.upstreams = vec![idp::config::UpstreamConfig {
            id: UPSTREAM.into(),
            label: "Fédération".into(),
            issuer,
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            allowed_domains: vec!["travail.gouv.fr".into()],
        }];
        config.agents.timeout_seconds = 1;
    })
    .await
}

#[tokio::test]
async fn an_unreachable_or_silent_upstream_gives_a_french_page_and_an_audit_event() {
    let app = app_with_issuer(format!("http://127.0.0.1:{}", free_port())).await;
    let response = app.browser().get("/connexion/agent/ministere").await;
    refused(&app, response, "upstream_unreachable", 502).await;

    // An upstream that accepts connections and never answers: the timeout (1 s here).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = app_with_issuer(issuer).await;
    let started = std::time::Instant::now();
    let response = app.browser().get("/connexion/agent/ministere").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    refused(&app, response, "upstream_unreachable", 502).await;
}

#[tokio::test]
async fn an_existing_account_is_linked_only_after_its_password_and_agent_status_follows_the_upstream()
 {
    let (app, _upstream) = app_and_upstream("").await;
    let local = app.user("paul@travail.gouv.fr").await;
    app.accept_current_cgu(&local.id).await;
    let browser = app.browser();
    let back = agent_login(&app, &browser, "/connexion", "paul@travail.gouv.fr").await;
    let ask = location(&back).expect("to the password page");
    assert!(ask.starts_with("/connexion/agent/rattacher?step="), "{ask}");
    let html = browser.get(&ask).await.text().await.unwrap();
    let step = hidden_field(&html, "step").unwrap();
    // Not linked by the address alone: a wrong password links nothing.
    let wrong = browser
        .post_form(
            "/connexion/agent/rattacher",
            &[
                ("csrf", &csrf_of(&html)),
                ("step", &step),
                ("password", "mauvais-mot-de-passe"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM upstream_links WHERE $1 = ''").await,
        0
    );
    let html = wrong.text().await.unwrap();
    let right = browser
        .post_form(
            "/connexion/agent/rattacher",
            &[
                ("csrf", &csrf_of(&html)),
                ("step", &step),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&right).as_deref(), Some("/"));
    let linked = format!(
        "SELECT COUNT(*) FROM upstream_links WHERE user_id = '{}' AND $1 = ''",
        local.id
    );
    assert_eq!(count(&app, &linked).await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'upstream.linked' AND $1 = ''"
        )
        .await,
        1
    );
    assert_eq!(
        browser.get("/agent").await.status(),
        200,
        "an agent through the upstream"
    );

    // The same person with the local password only: no agent pages (the upstream says who is
    // an agent; the CLI flag is for break-glass accounts).
    let local_browser = app.browser();
    let response = local_browser
        .submit_login("/connexion", "paul@travail.gouv.fr", PASSWORD)
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(local_browser.get("/agent").await.status(), 403);
}

/// The claims of a token response's ID token (its signature is tested with the token endpoint).
fn id_token_claims(tokens: &Value) -> Value {
    let jwt = tokens["id_token"].as_str().expect("an ID token");
    serde_json::from_slice(&B64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

#[tokio::test]
async fn ministry_agent_is_true_for_a_login_the_upstream_accepted_only() {
    let (app, _upstream) = app_and_upstream("").await;
    let client = app
        .client_with("rp-agent", |c| c.scopes.push("habilitations".into()))
        .await;
    let scope = "openid habilitations offline_access";
    let browser = app.browser();
    let (_, login_uri) = browser
        .follow(&auth_url_for(&app, &client, scope, &[]))
        .await;
    let back = agent_login(&app, &browser, &login_uri, "jeanne@travail.gouv.fr").await;
    let tokens = browser
        .tokens_after(&app, &client, accept_cgu(&browser, back).await)
        .await;
    assert_eq!(id_token_claims(&tokens)["ministry_agent"], true);
    let (_, info) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["ministry_agent"], true);
    // The grant keeps the login's standing: a refresh says the same.
    let (status, refreshed) =
        refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(id_token_claims(&refreshed)["ministry_agent"], true);

    // A linked account whose upstream address is no longer of an allowed domain (linked when
    // `example.com` was): the upstream login is refused, and the account's own password makes
    // no agent.
    let local = app.user("jean@example.com").await;
    app.accept_current_cgu(&local.id).await;
    sqlx::query("INSERT INTO upstream_links (issuer, subject, user_id, created_at, last_login_at) VALUES ($1, $2, $3, 0, 0)")
        .bind(&app.state.config.agents.upstreams[0].issuer)
        .bind("agent-jean@example.com")
        .bind(&local.id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let browser = app.browser();
    let (_, login_uri) = browser
        .follow(&auth_url_for(&app, &client, scope, &[]))
        .await;
    let back = agent_login(&app, &browser, &login_uri, "jean@example.com").await;
    assert_eq!(back.status(), 403);
    assert!(back.text().await.unwrap().contains("domaine autorisé"));
    let failed = "SELECT COUNT(*) FROM audit_events WHERE action = 'upstream.login_failed' AND details LIKE '%domain_not_allowed%' AND $1 = ''";
    assert_eq!(count(&app, failed).await, 1);
    assert_eq!(browser.get("/agent").await.status(), 303, "no session");
    let response = browser
        .submit_login(&login_uri, "jean@example.com", PASSWORD)
        .await;
    let tokens = browser.tokens_after(&app, &client, response).await;
    assert_eq!(id_token_claims(&tokens)["ministry_agent"], false);
    let (_, info) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["ministry_agent"], false);
}

/// An agent logged in upstream through `client` (asking `openid`): the browser and our ID
/// token.
async fn agent_with_id_token(app: &TestApp, client: &TestClient) -> (Browser, String) {
    let browser = app.browser();
    let (_, login_uri) = browser.follow(&auth_url(app, client, &[])).await;
    let back = agent_login(app, &browser, &login_uri, "jeanne@travail.gouv.fr").await;
    let tokens = browser
        .tokens_after(app, client, accept_cgu(&browser, back).await)
        .await;
    let id_token = tokens["id_token"].as_str().expect("an ID token").to_owned();
    (browser, id_token)
}

#[tokio::test]
async fn logging_out_ends_the_upstream_session_too_then_goes_where_our_logout_goes() {
    let (app, _upstream) = app_and_upstream("").await;
    let client = app.client("rp-agent").await;
    let (browser, id_token) = agent_with_id_token(&app, &client).await;
    let logout = format!(
        "/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=etat-du-client",
        idp_tests::POST_LOGOUT_URI
    );
    let response = browser.get(&logout).await;
    assert_eq!(
        browser.get("/agent").await.status(),
        303,
        "our session ended"
    );
    let at = location(&response).expect("to the upstream's logout");
    let issuer = &app.state.config.agents.upstreams[0].issuer;
    assert!(at.starts_with(&format!("{issuer}/session/end?")), "{at}");
    let sent = query_of(&at);
    assert_eq!(
        sent["post_logout_redirect_uri"],
        app.url("/deconnexion/agent")
    );
    assert!(!sent["id_token_hint"].is_empty());
    for cookie in response.headers().get_all("set-cookie") {
        let cookie = cookie.to_str().unwrap();
        assert!(!cookie.contains(&sent["id_token_hint"]), "{cookie}");
    }
    // The upstream asks its own confirmation (oidc-provider's form), then comes back to us.
    let page = browser.get(&at).await.text().await.unwrap();
    let xsrf = hidden_field(&page, "xsrf").expect("the upstream's logout form");
    let confirmed = browser
        .post_form(
            &format!("{issuer}/session/end/confirm"),
            &[("xsrf", &xsrf), ("logout", "yes")],
        )
        .await;
    let back = location(&confirmed).expect("back from the upstream");
    assert!(back.starts_with(&app.url("/deconnexion/agent?")), "{back}");
    let out = location(&browser.get(&back).await).expect("our logout goes on");
    assert_eq!(
        out,
        format!("{}?state=etat-du-client", idp_tests::POST_LOGOUT_URI)
    );
    // Logged out upstream too: the next agent login meets the upstream's login form again.
    let again = agent_login(&app, &browser, "/connexion", "jeanne@travail.gouv.fr").await;
    assert_eq!(location(&again).as_deref(), Some("/"));
    // A forged return (unknown `state`) redirects nowhere but to our page.
    let forged = browser.get("/deconnexion/agent?state=invente").await;
    assert_eq!(forged.status(), 200);
}

#[tokio::test]
async fn an_upstream_without_logout_is_skipped() {
    let (app, _upstream) = app_and_upstream("no-logout").await;
    let client = app.client("rp-agent").await;
    let (browser, id_token) = agent_with_id_token(&app, &client).await;
    let response = browser
        .get(&format!("/logout?id_token_hint={id_token}"))
        .await;
    assert_eq!(response.status(), 200, "our logged-out page at once");
    assert_eq!(browser.get("/agent").await.status(), 303);
}

#[tokio::test]
async fn with_the_mfa_setting_an_agent_needs_the_upstreams_second_factor_for_the_agents_pages() {
    let port = free_port();
    let app = TestApp::spawn_with(|config| {
        config.agents.upstreams = vec![upstream_config(port)];
        config.assurance.mfa_for_managers_and_agents = true;
    })
    .await;
    let _upstream = start_upstream(&app, port, "").await;
    // A smart card upstream: two factors here, the agents' pages open.
    let browser = app.browser();
    let back = agent_login(&app, &browser, "/connexion", "carte.jeanne@travail.gouv.fr").await;
    accept_cgu(&browser, back).await;
    assert_eq!(browser.get("/agent").await.status(), 200);
    // A password upstream: the agents' pages ask for a login with the second factor there.
    let browser = app.browser();
    let back = agent_login(&app, &browser, "/connexion", "paul@travail.gouv.fr").await;
    accept_cgu(&browser, back).await;
    let (status, page) = browser.page("/agent").await;
    assert_eq!(status, 403);
    assert_shows(&page, "reconnectez-vous avec « AGENT DU MINISTÈRE »");
}
