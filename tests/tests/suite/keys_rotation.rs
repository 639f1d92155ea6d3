//! The signing-key lifecycle: the domain rules with explicit times, then a running provider
//! rotating and revoking its keys while relying parties keep working, and the private keys'
//! encryption at rest.

use std::{
    collections::HashSet,
    str::FromStr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::Engine;
use idp::{
    AppState, StartError,
    cli::{self, Cli, Command, KeysCommand},
    keys::{
        SigningAlg,
        kek::KekError,
        keyset::VerifyError,
        rotation::{
            KeyInfo, KeyPolicy, KeyState, RotationError, ensure_signers, list, load, retire,
            revoke, rotate, scheduled_rotation,
        },
    },
    store::{Db, now as real_now},
};
use idp_tests::{
    openidconnect::{
        ClientId, ClientSecret, IssuerUrl, Nonce,
        core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet},
    },
    *,
};
use serde_json::{Value, json};
use sqlx::Row;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const PREPUBLICATION: i64 = 100;
const RETENTION: i64 = 500;

fn policy(rotation_interval: u64) -> KeyPolicy {
    KeyPolicy {
        prepublication: Duration::from_secs(PREPUBLICATION as u64),
        retention: Duration::from_secs(RETENTION as u64),
        rotation_interval: Duration::from_secs(rotation_interval),
        rsa_bits: 2048,
    }
}

async fn keys_at(db: &Db, at: i64) -> Vec<KeyInfo> {
    list(db, at).await.expect("list keys")
}

async fn key_at(db: &Db, kid: &str, at: i64) -> KeyInfo {
    keys_at(db, at)
        .await
        .into_iter()
        .find(|k| k.kid == kid)
        .unwrap_or_else(|| panic!("key {kid} is stored"))
}

async fn state_at(db: &Db, kid: &str, at: i64) -> KeyState {
    key_at(db, kid, at).await.state
}

/// The kid of the only key of `alg` in `state` at `at`.
async fn only(db: &Db, alg: SigningAlg, state: KeyState, at: i64) -> String {
    let keys: Vec<KeyInfo> = keys_at(db, at)
        .await
        .into_iter()
        .filter(|k| k.alg == alg.as_str() && k.state == state)
        .collect();
    assert_eq!(keys.len(), 1, "one {alg:?} key {state:?}: {keys:?}");
    keys[0].kid.clone()
}

/// What `load` builds for `at`: the kids of its JWKS document and the kid signing for `alg`.
async fn loaded(app: &TestApp, at: i64, alg: SigningAlg) -> (HashSet<String>, Option<String>) {
    let set = load(&app.state.db, &app.state.kek, at)
        .await
        .expect("key set loads");
    let jwks: Value = serde_json::from_str(&set.jwks_json()).expect("JWKS is JSON");
    let kids = jwks["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect();
    (kids, set.signer(alg).map(|s| s.kid.clone()))
}

/// Claims of a token we sign by hand with a key set's signer.
fn probe_claims(app: &TestApp) -> Value {
    json!({ "iss": app.issuer, "exp": real_now() + 3600, "sub": "probe" })
}

fn header_of(jwt: &str) -> Value {
    let part = jwt.split('.').next().expect("JWS header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url header");
    serde_json::from_slice(&bytes).expect("JSON header")
}

fn kid_of(jwt: &str) -> String {
    header_of(jwt)["kid"]
        .as_str()
        .expect("header has a kid")
        .to_owned()
}

async fn served_jwks(app: &TestApp) -> Value {
    let response = app
        .http()
        .get(app.url("/jwks"))
        .send()
        .await
        .expect("GET /jwks");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JWKS JSON")
}

async fn served_kids(app: &TestApp) -> HashSet<String> {
    served_jwks(app).await["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    app.http()
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("GET /userinfo")
        .status()
        .as_u16()
}

async fn refresh(app: &TestApp, client: &TestClient, refresh_token: &str) -> reqwest::Response {
    app.http()
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .expect("token request")
}

/// A user logged in through `client`: the browser (with its session) and the token response.
async fn logged_in(app: &TestApp, client: &TestClient) -> (Browser, Value) {
    app.user("alice@centre.fr").await;
    let browser = app.browser();
    let out = browser
        .authorize(&auth_url(app, client, &[]), "alice@centre.fr")
        .await;
    let response = exchange_code(app, client, &query_of(&out)["code"], &[]).await;
    assert_eq!(response.status(), 200);
    (browser, response.json().await.expect("token JSON"))
}

fn string(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}

/// Runs an `idp keys …` command in-process, as the binary does.
async fn keys_cli(app: &TestApp, command: KeysCommand) {
    let cli = Cli {
        config: None,
        command: Command::Keys(command),
    };
    cli::run(cli, (*app.state.config).clone())
        .await
        .expect("idp keys command succeeds");
}

/// Verifies an ID token as a relying party would, with `openidconnect` and the JWKS served now.
async fn rp_verifies(app: &TestApp, client: &TestClient, id_token: &str) -> Result<(), String> {
    let jwks: CoreJsonWebKeySet =
        serde_json::from_value(served_jwks(app).await).expect("JWKS parses");
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(client.id.clone()),
        ClientSecret::new(client.secret.clone().expect("secret")),
        IssuerUrl::new(app.issuer.clone()).expect("issuer"),
        jwks,
    );
    let token = CoreIdToken::from_str(id_token).expect("ID token parses");
    token
        .claims(&verifier, &Nonce::new("nonce-456".into()))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// The lifecycle, with explicit times
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs_then_signs_while_the_old_one_retires_then_the_old_one_leaves_the_jwks()
 {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let t0 = real_now() + 10;
    let old = only(db, SigningAlg::RS256, KeyState::Active, t0).await;
    let es256 = only(db, SigningAlg::ES256, KeyState::Active, t0).await;
    let (_, signer) = loaded(&app, t0, SigningAlg::RS256).await;
    assert_eq!(signer.as_deref(), Some(old.as_str()));
    let old_token = load(db, &app.state.kek, t0)
        .await
        .expect("load")
        .signer(SigningAlg::RS256)
        .expect("RS256 signer")
        .sign("JWT", &probe_claims(&app));

    let new = rotate(
        db,
        &app.state.kek,
        &policy(0),
        SigningAlg::RS256,
        t0,
        "test",
    )
    .await
    .expect("rotation starts");
    assert_eq!(new.activates_at, t0 + PREPUBLICATION);

    // Pre-publication: the new key is in the JWKS, the old one still signs.
    for at in [t0, t0 + PREPUBLICATION - 1] {
        assert_eq!(
            state_at(db, &new.kid, at).await,
            KeyState::Pending,
            "at t0+{}",
            at - t0
        );
        assert_eq!(state_at(db, &old, at).await, KeyState::Active);
        let (kids, signer) = loaded(&app, at, SigningAlg::RS256).await;
        assert!(kids.contains(&new.kid) && kids.contains(&old), "{kids:?}");
        assert_eq!(signer.as_deref(), Some(old.as_str()));
    }

    // From activates_at the new key signs; the old one retires but stays published, and tokens
    // it signed still verify.
    let switch = new.activates_at;
    for at in [switch, switch + RETENTION - 1] {
        assert_eq!(
            state_at(db, &new.kid, at).await,
            KeyState::Active,
            "at switch+{}",
            at - switch
        );
        assert_eq!(state_at(db, &old, at).await, KeyState::Retiring);
        let (kids, signer) = loaded(&app, at, SigningAlg::RS256).await;
        assert!(kids.contains(&new.kid) && kids.contains(&old), "{kids:?}");
        assert_eq!(signer.as_deref(), Some(new.kid.as_str()));
        let set = load(db, &app.state.kek, at).await.expect("load");
        set.verify::<Value>(&old_token, &app.issuer, true)
            .expect("a token of the retiring key verifies");
    }
    let info = key_at(db, &old, switch).await;
    assert_eq!(info.retired_at, Some(switch));
    assert_eq!(info.remove_at, Some(switch + RETENTION));

    // After the retention period the old key is gone and its tokens are refused.
    let gone = switch + RETENTION;
    assert_eq!(state_at(db, &old, gone).await, KeyState::Removed);
    let (kids, signer) = loaded(&app, gone, SigningAlg::RS256).await;
    assert!(!kids.contains(&old), "{kids:?}");
    assert!(kids.contains(&new.kid));
    assert_eq!(signer.as_deref(), Some(new.kid.as_str()));
    let set = load(db, &app.state.kek, gone).await.expect("load");
    assert!(matches!(
        set.verify::<Value>(&old_token, &app.issuer, true),
        Err(VerifyError::UnknownKey)
    ));

    // The other algorithm was not touched.
    assert_eq!(state_at(db, &es256, gone).await, KeyState::Active);
    assert_eq!(
        loaded(&app, gone, SigningAlg::ES256).await.1.as_deref(),
        Some(es256.as_str())
    );
}

#[tokio::test]
async fn retiring_the_only_signer_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let t0 = real_now() + 10;
    let signer = only(db, SigningAlg::RS256, KeyState::Active, t0).await;
    let before = serde_json::to_value(keys_at(db, t0).await).expect("serialises");

    let refused = retire(db, &policy(0), &signer, t0, "test").await;
    assert!(
        matches!(&refused, Err(RotationError::LastSigner(kid, "RS256")) if *kid == signer),
        "{refused:?}"
    );
    assert!(
        refused
            .expect_err("refused")
            .to_string()
            .contains("idp keys rotate"),
        "the message tells what to do"
    );

    let after = serde_json::to_value(keys_at(db, t0).await).expect("serialises");
    assert_eq!(before, after);
    assert_eq!(
        loaded(&app, t0, SigningAlg::RS256).await.1.as_deref(),
        Some(signer.as_str())
    );
}

#[tokio::test]
async fn retiring_a_signer_hands_over_to_its_pending_successor_at_once() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let t0 = real_now() + 10;
    let old = only(db, SigningAlg::RS256, KeyState::Active, t0).await;
    let new = rotate(
        db,
        &app.state.kek,
        &policy(0),
        SigningAlg::RS256,
        t0,
        "test",
    )
    .await
    .expect("rotation starts");

    let t1 = t0 + 10;
    retire(db, &policy(0), &old, t1, "test")
        .await
        .expect("a successor exists");
    assert_eq!(state_at(db, &new.kid, t1).await, KeyState::Active);
    assert_eq!(state_at(db, &old, t1).await, KeyState::Retiring);
    assert_eq!(key_at(db, &old, t1).await.remove_at, Some(t1 + RETENTION));
    let (kids, signer) = loaded(&app, t1, SigningAlg::RS256).await;
    assert_eq!(signer.as_deref(), Some(new.kid.as_str()));
    assert!(kids.contains(&old), "still published for its tokens");
}

#[tokio::test]
async fn revoking_a_key_removes_it_at_once_and_makes_a_replacement_signer() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let t0 = real_now() + 10;
    let old = only(db, SigningAlg::RS256, KeyState::Active, t0).await;
    let es256 = only(db, SigningAlg::ES256, KeyState::Active, t0).await;
    let old_token = load(db, &app.state.kek, t0)
        .await
        .expect("load")
        .signer(SigningAlg::RS256)
        .expect("signer")
        .sign("JWT", &probe_claims(&app));

    let created = revoke(db, &app.state.kek, &policy(0), &old, t0, "test")
        .await
        .expect("revocation");
    assert_eq!(created.len(), 1, "one replacement: {created:?}");
    let replacement = &created[0];
    assert_eq!(key_at(db, replacement, t0).await.alg, "RS256");

    assert_eq!(state_at(db, &old, t0).await, KeyState::Revoked);
    assert_eq!(state_at(db, replacement, t0).await, KeyState::Active);
    let (kids, signer) = loaded(&app, t0, SigningAlg::RS256).await;
    assert!(!kids.contains(&old), "{kids:?}");
    assert!(kids.contains(replacement));
    assert_eq!(signer.as_deref(), Some(replacement.as_str()));
    let set = load(db, &app.state.kek, t0).await.expect("load");
    assert!(matches!(
        set.verify::<Value>(&old_token, &app.issuer, true),
        Err(VerifyError::UnknownKey)
    ));
    // ES256 keeps its signer.
    assert_eq!(
        loaded(&app, t0, SigningAlg::ES256).await.1.as_deref(),
        Some(es256.as_str())
    );

    // Revoking twice is refused; revoking a key that does not sign makes no replacement.
    assert!(matches!(
        revoke(db, &app.state.kek, &policy(0), &old, t0, "test").await,
        Err(RotationError::WrongState {
            state: KeyState::Revoked,
            ..
        })
    ));
    let pending = rotate(
        db,
        &app.state.kek,
        &policy(0),
        SigningAlg::ES256,
        t0,
        "test",
    )
    .await
    .expect("rotation");
    let created = revoke(db, &app.state.kek, &policy(0), &pending.kid, t0, "test")
        .await
        .expect("revocation");
    assert!(created.is_empty(), "{created:?}");
    assert_eq!(
        loaded(&app, t0, SigningAlg::ES256).await.1.as_deref(),
        Some(es256.as_str())
    );
    assert!(matches!(
        revoke(db, &app.state.kek, &policy(0), "no-such-kid", t0, "test").await,
        Err(RotationError::UnknownKey(_))
    ));
}

#[tokio::test]
async fn revoking_the_signer_during_a_rotation_promotes_the_pending_key_at_once() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let t0 = real_now() + 10;
    let old = only(db, SigningAlg::RS256, KeyState::Active, t0).await;
    let pending = rotate(
        db,
        &app.state.kek,
        &policy(0),
        SigningAlg::RS256,
        t0,
        "test",
    )
    .await
    .expect("rotation");
    let count = keys_at(db, t0).await.len();

    let t1 = t0 + 5;
    let created = revoke(db, &app.state.kek, &policy(0), &old, t1, "test")
        .await
        .expect("revocation");
    assert!(
        created.is_empty(),
        "the pending key takes over: {created:?}"
    );
    assert_eq!(keys_at(db, t1).await.len(), count);
    assert_eq!(state_at(db, &pending.kid, t1).await, KeyState::Active);
    assert_eq!(
        loaded(&app, t1, SigningAlg::RS256).await.1.as_deref(),
        Some(pending.kid.as_str())
    );
}

#[tokio::test]
async fn withdrawing_a_pending_key_leaves_the_current_signer_signing() {
    for withdraw in ["revoke", "retire"] {
        let app = TestApp::spawn().await;
        let db = &app.state.db;
        let t0 = real_now() + 10;
        let current = only(db, SigningAlg::RS256, KeyState::Active, t0).await;
        let pending = rotate(
            db,
            &app.state.kek,
            &policy(0),
            SigningAlg::RS256,
            t0,
            "test",
        )
        .await
        .expect("rotation");

        // The new key turns out to be unusable before it signs: it is withdrawn.
        let t1 = t0 + 10;
        match withdraw {
            "revoke" => {
                revoke(db, &app.state.kek, &policy(0), &pending.kid, t1, "test")
                    .await
                    .expect("revocation");
            }
            _ => retire(db, &policy(0), &pending.kid, t1, "test")
                .await
                .expect("retirement"),
        }

        // Past the time the withdrawn key would have taken over, RS256 still has a signer.
        for at in [
            t1,
            pending.activates_at,
            pending.activates_at + RETENTION + 1,
        ] {
            let (kids, signer) = loaded(&app, at, SigningAlg::RS256).await;
            assert_eq!(
                signer.as_deref(),
                Some(current.as_str()),
                "{withdraw}: signer at t0+{}",
                at - t0
            );
            assert!(kids.contains(&current), "{withdraw}: {kids:?}");
            assert_eq!(state_at(db, &current, at).await, KeyState::Active);
        }
        // And the next rotation works as usual.
        let next = rotate(
            db,
            &app.state.kek,
            &policy(0),
            SigningAlg::RS256,
            t1,
            "test",
        )
        .await
        .expect("a new rotation");
        let switch = next.activates_at;
        assert_eq!(
            loaded(&app, switch, SigningAlg::RS256).await.1.as_deref(),
            Some(next.kid.as_str())
        );
        assert_eq!(state_at(db, &current, switch).await, KeyState::Retiring);
    }
}

#[tokio::test]
async fn scheduled_rotation_rotates_only_keys_older_than_the_interval_and_not_while_one_is_pending()
{
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let kek = &app.state.kek;
    let interval: i64 = 1000;
    let p = policy(interval as u64);
    let first: Vec<KeyInfo> = keys_at(db, real_now()).await;
    assert_eq!(first.len(), 2, "{first:?}");
    let born = first.iter().map(|k| k.activates_at).max().expect("keys");

    // Younger than the interval: nothing to do.
    let none = scheduled_rotation(db, kek, &p, born + interval - 1)
        .await
        .expect("scheduler");
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(keys_at(db, born).await.len(), 2);

    // Never with a zero interval, however old the keys.
    let none = scheduled_rotation(db, kek, &policy(0), born + 100 * interval)
        .await
        .expect("scheduler");
    assert!(none.is_empty(), "{none:?}");

    // Due: one rotation per algorithm.
    let due = born + interval;
    let rotated = scheduled_rotation(db, kek, &p, due)
        .await
        .expect("scheduler");
    assert_eq!(rotated.len(), 2, "{rotated:?}");
    for alg in SigningAlg::ALL {
        let pending = only(db, alg, KeyState::Pending, due).await;
        assert!(rotated.contains(&pending));
    }

    // A rotation is pending: the scheduler waits.
    let again = scheduled_rotation(db, kek, &p, due + 1)
        .await
        .expect("scheduler");
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(keys_at(db, due).await.len(), 4);

    // Once the new keys sign, they are young again: nothing until they are old.
    let switched = due + PREPUBLICATION;
    let none = scheduled_rotation(db, kek, &p, switched + 1)
        .await
        .expect("scheduler");
    assert!(none.is_empty(), "{none:?}");
    let later = scheduled_rotation(db, kek, &p, switched + interval)
        .await
        .expect("scheduler");
    assert_eq!(later.len(), 2, "{later:?}");
    assert_eq!(keys_at(db, due).await.len(), 6);
}

#[tokio::test]
async fn rotating_twice_while_a_rotation_is_pending_is_refused() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let kek = &app.state.kek;
    let t0 = real_now() + 10;
    let pending = rotate(db, kek, &policy(0), SigningAlg::RS256, t0, "test")
        .await
        .expect("first rotation");
    let count = keys_at(db, t0).await.len();

    let refused = rotate(db, kek, &policy(0), SigningAlg::RS256, t0 + 1, "test").await;
    assert!(
        matches!(&refused, Err(RotationError::WrongState { kid, state: KeyState::Pending }) if *kid == pending.kid),
        "{refused:?}"
    );
    assert_eq!(keys_at(db, t0).await.len(), count, "no key created");
    assert_eq!(
        state_at(db, &pending.kid, t0 + 1).await,
        KeyState::Pending,
        "the pending rotation is untouched"
    );

    // The other algorithm rotates independently, and once the pending key signs a new
    // rotation may start.
    rotate(db, kek, &policy(0), SigningAlg::ES256, t0 + 1, "test")
        .await
        .expect("ES256 rotation");
    rotate(
        db,
        kek,
        &policy(0),
        SigningAlg::RS256,
        pending.activates_at + 1,
        "test",
    )
    .await
    .expect("the next rotation, once the previous one completed");
}

#[tokio::test]
async fn ensuring_signers_twice_creates_nothing_more() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let t0 = real_now() + 10;
    let created = ensure_signers(db, &app.state.kek, &policy(0), t0)
        .await
        .expect("ensure");
    assert!(
        created.is_empty(),
        "the provider made its keys at start: {created:?}"
    );
    let keys = keys_at(db, t0).await;
    for alg in SigningAlg::ALL {
        only(db, alg, KeyState::Active, t0).await;
    }
    assert_eq!(keys.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Atomicity: a key action whose audit event fails leaves the keys as they were
// ---------------------------------------------------------------------------------------------

/// A provider whose audit of `action` fails, its time, and its keys as `list` shows them then.
async fn with_failing_audit(action: &str) -> (TestApp, i64, Value) {
    let app = TestApp::spawn().await;
    let t0 = real_now() + 10;
    app.fail_audit_of(action).await;
    let keys = serde_json::to_value(keys_at(&app.state.db, t0).await).expect("serialises");
    (app, t0, keys)
}

/// The action failed on its audit event and the keys are as they were.
async fn failed_and_unchanged<T: std::fmt::Debug>(
    app: &TestApp,
    result: Result<T, RotationError>,
    at: i64,
    before: &Value,
) {
    assert!(matches!(result, Err(RotationError::Db(_))), "{result:?}");
    let after = serde_json::to_value(keys_at(&app.state.db, at).await).expect("serialises");
    assert_eq!(before, &after, "nothing of the action remains");
}

#[tokio::test]
async fn a_rotation_whose_audit_fails_creates_no_key_and_the_old_one_keeps_signing() {
    let (app, t0, before) = with_failing_audit("key.rotated").await;
    let signer = only(&app.state.db, SigningAlg::RS256, KeyState::Active, t0).await;
    let failed = rotate(
        &app.state.db,
        &app.state.kek,
        &policy(0),
        SigningAlg::RS256,
        t0,
        "t",
    )
    .await;
    failed_and_unchanged(&app, failed, t0, &before).await;
    let later = t0 + PREPUBLICATION + 1;
    assert_eq!(
        loaded(&app, later, SigningAlg::RS256).await.1.as_deref(),
        Some(signer.as_str()),
        "the old key still signs after the pre-publication period"
    );
}

#[tokio::test]
async fn a_revocation_whose_audit_fails_revokes_nothing_and_creates_no_replacement() {
    let (app, t0, before) = with_failing_audit("key.revoked").await;
    let signer = only(&app.state.db, SigningAlg::ES256, KeyState::Active, t0).await;
    let failed = revoke(&app.state.db, &app.state.kek, &policy(0), &signer, t0, "t").await;
    failed_and_unchanged(&app, failed, t0, &before).await;
    assert_eq!(
        loaded(&app, t0, SigningAlg::ES256).await.1.as_deref(),
        Some(signer.as_str())
    );
}

#[tokio::test]
async fn a_retirement_whose_audit_fails_hands_nothing_over() {
    let (app, t0, _) = with_failing_audit("key.retired").await;
    let db = &app.state.db;
    let signer = only(db, SigningAlg::RS256, KeyState::Active, t0).await;
    let pending = rotate(db, &app.state.kek, &policy(0), SigningAlg::RS256, t0, "t")
        .await
        .expect("rotation");
    let before = serde_json::to_value(keys_at(db, t0 + 1).await).expect("serialises");
    let failed = retire(db, &policy(0), &signer, t0 + 1, "t").await;
    failed_and_unchanged(&app, failed, t0 + 1, &before).await;
    assert_eq!(state_at(db, &pending.kid, t0 + 1).await, KeyState::Pending);
}

// ---------------------------------------------------------------------------------------------
// A running provider
// ---------------------------------------------------------------------------------------------

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
        let response = refresh(&app, &client, &refresh_token).await;
        assert_eq!(response.status(), 200);
        latest = response.json().await.expect("token JSON");
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
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == old_kid.as_str())
        .expect("the retiring key is served");
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).expect("JWK");
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("decoding key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&client.id]);
    validation.set_issuer(&[&app.issuer]);
    let claims = jsonwebtoken::decode::<Value>(&old_id_token, &key, &validation)
        .expect("the old ID token verifies")
        .claims;
    assert_eq!(claims["nonce"], "nonce-456");
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
                let response = refresh(&app, &client, &refresh_token).await;
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                if status != 200 {
                    failures
                        .lock()
                        .expect("lock")
                        .push(format!("refresh {status}: {body}"));
                    break;
                }
                refresh_token = string(&body, "refresh_token");
                let id_token = string(&body, "id_token");
                let kid = kid_of(&id_token);
                // A relying party fetching the JWKS after receiving the token finds its key.
                if !served_kids(&app).await.contains(&kid) {
                    failures
                        .lock()
                        .expect("lock")
                        .push(format!("kid {kid} not in the served JWKS"));
                }
                kids_seen.lock().expect("lock").insert(kid);
                let status = userinfo_status(&app, &string(&body, "access_token")).await;
                if status == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failures
                        .lock()
                        .expect("lock")
                        .push(format!("userinfo {status}"));
                }
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
                    failures
                        .lock()
                        .expect("lock")
                        .push(format!("authorize: {out}"));
                    continue;
                };
                let response = exchange_code(&app, &client, &code, &[]).await;
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                if status != 200 {
                    failures
                        .lock()
                        .expect("lock")
                        .push(format!("code exchange {status}: {body}"));
                    continue;
                }
                let status = userinfo_status(&app, &string(&body, "access_token")).await;
                if status == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failures
                        .lock()
                        .expect("lock")
                        .push(format!("userinfo {status}"));
                }
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

// ---------------------------------------------------------------------------------------------
// Encryption at rest
// ---------------------------------------------------------------------------------------------

/// The start of every PKCS#8 v1 DER private key: SEQUENCE with a two-byte length, then the
/// version INTEGER 0.
fn starts_like_pkcs8(bytes: &[u8]) -> bool {
    bytes.len() > 7 && bytes[0] == 0x30 && bytes[1] == 0x82 && bytes[4..7] == [0x02, 0x01, 0x00]
}

#[tokio::test]
async fn private_keys_are_stored_encrypted() {
    let app = TestApp::spawn().await;
    let rows = sqlx::query("SELECT kid, alg, private_key FROM signing_keys")
        .fetch_all(&app.state.db.pool)
        .await
        .expect("query");
    assert_eq!(rows.len(), 2);
    for row in rows {
        let kid: String = row.try_get("kid").expect("kid");
        let alg: String = row.try_get("alg").expect("alg");
        let stored: Vec<u8> = row.try_get("private_key").expect("private_key");

        // The control: what the KEK opens is the PKCS#8 key, which the checks below recognise.
        let plain = app
            .state
            .kek
            .open(&kid, &stored)
            .expect("opens under the KEK");
        if alg == "RS256" {
            assert!(starts_like_pkcs8(&plain));
            assert!(aws_lc_rs::rsa::KeyPair::from_pkcs8(&plain).is_ok());
        } else {
            assert!(
                aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &plain
                )
                .is_ok()
            );
        }

        // What is stored is not.
        assert!(
            !starts_like_pkcs8(&stored),
            "{alg} key {kid} stored in the clear"
        );
        assert!(aws_lc_rs::rsa::KeyPair::from_pkcs8(&stored).is_err());
        assert!(
            aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &stored
            )
            .is_err()
        );
        assert!(
            !stored.windows(32).any(|w| w == &plain[plain.len() - 32..]),
            "no part of the key in the clear"
        );
        assert_ne!(stored.len(), plain.len());
    }
}

#[tokio::test]
async fn a_provider_with_another_kek_refuses_to_start_on_the_same_database() {
    let app = TestApp::spawn().await;
    let before = serde_json::to_value(keys_at(&app.state.db, real_now()).await).expect("json");

    let mut config = (*app.state.config).clone();
    let other = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    assert_ne!(config.keys.kek.as_deref(), Some(other.as_str()));
    config.keys.kek = Some(other);
    let opened = AppState::open(config).await;
    assert!(
        matches!(
            &opened,
            Err(StartError::Keys(RotationError::Kek(KekError::Decrypt)))
        ),
        "{:?}",
        opened.as_ref().err()
    );

    // Nothing was created or changed, and the running node still signs.
    let after = serde_json::to_value(keys_at(&app.state.db, real_now()).await).expect("json");
    assert_eq!(before, after);
    app.state
        .reload_keys()
        .await
        .expect("the right KEK still loads");
}
