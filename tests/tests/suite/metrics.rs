//! `/metrics`: the Prometheus exposition counts requests by route template and status, logins,
//! rate-limit refusals and issued tokens, and lists the published signing keys with their
//! ages; the main listener serves it only with the configured bearer token, and a dedicated
//! listener (`metrics.listen`) serves it alone.
//!
//! One process, one recorder: these tests compare values before and after, never absolutes.

use idp_tests::{
    METRICS_TOKEN, PASSWORD, TestApp, auth_url, content_type, exchange_code, free_port, location,
    query_of,
};

/// The value of the first sample of `name` whose labels include every `label="value"` given.
fn sample(body: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?;
            if !(rest.is_empty() || rest.starts_with('{')) {
                return None;
            }
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
                .then(|| value.parse::<f64>().ok())?
        })
        .next()
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let r = app
        .http()
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("text/plain; version=0.0.4"));
    r.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_logins_and_tokens_and_list_the_keys() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user("alice@centre.fr").await;
    let before = scrape(&app).await;

    let browser = app.browser();
    let r = browser
        .submit_login("/connexion", "alice@centre.fr", "pas le bon mot de passe")
        .await;
    assert_eq!(r.status(), 401);
    let location_after = browser
        .authorize(&auth_url(&app, &client, &[]), "alice@centre.fr")
        .await;
    let code = query_of(&location_after)["code"].clone();
    assert_eq!(exchange_code(&app, &client, &code, &[]).await.status(), 200);
    let r = browser
        .submit_login("/connexion", "alice@centre.fr", PASSWORD)
        .await;
    assert!(location(&r).is_some());

    let after = scrape(&app).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    assert!(
        delta(
            "idp_http_requests_total",
            &[
                ("route", "/connexion"),
                ("method", "POST"),
                ("status", "401")
            ]
        ) >= 1.0,
        "{after}"
    );
    assert!(
        delta(
            "idp_http_requests_total",
            &[("route", "/token"), ("method", "POST"), ("status", "200")]
        ) >= 1.0
    );
    assert!(delta("idp_logins_total", &[("outcome", "failure")]) >= 1.0);
    assert!(delta("idp_logins_total", &[("outcome", "success")]) >= 2.0);
    assert!(
        delta(
            "idp_tokens_issued_total",
            &[("grant_type", "authorization_code")]
        ) >= 1.0
    );
    assert!(
        delta(
            "idp_http_request_duration_seconds_count",
            &[("route", "/token"), ("method", "POST")]
        ) >= 1.0,
        "{after}"
    );
    // Route templates, never raw paths: a path nobody routes is one series.
    assert!(!after.contains("route=\"/acces/ceres\""));
    let kids: Vec<String> = app.state.keys.current().published_kids.clone();
    for kid in kids {
        assert!(
            after.contains(&format!("idp_signing_key_age_seconds{{kid=\"{kid}\"")),
            "{kid} in {after}"
        );
    }
    assert!(after.contains("state=\"active\""));
    // No secret in the exposition: neither the password nor the client's secret.
    assert!(!after.contains(PASSWORD));
    assert!(!after.contains(client.secret.as_deref().unwrap()));
}

#[tokio::test]
async fn metrics_count_rate_limit_refusals() {
    let app = TestApp::spawn_with(|c| c.limits.login_free_failures = 1).await;
    app.user("bob@centre.fr").await;
    let before = scrape(&app).await;
    let browser = app.browser();
    for _ in 0..3 {
        browser
            .submit_login("/connexion", "bob@centre.fr", "mauvais")
            .await;
    }
    let after = scrape(&app).await;
    let refused = sample(
        &after,
        "idp_rate_limited_total",
        &[("bucket", "login-delay")],
    ) - sample(
        &before,
        "idp_rate_limited_total",
        &[("bucket", "login-delay")],
    );
    assert!(refused >= 2.0, "{after}");
}

/// `GET /metrics` with `token` as the bearer.
async fn metrics_with_token(app: &TestApp, token: &str) -> idp_tests::reqwest::Response {
    app.http()
        .get(app.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn metrics_need_the_configured_token_when_there_is_one() {
    let app = TestApp::spawn_with(|c| c.metrics.token = Some("jeton-de-supervision".into())).await;
    let http = app.http();
    let r = http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404, "a request without the token is refused");
    let r = metrics_with_token(&app, "jeton-de-supervisioN").await;
    assert_eq!(r.status(), 404);
    let r = metrics_with_token(&app, "jeton-de-supervision").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("idp_signing_key_age_seconds")
    );
}

#[tokio::test]
async fn without_a_token_the_main_listener_serves_metrics_to_nobody_not_even_loopback() {
    let app = TestApp::spawn_with(|c| c.metrics.token = None).await;
    // The test client is on the node's own machine, as a reverse proxy in front of it would be.
    let r = app.http().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = metrics_with_token(&app, METRICS_TOKEN).await;
    assert_eq!(r.status(), 404, "no token configured: none is accepted");
}

#[tokio::test]
async fn the_dedicated_listener_serves_metrics_alone() {
    let port = free_port();
    let app = TestApp::spawn_with(|c| {
        c.metrics.token = None;
        c.metrics.listen = Some(([127, 0, 0, 1], port).into());
    })
    .await;
    let http = app.http();
    let dedicated = format!("http://127.0.0.1:{port}");
    let r = http
        .get(format!("{dedicated}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("text/plain; version=0.0.4"));
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("idp_signing_key_age_seconds")
    );
    // Nothing else on that address, and the main listener still refuses.
    for path in ["/healthz", "/connexion", "/jwks"] {
        let r = http.get(format!("{dedicated}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn with_a_token_the_dedicated_listener_asks_for_it_too() {
    let port = free_port();
    let app = TestApp::spawn_with(|c| c.metrics.listen = Some(([127, 0, 0, 1], port).into())).await;
    let http = app.http();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .get(&url)
        .bearer_auth("pas-le-bon")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .get(&url)
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_keeps_the_callers() {
    let app = TestApp::spawn().await;
    let http = app.http();
    let r = http.get(app.url("/healthz")).send().await.unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 36, "a UUID: {made}");
    let r = http
        .get(app.url("/healthz"))
        .header("x-request-id", "appel-support-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "appel-support-42");
}
