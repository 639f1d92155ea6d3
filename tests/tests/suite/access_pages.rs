//! First access with an activation code, in the provider's pages (guide `002` §3.2 steps
//! 13–24) and through the JSON API a relying party calls; the codes API of a service's back
//! office.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use idp::access::{codes, habilitations};
use idp_tests::access::{CENTRE, OTHER};
use idp_tests::{
    TestApp, TestClient, assert_error, assert_redirect, assert_shows, auth_url_for, csrf_of,
    exchange_code, hidden_field, location, query_of, text,
};
use serde_json::{Value, json};

const ALICE: &str = "alice@centre.fr";

fn authorize_url(app: &TestApp, client: &TestClient, extra: &[(&str, &str)]) -> String {
    auth_url_for(app, client, "openid habilitations", extra)
}

#[tokio::test]
async fn access_a_person_without_habilitation_redeems_a_code_accepts_the_charte_and_lands_in_the_service()
 {
    let app = TestApp::spawn().await;
    app.establishment(CENTRE, "CENTRE DE FORMATION DU LAC", true)
        .await;
    let client = app.service_client("ceres-app", "ceres", true).await;
    let alice = app.user(ALICE).await;
    let code = app.issue_code(CENTRE).await;

    // prompt=none cannot show the no-access page.
    let browser = app.log_in(ALICE).await;
    let (r, _) = browser
        .follow(&authorize_url(&app, &client, &[("prompt", "none")]))
        .await;
    let out = location(&r).unwrap();
    assert_eq!(query_of(&out)["error"], "interaction_required");

    // The service requires a habilitation: the no-access page, not the client.
    let (r, at) = browser.follow(&authorize_url(&app, &client, &[])).await;
    assert_shows(&at, "/acces/ceres?authreq=");
    let page = text(&r.text().await.unwrap());
    assert_shows(&page, "Vous n'avez pas accès au service numérique CERES.");
    assert!(page.contains("Demander l'accès"));
    let authreq = hidden_field(&page, "authreq").unwrap();

    // Bad input: a clear message, nothing changes.
    for (siret, typed, expected) in [
        ("1234", code.as_str(), "SIRET"),
        (CENTRE, "ABC", "12 caractères"),
        (CENTRE, "KBJ9SLMSN8F7", "n'est pas valide"),
        (OTHER, code.as_str(), "ne correspond pas au SIRET"),
    ] {
        let r = browser.submit_code(&authreq, siret, typed).await;
        assert_eq!(r.status(), 400, "{siret} {typed}");
        let body = text(&r.text().await.unwrap());
        assert!(body.contains(expected), "{expected}: {body}");
    }
    assert!(!app.is_manager(&alice.id, CENTRE).await);
    // A forged form.
    let r = browser
        .post_form(
            "/acces/ceres/activation",
            &[("csrf", "faux"), ("siret", CENTRE), ("code", &code)],
        )
        .await;
    assert_eq!(r.status(), 403);

    // The right code (typed with spaces, lower case) → the charte.
    let spaced = format!("{} {}", &code[..6], &code[6..]).to_lowercase();
    let r = browser
        .submit_code(&authreq, "130 025 265 00013", &spaced)
        .await;
    let next = location(&r).expect("to the charte");
    assert!(next.starts_with("/acces/ceres/charte?"), "{next}");
    assert!(app.is_manager(&alice.id, CENTRE).await);

    // « Gestion de mes accès » is not shown before the charte is accepted.
    let r = browser
        .get(&format!(
            "/acces/ceres/mes-acces?authreq={authreq}&siret={CENTRE}"
        ))
        .await;
    assert!(location(&r).unwrap().starts_with("/acces/ceres/charte?"));

    let page = browser.get(&next).await.text().await.unwrap();
    assert_shows(&page, "Charte du responsable des accès");
    assert!(page.contains("CENTRE DE FORMATION DU LAC"));
    let form = |extra: Option<(&'static str, &'static str)>, csrf: String| {
        let mut f = vec![
            ("csrf", csrf),
            ("authreq", authreq.clone()),
            ("siret", CENTRE.to_owned()),
        ];
        if let Some((k, v)) = extra {
            f.push((k, v.to_owned()));
        }
        f
    };
    let post = |f: Vec<(&'static str, String)>, path: &'static str| {
        let browser = browser.clone();
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.post_form(path, &pairs).await
        }
    };
    let r = post(form(None, csrf_of(&page)), "/acces/ceres/charte").await;
    assert_eq!(r.status(), 400, "the box must be ticked");
    let r = post(
        form(Some(("accepte", "oui")), csrf_of(&page)),
        "/acces/ceres/charte",
    )
    .await;
    let next = location(&r).expect("to « Gestion de mes accès »");
    assert!(next.starts_with("/acces/ceres/mes-acces?"), "{next}");

    let page = browser.get(&next).await.text().await.unwrap();
    assert!(page.contains("Gestion de mes accès"));
    assert!(page.contains("Gestionnaire CENTRES"));
    // « Terminer » with no habilitation yet.
    let r = post(
        form(Some(("action", "terminer")), csrf_of(&page)),
        "/acces/ceres/mes-acces",
    )
    .await;
    assert_eq!(r.status(), 400);
    // A past end date.
    let mut f = form(Some(("action", "ajouter")), csrf_of(&page));
    f.push(("role", "centre_agree".into()));
    f.push(("date_fin", "2001-01-01".into()));
    let r = post(f, "/acces/ceres/mes-acces").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("antérieure"));
    // An unknown role.
    let mut f = form(Some(("action", "ajouter")), csrf_of(&page));
    f.push(("role", "pilote".into()));
    let r = post(f, "/acces/ceres/mes-acces").await;
    assert_eq!(r.status(), 400);

    let mut f = form(Some(("action", "ajouter")), csrf_of(&page));
    f.push(("role", "centre_agree".into()));
    f.push(("date_fin", "2099-06-30".into()));
    let r = post(f, "/acces/ceres/mes-acces").await;
    let back = location(&r).unwrap();
    let page = browser.page(&back).await.1;
    assert_shows(&page, "Liste de vos habilitations");
    assert_shows(&page, "jusqu'à fin 06/2099");

    let r = post(
        form(Some(("action", "terminer")), csrf_of(&page)),
        "/acces/ceres/mes-acces",
    )
    .await;
    let next = location(&r).unwrap();
    assert!(next.starts_with("/authorize/continue?authreq="), "{next}");
    let (r, _) = browser.follow(&next).await;
    let out = location(&r).expect("back to the client");
    let code = query_of(&out)["code"].clone();
    let tokens: Value = exchange_code(&app, &client, &code, &[])
        .await
        .json()
        .await
        .unwrap();
    let id: Value = serde_json::from_slice(
        &B64.decode(
            tokens["id_token"]
                .as_str()
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(id["habilitations"][0]["role"], "centre_agree");
    assert_eq!(id["habilitations"][0]["expires_at"], "2099-06-30");
    assert_eq!(id["access_manager_of"], json!([CENTRE]));

    // The origin is recorded, and the audit trail has the redemption and the grant.
    let h = &app.live_habilitations(&alice.id).await[0];
    assert!(
        h.origin().starts_with("Habilité par Alice Martin le "),
        "{}",
        h.origin()
    );
    let actions = app.audit_actions().await;
    for a in [
        "activation_code.refused",
        "activation_code.redeemed",
        "charte.accepted",
        "habilitation.granted",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }

    // Next time, straight through.
    let (r, _) = browser.follow(&authorize_url(&app, &client, &[])).await;
    assert!(query_of(&location(&r).unwrap()).contains_key("code"));
}

#[tokio::test]
async fn access_pages_refuse_strangers_and_send_the_logged_out_to_the_login() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    let anonymous = app.browser();
    let r = anonymous.get("/acces/ceres").await;
    let to = location(&r).unwrap();
    assert!(to.starts_with("/connexion"), "{to}");
    let r = anonymous.get("/acces/inconnu").await;
    assert_eq!(r.status(), 404);

    let browser = app.log_in(ALICE).await;
    for path in [
        format!("/acces/ceres/charte?siret={CENTRE}"),
        format!("/acces/ceres/mes-acces?siret={CENTRE}"),
        "/acces/ceres/charte?siret=abc".to_owned(),
    ] {
        let r = browser.get(&path).await;
        assert_eq!(r.status(), 403, "{path}");
    }
}

#[tokio::test]
async fn access_mes_habilitations_lists_each_services_rights_with_their_origin() {
    let app = TestApp::spawn().await;
    let alice = app.user(ALICE).await;
    let anonymous = app.browser();
    let r = anonymous.get("/compte/habilitations").await;
    assert_redirect(&r, "/connexion?retour=%2Fcompte%2Fhabilitations");

    // Nothing yet: the ways to get an access.
    let browser = app.log_in(ALICE).await;
    let page = browser.page("/compte/habilitations").await.1;
    assert_shows(&page, "Vous n'avez pas d'habilitation pour CERES.");
    assert_shows(&page, "href=\"/acces/ceres/demande\"");

    let db = &app.state.db;
    let app = &app;
    let granted = |role: &'static str, end: Option<&'static str>| {
        let id = alice.id.clone();
        async move {
            let h = habilitations::grant(
                db,
                &habilitations::NewHabilitation {
                    user_id: &id,
                    service_code: "ceres",
                    siret: CENTRE,
                    role,
                    end_date: None,
                    granted_by: None,
                    how: habilitations::GrantedHow::ActivationCode,
                },
            )
            .await
            .unwrap();
            if let Some(end) = end {
                app.end_habilitation(&h, Some(end)).await;
            }
        }
    };
    granted("centre_agree", Some("2099-06-30")).await;
    granted("gestionnaire_centres", Some("2001-01-31")).await;
    app.grant_manager(&alice.id, CENTRE).await;
    let page = browser.page("/compte/habilitations").await.1;
    let live = page.find("Centre agréé").expect("the live one");
    let ended = page.find("Gestionnaire CENTRES").expect("the ended one");
    assert!(live < ended, "live ones first");
    assert_shows(&page, "06/2099");
    assert_shows(&page, "Terminée");
    assert_shows(&page, "code d'activation");
    assert_shows(&page, "Responsable des accès");
    assert_shows(&page, "href=\"/acces/ceres/gestion\"");
    assert!(!page.contains("J'ai un code d'activation"), "{page}");
    // The charte: not accepted yet, so a link to read and accept it; then its version and date.
    assert_shows(&page, "charte pas encore acceptée");
    assert_shows(
        &page,
        &format!("href=\"/acces/ceres/charte?siret={CENTRE}\""),
    );
    app.accept_charte(&alice.id, CENTRE).await;
    let page = browser.page("/compte/habilitations").await.1;
    assert_shows(&page, "charte acceptée le");
    assert_shows(&page, "(version 2)");
    assert!(!page.contains("nouvelle version de la charte"), "{page}");
}

#[tokio::test]
async fn access_a_relying_party_redeems_a_code_with_the_persons_token() {
    let app = TestApp::spawn().await;
    let client = app.service_client("ceres-app", "ceres", false).await;
    let alice = app.user(ALICE).await;
    let token = app.user_token(&client, ALICE).await;
    let code = app.issue_code(CENTRE).await;

    let (s, b) = app
        .activation_api("pas-un-jeton", json!({"code": code}))
        .await;
    assert_error(s, &b, 401, "invalid_token");
    let r = app
        .http()
        .post(app.url("/api/v1/activation"))
        .bearer_auth(&token)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (s, b) = app.activation_api(&token, json!({"code": "AB"})).await;
    assert_error(s, &b, 400, "invalid_code");
    let (s, b) = app
        .activation_api(&token, json!({"code": code, "siret": "123"}))
        .await;
    assert_error(s, &b, 400, "invalid_siret");
    let (s, b) = app
        .activation_api(&token, json!({"code": code, "siret": OTHER}))
        .await;
    assert_error(s, &b, 400, "wrong_siret");
    assert!(b["error_description"].as_str().unwrap().contains("SIRET"));

    let (s, b) = app
        .activation_api(&token, json!({"code": code, "siret": CENTRE}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["siret"], CENTRE);
    assert_eq!(b["access_manager"], true);
    assert_eq!(
        b["next"],
        app.url(&format!("/acces/ceres/charte?siret={CENTRE}"))
    );
    assert!(app.is_manager(&alice.id, CENTRE).await);
    let (s, b) = app.activation_api(&token, json!({"code": code})).await;
    assert_error(s, &b, 400, "used_code");

    // A client of no service cannot redeem.
    let plain = app
        .client_with("plain", |reg| reg.scopes.push("habilitations".into()))
        .await;
    let other_token = app.user_token(&plain, ALICE).await;
    let (s, b) = app
        .activation_api(&other_token, json!({"code": app.issue_code(OTHER).await}))
        .await;
    assert_error(s, &b, 403, "no_service");
}

#[tokio::test]
async fn access_guessing_codes_is_limited_per_person() {
    let app = TestApp::spawn().await;
    let client = app.service_client("ceres-app", "ceres", false).await;
    app.user(ALICE).await;
    let token = app.user_token(&client, ALICE).await;
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let guess = codes::ActivationCode::generate();
        let (s, _) = app
            .activation_api(&token, json!({"code": guess.as_str()}))
            .await;
        statuses.push(s);
    }
    assert!(statuses[..10].iter().all(|s| *s == 400), "{statuses:?}");
    assert_eq!(statuses[10], 429);
    // The right code is refused too while the limit holds: guessing gains nothing.
    let code = app.issue_code(CENTRE).await;
    let (s, b) = app.activation_api(&token, json!({"code": code})).await;
    assert_error(s, &b, 429, "too_many_requests");
}

/// `n` bad codes tried through the API with `token`, each sent with `body` added: the statuses.
async fn bad_tries(app: &TestApp, token: &str, n: usize, extra: Value) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        let mut body = extra.clone();
        body["code"] = json!(codes::ActivationCode::generate().as_str());
        statuses.push(app.activation_api(token, body).await.0);
    }
    statuses
}

/// The relying party's server calls the API for all its users from one address: that address
/// is not what is limited, so people guessing through it (even with a made-up `end_user_ip`,
/// which an untrusted client cannot make count) leave its other users their activation.
#[tokio::test]
async fn access_people_guessing_through_a_relying_party_do_not_block_its_other_users() {
    let app = TestApp::spawn().await;
    let client = app.service_client("ceres-app", "ceres", false).await;
    let forged = json!({ "end_user_ip": "203.0.113.7" });
    // 40 bad codes from one server address: more than a person's address may try.
    for guesser in [
        "g1@centre.fr",
        "g2@centre.fr",
        "g3@centre.fr",
        "g4@centre.fr",
    ] {
        app.user(guesser).await;
        let token = app.user_token(&client, guesser).await;
        let statuses = bad_tries(&app, &token, 10, forged.clone()).await;
        assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
    }
    app.user(ALICE).await;
    let token = app.user_token(&client, ALICE).await;
    let code = app.issue_code(CENTRE).await;
    let (s, b) = app.activation_api(&token, json!({"code": code})).await;
    assert_eq!(s, 200, "{b}");
}

/// A relying party trusted to forward the person's address (`forwards_end_user_ip`): the
/// tries are counted per that address, as on the page; another address is not held back. A
/// forwarded address that is none is the client's error.
#[tokio::test]
async fn access_a_trusted_relying_party_has_the_persons_address_limited() {
    let app = TestApp::spawn().await;
    let client = app
        .client_with("ceres-app", |reg| {
            reg.scopes.push("habilitations".into());
            reg.forwards_end_user_ip = true;
        })
        .await;
    idp::access::services::link_client(&app.state.db, "ceres", "ceres-app", false)
        .await
        .expect("link");
    let from = json!({ "end_user_ip": "203.0.113.7" });
    for guesser in ["g1@centre.fr", "g2@centre.fr", "g3@centre.fr"] {
        app.user(guesser).await;
        let token = app.user_token(&client, guesser).await;
        let statuses = bad_tries(&app, &token, 10, from.clone()).await;
        assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
    }
    app.user(ALICE).await;
    let token = app.user_token(&client, ALICE).await;
    let code = app.issue_code(CENTRE).await;
    let (s, b) = app
        .activation_api(&token, json!({"code": code, "end_user_ip": "203.0.113.7"}))
        .await;
    assert_error(s, &b, 429, "too_many_requests");
    let (s, b) = app
        .activation_api(
            &token,
            json!({"code": code, "end_user_ip": "pas une adresse"}),
        )
        .await;
    assert_error(s, &b, 400, "invalid_request");
    let (s, b) = app
        .activation_api(&token, json!({"code": code, "end_user_ip": "2001:db8::1"}))
        .await;
    assert_eq!(s, 200, "{b}");
}

/// All the users of one relying party together have a ceiling of tries through the API.
#[tokio::test]
async fn access_a_relying_partys_tries_have_a_ceiling() {
    let app = TestApp::spawn_with(|c| c.access.activation_attempts_per_client = 5).await;
    let client = app.service_client("ceres-app", "ceres", false).await;
    app.user("g1@centre.fr").await;
    let token = app.user_token(&client, "g1@centre.fr").await;
    let statuses = bad_tries(&app, &token, 5, json!({})).await;
    assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
    app.user(ALICE).await;
    let token = app.user_token(&client, ALICE).await;
    let code = app.issue_code(CENTRE).await;
    let (s, b) = app.activation_api(&token, json!({"code": code})).await;
    assert_error(s, &b, 429, "too_many_requests");
}

#[tokio::test]
async fn access_a_services_back_office_issues_lists_and_revokes_codes() {
    let app = TestApp::spawn().await;
    app.establishment(OTHER, "CENTRE FERMÉ", false).await;
    let token = app.back_office_token("ceres-batch", "codes:issue").await;
    let http = app.http();
    let issue = |siret: &'static str| {
        http.post(app.url("/api/v1/codes"))
            .bearer_auth(&token)
            .json(&json!({ "siret": siret }))
            .send()
    };
    // Codes go only to establishments the register holds open.
    let r = issue(CENTRE).await.unwrap();
    assert_eq!(r.status(), 404, "not in the register");
    app.establishment(CENTRE, "CENTRE DU LAC", true).await;
    let r = issue(CENTRE).await.unwrap();
    assert_eq!(r.status(), 201);
    let issued: Value = r.json().await.unwrap();
    let code = issued["code"].as_str().unwrap();
    assert_eq!(code.len(), 12);
    assert_eq!(issued["service_label"], "CERES");
    assert_eq!(issued["redeem_url"], app.url("/acces/ceres"));

    let r = issue(OTHER).await.unwrap();
    assert_eq!(r.status(), 409, "closed establishment");

    // The register's entry an agent checks before printing a letter.
    let lookup = |siret: &str, token: &str| {
        http.get(app.url(&format!("/api/v1/establishments/{siret}")))
            .bearer_auth(token)
            .send()
    };
    let r = lookup(OTHER, &token).await.unwrap();
    assert_eq!(r.status(), 200);
    let found: Value = r.json().await.unwrap();
    assert_eq!(
        (found["name"].as_str(), found["active"].as_bool()),
        (Some("CENTRE FERMÉ"), Some(false))
    );
    assert_eq!(found["siren"], &OTHER[..9]);
    let r = lookup("00000000000000", &token).await.unwrap();
    let missing: Value = r.json().await.unwrap();
    assert_eq!(missing["error"], "not_found", "not in this register");
    let r = lookup("12345678901234", &token).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_siret");
    let r = lookup(OTHER, "not-a-token").await.unwrap();
    assert_eq!(r.status(), 401);

    let listed: Value = http
        .get(app.url(&format!("/api/v1/codes?siret={CENTRE}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["codes"][0]["status"], "live");
    assert!(!listed.to_string().contains(code), "never the code itself");
    let id = listed["codes"][0]["id"].as_str().unwrap();
    // Revoked once; a second revocation is a conflict.
    for (attempt, status) in [("first", 204), ("second", 409)] {
        let r = http
            .delete(app.url(&format!("/api/v1/codes/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "the {attempt} revocation");
    }

    // Without the scope: refused. A code of another service: not found.
    let weak = app.back_office_token("ceres-lecture", "autre:scope").await;
    let r = http
        .post(app.url("/api/v1/codes"))
        .bearer_auth(&weak)
        .json(&json!({"siret": CENTRE}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = lookup(OTHER, &weak).await.unwrap();
    assert_eq!(r.status(), 403, "the register lookup needs the scope too");
    app.service("vae", "VAE").await;
    let foreign = codes::issue(&app.state.db, &app.code_key(), "vae", CENTRE, "x", 60)
        .await
        .unwrap();
    let r = http
        .delete(app.url(&format!("/api/v1/codes/{}", foreign.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// The provider's home lists the services a person may use, with the way to each (guide 002:
/// nobody is left on « Vous êtes connecté » without a way back to CERES).
#[tokio::test]
async fn access_the_home_lists_the_persons_services_with_their_links() {
    let app = TestApp::spawn().await;
    app.establishment(CENTRE, "CENTRE DE FORMATION DU LAC", true)
        .await;
    let alice = app.user(ALICE).await;
    let browser = app.log_in(ALICE).await;

    // No habilitation: what to do.
    let (_, home) = browser.page("/").await;
    assert_shows(&home, "Vous êtes connecté");
    assert_shows(&home, "Mes services");
    assert_shows(
        &home,
        "Vous n'avez encore accès à aucun service numérique du ministère.",
    );
    assert_shows(&home, "href=\"/compte/habilitations\"");

    // A live habilitation, and CERES's home page registered: the link to CERES.
    let ceres = idp::access::services::Service {
        code: "ceres".into(),
        label: "CERES".into(),
        description: "Gestion des titres professionnels".into(),
        home_url: Some("https://ceres.example/".into()),
    };
    idp::access::services::upsert(&app.state.db, &ceres)
        .await
        .unwrap();
    let live = app.habilitate(&alice.id, CENTRE, "centre_agree").await;
    app.end_habilitation(&live, Some("2099-06-30")).await;
    let ended = app
        .habilitate(&alice.id, CENTRE, "gestionnaire_centres")
        .await;
    app.end_habilitation(&ended, Some("2001-01-31")).await;
    let (_, home) = browser.page("/").await;
    assert_shows(
        &home,
        "<a href=\"https://ceres.example/\">Accéder à CERES</a>",
    );
    assert_shows(
        &home,
        "Centre agréé — CENTRE DE FORMATION DU LAC (jusqu'à fin 06/2099)",
    );
    assert!(!home.contains("aucun service"), "{home}");
    assert!(
        !home.contains("Gestionnaire CENTRES"),
        "an ended one is not listed"
    );

    // Logged out: no list.
    let (_, home) = app.browser().page("/").await;
    assert!(!home.contains("Mes services"), "{home}");
    assert_shows(&home, "Se connecter");
}
