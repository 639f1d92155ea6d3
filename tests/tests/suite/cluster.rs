//! Two nodes of one deployment (same PostgreSQL database, same Redis key space): whatever one
//! node hands out, the other honours. Only meaningful on PostgreSQL + Redis: on SQLite these
//! tests are reported as skipped (marked ignored; `scripts/test.sh` runs them on PostgreSQL + Redis
//! with `--include-ignored`, and `Backend::require_cluster` fails them without those servers).

use std::time::Duration;

use idp::{
    keys::{
        SigningAlg,
        rotation::{self, KeyPolicy, KeyState},
    },
    store::now,
};
use idp_tests::*;

async fn served_kids(app: &TestApp) -> Vec<String> {
    let jwks = app.get_json("/jwks").await;
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| string(k, "kid"))
        .collect()
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it there (--include-ignored)"]
async fn a_login_on_one_node_is_honoured_by_the_other() {
    let (a, b) = TestApp::two_nodes().await;
    assert_ne!(a.base, b.base);
    let client = a.client("rp").await;
    let user = a.user("alice@centre.fr").await;

    // Log in on A; exchange the code at B.
    let browser = a.browser();
    let out = browser
        .authorize(&auth_url(&a, &client, &[]), "alice@centre.fr")
        .await;
    let code = query_of(&out)["code"].clone();
    let (status, tokens) = json(exchange_code(&b, &client, &code, &[]).await).await;
    assert_eq!(status, 200, "{tokens}");

    // A serves userinfo for B's access token; B refreshes.
    let (status, info) = userinfo(&a, &string(&tokens, "access_token")).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], user.id.as_str());
    let (status, refreshed) = refresh(&b, &client, &string(&tokens, "refresh_token")).await;
    assert_eq!(status, 200, "{refreshed}");
    let (status, _) = userinfo(&a, &string(&refreshed, "access_token")).await;
    assert_eq!(status, 200);
    // The spent refresh token is spent everywhere.
    let (status, body) = refresh(&a, &client, &string(&tokens, "refresh_token")).await;
    assert_error(status, &body, 400, "invalid_grant");

    // The session made on A lets B answer prompt=none with a code.
    let on_b = browser.on(&b.base);
    let (response, _) = on_b
        .follow(&auth_url(&b, &client, &[("prompt", "none")]))
        .await;
    let out = location(&response).expect("B redirects back to the client");
    let q = query_of(&out);
    assert!(out.starts_with(REDIRECT_URI), "{out}");
    assert!(q.contains_key("code"), "B honours A's session: {out}");
    assert_eq!(q["iss"], a.issuer);
    let (status, tokens) = json(exchange_code(&a, &client, &q["code"], &[]).await).await;
    assert_eq!(status, 200, "{tokens}");

    // A fresh browser without the session gets login_required from B.
    let (response, _) = b
        .browser()
        .follow(&auth_url(&b, &client, &[("prompt", "none")]))
        .await;
    let out = location(&response).expect("redirect");
    assert_eq!(query_of(&out)["error"], "login_required", "{out}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it there (--include-ignored)"]
async fn a_code_is_single_use_across_nodes() {
    let (a, b) = TestApp::two_nodes().await;
    let client = a.client("rp").await;
    a.user("alice@centre.fr").await;
    let out = a.authorized(&client, "alice@centre.fr").await;
    let code = query_of(&out)["code"].clone();

    let (status, tokens) = json(exchange_code(&a, &client, &code, &[]).await).await;
    assert_eq!(status, 200, "{tokens}");
    let (status, body) = json(exchange_code(&b, &client, &code, &[]).await).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");

    // The replay revoked what the code produced, on every node.
    let (status, _) = userinfo(&b, &string(&tokens, "access_token")).await;
    assert_eq!(status, 401);
    let (status, body) = refresh(&a, &client, &string(&tokens, "refresh_token")).await;
    assert_error(status, &body, 400, "invalid_grant");
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it there (--include-ignored)"]
async fn a_key_rotated_through_one_node_is_published_by_the_other() {
    Backend::require_cluster();
    let a = TestApp::spawn_with(|c| c.keys.prepublication_seconds = 2).await;
    let b = a.another_node().await;
    let old = signing_kid(&b, SigningAlg::RS256);
    let policy = KeyPolicy::from_config(&a.state.config);
    let new = rotation::rotate(
        &a.state.db,
        &a.state.kek,
        &policy,
        SigningAlg::RS256,
        now(),
        "test",
    )
    .await
    .expect("rotation on A");

    let refresh = Duration::from_secs(a.state.config.keys.refresh_interval_seconds);
    assert!(
        eventually(refresh * 3, || async {
            let kids = served_kids(&b).await;
            kids.contains(&new.kid) && kids.contains(&old)
        })
        .await,
        "B publishes the key rotated through A"
    );
    assert!(
        eventually(refresh * 3 + Duration::from_secs(2), || async {
            b.state
                .keys
                .current()
                .signer(SigningAlg::RS256)
                .is_some_and(|s| s.kid == new.kid)
        })
        .await,
        "B signs with it once it activates"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it there (--include-ignored)"]
async fn exactly_one_node_runs_a_due_scheduled_rotation() {
    Backend::require_cluster();
    // Keys are due for rotation after a second; the nodes' own tickers run once at start and
    // then not for an hour, so the ticks below are the only ones in play.
    let a = TestApp::spawn_with(|c| {
        c.keys.rotation_interval_seconds = 1;
        c.keys.prepublication_seconds = 0;
        c.keys.refresh_interval_seconds = 3600;
    })
    .await;
    let b = a.another_node().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let lease = "lease:key-scheduler";
    a.state.ephemeral.delete(lease).await.expect("free lease");
    let before = rotation::list(&a.state.db, now()).await.expect("keys");
    let (ra, rb) = tokio::join!(a.state.key_tick("node-a"), b.state.key_tick("node-b"));
    ra.expect("tick on A");
    rb.expect("tick on B");
    let after = rotation::list(&a.state.db, now()).await.expect("keys");

    assert_eq!(
        after.len(),
        before.len() + 2,
        "one new key per algorithm, made by one node: {after:#?}"
    );
    for alg in SigningAlg::ALL {
        let new: Vec<_> = after
            .iter()
            .filter(|k| k.alg == alg.as_str() && !before.iter().any(|o| o.kid == k.kid))
            .collect();
        assert_eq!(new.len(), 1, "{alg:?}: {new:#?}");
        assert_ne!(new[0].state, KeyState::Revoked);
    }
    let holder = b
        .state
        .ephemeral
        .get(lease)
        .await
        .expect("lease")
        .expect("held");
    assert!(holder == "node-a" || holder == "node-b", "{holder}");

    // The other node, ticking again while the lease is held, does nothing.
    let other = if holder == "node-a" {
        (&b, "node-b")
    } else {
        (&a, "node-a")
    };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    other.0.state.key_tick(other.1).await.expect("tick");
    let again = rotation::list(&a.state.db, now()).await.expect("keys");
    assert_eq!(again.len(), after.len(), "the lease holder alone rotates");
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it there (--include-ignored)"]
async fn a_node_starting_while_another_bootstraps_the_keys_starts_as_soon_as_they_exist() {
    Backend::require_cluster();
    let a = TestApp::spawn().await;
    // An empty key table, and another node holding the bootstrap lease: it is making the keys.
    a.delete_signing_keys().await;
    let lease = "lease:key-bootstrap";
    assert!(
        a.state
            .ephemeral
            .put_if_absent(lease, "other-node", Duration::from_secs(30))
            .await
            .expect("lease")
    );

    let config = (*a.state.config).clone();
    let starting = tokio::spawn(idp::AppState::open(config));
    // The other node takes its time (keys made in a later second than the start).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!starting.is_finished(), "the node waits for the keys");
    let policy = KeyPolicy::from_config(&a.state.config);
    let created = rotation::ensure_signers(&a.state.db, &a.state.kek, &policy, now())
        .await
        .expect("keys made");
    assert_eq!(created.len(), 2);
    a.state.ephemeral.delete(lease).await.expect("release");

    let started = tokio::time::timeout(Duration::from_secs(5), starting)
        .await
        .expect("the node starts within moments of the keys existing")
        .expect("task")
        .unwrap_or_else(|e| panic!("start: {e}"));
    for alg in SigningAlg::ALL {
        let signer = started.keys.current().signer(alg).expect("a signer");
        assert!(created.contains(&signer.kid));
    }
    let keys = rotation::list(&a.state.db, now()).await.expect("keys");
    assert_eq!(keys.len(), 2, "the waiting node made no keys of its own");
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it there (--include-ignored)"]
async fn an_identity_changed_on_one_node_shows_in_userinfo_on_the_other_at_once() {
    let (a, b) = TestApp::two_nodes().await;
    let rp = a.client("rp").await;
    a.user("alice@centre.fr").await;
    let tokens = a
        .browser()
        .tokens(&a, &rp, &auth_url(&a, &rp, &[]), "alice@centre.fr")
        .await;
    let access = string(&tokens, "access_token");
    // Both nodes have read (and remembered) the account.
    for node in [&a, &b] {
        let (status, info) = userinfo(node, &access).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["family_name"], "Martin");
    }
    let browser = a.browser();
    let login = browser
        .submit_login("/connexion", "alice@centre.fr", PASSWORD)
        .await;
    assert_eq!(login.status(), 303);
    let saved = browser
        .post_to(
            "/compte/identite",
            &[
                ("civilite", "madame"),
                ("nom", "Durand"),
                ("prenom", "Alice"),
                ("poste", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    for node in [&b, &a] {
        let (status, info) = userinfo(node, &access).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["family_name"], "Durand", "{}", node.base);
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it there (--include-ignored)"]
async fn an_account_disabled_by_an_operator_is_refused_on_both_nodes() {
    let (a, b) = TestApp::two_nodes().await;
    let rp = a.client("rp").await;
    let rs = a
        .client_with("rs", |reg| reg.introspects = vec!["rp".into()])
        .await;
    a.user("alice@centre.fr").await;
    let tokens = a
        .browser()
        .tokens(&a, &rp, &auth_url(&a, &rp, &[]), "alice@centre.fr")
        .await;
    let access = string(&tokens, "access_token");
    let refresh_token = string(&tokens, "refresh_token");
    let browser = a.browser();
    let login = browser
        .submit_login("/connexion", "alice@centre.fr", PASSWORD)
        .await;
    assert_eq!(login.status(), 303);
    let on_b = browser.on(&b.base);
    assert_eq!(
        on_b.get("/compte").await.status(),
        200,
        "B honours A's session"
    );
    // Both nodes have checked (and cached) the access token before the change.
    for node in [&a, &b] {
        assert_eq!(userinfo(node, &access).await.0, 200);
    }

    let (status, out, err) = a
        .cli(&[
            "users",
            "disable",
            "alice@centre.fr",
            "--reason",
            "fin de mission",
        ])
        .await;
    assert_eq!(status, 0, "{out}{err}");

    for node in [&a, &b] {
        assert_eq!(browser.on(&node.base).get("/compte").await.status(), 303);
        let (status, body) = refresh(node, &rp, &refresh_token).await;
        assert_error(status, &body, 400, "invalid_grant");
        assert_eq!(userinfo(node, &access).await.0, 401);
        let answer = introspect(node, &rs, &access).await;
        assert_eq!(answer["active"], false, "{answer}");
        let refused = node
            .browser()
            .submit_login("/connexion", "alice@centre.fr", PASSWORD)
            .await;
        assert_eq!(refused.status(), 403);
    }
}
