//! The password reset journey (guide `002` §5.2): address, e-mailed code or link, new
//! password; the code read from a real SMTP server.

use idp::accounts::{Email, store as users};
use idp_tests::{
    Browser, PASSWORD, SmtpSink, TestApp, assert_redirect, assert_shows, auth_url, code_of,
    csrf_of, exchange_code, free_port, location, page_of, query_of, reset_link_of, token_request,
};

const ALICE: &str = "alice@centre.fr";
const NEW_PASSWORD: &str = "Nouveau-mot-de-passe-2026";

/// Posts `fields` with the CSRF token to `path`, whose page is asserted to be `step`.
async fn post_step(
    browser: &Browser,
    path: &str,
    step: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (_, page) = browser.page(path).await;
    assert_shows(&page, step);
    browser.post_to(path, fields).await
}

/// Step 1: asks a code for `email`; returns the answer (a redirect to step 2 when accepted).
async fn ask_code(browser: &Browser, email: &str) -> reqwest::Response {
    post_step(
        browser,
        "/mot-de-passe-oublie",
        "Étape 1 sur 3",
        &[("email", email)],
    )
    .await
}

/// Step 2: types `code`; returns the answer.
async fn enter_code(browser: &Browser, code: &str) -> reqwest::Response {
    browser
        .post_to("/mot-de-passe-oublie/code", &[("code", code)])
        .await
}

/// Step 3: chooses a password; returns the answer.
async fn choose_password(
    browser: &Browser,
    password: &str,
    confirmation: &str,
) -> reqwest::Response {
    post_step(
        browser,
        "/mot-de-passe-oublie/nouveau",
        "Étape 3 sur 3",
        &[("password", password), ("confirmation", confirmation)],
    )
    .await
}

/// Steps 1 and 2 for ALICE; returns the code e-mailed (the `n`-th message of the sink).
async fn code_for_alice(browser: &Browser, sink: &SmtpSink, n: usize) -> String {
    let answer = ask_code(browser, ALICE).await;
    assert_redirect(&answer, "/mot-de-passe-oublie/code");
    code_of(&sink.wait_for(n).await[n - 1])
}

/// A provider with Alice's account, a browser in which she asked a code, and the code.
async fn alice_has_a_code() -> (SmtpSink, TestApp, Browser, String) {
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(ALICE).await;
    let browser = app.browser();
    let code = code_for_alice(&browser, &sink, 1).await;
    (sink, app, browser, code)
}

/// Step 2 with `code`: status and text of the answer.
async fn code_page(browser: &Browser, code: &str) -> (u16, String) {
    page_of(enter_code(browser, code).await).await
}

/// Step 3 takes [`NEW_PASSWORD`] (200).
async fn new_password_taken(browser: &Browser) {
    let answer = choose_password(browser, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(answer.status(), 200, "the new password is taken");
}

#[tokio::test]
async fn the_full_journey_changes_the_password_and_only_the_new_one_logs_in() {
    let (sink, app) = TestApp::with_mailbox().await;
    let alice = app.user(ALICE).await;
    let browser = app.browser();

    let answer = ask_code(&browser, ALICE).await;
    assert_eq!(answer.status(), 303);
    let (_, step2) = page_of(browser.get("/mot-de-passe-oublie/code").await).await;
    assert_shows(&step2, "Étape 2 sur 3");
    assert!(step2.contains(
        "Si un compte existe pour cette adresse, un e-mail contenant un code vous a été envoyé."
    ));
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail.rcpt_tos, [ALICE]);
    assert_eq!(
        mail.subject,
        "Réinitialisation du mot de passe de votre compte EFP Connect"
    );
    let answer = enter_code(&browser, &code_of(mail)).await;
    assert_redirect(&answer, "/mot-de-passe-oublie/nouveau");
    let (status, done) = page_of(choose_password(&browser, NEW_PASSWORD, NEW_PASSWORD).await).await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Votre mot de passe a été modifié avec succès"));
    assert!(done.contains("href=\"/connexion\""));

    assert!(!app.logs_in(ALICE, PASSWORD).await);
    assert!(app.logs_in(ALICE, NEW_PASSWORD).await);
    let events = idp::audit::latest(&app.state.db, 10).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "password.reset" && e.target == alice.id),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_login_page_links_to_the_reset_journey() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/connexion").await.text().await.unwrap();
    assert!(page.contains("href=\"/mot-de-passe-oublie\""));
    assert!(page.contains("Réinitialiser mon mot de passe"));
    assert!(!page.contains("Mot de passe oublié ?"));
}

/// Guide 002 §3.1: the banner, then « Je crée mon compte EFP Connect » with its words about the
/// former Portail Mes Démarches accounts, and « Je m'identifie avec mon compte EFP Connect ».
#[tokio::test]
async fn the_login_page_shows_the_guides_banner_and_panels() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/connexion").await.text().await.unwrap();
    for words in [
        "Pour poursuivre, merci de vous connecter ou de créer un compte EFP Connect si c'est la première fois que vous utilisez une des démarches du Ministère du Travail. Ce compte peut être utilisé dans de nombreux services proposés par le Ministère du travail.",
        "Je crée mon compte EFP Connect</h2>",
        "Si vous n'aviez pas de compte sur le Portail Mes Démarches, merci de vous créer un compte EFP Connect.",
        "Si vous aviez auparavant un compte sur le Portail Mes Démarches, pas besoin de vous créer un nouveau compte EFP Connect, connectez-vous directement dans l'encadré à droite avec vos anciens identifiants.",
        "Je m'identifie avec mon compte EFP Connect</h2>",
        "Identifiant (e-mail professionnel)",
        "Je m'identifie avec EFP CONNECT</button>",
    ] {
        assert!(page.contains(words), "missing « {words} »");
    }
    assert!(page.contains(r#"href="/inscription">Je crée mon compte EFP CONNECT</a>"#));
    assert!(!page.contains("Créer un compte"));
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_and_no_mail() {
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(ALICE).await;

    let known = app.browser();
    let answer = ask_code(&known, ALICE).await;
    let known_location = location(&answer);
    let (_, known_page) = page_of(known.get("/mot-de-passe-oublie/code").await).await;
    sink.wait_for(1).await;

    let stranger = app.browser();
    let answer = ask_code(&stranger, "personne@centre.fr").await;
    assert_eq!(location(&answer), known_location);
    let (status, page) = page_of(stranger.get("/mot-de-passe-oublie/code").await).await;
    assert_eq!(status, 200);
    assert_same_page_but_address(&page, &known_page);
    // Whatever code the stranger tries, it fails like a wrong one.
    let (_, answer) = page_of(enter_code(&stranger, "123456").await).await;
    assert_shows(&answer, "Le code saisi est incorrect.");
    app.state.background.idle().await;
    assert_eq!(sink.messages().len(), 1, "no mail for an unknown address");
}

#[tokio::test]
async fn a_wrong_code_counts_down_and_dies_after_five_tries() {
    let (_sink, app, browser, code) = alice_has_a_code().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };

    for left in [4, 3, 2] {
        let (status, page) = code_page(&browser, wrong).await;
        assert_eq!(status, 400);
        assert_shows(&page, "Le code saisi est incorrect.");
        assert!(
            page.contains(&format!("Il vous reste {left} essais.")),
            "{page}"
        );
    }
    let (_, page) = code_page(&browser, wrong).await;
    assert_shows(&page, "Il vous reste 1 essai.");
    let (_, page) = code_page(&browser, wrong).await;
    assert_shows(&page, "n'est plus valable");
    // Dead: even the right code no longer works, and a new one can be asked.
    let (status, page) = code_page(&browser, &code).await;
    assert_eq!(status, 410);
    assert_shows(&page, "Demandez un nouveau code");
    assert!(page.contains("href=\"/mot-de-passe-oublie\""));
    assert!(app.logs_in(ALICE, PASSWORD).await);
}

#[tokio::test]
async fn a_used_code_is_refused() {
    let (_sink, _app, browser, code) = alice_has_a_code().await;
    enter_code(&browser, &code).await;
    new_password_taken(&browser).await;

    // Going back to step 2 and entering it again.
    let (status, page) = code_page(&browser, &code).await;
    assert_eq!(status, 410);
    assert_shows(
        &page,
        "Ce code a expiré ou a déjà été utilisé. Demandez un nouveau code.",
    );
    assert!(page.contains("href=\"/mot-de-passe-oublie\""));
    // Step 3 is closed too.
    let answer = browser.get("/mot-de-passe-oublie/nouveau").await;
    assert_redirect(&answer, "/mot-de-passe-oublie/code");
}

#[tokio::test]
async fn a_new_request_replaces_the_previous_code() {
    let (sink, _app, browser, first) = alice_has_a_code().await;
    let second = code_for_alice(&browser, &sink, 2).await;
    if first != second {
        let (_, page) = code_page(&browser, &first).await;
        assert_shows(&page, "Le code saisi est incorrect.");
    }
    let answer = enter_code(&browser, &second).await;
    assert_redirect(&answer, "/mot-de-passe-oublie/nouveau");
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let (sink, app) =
        TestApp::with_mailbox_and(|config| config.accounts.reset_code_ttl_seconds = 1).await;
    app.user(ALICE).await;
    let browser = app.browser();
    let answer = ask_code(&browser, ALICE).await;
    let code = code_of(&sink.wait_for(1).await[0]);
    let page = browser
        .get(&location(&answer).unwrap())
        .await
        .text()
        .await
        .unwrap();
    app.state.clock.advance(std::time::Duration::from_secs(2));
    let response = browser
        .post_form(
            "/mot-de-passe-oublie/code",
            &[("csrf", &csrf_of(&page)), ("code", &code)],
        )
        .await;
    let (status, page) = page_of(response).await;
    assert_eq!(status, 410);
    assert_shows(&page, "Ce code a expiré");
    assert_shows(&page, "Demander un nouveau code");
    assert!(app.logs_in(ALICE, PASSWORD).await);
}

#[tokio::test]
async fn the_emailed_link_skips_the_code() {
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(ALICE).await;
    ask_code(&app.browser(), ALICE).await;
    let link = reset_link_of(&app, &sink.wait_for(1).await[0]);

    // Opened in another browser, as from a mail client.
    let browser = app.browser();
    let answer = browser.get(&link).await;
    assert_redirect(&answer, "/mot-de-passe-oublie/nouveau");
    let (status, _) = page_of(choose_password(&browser, NEW_PASSWORD, NEW_PASSWORD).await).await;
    assert_eq!(status, 200);
    assert!(app.logs_in(ALICE, NEW_PASSWORD).await);

    // Spent with the password change.
    let (status, page) = page_of(app.browser().get(&link).await).await;
    assert_eq!(status, 410);
    assert!(page.contains("Ce lien a expiré ou a déjà été utilisé."));
}

#[tokio::test]
async fn a_weak_password_and_a_mismatched_confirmation_are_refused_and_change_nothing() {
    let (_sink, app, browser, code) = alice_has_a_code().await;
    enter_code(&browser, &code).await;

    let (status, page) = page_of(choose_password(&browser, "court", "court").await).await;
    assert_eq!(status, 400);
    assert!(page.contains("Le mot de passe doit comporter au moins 12 caractères."));
    let (_, page) =
        page_of(choose_password(&browser, "toutenminuscules", "toutenminuscules").await).await;
    assert_shows(&page, "au moins 3 des 4 types de caractères");
    let (status, page) =
        page_of(choose_password(&browser, NEW_PASSWORD, "Autre-mot-de-passe-2026").await).await;
    assert_eq!(status, 400);
    assert!(page.contains("Les mots de passe ne correspondent pas."));
    // Alice Martin's names, whatever the case (guide 002 §3.2).
    for with_name in ["Orage-MARTIN-2026", "alice-Orage-2026"] {
        let (status, page) = page_of(choose_password(&browser, with_name, with_name).await).await;
        assert_eq!(status, 400, "{with_name}");
        assert_shows(
            &page,
            "Le mot de passe ne doit contenir ni votre nom ni votre prénom.",
        );
    }
    assert!(app.logs_in(ALICE, PASSWORD).await);

    // The journey survives the mistakes.
    new_password_taken(&browser).await;
}

#[tokio::test]
async fn a_form_without_csrf_is_refused() {
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(ALICE).await;
    let browser = app.browser();
    browser.get("/mot-de-passe-oublie").await;
    let answer = browser
        .post_form("/mot-de-passe-oublie", &[("email", ALICE)])
        .await;
    assert_eq!(answer.status(), 403);
    let answer = browser
        .post_form(
            "/mot-de-passe-oublie",
            &[("csrf", "faux-jeton"), ("email", ALICE)],
        )
        .await;
    assert_eq!(answer.status(), 403);

    let code = code_for_alice(&browser, &sink, 1).await;
    let answer = browser
        .post_form("/mot-de-passe-oublie/code", &[("code", &code)])
        .await;
    assert_eq!(answer.status(), 403);
    enter_code(&browser, &code).await;
    let answer = browser
        .post_form(
            "/mot-de-passe-oublie/nouveau",
            &[("password", NEW_PASSWORD), ("confirmation", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(answer.status(), 403);
    assert!(app.logs_in(ALICE, PASSWORD).await);
}

#[tokio::test]
async fn a_reset_ends_every_session_and_revokes_refresh_tokens() {
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(ALICE).await;
    let client = app.client("ceres").await;

    // Logged in on a first browser, with tokens at the client.
    let laptop = app.browser();
    let out = laptop.authorize(&auth_url(&app, &client, &[]), ALICE).await;
    let code = query_of(&out).remove("code").expect("a code");
    let tokens: serde_json::Value = exchange_code(&app, &client, &code, &[])
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    let silent = auth_url(&app, &client, &[("prompt", "none")]);
    let out = laptop.authorize(&silent, ALICE).await;
    assert!(
        query_of(&out).contains_key("code"),
        "still logged in: {out}"
    );

    // The reset, on another browser.
    let phone = app.browser();
    let reset_code = code_for_alice(&phone, &sink, 1).await;
    enter_code(&phone, &reset_code).await;
    new_password_taken(&phone).await;

    let (response, _) = laptop.follow(&silent).await;
    let out = location(&response).expect("back to the client");
    assert_eq!(
        query_of(&out).get("error").map(String::as_str),
        Some("login_required"),
        "{out}"
    );
    let answer = token_request(
        &app,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
        ],
    )
    .await;
    assert_eq!(answer.status(), 400);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn past_the_limit_a_request_gets_a_wait_message() {
    let (_sink, app) =
        TestApp::with_mailbox_and(|config| config.limits.reset_per_address = 2).await;
    let browser = app.browser();
    for _ in 0..2 {
        assert_eq!(ask_code(&browser, "personne@centre.fr").await.status(), 303);
    }
    let (status, page) = page_of(ask_code(&browser, "personne@centre.fr").await).await;
    assert_eq!(status, 429);
    assert_shows(
        &page,
        "Trop de demandes de réinitialisation. Veuillez réessayer dans 60 minutes.",
    );
}

#[tokio::test]
async fn an_account_without_a_password_sets_its_first_one() {
    let (sink, app) = TestApp::with_mailbox().await;
    let alice = users::insert_user(
        &app.state.db,
        &Email::parse(ALICE).unwrap(),
        None,
        &users::NewUser::default(),
    )
    .await
    .unwrap()
    .expect("new account");
    // The CGU interstitial is another test's (access_invitations); here, only the password.
    app.accept_current_cgu(&alice.id).await;
    let browser = app.browser();
    let code = code_for_alice(&browser, &sink, 1).await;
    enter_code(&browser, &code).await;
    new_password_taken(&browser).await;
    assert!(app.logs_in(ALICE, NEW_PASSWORD).await);
}

#[tokio::test]
async fn a_mail_that_could_not_be_sent_answers_as_an_unknown_address_and_is_withdrawn() {
    let app = TestApp::spawn_with(|config| {
        config.mail.transport = idp::config::MailTransport::Smtp;
        config.mail.smtp_host = "127.0.0.1".into();
        config.mail.smtp_port = free_port(); // nobody listens: every attempt fails
        config.mail.smtp_tls = idp::config::SmtpTls::None;
    })
    .await;
    app.user(ALICE).await;
    let known = app.browser();
    let answer = ask_code(&known, ALICE).await;
    let unknown = ask_code(&app.browser(), "personne@example.fr").await;
    // The answer does not wait for the SMTP server: saying the mail failed would tell that
    // the account exists.
    assert_eq!(answer.status(), 303);
    assert_eq!(answer.status(), unknown.status());
    assert_eq!(
        answer.headers().get("location"),
        unknown.headers().get("location")
    );

    // Once the mailer gives up (3 attempts), the request nobody received is withdrawn, in the
    // task that sent it after the answer.
    app.state.background.idle().await;
    // The counter is the process's (shared by the tests of this file): any count will do.
    let failed = r#"idp_mails_total{kind="password_reset",outcome="failed"} "#;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(failed),
        "the mailer never gave up:\n{metrics}"
    );
    let (status, page) = page_of(enter_code(&known, "123456").await).await;
    assert_eq!(status, 410, "the request was not withdrawn: {page}");
    assert_shows(&page, "Ce code a expiré ou a déjà été utilisé.");
}

#[tokio::test]
async fn a_reset_is_atomic_when_its_audit_fails() {
    let (sink, app) = TestApp::with_mailbox().await;
    let alice = app.user(ALICE).await;
    let laptop = app.browser();
    let login = laptop.submit_login("/connexion", ALICE, PASSWORD).await;
    assert_redirect(&login, "/");
    let phone = app.browser();
    let reset_code = code_for_alice(&phone, &sink, 1).await;
    enter_code(&phone, &reset_code).await;
    app.fail_audit_of("password.reset").await;

    let answer = choose_password(&phone, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(answer.status(), 500);
    // The code was not spent by the change that rolled back: trying again is not "expired".
    let again = choose_password(&phone, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(again.status(), 500);

    assert!(app.logs_in(ALICE, PASSWORD).await, "the old password works");
    assert!(!app.logs_in(ALICE, NEW_PASSWORD).await);
    let still = laptop.get("/compte").await;
    assert_eq!(still.status(), 200, "the session is intact");
    let revoked = "SELECT count(*) FROM grants WHERE user_id = $1 AND revoked_at IS NOT NULL";
    assert_eq!(app.count(revoked, &alice.id).await, 0);
}

/// Step 2's « Renvoyer le code » for the journey of `browser`: status and text of the answer.
async fn resend(browser: &Browser) -> (u16, String) {
    let (_, step2) = browser.page("/mot-de-passe-oublie/code").await;
    assert_shows(&step2, "Renvoyer le code");
    assert_shows(&step2, "action=\"/mot-de-passe-oublie/code/renvoyer\"");
    page_of(
        browser
            .post_from(
                "/mot-de-passe-oublie/code",
                "/mot-de-passe-oublie/code/renvoyer",
                &[],
            )
            .await,
    )
    .await
}

#[tokio::test]
async fn renvoyer_le_code_mails_a_new_code_and_the_first_one_stops_working() {
    let (sink, app, browser, first) = alice_has_a_code().await;
    let (status, page) = resend(&browser).await;
    assert_eq!(status, 200, "{page}");
    assert_shows(&page, "Étape 2 sur 3");
    assert_shows(
        &page,
        "Un nouveau code vous a été envoyé si un compte existe pour cette adresse.",
    );
    let mails = sink.wait_for(2).await;
    assert_eq!(mails[1].rcpt_tos, [ALICE]);
    let second = code_of(&mails[1]);
    if second != first {
        let (status, answer) = code_page(&browser, &first).await;
        assert_eq!(status, 400);
        assert_shows(&answer, "Le code saisi est incorrect.");
    }
    assert_redirect(
        &enter_code(&browser, &second).await,
        "/mot-de-passe-oublie/nouveau",
    );
    new_password_taken(&browser).await;
    assert!(app.logs_in(ALICE, NEW_PASSWORD).await);
}

#[tokio::test]
async fn renvoyer_le_code_is_limited_to_three_per_quarter_hour_with_a_french_message() {
    let (sink, _app, browser, _) = alice_has_a_code().await;
    for n in 2..=4 {
        assert_eq!(resend(&browser).await.0, 200);
        sink.wait_for(n).await;
    }
    let (status, page) = resend(&browser).await;
    assert_eq!(status, 429);
    assert_shows(
        &page,
        "Vous avez demandé trop de nouveaux codes. Veuillez réessayer dans 15 minutes.",
    );
}

#[tokio::test]
async fn renvoyer_le_code_answers_an_unknown_address_the_same_and_mails_nothing() {
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(ALICE).await;
    let known = app.browser();
    ask_code(&known, ALICE).await;
    sink.wait_for(1).await;
    let stranger = app.browser();
    ask_code(&stranger, "personne@centre.fr").await;

    let (known_status, known_page) = resend(&known).await;
    sink.wait_for(2).await;
    let (status, page) = resend(&stranger).await;
    assert_eq!((status, known_status), (200, 200));
    assert_same_page_but_address(&page, &known_page);
    app.state.background.idle().await;
    assert_eq!(sink.messages().len(), 2, "no mail for an unknown address");
}

#[tokio::test]
async fn renvoyer_le_code_without_csrf_is_refused() {
    let (_sink, _app, browser, _) = alice_has_a_code().await;
    browser
        .assert_forged_refused("/mot-de-passe-oublie/code/renvoyer", &[])
        .await;
}

#[tokio::test]
async fn the_new_password_hint_says_what_the_rule_refuses() {
    let (_sink, _app, browser, code) = alice_has_a_code().await;
    enter_code(&browser, &code).await;
    let (_, page) = browser.page("/mot-de-passe-oublie/nouveau").await;
    assert_shows(&page, idp::accounts::password::PASSWORD_RULES);
}

/// The stranger's page (for `personne@centre.fr`) is Alice's, but for the address and the CSRF
/// token: nothing tells whether an account exists.
fn assert_same_page_but_address(stranger_page: &str, known_page: &str) {
    assert_eq!(
        stranger_page
            .replace("personne@centre.fr", "X")
            .replace(&csrf_of(stranger_page), "T"),
        known_page
            .replace(ALICE, "X")
            .replace(&csrf_of(known_page), "T")
    );
}

/// Guide 002: a person who resets their password from a service's login page ends back in the
/// service. The journey keeps the pending authorization (never a URL from the query), its last
/// page leads to the login of that authorization, and logging in there reaches the client.
#[tokio::test]
async fn a_reset_started_from_a_services_login_page_ends_in_the_service() {
    let (sink, app) = TestApp::with_mailbox().await;
    let client = app.service_client("ceres-app", "ceres", false).await;
    app.user(ALICE).await;
    let browser = app.browser();
    let (_, login) = browser.follow(&auth_url(&app, &client, &[])).await;
    assert!(login.contains("/connexion"), "{login}");
    let page = browser.get(&login).await.text().await.unwrap();
    let authreq = idp_tests::hidden_field(&page, "authreq").expect("authreq");
    let start = format!("/mot-de-passe-oublie?authreq={authreq}");
    assert_shows(&page, &format!("href=\"{}\"", start.replace('&', "&amp;")));

    // Step 1 carries it; steps 2 and 3 as usual.
    let (_, step1) = browser.page(&start).await;
    assert_eq!(
        idp_tests::hidden_field(&step1, "authreq").as_deref(),
        Some(authreq.as_str())
    );
    let answer = browser
        .post_to(&start, &[("email", ALICE), ("authreq", &authreq)])
        .await;
    assert_redirect(&answer, "/mot-de-passe-oublie/code");
    let code = code_of(&sink.wait_for(1).await[0]);
    assert_redirect(
        &enter_code(&browser, &code).await,
        "/mot-de-passe-oublie/nouveau",
    );
    let (status, done) = page_of(choose_password(&browser, NEW_PASSWORD, NEW_PASSWORD).await).await;
    assert_eq!(status, 200, "{done}");
    let back = format!("/connexion?authreq={authreq}");
    assert_shows(&done, &format!("href=\"{back}\""));
    assert_shows(&done, "Se connecter à CERES");

    // Logging in there goes on to the client with a code.
    let response = browser.submit_login(&back, ALICE, NEW_PASSWORD).await;
    let next = location(&response).expect("login succeeds");
    let (response, _) = browser.follow(&next).await;
    let out = location(&response).unwrap_or_default();
    assert!(out.starts_with(idp_tests::REDIRECT_URI), "{out}");
    assert!(query_of(&out).contains_key("code"), "{out}");

    // A forged or unknown authreq is not a way out: the journey ends on the plain login.
    let other = app.browser();
    let answer = other
        .post_to(
            "/mot-de-passe-oublie",
            &[("email", ALICE), ("authreq", "https://evil.example/")],
        )
        .await;
    assert_redirect(&answer, "/mot-de-passe-oublie/code");
    let code = code_of(&sink.wait_for(2).await[1]);
    enter_code(&other, &code).await;
    let (_, done) =
        page_of(choose_password(&other, "Encore-un-autre-2026!", "Encore-un-autre-2026!").await)
            .await;
    assert!(done.contains("href=\"/connexion\""), "{done}");
    assert!(!done.contains("evil.example"), "{done}");
}
