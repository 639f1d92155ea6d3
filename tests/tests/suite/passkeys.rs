//! Passkeys' storage and rules on the suite's backend, without a browser (the ceremonies run in
//! Chromium: browser.rs, `tests/browser/passkeys.mjs`): the counter rule against cloned
//! authenticators, removal limited to the owner, the cap per account, and where the pages offer
//! passkeys at all.

use idp::accounts::{
    UserId,
    passkeys::{
        actions::{PasskeyRefusal, Use, register_passkey, remove_passkey, use_passkey},
        store,
    },
};
use idp_tests::*;

/// A credential as webauthn-rs stores it (from its own test data): an ES256 key, its counter.
const CREDENTIAL: &str = r#"{"cred_id":"uZcVDBVS68E_MtAgeQpElJxldF_6cY9sSvbWqx_qRh8wiu42lyRBRmh5yFeD_r9k130dMbFHBHI9RTFgdJQIzQ","cred":{"type_":"ES256","key":{"EC_EC2":{"curve":"SECP256R1","x":[194,126,127,109,252,23,131,21,252,6,223,99,44,254,140,27,230,17,94,5,133,28,104,41,144,69,171,149,161,26,200,243],"y":[143,123,183,156,24,178,21,248,117,159,162,69,171,52,188,252,26,59,6,47,103,92,19,58,117,103,249,0,219,8,95,196]}}},"counter":2,"user_verified":false,"backup_eligible":false,"backup_state":false,"registration_policy":"preferred","extensions":{"cred_protect":"NotRequested","hmac_create_secret":"NotRequested"},"attestation":{"data":"None","metadata":"None"},"attestation_format":"none"}"#;

/// The passkey of [`CREDENTIAL`] with credential id suffix `n` and signature counter `counter`.
fn passkey(n: u8, counter: u32) -> serde_json::Value {
    let mut cred: serde_json::Value = serde_json::from_str(CREDENTIAL).expect("credential");
    let id = cred["cred_id"].as_str().expect("cred_id");
    cred["cred_id"] = format!("{n:02}{}", &id[2..]).into();
    cred["counter"] = counter.into();
    serde_json::json!({ "cred": cred })
}

/// A `webauthn-rs` passkey from its JSON (its type is the one the function called takes).
macro_rules! parse {
    ($value:expr) => {
        serde_json::from_value($value).expect("a webauthn-rs passkey")
    };
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    idp::audit::latest(&app.state.db, 100)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn a_passkey_whose_counter_does_not_go_up_is_refused_audited_and_not_updated() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let user = app.user("cle.compteur@organisme-formation.fr").await;
    let id = UserId::from_stored(user.id.clone());
    let now = idp::store::now();
    let (_, hashes) = idp::accounts::totp::new_recovery_codes();
    register_passkey(db, now, &id, "Téléphone", &parse!(passkey(1, 2)), &hashes)
        .await
        .expect("registered");
    let credential = store::credential_id(&parse!(passkey(1, 2)));
    let stored = store::by_credential_id(db, &credential)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.name, "Téléphone");
    let codes = idp::accounts::totp::recovery_codes_left(db, &user.id).await;
    assert_eq!(codes.expect("codes"), 10, "stored with the passkey");

    // The counter went up: accepted, stored with the use.
    use_passkey(db, now, &stored, &parse!(passkey(1, 5)), Use::Passwordless)
        .await
        .expect("counter 5 after 2");
    let listed = store::list(db, &user.id).await.expect("list");
    assert_eq!(listed[0].last_used_at, Some(now));

    // The same counter again, then a lower one: refused, audited, nothing stored.
    for counter in [5, 3] {
        let refused = use_passkey(
            db,
            now + 1,
            &stored,
            &parse!(passkey(1, counter)),
            Use::SecondFactor,
        )
        .await;
        assert!(
            matches!(refused, Err(PasskeyRefusal::Cloned)),
            "{refused:?}"
        );
    }
    let listed = store::list(db, &user.id).await.expect("list");
    assert_eq!(
        listed[0].last_used_at,
        Some(now),
        "a refused use is not recorded"
    );
    let actions = audit_actions(&app).await;
    let count = |a: &str| actions.iter().filter(|x| *x == a).count();
    assert_eq!(
        (
            count("passkey.register"),
            count("passkey.use"),
            count("passkey.refused")
        ),
        (1, 1, 2)
    );

    // A higher counter is accepted again: the refusal changed nothing stored.
    use_passkey(
        db,
        now + 2,
        &stored,
        &parse!(passkey(1, 6)),
        Use::SecondFactor,
    )
    .await
    .expect("counter 6 after 5");
}

#[tokio::test]
async fn passkeys_are_removed_by_their_owner_only_and_capped_per_account() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let alice = app.user("alice.cles@organisme-formation.fr").await;
    let bob = app.user("bob.cles@organisme-formation.fr").await;
    let (alice_id, bob_id) = (
        UserId::from_stored(alice.id.clone()),
        UserId::from_stored(bob.id.clone()),
    );
    let now = idp::store::now();
    for n in 0..10 {
        register_passkey(
            db,
            now,
            &alice_id,
            &format!("Clé {n}"),
            &parse!(passkey(n, 0)),
            &[],
        )
        .await
        .expect("registered");
    }
    let eleventh =
        register_passkey(db, now, &alice_id, "Clé 10", &parse!(passkey(10, 0)), &[]).await;
    assert!(
        matches!(eleventh, Err(PasskeyRefusal::TooMany)),
        "{eleventh:?}"
    );
    // A credential belongs to one account.
    let taken = register_passkey(db, now, &bob_id, "Copie", &parse!(passkey(0, 0)), &[]).await;
    assert!(
        matches!(taken, Err(PasskeyRefusal::AlreadyRegistered)),
        "{taken:?}"
    );

    let listed = store::list(db, &alice.id).await.expect("list");
    assert_eq!(listed.len(), 10);
    let refused = remove_passkey(db, now, &bob_id, &listed[0].id).await;
    assert!(
        matches!(refused, Err(PasskeyRefusal::NotFound)),
        "{refused:?}"
    );
    remove_passkey(db, now, &alice_id, &listed[0].id)
        .await
        .expect("removed");
    assert_eq!(store::list(db, &alice.id).await.expect("list").len(), 9);
    assert!(!store::has_any(db, &bob.id).await.expect("bob"));
}

#[tokio::test]
async fn passkeys_are_offered_only_when_the_issuer_is_a_domain_name() {
    const BUTTON: &str = "Se connecter avec une clé d&#39;accès";
    // The harness's issuer is http://127.0.0.1:<port>: WebAuthn refuses IP addresses.
    let app = TestApp::spawn().await;
    let page = app
        .http()
        .get(app.url("/connexion"))
        .send()
        .await
        .expect("login page");
    let html = page.text().await.expect("html");
    assert!(
        html.contains("Je m&#39;identifie") || html.contains("Je m'identifie"),
        "the login page"
    );
    assert!(!html.contains(BUTTON) && !html.contains("Se connecter avec une clé d'accès"));

    let app =
        TestApp::spawn_with(|c| c.issuer = format!("http://localhost:{}", c.listen.port())).await;
    let page = app
        .http()
        .get(app.url("/connexion"))
        .send()
        .await
        .expect("login page");
    let html = page.text().await.expect("html");
    assert!(
        html.contains(BUTTON) || html.contains("Se connecter avec une clé d'accès"),
        "{html}"
    );
    // Its form, like every other, needs the CSRF token.
    let forged = app
        .http()
        .post(app.url("/connexion/cle-d-acces"))
        .form(&[("authreq", "")])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status().as_u16(), 403);
}
