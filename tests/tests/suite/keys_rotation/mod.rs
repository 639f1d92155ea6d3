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
        store::{KeyRow, RootError},
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

mod at_rest;
mod atomicity;
mod lifecycle;
mod running;

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

/// Starts a rotation of `alg` at `at` with the test policy: the new key, pending.
async fn start_rotation(app: &TestApp, alg: SigningAlg, at: i64) -> KeyRow {
    rotate(&app.state.db, &app.state.kek, &policy(0), alg, at, "test")
        .await
        .expect("rotation starts")
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
    app.get_json("/jwks").await
}

async fn served_kids(app: &TestApp) -> HashSet<String> {
    served_jwks(app).await["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// The status `GET /userinfo` answers for `access_token`.
async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    userinfo(app, access_token).await.0
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
