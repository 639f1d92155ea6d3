use std::time::Duration;

use idp_tests::*;

#[tokio::test]
async fn a_user_logs_in_and_the_client_gets_a_code() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user("alice@centre.fr").await;
    let out = app.authorized(&client, "alice@centre.fr").await;
    let q = query_of(&out);
    assert!(out.starts_with(REDIRECT_URI), "{out}");
    assert_eq!(q["state"], "etat-123");
    assert_eq!(q["iss"], app.issuer);
    let response = exchange_code(&app, &client, &q["code"], &[]).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["id_token"].is_string(), "{body}");
}

/// A client that opens a connection per request, so each one meets the server's current state.
fn fresh_connections() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

#[tokio::test]
async fn at_shutdown_readyz_fails_first_while_requests_are_still_served() {
    let mut app = TestApp::spawn_with(|c| c.shutdown_drain_seconds = 2).await;
    let http = fresh_connections();
    let base = app.base.clone();
    let status = |path: &'static str| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move { http.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(status("/readyz").await.unwrap(), 200);

    app.begin_shutdown();
    assert!(
        eventually(Duration::from_secs(1), || async {
            status("/readyz").await.ok() == Some(503)
        })
        .await,
        "/readyz answers 503 once shutdown began"
    );
    // Draining, not gone: the load balancer's stragglers are still answered.
    assert_eq!(status("/healthz").await.unwrap(), 200);
    assert_eq!(
        status("/.well-known/openid-configuration").await.unwrap(),
        200
    );
    // Then the node stops accepting.
    assert!(
        eventually(Duration::from_secs(5), || async {
            status("/healthz").await.is_err()
        })
        .await,
        "the node stops accepting after the drain"
    );
}
