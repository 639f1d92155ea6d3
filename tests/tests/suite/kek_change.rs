//! Changing the key-encryption key (docs/operations.md, « Changing the key-encryption key »):
//! the new KEK current and the old one previous, `idp keys rewrap` re-seals everything in one
//! transaction, nodes with either KEK keep working throughout, and once done the old KEK can go.

use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use idp_tests::*;

/// A new KEK, base64.
fn new_kek() -> String {
    STANDARD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2))
}

/// `idp keys rewrap` with `kek` current and `previous` as the previous KEKs.
async fn rewrap(app: &TestApp, kek: &str, previous: &[&str]) -> (i32, String, String) {
    let previous = format!(
        "[{}]",
        previous
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    app.cli_env(
        &["keys", "rewrap"],
        &[
            ("IDP_KEYS__KEK", kek),
            ("IDP_KEYS__PREVIOUS_KEKS", &previous),
        ],
    )
    .await
}

#[tokio::test]
async fn a_rewrap_moves_everything_to_the_new_kek_and_derived_keys_stay() {
    let app = TestApp::spawn().await;
    let old = app
        .state
        .config
        .keys
        .kek
        .clone()
        .expect("the harness's KEK");
    let code_key = app.code_key();
    app.user("alice@example.fr").await;
    let rp = app.client("rp").await;
    assert!(
        app.authorized(&rp, "alice@example.fr")
            .await
            .contains("code=")
    );

    // Only the new KEK: nothing it opens, so nothing changes.
    let new = new_kek();
    let (status, _, err) = rewrap(&app, &new, &[]).await;
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("indéchiffrable"), "{err}");
    let (status, out, err) = rewrap(&app, &new, &[&old]).await;
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("2 clé(s) de signature") && out.contains("(0 l'étaient déjà)"),
        "{out}"
    );
    let (_, details) = {
        let row: (String, String) = sqlx::query_as(
            "SELECT actor, details FROM audit_events WHERE action = 'kek.rewrapped'",
        )
        .fetch_one(&app.state.db.pool)
        .await
        .expect("audited");
        (
            row.0,
            serde_json::from_str::<serde_json::Value>(&row.1).expect("json"),
        )
    };
    assert_eq!(details["signing_keys"], 2);
    assert_eq!(details["sealed_secrets"], 1, "the derivation root");
    // The old KEK alone no longer opens anything: the change is complete.
    let (status, _, err) = rewrap(&app, &old, &[]).await;
    assert_eq!(status, 2, "{err}");

    // A node with the new KEK only signs, and derives the same keys (codes hashed before match).
    let node = app
        .another_node_with(|c| {
            c.keys.kek = Some(new.clone());
            c.keys.previous_keks = Vec::new();
        })
        .await;
    assert_eq!(node.code_key(), code_key);
    let tokens = node
        .browser()
        .tokens(&node, &rp, &auth_url(&node, &rp, &[]), "alice@example.fr")
        .await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
}

/// Requests that must all succeed against `node`, until `stop`: a `client_credentials` token
/// (a signature), the JWKS, and a login page (CSRF, derived key). Counts requests and failures.
async fn keep_busy(
    node: &TestApp,
    client: &TestClient,
    stop: &AtomicBool,
    [requests, failures]: [&AtomicU64; 2],
) {
    let http = node.http();
    while !stop.load(Ordering::Relaxed) {
        let token = token_request(node, client, &[("grant_type", "client_credentials")]).await;
        let jwks = http.get(node.url("/jwks")).send().await;
        let page = http.get(node.url("/connexion")).send().await;
        for ok in [
            token.status() == 200,
            jwks.is_ok_and(|r| r.status() == 200),
            page.is_ok_and(|r| r.status() == 200),
        ] {
            requests.fetch_add(1, Ordering::Relaxed);
            if !ok {
                failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it there (--include-ignored)"]
async fn the_kek_changes_under_load_on_two_nodes_without_a_failed_request() {
    Backend::require_cluster();
    let a = TestApp::spawn_with(|c| c.keys.refresh_interval_seconds = 1).await;
    let old = a.state.config.keys.kek.clone().expect("KEK");
    let new = new_kek();
    let service = a
        .client_with("service", |reg| {
            reg.grant_types = vec!["client_credentials".into()];
            reg.scopes = vec!["codes:issue".into()];
        })
        .await;
    // Mid-change: A still seals with the old KEK, B already with the new one; each opens both.
    let a = a
        .another_node_with(|c| c.keys.previous_keks = vec![new.clone()])
        .await;
    let b = a
        .another_node_with(|c| {
            c.keys.kek = Some(new.clone());
            c.keys.previous_keks = vec![old.clone()];
        })
        .await;
    let stop = AtomicBool::new(false);
    let (requests, failures) = (AtomicU64::new(0), AtomicU64::new(0));
    let load = async {
        tokio::join!(
            keep_busy(&a, &service, &stop, [&requests, &failures]),
            keep_busy(&b, &service, &stop, [&requests, &failures]),
        )
    };
    let change = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (status, out, err) = rewrap(&a, &new, &[&old]).await;
        assert_eq!(status, 0, "{out}{err}");
        // Both nodes reload their keys (every second here) while the load goes on.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        stop.store(true, Ordering::Relaxed);
    };
    tokio::join!(load, change);
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no request failed during the change"
    );

    // The change done, a node with the new KEK alone serves the same deployment.
    let c = a
        .another_node_with(|c| {
            c.keys.kek = Some(new.clone());
            c.keys.previous_keks = Vec::new();
        })
        .await;
    let response = token_request(&c, &service, &[("grant_type", "client_credentials")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(c.code_key(), a.code_key(), "derived keys unchanged");
}
