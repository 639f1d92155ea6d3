//! Revoked access tokens without recorded tokens: each node checks a token against its
//! in-memory list of revocations (`oidc::denylist`) and its cached client registrations. These
//! tests pin down what must stop working, when, and on which node.

use std::time::Duration;

use idp::{oidc::clients, store::now};
use idp_tests::*;
use serde_json::Value;

/// Tokens of `client` for a user logged in on `app`.
async fn tokens(app: &TestApp, client: &TestClient, email: &str) -> Value {
    let out = app.authorized(client, email).await;
    let code = query_of(&out)["code"].clone();
    let (status, tokens) = json(exchange_code(app, client, &code, &[]).await).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// Introspected by `by` on `app`, `token` is active or not, as `expected`.
async fn assert_active(app: &TestApp, by: &TestClient, token: &str, expected: bool) {
    let answer = introspect(app, by, token).await;
    assert_eq!(answer["active"], expected, "{answer}");
}

/// `token` refreshed by `client`: the new tokens (asserted 200).
async fn refreshed(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let (status, tokens) = refresh(app, client, token).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// `token` is refused a refresh by `client` as `invalid_grant`.
async fn refresh_refused(app: &TestApp, client: &TestClient, token: &str) {
    let (status, body) = refresh(app, client, token).await;
    assert_error(status, &body, 400, "invalid_grant");
}

/// Clients `rp` and `rs` (allowed to introspect rp's tokens) of `app` and alice's tokens of
/// `rp`, its access token active as `rs` introspects it on `seen_on`: `(rp, rs, tokens, access token)`.
async fn live_access(app: &TestApp, seen_on: &TestApp) -> (TestClient, TestClient, Value, String) {
    let rp = app.client("rp").await;
    // The resource server is registered to see rp's tokens (`idp clients --introspects rp`).
    let rs = app
        .client_with("rs", |reg| reg.introspects = vec!["rp".into()])
        .await;
    app.user("alice@centre.fr").await;
    let issued = tokens(app, &rp, "alice@centre.fr").await;
    let access = string(&issued, "access_token");
    assert_active(seen_on, &rs, &access, true).await;
    (rp, rs, issued, access)
}

/// The client `rp` of `app`, and alice's tokens of it.
async fn rp_with_tokens(app: &TestApp) -> (TestClient, Value) {
    let rp = app.client("rp").await;
    app.user("alice@centre.fr").await;
    let issued = tokens(app, &rp, "alice@centre.fr").await;
    (rp, issued)
}

async fn userinfo_status(app: &TestApp, token: &str) -> u16 {
    userinfo(app, token).await.0
}

async fn revoke(app: &TestApp, client: &TestClient, token: &str) {
    let status = app
        .client_post(client, "/revoke", &[("token", token)])
        .await
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_revoked_access_token_stops_alone_and_a_revoked_refresh_token_stops_its_grant() {
    let app = TestApp::spawn().await;
    let (rp, rs, first, access) = live_access(&app, &app).await;
    // Nothing is written for an issued token: only revocations are listed.
    assert!(app.revoked_keys().await.is_empty());

    revoke(&app, &rp, &access).await;
    assert_active(&app, &rs, &access, false).await;
    assert_eq!(userinfo_status(&app, &access).await, 401);
    let keys = app.revoked_keys().await;
    assert_eq!(keys.len(), 1);
    assert!(keys[0].starts_with("jti:"), "{keys:?}");

    // The grant lives on: its refresh token gives a working access token.
    let second = refreshed(&app, &rp, &string(&first, "refresh_token")).await;
    let access2 = string(&second, "access_token");
    assert_active(&app, &rs, &access2, true).await;
    assert_eq!(userinfo_status(&app, &access2).await, 200);

    // Revoking the refresh token ends the grant: the access token issued with it stops too.
    revoke(&app, &rp, &string(&second, "refresh_token")).await;
    assert_active(&app, &rs, &access2, false).await;
    assert_eq!(userinfo_status(&app, &access2).await, 401);
    assert!(
        app.revoked_keys()
            .await
            .iter()
            .any(|k| k.starts_with("grant:")),
        "the grant is listed"
    );
}

#[tokio::test]
async fn a_deleted_client_loses_its_tokens_even_when_its_id_is_registered_again() {
    // Registrations are re-read every second here, so the deletion shows without waiting 5 s.
    let app = TestApp::spawn_with(|c| c.clients.cache_seconds = 1).await;
    let (rp, rs, issued, access) = live_access(&app, &app).await;

    assert!(
        clients::delete_client(&app.state.db, "rp")
            .await
            .expect("db")
    );
    // Also a second later than the token: registrations and tokens are dated to the second,
    // and a client registered in the second of a token would validate it (a known limit).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_active(&app, &rs, &access, false).await;
    assert_eq!(userinfo_status(&app, &access).await, 401);
    // Its secret no longer authenticates it.
    let (status, body) = refresh(&app, &rp, &string(&issued, "refresh_token")).await;
    assert_error(status, &body, 401, "invalid_client");

    // A new client under the same id does not inherit the old one's tokens.
    let again = app.client("rp").await;
    assert_active(&app, &rs, &access, false).await;
    assert_eq!(userinfo_status(&app, &access).await, 401);
    let fresh = tokens(&app, &again, "alice@centre.fr").await;
    assert_active(&app, &rs, &string(&fresh, "access_token"), true).await;
}

#[tokio::test]
async fn revocations_are_purged_once_no_token_they_name_can_live() {
    let app = TestApp::spawn().await;
    let (rp, issued) = rp_with_tokens(&app).await;
    revoke(&app, &rp, &string(&issued, "access_token")).await;
    app.add_revocation("jti:old", now() - 1).await;
    assert_eq!(app.revoked_keys().await.len(), 2);

    // The purge is done by the node holding the scheduler's lease (this app's own scheduler
    // may have taken it already).
    let holder = app
        .state
        .ephemeral
        .get("lease:key-scheduler")
        .await
        .expect("store")
        .unwrap_or_else(|| "node-1".into());
    app.state.key_tick(&holder).await.expect("scheduler round");
    let keys = app.revoked_keys().await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("jti:") && keys[0] != "jti:old");
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it there (--include-ignored)"]
async fn a_revocation_on_one_node_holds_at_once_on_the_other() {
    let (a, b) = TestApp::two_nodes().await;
    // B has the list loaded and warm before the revocation.
    let (rp, rs, issued, access) = live_access(&a, &b).await;

    revoke(&a, &rp, &access).await;
    assert_active(&b, &rs, &access, false).await;
    assert_eq!(userinfo_status(&b, &access).await, 401);

    // A grant revoked through B is refused by A at once.
    let second = refreshed(&a, &rp, &string(&issued, "refresh_token")).await;
    let access2 = string(&second, "access_token");
    assert_eq!(userinfo_status(&a, &access2).await, 200);
    revoke(&b, &rp, &string(&second, "refresh_token")).await;
    assert_eq!(userinfo_status(&a, &access2).await, 401);

    // Redis wiped (its shared version gone): the nodes reload from the database and still
    // refuse both tokens.
    a.state
        .ephemeral
        .delete("revocations:version")
        .await
        .expect("redis");
    for node in [&a, &b] {
        assert_active(node, &rs, &access, false).await;
        assert_active(node, &rs, &access2, false).await;
    }
}

#[tokio::test]
async fn a_refused_refresh_leaves_the_refresh_token_usable_and_a_reuse_ends_the_family() {
    let app = TestApp::spawn().await;
    let (rp, issued) = rp_with_tokens(&app).await;
    let refresh_token = string(&issued, "refresh_token");

    // A scope beyond the grant is refused, and the token is not spent by the refusal.
    let (status, body) = json(
        token_request(
            &app,
            &rp,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.as_str()),
                ("scope", "openid habilitations"),
            ],
        )
        .await,
    )
    .await;
    assert_error(status, &body, 400, "invalid_scope");
    let rotated = refreshed(&app, &rp, &refresh_token).await;

    // The spent token presented again ends the family: its successor and access token too.
    refresh_refused(&app, &rp, &refresh_token).await;
    refresh_refused(&app, &rp, &string(&rotated, "refresh_token")).await;
    assert_eq!(
        userinfo_status(&app, &string(&rotated, "access_token")).await,
        401
    );
}

/// A refresh token past its lifetime (read on the provider's clock) neither refreshes nor
/// introspects as active; before that it does both.
#[tokio::test]
async fn an_expired_refresh_token_is_refused_on_the_provider_clock() {
    let app = TestApp::spawn().await;
    let (rp, issued) = rp_with_tokens(&app).await;
    let first = string(&issued, "refresh_token");
    assert_active(&app, &rp, &first, true).await;
    let renewed = refreshed(&app, &rp, &first).await;
    let second = string(&renewed, "refresh_token");

    let ttl = app.state.config.tokens.refresh_token_ttl_seconds;
    app.state.clock.advance(Duration::from_secs(ttl + 1));
    assert_active(&app, &rp, &second, false).await;
    refresh_refused(&app, &rp, &second).await;
}

/// Changes `email`'s identity through « Mon compte » on `app`: family name `family_name`.
async fn rename(app: &TestApp, email: &str, family_name: &str) {
    let browser = app.browser();
    let login = browser.submit_login("/connexion", email, PASSWORD).await;
    assert_eq!(login.status(), 303);
    let answer = browser
        .post_to(
            "/compte/identite",
            &[
                ("civilite", "madame"),
                ("nom", family_name),
                ("prenom", "Alice"),
                ("poste", ""),
            ],
        )
        .await;
    assert_eq!(answer.status(), 303, "identity saved");
}

/// Userinfo remembers accounts per node (`oidc::known_accounts`): what it remembered is
/// forgotten as soon as the account changes, and never outlives a revocation.
#[tokio::test]
async fn userinfo_shows_an_identity_change_at_the_next_request() {
    let app = TestApp::spawn().await;
    let (_, issued) = rp_with_tokens(&app).await;
    let access = string(&issued, "access_token");
    for _ in 0..2 {
        let (status, info) = userinfo(&app, &access).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["family_name"], "Martin");
    }
    rename(&app, "alice@centre.fr", "Durand").await;
    let (status, info) = userinfo(&app, &access).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(
        info["family_name"], "Durand",
        "the remembered account was forgotten"
    );

    // A revocation made meanwhile is not hidden by what the node remembers.
    let rp = app.client("rp2").await;
    let other = tokens(&app, &rp, "alice@centre.fr").await;
    let other_access = string(&other, "access_token");
    assert_eq!(userinfo_status(&app, &other_access).await, 200);
    revoke(&app, &rp, &other_access).await;
    assert_eq!(userinfo_status(&app, &other_access).await, 401);
    assert_eq!(userinfo_status(&app, &access).await, 200);
}
