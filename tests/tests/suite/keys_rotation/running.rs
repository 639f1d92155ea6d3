//! A running provider rotating and revoking its keys while relying parties keep working.

use super::*;

/// Records a failure seen by one of the relying parties.
fn note(failures: &Mutex<Vec<String>>, failure: String) {
    failures.lock().expect("lock").push(failure);
}

async fn short_timings() -> TestApp {
    TestApp::spawn_with(|c| {
        c.keys.prepublication_seconds = 1;
        c.keys.refresh_interval_seconds = 1;
    })
    .await
}

#[tokio::test]
async fn a_running_provider_rotates_its_keys_without_breaking_tokens_and_a_revoked_key_stops_verifying()
 {
    let app = short_timings().await;
    let client = app.client("rp").await;
    let (_, tokens) = logged_in(&app, &client).await;
    let old_id_token = string(&tokens, "id_token");
    let old_access_token = string(&tokens, "access_token");
    let mut refresh_token = string(&tokens, "refresh_token");
    let old_kid = kid_of(&old_id_token);
    assert_eq!(kid_of(&old_access_token), old_kid);
    assert!(served_kids(&app).await.contains(&old_kid));

    keys_cli(&app, KeysCommand::Rotate { alg: None }).await;
    let new_kids: Vec<String> = keys_at(&app.state.db, real_now())
        .await
        .into_iter()
        .filter(|k| k.alg == "RS256" && k.kid != old_kid)
        .map(|k| k.kid)
        .collect();
    assert_eq!(new_kids.len(), 1, "one new RS256 key: {new_kids:?}");
    let new_kid = new_kids[0].clone();

    // Published first, alongside the old key.
    assert!(
        eventually(Duration::from_secs(10), || async {
            let kids = served_kids(&app).await;
            kids.contains(&old_kid) && kids.contains(&new_kid)
        })
        .await,
        "the JWKS publishes both keys"
    );

    // Then new tokens are signed with the new key.
    let mut latest = Value::Null;
    let mut signed_by_new = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        let (status, body) = refresh(&app, &client, &refresh_token).await;
        assert_eq!(status, 200, "{body}");
        latest = body;
        refresh_token = string(&latest, "refresh_token");
        // One response may straddle the moment the node switches signers (its access token
        // signed just before, its ID token just after): both keys are published then, so that is
        // fine; what must hold is that, from then on, every token carries the new kid.
        if kid_of(&string(&latest, "id_token")) == new_kid
            && kid_of(&string(&latest, "access_token")) == new_kid
        {
            signed_by_new = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(signed_by_new, "new ID tokens carry the new kid: {latest}");
    let new_access_token = string(&latest, "access_token");
    assert_eq!(kid_of(&new_access_token), new_kid);
    assert!(
        served_kids(&app).await.contains(&old_kid),
        "old key retiring, still published"
    );

    // Tokens signed before the rotation still verify.
    assert_eq!(userinfo_status(&app, &old_access_token).await, 200);
    rp_verifies(&app, &client, &old_id_token)
        .await
        .expect("the old ID token verifies against the served JWKS");
    assert_eq!(userinfo_status(&app, &new_access_token).await, 200);

    // Revoked: the old key leaves the JWKS and its tokens are refused.
    keys_cli(
        &app,
        KeysCommand::Revoke {
            kid: old_kid.clone(),
        },
    )
    .await;
    app.state.reload_keys().await.expect("reload");
    let kids = served_kids(&app).await;
    assert!(!kids.contains(&old_kid), "{kids:?}");
    assert!(kids.contains(&new_kid));
    assert_eq!(userinfo_status(&app, &old_access_token).await, 401);
    assert!(rp_verifies(&app, &client, &old_id_token).await.is_err());
    assert_eq!(userinfo_status(&app, &new_access_token).await, 200);
    // The key signing now was not revoked: no replacement was needed.
    assert_eq!(
        app.state
            .keys
            .current()
            .signer(SigningAlg::RS256)
            .expect("signer")
            .kid,
        new_kid
    );
}

#[tokio::test]
async fn an_old_id_token_verifies_with_the_served_jwk_of_its_kid_while_the_key_retires() {
    let app = short_timings().await;
    let client = app.client("rp").await;
    let (_, tokens) = logged_in(&app, &client).await;
    let old_id_token = string(&tokens, "id_token");
    let old_kid = kid_of(&old_id_token);

    keys_cli(
        &app,
        KeysCommand::Rotate {
            alg: Some(cli::AlgArg::Rs256),
        },
    )
    .await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.state
                .keys
                .current()
                .signer(SigningAlg::RS256)
                .is_some_and(|s| s.kid != old_kid)
        })
        .await,
        "the new key signs"
    );

    let jwks = served_jwks(&app).await;
    let key = served_key(&jwks, &old_kid);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&client.id]);
    validation.set_issuer(&[&app.issuer]);
    let claims = jsonwebtoken::decode::<Value>(&old_id_token, &key, &validation)
        .expect("the old ID token verifies")
        .claims;
    assert_eq!(claims["nonce"], "nonce-456");
}

/// Calls userinfo with the access token of `tokens`: counted in `ok` when it answers 200,
/// else noted in `failures`.
async fn userinfo_counted(
    app: &TestApp,
    tokens: &Value,
    ok: &AtomicUsize,
    failures: &Mutex<Vec<String>>,
) {
    let status = userinfo_status(app, &string(tokens, "access_token")).await;
    if status == 200 {
        ok.fetch_add(1, Ordering::Relaxed);
    } else {
        note(failures, format!("userinfo {status}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_while_the_keys_rotate() {
    let app = Arc::new(short_timings().await);
    let client = app.client("rp").await;
    let (browser, tokens) = logged_in(&app, &client).await;
    let old_kid = kid_of(&string(&tokens, "id_token"));

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let kids_seen = Arc::new(Mutex::new(HashSet::<String>::new()));

    // Relying party 1 refreshes and calls userinfo in a loop.
    let refresher = {
        let (app, client, stop, ok, failures, kids_seen) = (
            app.clone(),
            client.clone(),
            stop.clone(),
            ok.clone(),
            failures.clone(),
            kids_seen.clone(),
        );
        let mut refresh_token = string(&tokens, "refresh_token");
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = refresh(&app, &client, &refresh_token).await;
                if status != 200 {
                    note(&failures, format!("refresh {status}: {body}"));
                    break;
                }
                refresh_token = string(&body, "refresh_token");
                let id_token = string(&body, "id_token");
                let kid = kid_of(&id_token);
                // A relying party fetching the JWKS after receiving the token finds its key.
                if !served_kids(&app).await.contains(&kid) {
                    note(&failures, format!("kid {kid} not in the served JWKS"));
                }
                kids_seen.lock().expect("lock").insert(kid);
                userinfo_counted(&app, &body, &ok, &failures).await;
            }
        })
    };

    // Relying party 2 runs whole code flows (the browser has a session) in a loop.
    let coder = {
        let (app, client, stop, ok, failures) = (
            app.clone(),
            client.clone(),
            stop.clone(),
            ok.clone(),
            failures.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let out = browser
                    .authorize(&auth_url(&app, &client, &[]), "alice@centre.fr")
                    .await;
                let Some(code) = query_of(&out).remove("code") else {
                    note(&failures, format!("authorize: {out}"));
                    continue;
                };
                let response = exchange_code(&app, &client, &code, &[]).await;
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                if status != 200 {
                    note(&failures, format!("code exchange {status}: {body}"));
                    continue;
                }
                userinfo_counted(&app, &body, &ok, &failures).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_millis(500)).await;
    keys_cli(&app, KeysCommand::Rotate { alg: None }).await;
    let switched = eventually(Duration::from_secs(15), || async {
        kids_seen
            .lock()
            .expect("lock")
            .iter()
            .any(|k| *k != old_kid)
    })
    .await;
    // Keep going a little after the switch, across a few key refreshes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    refresher.await.expect("refresher");
    coder.await.expect("coder");

    let failures = failures.lock().expect("lock").clone();
    assert!(failures.is_empty(), "failed requests: {failures:#?}");
    assert!(switched, "tokens signed by the new key were seen");
    let seen = kids_seen.lock().expect("lock").clone();
    assert!(seen.contains(&old_kid) && seen.len() == 2, "{seen:?}");
    assert!(ok.load(Ordering::Relaxed) >= 10, "requests made: {ok:?}");
}
