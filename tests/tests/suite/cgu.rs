//! EFP Connect's own conditions générales d'utilisation (guide `002` §3.2): the public page,
//! the versions operators publish, and the login's interstitial that asks a person to accept
//! the current version before their session starts.

use idp::accounts::{actions::publish_cgu::publish_cgu, cgu, refusal::AccountRefusal};
use idp_tests::{
    Browser, PASSWORD, TestApp, assert_redirect, assert_shows, auth_url, csrf_of, exchange_code,
    hidden_field, location, page_of, query_of,
};

const ALICE: &str = "alice@centre.fr";

async fn publish(app: &TestApp, title: &str) -> i64 {
    let body = "## Article 1 – Objet\n\nLe texte de cette version.";
    publish_cgu(&app.state.db, app.state.clock.now(), "cli", title, body)
        .await
        .expect("published")
}

/// The version of the CGU `user_id` accepted last.
async fn accepted_version(app: &TestApp, user_id: &str) -> i64 {
    cgu::accepted(&app.state.db, user_id)
        .await
        .unwrap()
        .expect("an acceptance")
        .version
}

/// Whether the browser has a session (the account page answers instead of the login).
async fn logged_in(browser: &Browser) -> bool {
    browser.get("/compte").await.status() == 200
}

/// Posts the interstitial of `html` with `fields`.
async fn answer(browser: &Browser, html: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = csrf_of(html);
    let step = hidden_field(html, "step").expect("the interstitial's step");
    let mut form = vec![("csrf", csrf.as_str()), ("step", step.as_str())];
    form.extend_from_slice(fields);
    browser.post_form(cgu::ACCEPT_PATH, &form).await
}

#[tokio::test]
async fn the_cgu_page_shows_the_current_version_its_date_and_the_site_map_lists_it() {
    let app = TestApp::spawn().await;
    let (status, html) = page_of(app.browser().get("/cgu").await).await;
    assert_eq!(status, 200);
    assert_shows(
        &html,
        "<h1>Conditions générales d'utilisation d'EFP Connect</h1>",
    );
    assert_shows(&html, "Version 1 du 01/12/2026");
    for heading in [
        "Article 1 – Objet",
        "Article 3 – Compte EFP Connect",
        "Article 4 – Données à caractère personnel",
        "Article 5 – Sécurité et identifiants",
        "Article 6 – Responsabilités",
        "Article 7 – Évolution des conditions générales d'utilisation",
    ] {
        assert_shows(
            &html,
            &format!("<h2 class=\"fr-h5 fr-mt-3w\">{heading}</h2>"),
        );
    }
    let (_, map) = page_of(app.browser().get("/plan-du-site").await).await;
    assert_shows(&map, "href=\"/cgu\"");

    let version = publish(&app, "Conditions générales d'utilisation d'EFP Connect (2)").await;
    assert_eq!(version, 2);
    let (_, html) = page_of(app.browser().get("/cgu").await).await;
    assert_shows(&html, "Version 2 du ");
    assert_shows(&html, "Le texte de cette version.");
}

#[tokio::test]
async fn publishing_needs_a_title_and_a_text_and_is_audited() {
    let app = TestApp::spawn().await;
    let refused = publish_cgu(&app.state.db, 0, "cli", "Titre", "  ").await;
    assert!(matches!(refused, Err(AccountRefusal::EmptyDocument)));
    let refused = publish_cgu(&app.state.db, 0, "cli", "", "Texte").await;
    assert!(matches!(refused, Err(AccountRefusal::EmptyDocument)));
    assert_eq!(
        cgu::current(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .document
            .version,
        1
    );
    publish(&app, "Nouvelles CGU").await;
    let audit = idp::audit::latest(&app.state.db, 5).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "cgu.published" && e.actor == "cli")
    );
}

#[tokio::test]
async fn a_new_version_is_asked_at_the_next_login_before_going_back_to_the_service() {
    let app = TestApp::spawn().await;
    let alice = app.user(ALICE).await;
    let client = app.client("ceres").await;
    publish(&app, "Conditions générales d'utilisation d'EFP Connect (2)").await;

    let browser = app.browser();
    let (_, at) = browser.follow(&auth_url(&app, &client, &[])).await;
    let r = browser.submit_login(&at, ALICE, PASSWORD).await;
    assert_eq!(r.status(), 200, "the interstitial, not a redirect");
    let html = r.text().await.unwrap();
    assert_shows(
        &html,
        "Les conditions générales d'utilisation d'EFP Connect ont évolué.",
    );
    assert_shows(&html, "Version 2 du ");
    assert_shows(&html, "J'accepte les conditions générales d'utilisation");
    assert!(!logged_in(&browser).await, "no session before the answer");

    // The box unticked: asked again, nothing recorded.
    let r = answer(&browser, &html, &[]).await;
    assert_eq!(r.status(), 400);
    let again = r.text().await.unwrap();
    // (The message is escaped: its apostrophes are entities.)
    assert_shows(&again, "Pour vous connecter, cochez la case « J");
    assert_shows(&again, "ou refusez-les.");
    assert_eq!(accepted_version(&app, &alice.id).await, 1);

    let r = answer(&browser, &again, &[("accepte", "oui")]).await;
    let next = location(&r).expect("the login goes on");
    assert!(next.starts_with("/authorize/continue?authreq="), "{next}");
    let (response, _) = browser.follow(&next).await;
    let redirect = location(&response).expect("back to the client");
    let code = query_of(&redirect)["code"].clone();
    assert_eq!(exchange_code(&app, &client, &code, &[]).await.status(), 200);

    let accepted = cgu::accepted(&app.state.db, &alice.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(accepted.version, 2);
    let (_, account) = page_of(browser.get("/compte").await).await;
    assert_shows(
        &account,
        &format!(
            "Vous avez accepté la version 2 des conditions générales d'utilisation d'EFP Connect le {}.",
            accepted.date()
        ),
    );
    let audit = idp::audit::latest(&app.state.db, 5).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "cgu.accepted" && e.actor == alice.id)
    );

    // The form is spent: it cannot start a second session, neither as it was (its CSRF token is
    // from before the login) nor with the token this browser has now.
    let r = answer(&browser, &again, &[("accepte", "oui")]).await;
    assert_eq!(r.status(), 403);
    let now = again.replace(&csrf_of(&again), &browser.csrf().await);
    let r = answer(&browser, &now, &[("accepte", "oui")]).await;
    assert_eq!(r.status(), 400);
    // Accepted once: the next login goes straight on.
    let r = app
        .browser()
        .submit_login("/connexion", ALICE, PASSWORD)
        .await;
    assert_redirect(&r, "/");
}

#[tokio::test]
async fn refusing_means_not_logged_in_and_the_next_login_asks_again() {
    let app = TestApp::spawn().await;
    let alice = app.user(ALICE).await;
    let client = app.client("ceres").await;
    publish(&app, "CGU 2").await;
    let browser = app.browser();
    let (_, at) = browser.follow(&auth_url(&app, &client, &[])).await;
    let html = browser
        .submit_login(&at, ALICE, PASSWORD)
        .await
        .text()
        .await
        .unwrap();

    let r = answer(&browser, &html, &[("refuser", "1")]).await;
    let (status, page) = page_of(r).await;
    assert_eq!(status, 200);
    assert_shows(&page, "vous n'êtes pas connecté");
    // « Retour à la connexion » resumes the service's request.
    assert_shows(&page, "href=\"/connexion?authreq=");
    assert!(!logged_in(&browser).await);
    assert_eq!(accepted_version(&app, &alice.id).await, 1);
    let r = answer(&browser, &html, &[("accepte", "oui")]).await;
    assert_eq!(r.status(), 400, "a refused step is over");
    assert!(!logged_in(&browser).await);

    let r = browser.submit_login("/connexion", ALICE, PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert_shows(
        &r.text().await.unwrap(),
        "J'accepte les conditions générales d'utilisation",
    );
}

#[tokio::test]
async fn a_version_published_while_the_page_was_open_is_shown_and_asked_instead() {
    let app = TestApp::spawn().await;
    let alice = app.user(ALICE).await;
    publish(&app, "CGU 2").await;
    let browser = app.browser();
    let html = browser
        .submit_login("/connexion", ALICE, PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    publish(&app, "CGU 3").await;
    let r = answer(&browser, &html, &[("accepte", "oui")]).await;
    assert_eq!(r.status(), 409);
    let again = r.text().await.unwrap();
    assert_shows(&again, "Une nouvelle version des conditions générales d");
    assert_shows(&again, "Version 3 du ");
    assert_eq!(accepted_version(&app, &alice.id).await, 1);
    let r = answer(&browser, &again, &[("accepte", "oui")]).await;
    assert_redirect(&r, "/");
    assert_eq!(accepted_version(&app, &alice.id).await, 3);
}
