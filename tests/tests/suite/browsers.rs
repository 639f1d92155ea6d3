//! Verification of new browsers by an e-mailed code (`assurance.verify_new_browsers`): who is
//! asked, the code step, remembered browsers, forgetting them, and a waiting client's request
//! going on afterwards.

use idp::config::NewBrowsers;
use idp_tests::{
    Browser, PASSWORD, SmtpSink, TestApp, assert_redirect, assert_shows, auth_url, csrf_of,
    hidden_field, location, pages::code_of,
};

const EMAIL: &str = "alice@centre.fr";

async fn app_with(setting: NewBrowsers) -> (SmtpSink, TestApp) {
    TestApp::with_mailbox_and(|c| c.assurance.verify_new_browsers = setting).await
}

/// The password on the login page at `uri`: the answer.
async fn password(browser: &Browser, uri: &str) -> reqwest::Response {
    browser.submit_login(uri, EMAIL, PASSWORD).await
}

/// Types `code` on the code page `page`.
async fn type_code(browser: &Browser, page: &str, code: &str) -> reqwest::Response {
    browser
        .post_form(
            "/connexion/navigateur",
            &[
                ("csrf", &csrf_of(page)),
                ("step", &hidden_field(page, "step").expect("step")),
                ("code", code),
            ],
        )
        .await
}

async fn logged_in(browser: &Browser) -> bool {
    browser.get("/compte").await.status() == 200
}

async fn known(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM known_browsers WHERE $1 = ''", "")
        .await
}

#[tokio::test]
async fn with_the_setting_required_a_new_browser_needs_the_emailed_code_once() {
    let (sink, app) = app_with(NewBrowsers::Required).await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let r = password(&browser, "/connexion").await;
    assert_eq!(r.status(), 200, "the code page, no session yet");
    let page = r.text().await.expect("page");
    assert_shows(&page, "Vérifiez ce navigateur");
    assert!(!logged_in(&browser).await);
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(
        mail.subject,
        "Connexion à votre compte EFP Connect depuis un nouveau navigateur"
    );
    let code = code_of(mail);

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = type_code(&browser, &page, wrong).await;
    assert_eq!(r.status(), 401);
    assert_shows(
        &r.text().await.expect("page"),
        "Code de vérification incorrect.",
    );
    assert!(!logged_in(&browser).await);

    let r = type_code(&browser, &page, &code).await;
    assert_redirect(&r, "/");
    assert!(logged_in(&browser).await);
    assert_eq!(known(&app).await, 1);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'browser.verified' AND $1 = ''",
            ""
        )
        .await,
        1
    );
    // The same code again: spent (its form's CSRF token is from before the login: refused as
    // it was, and as spent with the token the browser has now).
    assert_eq!(type_code(&browser, &page, &code).await.status(), 403);
    let now = page.replace(&csrf_of(&page), &browser.csrf().await);
    assert_eq!(type_code(&browser, &now, &code).await.status(), 400);

    // Back on the same browser: no code. On another one: a code again.
    browser.get("/logout").await;
    let r = password(&browser, "/connexion").await;
    assert_redirect(&r, "/");
    assert_eq!(sink.messages().len(), 1);
    let other = app.browser();
    let r = password(&other, "/connexion").await;
    assert_eq!(r.status(), 200);
    sink.wait_for(2).await;
}

#[tokio::test]
async fn too_many_wrong_codes_spend_the_code() {
    let (sink, app) = app_with(NewBrowsers::Required).await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let page = password(&browser, "/connexion")
        .await
        .text()
        .await
        .expect("page");
    let code = code_of(&sink.wait_for(1).await[0]);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(type_code(&browser, &page, wrong).await.status(), 401);
    }
    assert_eq!(type_code(&browser, &page, &code).await.status(), 400);
    assert!(!logged_in(&browser).await);
    assert_eq!(known(&app).await, 0);
}

#[tokio::test]
async fn off_never_asks_and_optional_asks_who_chose_it() {
    let (sink, app) = app_with(NewBrowsers::Off).await;
    app.user(EMAIL).await;
    let (_, page) = app.log_in(EMAIL).await.page("/compte/navigateurs").await;
    assert_shows(&page, "n'est pas proposée sur ce service");
    assert!(!page.contains("/compte/navigateurs/choix"));
    assert!(sink.messages().is_empty());

    let (sink, app) = app_with(NewBrowsers::Optional).await;
    app.user(EMAIL).await;
    let browser = app.log_in(EMAIL).await;
    let (_, page) = browser.page("/compte/navigateurs").await;
    let r = browser
        .post_form(
            "/compte/navigateurs/choix",
            &[("csrf", &csrf_of(&page)), ("verifier", "oui")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_shows(
        &r.text().await.expect("page"),
        "est activée pour votre compte",
    );
    // This very browser is not known yet either: the next login asks, as would another.
    browser.get("/logout").await;
    let r = password(&browser, "/connexion").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.expect("page");
    let code = code_of(&sink.wait_for(1).await[0]);
    assert_redirect(&type_code(&browser, &page, &code).await, "/");
    // Forgetting every browser: asked again.
    let (_, page) = browser.page("/compte/navigateurs").await;
    assert_shows(&page, "Ce navigateur");
    let r = browser
        .post_form(
            "/compte/navigateurs/tous/oublier",
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_redirect(&r, "/compte/navigateurs");
    assert_eq!(known(&app).await, 0);
    browser.get("/logout").await;
    assert_eq!(password(&browser, "/connexion").await.status(), 200);
}

#[tokio::test]
async fn a_password_change_forgets_every_browser() {
    let (sink, app) = app_with(NewBrowsers::Required).await;
    let alice = app.user(EMAIL).await;
    let browser = app.browser();
    let page = password(&browser, "/connexion")
        .await
        .text()
        .await
        .expect("page");
    let code = code_of(&sink.wait_for(1).await[0]);
    assert_redirect(&type_code(&browser, &page, &code).await, "/");
    assert_eq!(known(&app).await, 1);
    let id = idp::accounts::UserId::from_stored(alice.id.clone());
    idp::accounts::actions::change_password::change_password(
        &app.state.db,
        idp::store::now(),
        &id,
        alice.password_hash.as_deref().expect("a hash"),
        600,
    )
    .await
    .expect("changed");
    assert_eq!(known(&app).await, 0);
}

#[tokio::test]
async fn an_account_with_a_second_factor_is_never_asked() {
    let (sink, app) = app_with(NewBrowsers::Required).await;
    let alice = app.user(EMAIL).await;
    let sealed = app.state.kek.seal(&alice.id, &[7u8; 20]);
    let id = idp::accounts::UserId::from_stored(alice.id.clone());
    let enrolment = idp::accounts::actions::enrol_totp::Enrolment {
        sealed: &sealed,
        accepted_step: 0,
        code_hashes: &[],
    };
    idp::accounts::actions::enrol_totp::enrol_totp(&app.state.db, 0, &id, &enrolment)
        .await
        .expect("enrolled");
    let r = password(&app.browser(), "/connexion").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.expect("page");
    assert_shows(&page, "Code de vérification");
    assert!(!page.contains("Vérifiez ce navigateur"));
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_waiting_client_gets_its_code_after_the_browser_is_confirmed() {
    let (sink, app) = app_with(NewBrowsers::Required).await;
    app.user(EMAIL).await;
    let client = app.client("rp").await;
    let browser = app.browser();
    let (_, login) = browser.follow(&auth_url(&app, &client, &[])).await;
    let page = password(&browser, &login).await.text().await.expect("page");
    let code = code_of(&sink.wait_for(1).await[0]);
    let r = type_code(&browser, &page, &code).await;
    let next = location(&r).expect("a redirect");
    assert!(next.starts_with("/authorize/continue?authreq="), "{next}");
}
