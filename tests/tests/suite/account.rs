//! « Gérer mon compte » (`/compte`): the overview, identity, password, e-mail address,
//! sessions and deletion, with e-mails read from a real SMTP server.

use idp::accounts::{Email, store as users};
use idp_tests::{
    Browser, PASSWORD, SmtpSink, TestApp, assert_redirect, assert_shows, auth_url, code_of,
    csrf_of, exchange_code, hidden_field, location, page_of, query_of, refresh_response as refresh,
};
use totp_rs::{Builder, Secret, Totp};

const ALICE: &str = "alice@centre.fr";

/// The pages of « Mon compte ».
const ACCOUNT_PAGES: [&str; 6] = [
    "/compte",
    "/compte/identite",
    "/compte/mot-de-passe",
    "/compte/adresse-electronique",
    "/compte/sessions",
    "/compte/suppression",
];
const BOB: &str = "bob@centre.fr";
const NEW_PASSWORD: &str = "Nouveau-mot-de-passe-2026";
const NEW_ADDRESS: &str = "alice.martin@nouveau-centre.fr";
const FORGED: &str = "jeton-forge-0000000000000000000000000000000";

/// A browser logged in as `email` with [`PASSWORD`].
async fn logged_in_as(app: &TestApp, email: &str) -> Browser {
    let browser = app.browser();
    let answer = browser.submit_login("/connexion", email, PASSWORD).await;
    assert_eq!(location(&answer).as_deref(), Some("/"), "login of {email}");
    browser
}

/// Whether the browser still has a session (the account page shows instead of the login).
async fn has_session(browser: &Browser) -> bool {
    browser.get("/compte").await.status() == 200
}

async fn user(app: &TestApp, email: &str) -> Option<users::User> {
    users::user_by_email(&app.state.db, &Email::parse(email).unwrap())
        .await
        .unwrap()
}

/// Logs in on a client and returns its refresh token.
async fn refresh_token_of(
    app: &TestApp,
    browser: &Browser,
    client: &idp_tests::TestClient,
) -> String {
    let out = browser.authorize(&auth_url(app, client, &[]), ALICE).await;
    let code = query_of(&out).remove("code").expect("a code");
    let tokens: serde_json::Value = exchange_code(app, client, &code, &[])
        .await
        .json()
        .await
        .unwrap();
    tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

async fn assert_refused(app: &TestApp, client: &idp_tests::TestClient, refresh_token: &str) {
    let answer = refresh(app, client, refresh_token).await;
    assert_eq!(answer.status(), 400);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

/// Alice on two browsers: her phone logged in to a client (which holds a refresh token), and
/// her laptop logged in to the account pages.
struct TwoBrowsers {
    alice: users::User,
    client: idp_tests::TestClient,
    phone: Browser,
    refresh_token: String,
    laptop: Browser,
}

async fn alice_on_two_browsers(app: &TestApp) -> TwoBrowsers {
    let alice = app.user(ALICE).await;
    let client = app.client("ceres").await;
    let phone = app.browser();
    let refresh_token = refresh_token_of(app, &phone, &client).await;
    assert!(has_session(&phone).await);
    let laptop = logged_in_as(app, ALICE).await;
    TwoBrowsers {
        alice,
        client,
        phone,
        refresh_token,
        laptop,
    }
}

// ---- Overview and login ----

#[tokio::test]
async fn account_pages_need_a_login_and_the_login_comes_back_to_them() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    let browser = app.browser();
    for path in ACCOUNT_PAGES {
        let answer = browser.get(path).await;
        assert_eq!(answer.status(), 303, "{path}");
        let to = location(&answer).unwrap();
        assert!(
            to.starts_with("/connexion?retour=%2Fcompte"),
            "{path} → {to}"
        );
    }
    let answer = browser.get("/compte").await;
    let login = location(&answer).unwrap();
    let page = browser.get(&login).await.text().await.unwrap();
    let retour = hidden_field(&page, "retour").expect("the page to go back to");
    assert_eq!(retour, "/compte");
    let answer = browser
        .post_form(
            "/connexion",
            &[
                ("csrf", &csrf_of(&page)),
                ("retour", &retour),
                ("email", ALICE),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_redirect(&answer, "/compte");
    assert_eq!(browser.get("/compte").await.status(), 200);
}

#[tokio::test]
async fn account_login_never_returns_to_another_site() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    for retour in [
        "//evil.example/compte",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let browser = app.browser();
        let mut url = url::Url::parse(&app.url("/connexion")).unwrap();
        url.query_pairs_mut().append_pair("retour", retour);
        let page = browser.get(url.as_str()).await.text().await.unwrap();
        assert_eq!(hidden_field(&page, "retour"), None, "{retour}");
        // Even when posted by hand.
        let answer = browser
            .post_form(
                "/connexion",
                &[
                    ("csrf", &csrf_of(&page)),
                    ("retour", retour),
                    ("email", ALICE),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(location(&answer).as_deref(), Some("/"), "{retour}");
    }
}

#[tokio::test]
async fn account_overview_shows_identity_address_organization_and_the_actions() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;
    let (_, home) = page_of(browser.get("/").await).await;
    assert_shows(&home, "href=\"/compte\"");
    assert!(home.contains("Gérer mon compte"));
    let (status, page) = page_of(browser.get("/compte").await).await;
    assert_eq!(status, 200);
    for text in [
        "Gérer mon compte",
        "Madame",
        "Martin",
        "Alice",
        ALICE,
        "Responsable formation",
        "13002526500013",
        "Centre de formation de test",
        "href=\"/compte/identite\"",
        "href=\"/compte/mot-de-passe\"",
        "href=\"/compte/adresse-electronique\"",
        "href=\"/compte/sessions\"",
        "href=\"/compte/suppression\"",
        "href=\"/compte/double-authentification\"",
    ] {
        assert!(page.contains(text), "{text} in {page}");
    }
}

#[tokio::test]
async fn account_pages_need_no_inline_style_or_script() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;
    for path in ACCOUNT_PAGES {
        let (status, page) = page_of(browser.get(path).await).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains("<html lang=\"fr\""), "{path}");
        assert!(
            !page.contains(" style=") && !page.contains("<style"),
            "{path}: {page}"
        );
        for script in page.split("<script").skip(1) {
            let tag = &script[..script.find('>').expect("tag end")];
            assert!(tag.contains(" src=\"/static/dsfr/"), "{path}: {tag}");
        }
    }
}

// ---- Identity ----

#[tokio::test]
async fn account_identity_and_poste_are_changed() {
    let app = TestApp::spawn().await;
    let before = app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;
    let (_, page) = page_of(browser.get("/compte/identite").await).await;
    assert_shows(&page, "value=\"Martin\"");
    let answer = browser
        .post_to(
            "/compte/identite",
            &[
                ("civilite", "monsieur"),
                ("nom", "  Durand "),
                ("prenom", "Jean"),
                ("poste", ""),
            ],
        )
        .await;
    assert_eq!(answer.status(), 303);
    assert_redirect(&answer, "/compte?fait=identite");
    let after = user(&app, ALICE).await.unwrap();
    assert_eq!(after.family_name, "Durand");
    assert_eq!(after.given_name, "Jean");
    assert_eq!(after.gender.as_deref(), Some("male"));
    assert_eq!(after.job, None);
    assert!(after.updated_at >= before.updated_at);
    let (_, page) = page_of(browser.get("/compte?fait=identite").await).await;
    assert!(page.contains("Vos informations ont été enregistrées."));
    assert!(page.contains("Monsieur") && page.contains("Durand"));
}

#[tokio::test]
async fn account_identity_errors_show_the_form_again_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;
    let long_job = "p".repeat(201);
    let long_name = "n".repeat(101);
    for (form, message) in [
        (
            [
                ("civilite", ""),
                ("nom", "Durand"),
                ("prenom", "Jean"),
                ("poste", ""),
            ],
            "Veuillez indiquer votre civilité.",
        ),
        (
            [
                ("civilite", "madame"),
                ("nom", " "),
                ("prenom", "Jeanne"),
                ("poste", ""),
            ],
            "Veuillez saisir votre nom.",
        ),
        (
            [
                ("civilite", "madame"),
                ("nom", "Durand"),
                ("prenom", ""),
                ("poste", ""),
            ],
            "Veuillez saisir votre prénom.",
        ),
        (
            [
                ("civilite", "madame"),
                ("nom", long_name.as_str()),
                ("prenom", "Jeanne"),
                ("poste", ""),
            ],
            "Le nom ne peut dépasser 100 caractères.",
        ),
        (
            [
                ("civilite", "madame"),
                ("nom", "Durand"),
                ("prenom", "Jeanne"),
                ("poste", long_job.as_str()),
            ],
            "Le poste ne peut dépasser 200 caractères.",
        ),
    ] {
        let (status, page) = page_of(browser.post_to("/compte/identite", &form).await).await;
        assert_eq!(status, 400, "{message}");
        assert!(page.contains(message), "{message} in {page}");
        // What was typed comes back.
        assert!(page.contains(&format!("value=\"{}\"", form[1].1)), "{page}");
    }
    let forged = browser
        .post_form(
            "/compte/identite",
            &[
                ("csrf", FORGED),
                ("civilite", "monsieur"),
                ("nom", "Durand"),
                ("prenom", "Jean"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_identity_unchanged(&app).await;
}

/// Alice's identity is the one she was created with.
async fn assert_identity_unchanged(app: &TestApp) {
    let after = user(app, ALICE).await.unwrap();
    assert_eq!(
        (after.family_name.as_str(), after.given_name.as_str()),
        ("Martin", "Alice")
    );
    assert_eq!(after.job.as_deref(), Some("Responsable formation"));
}

// ---- Password ----

async fn change_password(
    browser: &Browser,
    current: &str,
    new: &str,
    confirmation: &str,
) -> reqwest::Response {
    browser
        .post_to(
            "/compte/mot-de-passe",
            &[
                ("current", current),
                ("password", new),
                ("confirmation", confirmation),
            ],
        )
        .await
}

#[tokio::test]
async fn account_password_change_ends_other_sessions_revokes_tokens_and_tells_the_owner() {
    let (sink, app) = TestApp::with_mailbox().await;
    let TwoBrowsers {
        client,
        phone,
        refresh_token,
        laptop,
        ..
    } = alice_on_two_browsers(&app).await;

    let answer = change_password(&laptop, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_redirect(&answer, "/compte?fait=mot-de-passe");
    let (_, page) = page_of(laptop.get("/compte?fait=mot-de-passe").await).await;
    assert_shows(&page, "Votre mot de passe a été modifié.");

    assert!(has_session(&laptop).await, "this browser stays logged in");
    assert!(!has_session(&phone).await, "the other session ended");
    assert_refused(&app, &client, &refresh_token).await;
    assert!(app.logs_in(ALICE, NEW_PASSWORD).await);
    assert!(!app.logs_in(ALICE, PASSWORD).await);

    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail.rcpt_tos, [ALICE]);
    assert_eq!(mail.subject, "Votre mot de passe a été modifié");
    assert!(mail.text.contains("Bonjour Alice Martin,"), "{}", mail.text);
    assert!(mail.text.contains(&app.url("/compte")));
}

#[tokio::test]
async fn account_password_change_refuses_bad_inputs_and_changes_nothing() {
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;
    let other = logged_in_as(&app, ALICE).await;
    for (current, new, confirmation, status, message) in [
        (
            "Mauvais-mot-de-passe-1",
            NEW_PASSWORD,
            NEW_PASSWORD,
            401,
            "Le mot de passe actuel est incorrect.",
        ),
        (
            "",
            NEW_PASSWORD,
            NEW_PASSWORD,
            401,
            "Le mot de passe actuel est incorrect.",
        ),
        (
            PASSWORD,
            NEW_PASSWORD,
            "Autre-mot-de-passe-2026",
            400,
            "Les mots de passe ne correspondent pas.",
        ),
        (
            PASSWORD,
            "Court-1",
            "Court-1",
            400,
            "Le mot de passe doit comporter au moins 12 caractères.",
        ),
        (
            PASSWORD,
            "toutenminusculesetlong",
            "toutenminusculesetlong",
            400,
            "au moins 3 des 4 types de caractères",
        ),
        (
            PASSWORD,
            "Orage-Martin-2026",
            "Orage-Martin-2026",
            400,
            "Le mot de passe ne doit contenir ni votre nom ni votre prénom.",
        ),
    ] {
        let (got, page) =
            page_of(change_password(&browser, current, new, confirmation).await).await;
        assert_eq!(got, status, "{message}");
        assert!(page.contains(message), "{message} in {page}");
        // Passwords are never sent back.
        assert!(!page.contains(new) && !page.contains(PASSWORD));
    }
    let forged = browser
        .post_form(
            "/compte/mot-de-passe",
            &[
                ("csrf", FORGED),
                ("current", PASSWORD),
                ("password", NEW_PASSWORD),
                ("confirmation", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(app.logs_in(ALICE, PASSWORD).await);
    assert!(has_session(&other).await);
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn account_password_checks_are_limited_per_account() {
    let app = TestApp::spawn_with(|config| config.limits.login_free_failures = 3).await;
    app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;
    // The login's right password started the count again: three free tries, then a delay,
    // the right password included.
    for _ in 0..3 {
        let answer = change_password(
            &browser,
            "Mauvais-mot-de-passe-1",
            NEW_PASSWORD,
            NEW_PASSWORD,
        )
        .await;
        assert_eq!(answer.status(), 401);
    }
    let (status, page) =
        page_of(change_password(&browser, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await).await;
    assert_eq!(status, 429, "{page}");
    assert_shows(&page, "Trop de tentatives");
}

// ---- E-mail address ----

async fn ask_address_change(browser: &Browser, email: &str, password: &str) -> reqwest::Response {
    browser
        .post_to(
            "/compte/adresse-electronique",
            &[("email", email), ("password", password)],
        )
        .await
}

async fn enter_address_code(browser: &Browser, code: &str) -> reqwest::Response {
    browser
        .post_to("/compte/adresse-electronique/code", &[("code", code)])
        .await
}

/// A code that is not `code`.
fn wrong(code: &str) -> String {
    if code == "000000" { "111111" } else { "000000" }.to_owned()
}

#[tokio::test]
async fn account_address_changes_with_the_code_sent_to_the_new_address() {
    let (sink, app) = TestApp::with_mailbox().await;
    let alice = app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;

    let answer = ask_address_change(&browser, "  Alice.Martin@Nouveau-Centre.fr ", PASSWORD).await;
    assert_redirect(&answer, "/compte/adresse-electronique/code");
    let (_, page) = page_of(browser.get("/compte/adresse-electronique/code").await).await;
    assert_shows(&page, NEW_ADDRESS);
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail.rcpt_tos, [NEW_ADDRESS]);
    assert_eq!(
        mail.subject,
        "Changement d'adresse e-mail de votre compte EFP Connect"
    );
    let code = code_of(mail);

    let (status, page) = page_of(enter_address_code(&browser, &wrong(&code)).await).await;
    assert_eq!(status, 400);
    assert_shows(
        &page,
        "Le code saisi est incorrect. Il vous reste 4 essais.",
    );
    let answer = enter_address_code(&browser, &code).await;
    assert_redirect(&answer, "/compte?fait=adresse");

    let changed = user(&app, NEW_ADDRESS).await.expect("the new address");
    assert_eq!(changed.id, alice.id);
    assert!(user(&app, ALICE).await.is_none());
    assert!(app.logs_in(NEW_ADDRESS, PASSWORD).await);
    assert!(!app.logs_in(ALICE, PASSWORD).await);
    let (_, page) = page_of(browser.get("/compte").await).await;
    assert!(page.contains(NEW_ADDRESS));

    let mails = sink.wait_for(2).await;
    let notice = &mails[1];
    assert_eq!(notice.rcpt_tos, [ALICE]);
    assert_eq!(
        notice.subject,
        "L'adresse e-mail de votre compte EFP Connect a été modifiée"
    );
    assert!(notice.text.contains(NEW_ADDRESS));
    assert!(
        notice
            .text
            .contains("Si vous n'êtes pas à l'origine de cette modification, contactez"),
        "{}",
        notice.text
    );
    // The code is spent.
    let (status, _) = page_of(enter_address_code_without_page(&browser, &code).await).await;
    assert_eq!(status, 410);
}

/// Posts a code without loading the page first (it redirects once the change is done).
async fn enter_address_code_without_page(browser: &Browser, code: &str) -> reqwest::Response {
    browser
        .post_from(
            "/compte/adresse-electronique",
            "/compte/adresse-electronique/code",
            &[("code", code)],
        )
        .await
}

#[tokio::test]
async fn account_address_change_refuses_bad_inputs_and_changes_nothing() {
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;
    for (email, password, status, message) in [
        (
            "pas-une-adresse",
            PASSWORD,
            400,
            "Le format de l'adresse e-mail est invalide",
        ),
        (
            "contact@centre.fr",
            PASSWORD,
            400,
            "il est interdit d'utiliser une adresse e-mail partagée",
        ),
        (
            ALICE,
            PASSWORD,
            400,
            "Cette adresse est déjà celle de votre compte.",
        ),
        (
            NEW_ADDRESS,
            "Mauvais-mot-de-passe-1",
            401,
            "Le mot de passe actuel est incorrect.",
        ),
    ] {
        let (got, page) = page_of(ask_address_change(&browser, email, password).await).await;
        assert_eq!(got, status, "{message}");
        assert!(page.contains(message), "{message} in {page}");
        assert!(
            page.contains(&format!("value=\"{email}\"")),
            "typed address kept: {page}"
        );
    }
    let forged = browser
        .post_form(
            "/compte/adresse-electronique",
            &[
                ("csrf", FORGED),
                ("email", NEW_ADDRESS),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    // No code was asked: the code page sends back to step 1.
    let answer = browser.get("/compte/adresse-electronique/code").await;
    assert_redirect(&answer, "/compte/adresse-electronique");
    assert!(sink.messages().is_empty());
    assert!(user(&app, ALICE).await.is_some());
}

#[tokio::test]
async fn account_address_code_dies_after_five_wrong_tries_or_when_expired() {
    let (sink, app) = TestApp::with_mailbox().await;
    let alice = app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;

    ask_address_change(&browser, NEW_ADDRESS, PASSWORD).await;
    let code = code_of(&sink.wait_for(1).await[0]);
    let (status, page) = page_of(enter_address_code(&browser, "12345").await).await;
    assert_eq!(status, 400);
    assert!(page.contains("Le code doit comporter 6 chiffres."));
    for left in (1..=4).rev() {
        let (_, page) = page_of(enter_address_code(&browser, &wrong(&code)).await).await;
        let essais = if left == 1 { "essai." } else { "essais." };
        assert!(
            page.contains(&format!("Il vous reste {left} {essais}")),
            "{page}"
        );
    }
    let (_, page) = page_of(enter_address_code(&browser, &wrong(&code)).await).await;
    assert_shows(&page, "Ce code n'est plus utilisable.");
    let (status, _) = page_of(enter_address_code_without_page(&browser, &code).await).await;
    assert_eq!(status, 410);
    assert!(user(&app, NEW_ADDRESS).await.is_none());

    // A new code; then it expires (its entry leaves the shared store).
    ask_address_change(&browser, NEW_ADDRESS, PASSWORD).await;
    let code = code_of(&sink.wait_for(2).await[1]);
    let key = format!("account-email:{}", idp::secrets::hash(&alice.id));
    assert!(app.state.ephemeral.get(&key).await.unwrap().is_some());
    app.state.ephemeral.delete(&key).await.unwrap();
    let (status, page) = page_of(enter_address_code_without_page(&browser, &code).await).await;
    assert_eq!(status, 410);
    assert_shows(&page, "Ce code a expiré ou a déjà été utilisé.");
    assert!(user(&app, ALICE).await.is_some());
}

#[tokio::test]
async fn account_address_of_another_account_is_refused_without_saying_so() {
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(ALICE).await;
    app.user(BOB).await;
    let browser = logged_in_as(&app, ALICE).await;

    let answer = ask_address_change(&browser, BOB, PASSWORD).await;
    assert_redirect(&answer, "/compte/adresse-electronique/code");
    let (_, page) = page_of(browser.get("/compte/adresse-electronique/code").await).await;
    assert!(page.contains("Un e-mail contenant un code de validation a été envoyé"));
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail.rcpt_tos, [BOB]);
    assert_eq!(
        mail.subject,
        "Changement d'adresse e-mail vers un compte EFP Connect existant"
    );
    assert!(
        !mail.text.lines().any(|l| {
            let l = l.trim();
            l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit())
        }),
        "no code: {}",
        mail.text
    );
    // Any code is just wrong, as for an address without an account.
    let (status, page) = page_of(enter_address_code(&browser, "123456").await).await;
    assert_eq!(status, 400);
    assert_shows(&page, "Il vous reste 4 essais.");
    assert_eq!(user(&app, ALICE).await.unwrap().email, ALICE);
    assert_eq!(user(&app, BOB).await.unwrap().email, BOB);
}

/// Alice, logged in, asks to change her address to [`NEW_ADDRESS`]: her browser and the code
/// sent there.
async fn alice_asks_for_new_address(app: &TestApp, sink: &SmtpSink) -> (Browser, String) {
    app.user(ALICE).await;
    let browser = logged_in_as(app, ALICE).await;
    ask_address_change(&browser, NEW_ADDRESS, PASSWORD).await;
    let code = code_of(&sink.wait_for(1).await[0]);
    (browser, code)
}

#[tokio::test]
async fn account_address_taken_meanwhile_is_not_changed() {
    let (sink, app) = TestApp::with_mailbox().await;
    let (browser, code) = alice_asks_for_new_address(&app, &sink).await;
    // Someone signs up with that address before the code is typed.
    app.user(NEW_ADDRESS).await;
    let (status, page) = page_of(enter_address_code(&browser, &code).await).await;
    assert_eq!(status, 409);
    assert_shows(
        &page,
        "La modification de votre adresse e-mail n'a pas pu être effectuée.",
    );
    assert_eq!(user(&app, ALICE).await.unwrap().given_name, "Alice");
    assert_eq!(sink.messages().len(), 1, "no notice to anyone");
}

// ---- Sessions ----

/// The `sid`s of the « Fermer cette session » buttons of a sessions page.
fn sids_on(page: &str) -> Vec<String> {
    page.split("name=\"sid\" value=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn account_sessions_are_listed_and_ended() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    let laptop = logged_in_as(&app, ALICE).await;
    // A phone with a real User-Agent.
    let phone = app.browser();
    let page = phone.get("/connexion").await.text().await.unwrap();
    let answer = phone
        .client
        .post(app.url("/connexion"))
        .header(
            reqwest::header::USER_AGENT,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
        )
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("email", ALICE),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    let tablet = logged_in_as(&app, ALICE).await;

    let (status, page) = page_of(laptop.get("/compte/sessions").await).await;
    assert_eq!(status, 200);
    assert_eq!(page.matches("Cette session").count(), 1, "{page}");
    assert_shows(&page, "Firefox sur Windows");
    // The start time, in France's time: « le 22/11/2026 à 21h30 ».
    let today = idp::access::dates::french_date(idp::store::now());
    assert!(page.contains(&format!("{today} à ")), "{page}");
    let sids = sids_on(&page);
    assert_eq!(sids.len(), 2, "two other sessions: {page}");

    // The phone's own page marks its own session.
    let (_, phone_page) = page_of(phone.get("/compte/sessions").await).await;
    let phone_sids = sids_on(&phone_page);
    let phone_sid = sids
        .iter()
        .find(|s| !phone_sids.contains(s))
        .expect("the phone's session is not a button on its own page")
        .clone();

    // One ends.
    let answer = laptop
        .post_to("/compte/sessions", &[("sid", &phone_sid)])
        .await;
    assert_redirect(&answer, "/compte/sessions");
    assert!(!has_session(&phone).await);
    assert!(has_session(&tablet).await);
    assert!(has_session(&laptop).await);
    let (_, page) = page_of(laptop.get("/compte/sessions").await).await;
    assert_eq!(sids_on(&page).len(), 1);

    // Ending it again, or a forged one: nothing happens.
    let (status, page) = page_of(
        laptop
            .post_to("/compte/sessions", &[("sid", &phone_sid)])
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert!(page.contains("Cette session est déjà terminée."));
    let forged = laptop
        .post_form("/compte/sessions", &[("csrf", FORGED), ("autres", "1")])
        .await;
    assert_eq!(forged.status(), 403);
    assert!(has_session(&tablet).await);

    // All the others end.
    let answer = laptop.post_to("/compte/sessions", &[("autres", "1")]).await;
    assert_eq!(answer.status(), 303);
    assert!(!has_session(&tablet).await);
    assert!(has_session(&laptop).await);
    let (_, page) = page_of(laptop.get("/compte/sessions").await).await;
    assert!(sids_on(&page).is_empty());
    assert_eq!(page.matches("Cette session").count(), 1);
}

#[tokio::test]
async fn account_a_login_past_the_session_cap_ends_the_oldest_session() {
    let app = TestApp::spawn_with(|c| c.session.max_per_account = 3).await;
    app.user(ALICE).await;
    let max = 3;
    let mut browsers = Vec::new();
    for _ in 0..max {
        browsers.push(logged_in_as(&app, ALICE).await);
    }
    assert!(has_session(&browsers[0]).await);
    let newest = logged_in_as(&app, ALICE).await;
    assert!(!has_session(&browsers[0]).await, "the oldest session ended");
    for browser in &browsers[1..] {
        assert!(has_session(browser).await);
    }
    assert!(has_session(&newest).await);
}

#[tokio::test]
async fn account_sessions_of_another_account_cannot_be_ended() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    app.user(BOB).await;
    let alice = logged_in_as(&app, ALICE).await;
    let bob = logged_in_as(&app, BOB).await;
    let bob_other = logged_in_as(&app, BOB).await;
    let (_, page) = page_of(bob.get("/compte/sessions").await).await;
    let bob_sid = sids_on(&page).pop().expect("bob's other session");
    // Alice has one session: her page has no form, so the token comes from another page.
    let (status, _) = page_of(
        alice
            .post_from("/compte/identite", "/compte/sessions", &[("sid", &bob_sid)])
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert!(has_session(&bob_other).await);
}

// ---- Deletion ----

async fn delete_account(browser: &Browser, form: &[(&str, &str)]) -> reqwest::Response {
    browser.post_to("/compte/suppression", form).await
}

/// [`delete_account`]: status and text of the answer.
async fn deletion(browser: &Browser, form: &[(&str, &str)]) -> (u16, String) {
    page_of(delete_account(browser, form).await).await
}

#[tokio::test]
async fn account_deletion_removes_the_account_its_sessions_and_its_tokens() {
    let (sink, app) = TestApp::with_mailbox().await;
    let TwoBrowsers {
        alice,
        client,
        phone,
        refresh_token,
        laptop,
    } = alice_on_two_browsers(&app).await;

    let (status, page) =
        page_of(delete_account(&laptop, &[("password", PASSWORD), ("confirmation", "on")]).await)
            .await;
    assert_eq!(status, 200);
    assert_shows(&page, "Votre compte a été supprimé");

    assert!(user(&app, ALICE).await.is_none());
    assert!(!app.logs_in(ALICE, PASSWORD).await);
    assert!(!has_session(&laptop).await);
    assert!(!has_session(&phone).await);
    assert_refused(&app, &client, &refresh_token).await;
    let events = idp::audit::latest(&app.state.db, 20).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "account.deleted" && e.target == alice.id)
    );
    for table in ["grants", "consents", "user_totp", "totp_recovery_codes"] {
        assert_eq!(app.rows_of_user(table, &alice.id).await, 0, "{table}");
    }

    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail.rcpt_tos, [ALICE]);
    assert_eq!(mail.subject, "Votre compte EFP Connect a été supprimé");
    // The address may sign up again.
    assert!(app.user(ALICE).await.id != alice.id);
}

#[tokio::test]
async fn account_deletion_needs_the_password_and_the_confirmation() {
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;
    let (status, page) = deletion(&browser, &[("password", PASSWORD)]).await;
    assert_eq!(status, 400);
    assert_shows(&page, "Je comprends que cette suppression est définitive");
    let (status, page) = deletion(
        &browser,
        &[
            ("password", "Mauvais-mot-de-passe-1"),
            ("confirmation", "on"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(page.contains("Le mot de passe actuel est incorrect."));
    let forged = browser
        .post_form(
            "/compte/suppression",
            &[
                ("csrf", FORGED),
                ("password", PASSWORD),
                ("confirmation", "on"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(user(&app, ALICE).await.is_some());
    assert!(has_session(&browser).await);
    assert!(sink.messages().is_empty());
}

fn totp_of(base32: &str) -> Totp {
    Builder::new()
        .with_secret(Secret::try_from_base32(base32).expect("base32 secret"))
        .build()
        .expect("totp")
}

/// Enrols the logged-in browser in TOTP; returns the generator and a recovery code.
async fn enrol(browser: &Browser) -> (Totp, String) {
    let page = browser
        .get("/compte/double-authentification")
        .await
        .text()
        .await
        .unwrap();
    let start = page.find("id=\"totp-secret\">").expect("secret shown") + 17;
    let end = page[start..].find('<').unwrap() + start;
    let totp = totp_of(&page[start..end]);
    let now = u64::try_from(idp::store::now()).unwrap();
    let answer = browser
        .post_form(
            "/compte/double-authentification",
            &[
                ("csrf", &csrf_of(&page)),
                ("code", &totp.generate(now).to_string()),
            ],
        )
        .await;
    assert_eq!(answer.status(), 200);
    let recovery = answer
        .text()
        .await
        .unwrap()
        .split("<li><code>")
        .nth(1)
        .map(|s| s[..s.find('<').unwrap()].to_owned())
        .expect("a recovery code");
    (totp, recovery)
}

#[tokio::test]
async fn account_login_with_a_second_factor_also_comes_back_to_the_account_page() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    let (_, recovery) = enrol(&logged_in_as(&app, ALICE).await).await;
    let browser = app.browser();
    let login = location(&browser.get("/compte/sessions").await).unwrap();
    let answer = browser.log_in_back(&login, ALICE).await;
    assert_eq!(answer.status(), 200, "the code page");
    let page = answer.text().await.unwrap();
    let answer = browser
        .post_form(
            "/connexion/code",
            &[
                ("csrf", &csrf_of(&page)),
                ("step", &hidden_field(&page, "step").expect("step")),
                ("code", &recovery),
            ],
        )
        .await;
    assert_redirect(&answer, "/compte/sessions");
}

#[tokio::test]
async fn account_deletion_with_a_second_factor_needs_a_code() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;
    let (_, recovery) = enrol(&browser).await;

    let (_, page) = page_of(browser.get("/compte/suppression").await).await;
    assert_shows(&page, "Code de vérification");
    let (status, page) = deletion(
        &browser,
        &[
            ("password", PASSWORD),
            ("code", "000000"),
            ("confirmation", "on"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(page.contains("Code de vérification incorrect."));
    assert!(user(&app, ALICE).await.is_some());
    let (status, _) = deletion(
        &browser,
        &[
            ("password", PASSWORD),
            ("code", &recovery),
            ("confirmation", "on"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(user(&app, ALICE).await.is_none());
}

// ---- Atomicity: a failing audit write leaves nothing of the action ----

/// After a failed action: Alice's account, password, grant, sessions and refresh token are as
/// they were, and no e-mail went out.
async fn assert_untouched(app: &TestApp, sink: &SmtpSink, two: TwoBrowsers) {
    assert!(user(app, ALICE).await.is_some(), "the account is there");
    let live = "SELECT count(*) FROM grants WHERE user_id = $1 AND revoked_at IS NULL";
    assert_eq!(app.count(live, &two.alice.id).await, 1, "its grant is live");
    assert!(has_session(&two.laptop).await);
    assert!(has_session(&two.phone).await);
    let refreshed = refresh(app, &two.client, &two.refresh_token).await;
    assert_eq!(refreshed.status(), 200);
    assert!(app.logs_in(ALICE, PASSWORD).await, "the password works");
    assert!(sink.messages().is_empty(), "no e-mail announces it");
}

#[tokio::test]
async fn account_deletion_is_atomic_when_its_audit_fails() {
    let (sink, app) = TestApp::with_mailbox().await;
    let two = alice_on_two_browsers(&app).await;
    app.fail_audit_of("account.deleted").await;

    let form = [("password", PASSWORD), ("confirmation", "on")];
    assert_eq!(delete_account(&two.laptop, &form).await.status(), 500);

    assert_untouched(&app, &sink, two).await;
}

#[tokio::test]
async fn account_password_change_is_atomic_when_its_audit_fails() {
    let (sink, app) = TestApp::with_mailbox().await;
    let two = alice_on_two_browsers(&app).await;
    app.fail_audit_of("password.changed").await;

    let answer = change_password(&two.laptop, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(answer.status(), 500);

    assert!(!app.logs_in(ALICE, NEW_PASSWORD).await);
    assert_untouched(&app, &sink, two).await;
}

#[tokio::test]
async fn account_identity_change_is_atomic_when_its_audit_fails() {
    let app = TestApp::spawn().await;
    app.user(ALICE).await;
    let browser = logged_in_as(&app, ALICE).await;
    app.fail_audit_of("account.identity_changed").await;

    let form = [
        ("civilite", "monsieur"),
        ("nom", "Autre"),
        ("prenom", "Nom"),
    ];
    let answer = browser.post_to("/compte/identite", &form).await;
    assert_eq!(answer.status(), 500);

    assert_identity_unchanged(&app).await;
}

#[tokio::test]
async fn account_address_change_is_atomic_when_its_audit_fails() {
    let (sink, app) = TestApp::with_mailbox().await;
    let (browser, code) = alice_asks_for_new_address(&app, &sink).await;
    app.fail_audit_of("email.changed").await;

    assert_eq!(enter_address_code(&browser, &code).await.status(), 500);

    assert!(user(&app, ALICE).await.is_some(), "the old address stays");
    assert!(user(&app, NEW_ADDRESS).await.is_none());
    assert_eq!(sink.messages().len(), 1, "only the code was sent");
}
