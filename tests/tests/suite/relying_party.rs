//! The demo CERES relying party (`relying-party-demo`) against a real provider: login with
//! the `openidconnect` crate, CGU, dashboard from the claims, the no-access page and its
//! activation code, the provider's errors as French pages, the agent's letter as a PDF,
//! key rotation, token refresh, RP-initiated logout and back-channel logout.

use std::time::Duration;

use idp::{
    access::{
        ActivationCode, EndDate, codes, dates,
        habilitations::{self, GrantedHow, NewHabilitation},
        managers, services,
    },
    keys::{
        SigningAlg,
        rotation::{KeyPolicy, KeyState, list, revoke},
    },
};
use idp_tests::{
    Browser, TestApp, assert_redirect, assert_shows, content_type, csrf_of, eventually, location,
    query_of, text,
};
use relying_party_demo::Config;

const CENTRE: &str = "13002526500013";
const CENTRE_NAME: &str = "CENTRE DE FORMATION DU LAC";
const CLIENT_ID: &str = "ceres-demo";

/// The demo relying party on port 0, with its own SQLite file; stopped when dropped.
struct Rp {
    base: String,
    handle: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Rp {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Registers the demo at `app` as a client of CERES and starts it.
async fn spawn_rp(app: &TestApp) -> Rp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let base = format!("http://127.0.0.1:{}", addr.port());
    let client = app
        .client_with(CLIENT_ID, |reg| {
            reg.redirect_uris = vec![format!("{base}/callback")];
            reg.post_logout_redirect_uris = vec![format!("{base}/")];
            reg.backchannel_logout_uri = Some(format!("{base}/backchannel-logout"));
            reg.backchannel_logout_session_required = true;
            // As `idp clients create` registers it (scripts/demo.sh): the demo sends PKCE.
            reg.require_pkce = true;
            reg.grant_types.push("client_credentials".into());
            reg.scopes
                .extend(["habilitations", "codes:issue"].map(String::from));
        })
        .await;
    services::link_client(&app.state.db, "ceres", CLIENT_ID, false)
        .await
        .expect("link");
    let dir = tempfile::tempdir().expect("dir");
    let config = Config {
        issuer: app.issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: client.secret.expect("secret"),
        listen: addr,
        base_url: base.clone(),
        service: "ceres".into(),
        database_url: format!("sqlite://{}?mode=rwc", dir.path().join("rp.db").display()),
        cgu_version: "2024-01".into(),
    };
    let router = relying_party_demo::build(config)
        .await
        .expect("the RP starts");
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Rp {
        base,
        handle,
        _dir: dir,
    }
}

async fn grant(app: &TestApp, user_id: &str, role: &str, end: Option<&str>) {
    habilitations::grant(
        &app.state.db,
        &NewHabilitation {
            user_id,
            service_code: "ceres",
            siret: CENTRE,
            role,
            end_date: end.map(|e| EndDate::parse(e, dates::today()).expect("end date")),
            granted_by: None,
            how: GrantedHow::Operator,
        },
    )
    .await
    .expect("grant");
}

/// Logs `email` in through the demo; returns the browser (cookies of both sites) pointed at
/// the demo, after the callback.
async fn login(app: &TestApp, rp: &Rp, email: &str) -> Browser {
    let provider = app.browser();
    let browser = provider.on(&rp.base);
    let start = browser.get("/login").await;
    let auth = location(&start).expect("to the provider");
    assert!(auth.starts_with(&app.base), "{auth}");
    let back = provider.authorize(&auth, email).await;
    assert!(back.starts_with(&format!("{}/callback", rp.base)), "{back}");
    let done = browser.get(&back).await;
    assert_eq!(
        done.status(),
        303,
        "{}",
        done.text().await.unwrap_or_default()
    );
    assert_redirect(&done, "/");
    browser
}

/// A provider with CENTRE open in its register, and the relying party started on it.
async fn rp_of_the_centre() -> (TestApp, Rp) {
    rp_of_the_centre_with(|_| {}).await
}

/// [`rp_of_the_centre`] with the provider's configuration adjusted.
async fn rp_of_the_centre_with(adjust: impl FnOnce(&mut idp::config::Config)) -> (TestApp, Rp) {
    let app = TestApp::spawn_with(adjust).await;
    let rp = spawn_rp(&app).await;
    app.establishment(CENTRE, CENTRE_NAME, true).await;
    (app, rp)
}

/// The `state` of a login the relying party starts in `browser`.
async fn new_state(browser: &Browser) -> String {
    let start = browser.get("/login").await;
    query_of(&location(&start).unwrap())["state"].clone()
}

/// The relying party's callback with `params` and the state of a new login.
async fn callback(browser: &Browser, params: &str) -> reqwest::Response {
    let state = new_state(browser).await;
    browser
        .get(&format!("/callback?{params}&state={state}"))
        .await
}

async fn page(browser: &Browser, path: &str) -> (u16, String) {
    let r = browser.get(path).await;
    let status = r.status().as_u16();
    (status, text(&r.text().await.expect("body")))
}

#[tokio::test]
async fn relying_party_login_asks_the_cgu_once_then_shows_the_dashboard_with_the_name() {
    let (app, rp) = rp_of_the_centre().await;
    let alice = app.user("alice@centre.fr").await;
    grant(&app, &alice.id, "centre_agree", None).await;

    let (status, landing) = page(&Browser::new(&rp.base), "/").await;
    assert_eq!(status, 200);
    assert!(landing.contains("Se connecter avec EFP Connect"));
    assert!(landing.contains("lang=\"fr\""));

    let browser = login(&app, &rp, "alice@centre.fr").await;
    let (status, cgu) = page(&browser, "/").await;
    assert_eq!(status, 200);
    assert_shows(&cgu, "J'ai lu et j'accepte les CGU");
    assert!(!cgu.contains("Votre tableau de bord"));

    // Not ticked: refused, with the message tied to the box.
    let refused = browser.post_form("/cgu", &[("csrf", &csrf_of(&cgu))]).await;
    assert_eq!(refused.status(), 400);
    let refused = text(&refused.text().await.unwrap());
    assert!(refused.contains("Vous devez accepter les CGU"));
    assert!(refused.contains("aria-describedby=\"cgu-error\""));
    // A forged form is refused.
    let forged = browser
        .post_form("/cgu", &[("csrf", "forged"), ("accept", "oui")])
        .await;
    assert_eq!(forged.status(), 400);

    let accepted = browser
        .post_form("/cgu", &[("csrf", &csrf_of(&cgu)), ("accept", "oui")])
        .await;
    assert_eq!(accepted.status(), 303);
    let welcome = location(&accepted).unwrap();
    let (status, dashboard) = page(&browser, &welcome).await;
    assert_eq!(status, 200);
    assert_shows(&dashboard, "Votre tableau de bord");
    // Guide 002 §3.2: « Félicitations ! » once the CGU are accepted.
    assert_shows(&dashboard, "Félicitations !");
    assert_shows(
        &dashboard,
        "Votre compte CERES est maintenant fonctionnel !",
    );
    assert!(dashboard.contains("Alice Martin"));
    assert_eq!(dashboard.matches("<h1").count(), 1);

    // Asked once: a new login goes straight to the dashboard, without the congratulations.
    let again = login(&app, &rp, "alice@centre.fr").await;
    let (_, dashboard) = page(&again, "/").await;
    assert!(dashboard.contains("Votre tableau de bord"));
    assert!(!dashboard.contains("Félicitations"));
}

#[tokio::test]
async fn relying_party_dashboard_lists_habilitations_with_role_end_date_and_manager_links() {
    let (app, rp) = rp_of_the_centre().await;
    let alice = app.user("alice@centre.fr").await;
    grant(&app, &alice.id, "centre_agree", Some("31/12/2099")).await;
    grant(&app, &alice.id, "gestionnaire_centres", None).await;

    let browser = login(&app, &rp, "alice@centre.fr").await;
    let (_, cgu) = page(&browser, "/").await;
    browser
        .post_form("/cgu", &[("csrf", &csrf_of(&cgu)), ("accept", "oui")])
        .await;
    let (_, dashboard) = page(&browser, "/").await;
    for expected in [
        CENTRE_NAME,
        CENTRE,
        "Centre agréé",
        "12/2099",
        "Gestionnaire CENTRES",
        "sans date de fin",
        "saisir les résultats",
        "Gérer mon compte",
        "Gérer mes habilitations",
    ] {
        assert!(
            dashboard.contains(expected),
            "{expected} missing: {dashboard}"
        );
    }
    assert!(dashboard.contains(&format!("{}/compte/habilitations", app.base)));
    // Not a Responsable des accès: no management links.
    assert!(!dashboard.contains("Gérer les accès de mon entreprise"));

    app.grant_manager(&alice.id, CENTRE).await;
    // Userinfo is read at each view: the new right shows at once.
    let (_, dashboard) = page(&browser, "/").await;
    assert!(dashboard.contains("Gérer les accès de mon entreprise"));
    assert!(dashboard.contains(&format!("{}/acces/ceres/gestion/demandes", app.base)));
    assert!(!dashboard.contains("ceres-pastille"), "nothing waits yet");
    // A colleague asks for access: the header's name and the panel get the red pastille
    // (`GET /api/v1/notifications`, read at each view).
    let bob = app.user("bob@centre.fr").await;
    idp::access::requests::create(&app.state.db, &bob.id, "ceres", CENTRE, "")
        .await
        .unwrap()
        .expect("a new request");
    let (_, dashboard) = page(&browser, "/").await;
    assert_eq!(
        dashboard
            .matches(r#"<span class="ceres-pastille" aria-hidden="true">1</span>"#)
            .count(),
        2,
        "beside the name and on « Gérer les demandes d'accès »: {dashboard}"
    );
}

#[tokio::test]
async fn relying_party_no_access_page_redeems_a_code_and_shows_the_apis_french_errors() {
    let (app, rp) = rp_of_the_centre().await;
    let bob = app.user("bob@centre.fr").await;
    let key = app.state.kek.derive(codes::HASH_KEY_LABEL);
    let issued = codes::issue(&app.state.db, &key, "ceres", CENTRE, "agent", 3600)
        .await
        .unwrap();

    let browser = login(&app, &rp, "bob@centre.fr").await;
    let (status, no_access) = page(&browser, "/").await;
    assert_eq!(status, 200);
    assert_shows(
        &no_access,
        "Vous n'avez pas accès au service numérique CERES",
    );
    assert!(no_access.contains(&format!("{}/acces/ceres/demande", app.base)));
    assert!(no_access.contains("Faire une demande d'accès"));
    assert!(no_access.contains("<label class=\"fr-label\" for=\"code\">"));
    let csrf = csrf_of(&no_access);

    // Wrong code: the API's French refusal, under the code field.
    let wrong = browser
        .post_form(
            "/activation",
            &[("csrf", &csrf), ("siret", CENTRE), ("code", "AAAABBBBCCCC")],
        )
        .await;
    assert_eq!(wrong.status(), 400);
    let wrong = text(&wrong.text().await.unwrap());
    assert_shows(&wrong, "Ce code d'activation n'est pas valide");
    assert!(wrong.contains("id=\"code-error\""));
    assert!(!wrong.contains("invalid_code"), "no raw error codes");
    // Malformed code: refused before the API, in French.
    let short = browser
        .post_form("/activation", &[("csrf", &csrf), ("code", "ABC")])
        .await;
    assert_eq!(short.status(), 400);
    assert!(text(&short.text().await.unwrap()).contains("12 caractères"));

    let typed = issued.code.as_str().to_lowercase();
    let done = browser
        .post_form(
            "/activation",
            &[("csrf", &csrf), ("siret", CENTRE), ("code", &typed)],
        )
        .await;
    assert_eq!(done.status(), 303);
    let next = location(&done).expect("to the charte");
    assert!(
        next.starts_with(&format!("{}/acces/ceres/charte", app.base)),
        "{next}"
    );
    assert!(
        managers::is_manager(&app.state.db, &bob.id, "ceres", CENTRE)
            .await
            .unwrap()
    );
    // The next view gets fresh tokens (refresh grant) for the new rights, and later views
    // still work with the rotated refresh token.
    let refresh_tokens = || app.refresh_token_count();
    let before = refresh_tokens().await;
    let (status, _) = page(&browser, "/").await;
    assert_eq!(status, 200);
    assert_eq!(refresh_tokens().await, before + 1, "one refresh");
    let (status, _) = page(&browser, "/").await;
    assert_eq!(status, 200);
    assert_eq!(refresh_tokens().await, before + 1, "no refresh needed");
}

#[tokio::test]
async fn relying_party_callback_errors_end_on_french_pages_not_json() {
    let app = TestApp::spawn().await;
    let rp = spawn_rp(&app).await;
    let browser = app.browser().on(&rp.base);

    // Unknown state.
    let state = new_state(&browser).await;
    let r = browser.get("/callback?code=abc&state=not-the-state").await;
    assert_eq!(r.status(), 400);
    assert!(content_type(&r).starts_with("text/html"));
    let body = text(&r.text().await.unwrap());
    assert_shows(&body, "Connexion impossible");
    assert!(!body.trim_start().starts_with('{'));
    // The login is spent: replaying the right state now fails too.
    let r = browser
        .get(&format!("/callback?code=abc&state={state}"))
        .await;
    assert_eq!(r.status(), 400);

    // The provider refused.
    let r = callback(
        &browser,
        "error=access_denied&error_description=%7B%22x%22%7D",
    )
    .await;
    assert_eq!(r.status(), 403);
    let body = text(&r.text().await.unwrap());
    assert!(body.contains("Connexion impossible"));
    assert!(body.contains("La connexion a été refusée ou annulée"));
    assert!(!body.contains("{\"x\"}"), "the description is not echoed");
    assert!(body.contains("href=\"/\""));

    let r = callback(&browser, "error=login_required").await;
    assert_eq!(r.status(), 400);
    assert!(text(&r.text().await.unwrap()).contains("Vous devez vous connecter à EFP Connect"));

    // A forged code with the right state: the exchange is refused, in French.
    let r = callback(&browser, "code=forged").await;
    assert_eq!(r.status(), 401);
    assert!(text(&r.text().await.unwrap()).contains("Connexion impossible"));

    // No session at all.
    let stranger = Browser::new(&rp.base);
    let r = stranger.get("/callback?code=abc&state=x").await;
    assert_eq!(r.status(), 400);
    let r = stranger.get("/nulle-part").await;
    assert_eq!(r.status(), 404);
    assert!(text(&r.text().await.unwrap()).contains("Page introuvable"));
}

#[tokio::test]
async fn relying_party_agent_area_is_refused_to_others_and_prints_the_letter_for_agents() {
    // The letter gives the provider's configured assistance line, as its pages do.
    let (app, rp) = rp_of_the_centre_with(|c| {
        c.assistance.phone = "0 800 123 456".into();
        c.assistance.hours = "du lundi au samedi de 8h à 20h".into();
    })
    .await;
    let alice_user = app.user("alice@centre.fr").await;
    let agent = app.user("agent@dreets.gouv.fr").await;
    app.set_agent(&agent.id, true).await;

    let alice = login(&app, &rp, "alice@centre.fr").await;
    let (status, body) = page(&alice, "/agent").await;
    assert_eq!(status, 403);
    assert!(body.contains("Accès refusé"));
    // Not logged in: to the login.
    let r = Browser::new(&rp.base).get("/agent").await;
    assert_redirect(&r, "/login");

    let browser = login(&app, &rp, "agent@dreets.gouv.fr").await;
    let (status, search) = page(&browser, "/agent").await;
    assert_eq!(status, 200);
    assert!(search.contains("Rechercher un centre par SIRET"));
    let (status, found) = page(&browser, &format!("/agent?siret={CENTRE}")).await;
    assert_eq!(status, 200, "{found}");
    assert!(found.contains(CENTRE_NAME));
    assert!(found.contains("1 RUE DE LA PAIX"));
    assert!(found.contains("ouvert"));
    assert!(found.contains("Éditer le courrier d'activation"));
    let (status, bad) = page(&browser, "/agent?siret=123").await;
    assert_eq!(status, 400);
    assert!(bad.contains("14 chiffres"));

    // Without the CSRF token: refused.
    let forged = browser
        .post_form("/agent/courrier", &[("csrf", "x"), ("siret", CENTRE)])
        .await;
    assert_eq!(forged.status(), 400);
    assert!(
        codes::list(&app.state.db, "ceres", Some(CENTRE))
            .await
            .unwrap()
            .is_empty()
    );

    let r = browser
        .post_form(
            "/agent/courrier",
            &[("csrf", &csrf_of(&found)), ("siret", CENTRE)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(
        h["content-disposition"],
        format!("attachment; filename=\"courrier-activation-{CENTRE}.pdf\"").as_str()
    );
    assert_eq!(h["cache-control"], "no-store");
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let letter = idp_tests::pdf_text(&pdf);
    assert_shows(
        &letter,
        "Objet : Modalit\u{e9}s d'acc\u{e8}s \u{e0} l'applicatif CERES",
    );
    assert!(letter.contains(CENTRE_NAME));
    let flat = letter.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_shows(
        &flat,
        "du lundi au samedi de 8h \u{e0} 20h au N\u{b0}Vert 0 800 123 456 (service et appel gratuits)",
    );
    let line = letter
        .lines()
        .find(|l| l.contains("Code d'activation : "))
        .expect("the code line");
    assert!(line.contains(&format!("SIRET : {CENTRE}")));
    let code = line.rsplit("Code d'activation : ").next().unwrap().trim();
    assert_eq!(code.len(), 12, "{code}");
    // The printed code is the live one.
    let listed = codes::list(&app.state.db, "ceres", Some(CENTRE))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, codes::CodeStatus::Live);
    app.redeem_code(
        &ActivationCode::parse(code).unwrap(),
        Some(CENTRE),
        &alice_user.id,
    )
    .await
    .expect("the printed code works");
}

#[tokio::test]
async fn relying_party_keeps_logging_in_after_the_provider_replaces_its_signing_key() {
    let app = TestApp::spawn().await;
    let rp = spawn_rp(&app).await;
    app.user("alice@centre.fr").await;
    let db = &app.state.db;
    let now = idp::store::now();
    let old = list(db, now)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.alg == SigningAlg::RS256.as_str() && k.state == KeyState::Active)
        .expect("RS256 signer")
        .kid;
    let policy = KeyPolicy {
        prepublication: Duration::ZERO,
        retention: Duration::from_secs(600),
        rotation_interval: Duration::from_secs(86_400),
        rsa_bits: 2048,
    };
    // The RP discovered the JWKS at start-up: the replacement key is unknown to it.
    revoke(db, &app.state.kek, &policy, &old, now, "test")
        .await
        .expect("revoked");
    assert!(
        eventually(Duration::from_secs(10), || async {
            let jwks = app.get_text("/jwks").await;
            !jwks.contains(&old)
        })
        .await
    );
    let browser = login(&app, &rp, "alice@centre.fr").await;
    let (status, body) = page(&browser, "/").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Alice Martin"));
}

#[tokio::test]
async fn relying_party_refreshes_tokens_about_to_expire_with_the_rotated_refresh_token() {
    let app = TestApp::spawn_with(|c| c.tokens.access_token_ttl_seconds = 20).await;
    let rp = spawn_rp(&app).await;
    app.user("alice@centre.fr").await;
    let browser = login(&app, &rp, "alice@centre.fr").await;
    let count = || app.refresh_token_count();
    let before = count().await;
    // 20 s tokens are within the 30 s margin: each view refreshes first. Were an old refresh
    // token reused, the provider would revoke the grant and the third view would fail.
    for _ in 0..3 {
        let (status, body) = page(&browser, "/").await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("Vous n'avez pas accès"));
    }
    assert!(count().await >= before + 3, "three refreshes");
}

#[tokio::test]
async fn relying_party_logout_ends_both_sessions_through_the_end_session_endpoint() {
    let app = TestApp::spawn().await;
    let rp = spawn_rp(&app).await;
    app.user("alice@centre.fr").await;
    let browser = login(&app, &rp, "alice@centre.fr").await;
    let (_, home) = page(&browser, "/").await;
    assert!(home.contains("Me déconnecter"));

    let forged = browser.post_form("/logout", &[("csrf", "x")]).await;
    assert_eq!(forged.status(), 400);

    let out = browser
        .post_form("/logout", &[("csrf", &csrf_of(&home))])
        .await;
    assert_eq!(out.status(), 303);
    let end = location(&out).expect("to the provider");
    assert!(end.starts_with(&format!("{}/logout?", app.base)), "{end}");
    let q = query_of(&end);
    assert!(q["id_token_hint"].split('.').count() == 3);
    assert_eq!(q["post_logout_redirect_uri"], format!("{}/", rp.base));
    // The demo's session is gone.
    let (_, home) = page(&browser, "/").await;
    assert!(home.contains("Se connecter avec EFP Connect"));

    // The provider's too: it sends the browser back, and the next login asks again.
    let provider = browser.on(&app.base);
    let (r, _) = provider.follow(&end).await;
    let back = location(&r).expect("back to the demo");
    assert!(back.starts_with(&format!("{}/", rp.base)), "{back}");
    let start = browser.get("/login").await;
    let (_, at) = provider.follow(&location(&start).unwrap()).await;
    assert!(
        at.contains("/connexion"),
        "logged out of the provider: {at}"
    );
}

/// « Me déconnecter » on the provider: the provider posts a logout token to the demo, which
/// forgets the session; the demo's next page shows the person logged out. The token names the
/// provider session (`sid`, which the demo registers as required): the same person's login on
/// another browser, under another provider session, stays.
#[tokio::test]
async fn relying_party_forgets_the_session_when_the_person_logs_out_of_the_provider() {
    let app = TestApp::spawn().await;
    let rp = spawn_rp(&app).await;
    app.user("alice@centre.fr").await;
    let browser = login(&app, &rp, "alice@centre.fr").await;
    let other_browser = login(&app, &rp, "alice@centre.fr").await;
    let (_, home) = page(&browser, "/").await;
    assert!(home.contains("Me déconnecter"), "logged in at the demo");

    let provider = browser.on(&app.base);
    let confirm = provider
        .get("/logout")
        .await
        .text()
        .await
        .expect("confirm page");
    let out = provider
        .post_form("/logout", &[("csrf", &csrf_of(&confirm))])
        .await;
    assert_eq!(out.status(), 200, "logged out of the provider at once");
    assert!(
        eventually(Duration::from_secs(10), || async {
            page(&browser, "/")
                .await
                .1
                .contains("Se connecter avec EFP Connect")
        })
        .await,
        "the demo shows the person logged out"
    );
    let (_, other) = page(&other_browser, "/").await;
    assert!(
        other.contains("Me déconnecter"),
        "the login under another provider session stays"
    );
}

/// The demo's back-channel endpoint refuses a token that is not a valid logout token for it,
/// and ends nothing.
#[tokio::test]
async fn relying_party_refuses_logout_tokens_that_do_not_hold() {
    let app = TestApp::spawn().await;
    let rp = spawn_rp(&app).await;
    app.user("alice@centre.fr").await;
    let browser = login(&app, &rp, "alice@centre.fr").await;
    let signer = app
        .state
        .keys
        .current()
        .signer(SigningAlg::RS256)
        .expect("RS256");
    let now = app.state.clock.now();
    let valid = serde_json::json!({
        "iss": app.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120, "jti": "j1",
        "sub": "someone-else",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    let with = |k: &str, v: serde_json::Value| {
        let mut c = valid.clone();
        c[k] = v;
        c
    };
    let mut no_events = valid.clone();
    no_events.as_object_mut().unwrap().remove("events");
    let mut no_subject = valid.clone();
    no_subject.as_object_mut().unwrap().remove("sub");
    let ec = app
        .state
        .keys
        .current()
        .signer(SigningAlg::ES256)
        .expect("ES256");
    let refused = [
        (
            "nonce",
            signer.sign("logout+jwt", &with("nonce", "n".into())),
        ),
        (
            "aud",
            signer.sign("logout+jwt", &with("aud", "another-client".into())),
        ),
        (
            "iss",
            signer.sign("logout+jwt", &with("iss", "https://evil.example".into())),
        ),
        (
            "exp",
            signer.sign("logout+jwt", &with("exp", (now - 600).into())),
        ),
        ("events", signer.sign("logout+jwt", &no_events)),
        ("sub/sid", signer.sign("logout+jwt", &no_subject)),
        ("typ", signer.sign("JWT", &valid)),
        ("alg", ec.sign("logout+jwt", &valid)),
        (
            "signature",
            format!("{}x", signer.sign("logout+jwt", &valid)),
        ),
    ];
    let rp_http = reqwest::Client::new();
    let post = |token: String| {
        rp_http
            .post(format!("{}/backchannel-logout", rp.base))
            .form(&[("logout_token", token)])
            .send()
    };
    for (what, token) in refused {
        let r = post(token).await.expect("demo answers");
        assert_eq!(r.status(), 400, "{what}");
    }
    // The well-formed token of another person is accepted and ends nothing here.
    let r = post(signer.sign("logout+jwt", &valid))
        .await
        .expect("demo answers");
    assert_eq!(r.status(), 200);
    let (_, home) = page(&browser, "/").await;
    assert!(home.contains("Me déconnecter"), "still logged in");
}
