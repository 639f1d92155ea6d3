//! Interoperability with third-party relying-party libraries (docs/interop.md): each test
//! starts a provider, registers a client and an account, and runs a script in which the
//! library does the whole journey: discovery, authorization code + PKCE with a login, ID token
//! validation, UserInfo, refresh, introspection, revocation (and RP-initiated logout for
//! openid-client). `scripts/test.sh` installs the libraries:
//! - `tests/interop/openid_client.mjs`: npm `openid-client` v6 (panva, OpenID-certified), the
//!   login in Debian's Chromium (playwright-core);
//! - `tests/interop/authlib_client.py`: PyPI `authlib` with `requests`, the login by form posts.

use std::{process::Stdio, time::Duration};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64},
};
use idp::{keys::SigningAlg, oidc::clients::AuthMethod};
use idp_tests::*;
use serde_json::json;

const EMAIL: &str = "interop.teste@organisme-formation.fr";

/// How the client authenticates at the token, introspection and revocation endpoints.
enum Auth {
    SecretBasic,
    /// A fresh P-256 key: its public JWK is registered, its PKCS#8 goes to the script.
    PrivateKeyJwt,
}

/// One run: the provider, the client registered as `auth`/`alg` with redirect URIs on a free
/// local port (where the script listens), an account, and the environment for the script.
async fn setup(id: &str, auth: Auth, alg: SigningAlg) -> (TestApp, Vec<(&'static str, String)>) {
    let app = TestApp::spawn().await;
    let port = free_port();
    let mut envs = vec![
        ("ISSUER", app.issuer.clone()),
        ("CLIENT_ID", id.to_owned()),
        ("ID_TOKEN_ALG", alg.as_str().to_owned()),
        ("CALLBACK_PORT", port.to_string()),
        ("USER_EMAIL", EMAIL.to_owned()),
        ("USER_PASSWORD", PASSWORD.to_owned()),
    ];
    let mut jwks = None;
    if let Auth::PrivateKeyJwt = auth {
        let kid = "interop-1";
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key");
        let point = pair.public_key().as_ref();
        jwks = Some(json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        }] }));
        let pkcs8 = pair.to_pkcs8v1().expect("PKCS#8");
        envs.push(("CLIENT_AUTH", "private_key_jwt".into()));
        envs.push(("CLIENT_KEY_PKCS8", STANDARD.encode(pkcs8.as_ref())));
        envs.push(("CLIENT_KEY_KID", kid.into()));
    }
    let client = app
        .client_with(id, |reg| {
            reg.redirect_uris = vec![format!("http://127.0.0.1:{port}/cb")];
            reg.post_logout_redirect_uris = vec![format!("http://127.0.0.1:{port}/logged-out")];
            reg.id_token_alg = alg;
            // As every client registered by an operator: the library must send PKCE.
            reg.require_pkce = true;
            if let Some(jwks) = jwks {
                reg.auth_method = AuthMethod::PrivateKeyJwt;
                reg.jwks = Some(jwks);
            }
        })
        .await;
    if let Some(secret) = client.secret {
        envs.push(("CLIENT_AUTH", "client_secret_basic".into()));
        envs.push(("CLIENT_SECRET", secret));
    }
    app.user(EMAIL).await;
    (app, envs)
}

/// Runs `program script` with `envs` (at most 60 s); fails with its output unless it exits 0.
async fn run(program: &str, script: &str, envs: &[(&'static str, String)]) {
    let started = std::time::Instant::now();
    let child = tokio::process::Command::new(program)
        .arg(repo().join(script))
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs {script}: {e}"));
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} finishes within 60 s"))
        .expect("script output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    println!("{script}: {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        output.status.success(),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
}

async fn openid_client(id: &str, auth: Auth, alg: SigningAlg) {
    let chromium = node_and_chromium("interop", "openid-client");
    let (_app, mut envs) = setup(id, auth, alg).await;
    envs.push(("CHROMIUM", chromium));
    run("node", "tests/interop/openid_client.mjs", &envs).await;
}

async fn authlib(id: &str, alg: SigningAlg) {
    let (_app, envs) = setup(id, Auth::SecretBasic, alg).await;
    run("python3", "tests/interop/authlib_client.py", &envs).await;
}

#[tokio::test]
async fn interop_openid_client_rs256() {
    openid_client("interop-oc-rs256", Auth::SecretBasic, SigningAlg::RS256).await;
}

#[tokio::test]
async fn interop_openid_client_es256() {
    openid_client("interop-oc-es256", Auth::SecretBasic, SigningAlg::ES256).await;
}

#[tokio::test]
async fn interop_openid_client_private_key_jwt() {
    openid_client("interop-oc-jwt", Auth::PrivateKeyJwt, SigningAlg::RS256).await;
}

#[tokio::test]
async fn interop_authlib_rs256() {
    authlib("interop-authlib-rs256", SigningAlg::RS256).await;
}

#[tokio::test]
async fn interop_authlib_es256() {
    authlib("interop-authlib-es256", SigningAlg::ES256).await;
}
