//! The sign-up journey (guide `002` §3.2): five steps under `/inscription`, the code read from
//! a real SMTP server, the account then used through `/authorize`.

use idp::accounts::{Email, signup, store as users};
use idp_tests::{
    Browser, ReceivedMail, SmtpSink, TestApp, assert_redirect, assert_shows, auth_url, code_of,
    csrf_of, exchange_code, location, page_of, query_of,
};

const JEAN: &str = "jean.dupont@entreprise.fr";
const GOOD_PASSWORD: &str = "Tulipe-Orage-42";
/// DINUM's SIREN, with spaces as people type it.
const SIREN: &str = "130 025 265";

/// A provider mailing to a new sink, and a browser on it.
async fn start() -> (SmtpSink, TestApp, Browser) {
    let (sink, app) = TestApp::with_mailbox().await;
    let browser = app.browser();
    (sink, app, browser)
}

/// This browser's CSRF token (the same for every form).
async fn csrf(browser: &Browser) -> String {
    csrf_of(&browser.get("/inscription").await.text().await.unwrap())
}

/// Posts `fields` and the CSRF token to `path`.
async fn post(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let token = csrf(browser).await;
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    browser.post_form(path, &form).await
}

async fn get_page(browser: &Browser, path: &str) -> (u16, String) {
    page_of(browser.get(path).await).await
}

/// Step 1 for `email`; the `n`-th message of the sink is the answer.
async fn ask_code(browser: &Browser, sink: &SmtpSink, email: &str, n: usize) -> ReceivedMail {
    let answer = post(browser, "/inscription", &[("email", email)]).await;
    assert_redirect(&answer, "/inscription/code");
    sink.wait_for(n).await[n - 1].clone()
}

async fn enter_code(browser: &Browser, code: &str) -> reqwest::Response {
    post(browser, "/inscription/code", &[("code", code)]).await
}

async fn choose_password(
    browser: &Browser,
    password: &str,
    confirmation: &str,
) -> reqwest::Response {
    post(
        browser,
        "/inscription/mot-de-passe",
        &[("password", password), ("confirmation", confirmation)],
    )
    .await
}

async fn identity(browser: &Browser, civilite: &str, nom: &str, prenom: &str) -> reqwest::Response {
    post(
        browser,
        "/inscription/identite",
        &[("civilite", civilite), ("nom", nom), ("prenom", prenom)],
    )
    .await
}

async fn organization(browser: &Browser, siren: &str, label: &str, cgu: bool) -> reqwest::Response {
    let mut fields = vec![
        ("poste", "DRH"),
        ("siren", siren),
        ("raison_sociale", label),
    ];
    if cgu {
        fields.push(("cgu", "on"));
    }
    post(browser, "/inscription/organisation", &fields).await
}

/// Steps 1 to 4 for JEAN: the browser stands at step 5.
async fn up_to_organization(browser: &Browser, sink: &SmtpSink) {
    let mail = ask_code(browser, sink, JEAN, 1).await;
    assert_eq!(mail.subject, "Validation de votre compte EFP CONNECT");
    let answer = enter_code(browser, &code_of(&mail)).await;
    assert_redirect(&answer, "/inscription/mot-de-passe");
    let answer = choose_password(browser, GOOD_PASSWORD, GOOD_PASSWORD).await;
    assert_redirect(&answer, "/inscription/identite");
    let answer = identity(browser, "monsieur", " Dupont ", "Jean").await;
    assert_redirect(&answer, "/inscription/organisation");
}

#[tokio::test]
async fn the_full_journey_creates_an_account_that_logs_in_through_authorize() {
    let (sink, app, browser) = start().await;

    let (status, page) = get_page(&browser, "/connexion").await;
    assert_eq!(status, 200);
    assert_shows(&page, "href=\"/inscription\"");
    let (_, page) = get_page(&browser, "/inscription").await;
    assert_shows(&page, "Étape 1 sur 5");

    up_to_organization(&browser, &sink).await;
    let (_, page) = get_page(&browser, "/inscription/organisation").await;
    assert_shows(&page, "Étape 5 sur 5");
    assert_shows(&page, "Identité : M. JEAN DUPONT");
    // The guide's order: the poste, then the company; the CGU open in a new window.
    let poste = page.find("Poste occupé").expect("poste");
    let company = page
        .find("SIREN (9 chiffres) de l'entreprise")
        .expect("company");
    assert!(poste < company);
    assert_shows(
        &page,
        "J'accepte les <a href=\"/cgu\" target=\"_blank\" rel=\"noopener\" title=\"conditions générales d'utilisation - nouvelle fenêtre\">conditions générales d'utilisation</a>",
    );
    let (status, page) = page_of(organization(&browser, SIREN, "DINUM", true).await).await;
    assert_eq!(status, 200, "{page}");
    assert_shows(&page, "Votre compte EFP Connect est créé");
    assert!(page.contains("href=\"/connexion\""));

    let user = users::user_by_email(&app.state.db, &Email::parse(JEAN).unwrap())
        .await
        .unwrap()
        .expect("account created");
    assert!(user.email_verified);
    assert!(
        user.password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$")
    );
    assert_eq!(user.gender.as_deref(), Some("male"));
    assert_eq!(user.family_name, "Dupont");
    assert_eq!(user.given_name, "Jean");
    assert_eq!(user.job.as_deref(), Some("DRH"));
    assert_eq!(user.siret, None, "a SIREN names no establishment");
    assert_eq!(user.organization_label.as_deref(), Some("DINUM"));
    let created = &sink.wait_for(2).await[1];
    assert_eq!(created.subject, "Votre compte EFP Connect a été créé");
    let audit = idp::audit::latest(&app.state.db, 10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "account.created" && e.target == user.id)
    );
    // The box ticked: EFP Connect's current CGU accepted, in the same transaction.
    let accepted = idp::accounts::cgu::accepted(&app.state.db, &user.id)
        .await
        .unwrap()
        .expect("CGU accepted");
    assert_eq!(accepted.version, 1);

    // The journey is over: its pages start again from step 1.
    let answer = browser.get("/inscription/organisation").await;
    assert_redirect(&answer, "/inscription");

    // The new account logs in through /authorize and gets a code the client can exchange.
    let client = app.client("ceres").await;
    let (response, at) = browser.follow(&auth_url(&app, &client, &[])).await;
    assert!(at.contains("/connexion"), "{at} {}", response.status());
    let response = browser.submit_login(&at, JEAN, GOOD_PASSWORD).await;
    let next = location(&response).expect("logged in");
    let (response, _) = browser.follow(&next).await;
    let redirect = location(&response).expect("back to the client");
    let code = query_of(&redirect)["code"].clone();
    let tokens = exchange_code(&app, &client, &code, &[]).await;
    assert_eq!(tokens.status(), 200);
}

#[tokio::test]
async fn a_sign_up_started_from_a_services_login_page_goes_back_to_that_service() {
    let (sink, app, browser) = start().await;
    let client = app.client("ceres").await;
    let (_, at) = browser.follow(&auth_url(&app, &client, &[])).await;
    let authreq = query_of(&at)["authreq"].clone();
    let (_, page) = get_page(&browser, &at).await;
    let link = format!("href=\"/inscription?authreq={authreq}\"");
    assert!(page.contains(&link), "{page}");

    let (status, _) = get_page(&browser, &format!("/inscription?authreq={authreq}")).await;
    assert_eq!(status, 200);
    up_to_organization(&browser, &sink).await;
    let (status, page) = page_of(organization(&browser, SIREN, "DINUM", true).await).await;
    assert_eq!(status, 200, "{page}");
    let login = format!("/connexion?authreq={authreq}");
    assert!(page.contains(&format!("href=\"{login}\"")), "{page}");

    // « Se connecter »: the service's request resumes and the service gets its code.
    let response = browser.submit_login(&login, JEAN, GOOD_PASSWORD).await;
    let next = location(&response).expect("logged in");
    assert_eq!(next, format!("/authorize/continue?authreq={authreq}"));
    let (response, _) = browser.follow(&next).await;
    let redirect = location(&response).expect("back to the client");
    assert!(query_of(&redirect).contains_key("code"), "{redirect}");
}

#[tokio::test]
async fn an_existing_address_sees_the_same_screens_gets_the_account_exists_mail_and_no_code_works()
{
    let (sink, app) = TestApp::with_mailbox().await;
    app.user(JEAN).await;

    // A new address, for comparison.
    let stranger = app.browser();
    ask_code(&stranger, &sink, "paul.martin@entreprise.fr", 1).await;
    let (_, new_page) = get_page(&stranger, "/inscription/code").await;
    let (_, new_wrong) = page_of(enter_code(&stranger, "000000").await).await;

    let browser = app.browser();
    let mail = ask_code(&browser, &sink, JEAN, 2).await;
    assert_eq!(
        mail.subject,
        "Création de compte EFP Connect : vous avez déjà un compte"
    );
    assert_eq!(mail.rcpt_tos, [JEAN]);
    let (status, page) = get_page(&browser, "/inscription/code").await;
    assert_eq!(status, 200);
    let strip = |p: &str, email: &str| {
        p.replace(email, "ADDRESS")
            .lines()
            .filter(|l| !l.contains("name=\"csrf\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&page, JEAN),
        strip(&new_page, "paul.martin@entreprise.fr")
    );
    let (status, wrong) = page_of(enter_code(&browser, "000000").await).await;
    assert_eq!(status, 400);
    assert_eq!(
        strip(&wrong, JEAN),
        strip(&new_wrong, "paul.martin@entreprise.fr")
    );
    for code in ["123456", "111111", "999999", "654321"] {
        let answer = enter_code(&browser, code).await;
        assert_eq!(answer.status(), 400);
    }
    assert_eq!(
        sink.messages().len(),
        2,
        "no code ever sent for the account"
    );
    let answer = browser.get("/inscription/mot-de-passe").await;
    assert_redirect(&answer, "/inscription/code");
}

#[tokio::test]
async fn a_wrong_code_counts_down_and_the_code_dies_after_five_tries() {
    let (sink, _app, browser) = start().await;
    let code = code_of(&ask_code(&browser, &sink, JEAN, 1).await);
    let wrong = if code == "000000" { "111111" } else { "000000" };

    for left in ["4 essais", "3 essais", "2 essais", "1 essai."] {
        let (status, page) = page_of(enter_code(&browser, wrong).await).await;
        assert_eq!(status, 400);
        assert_shows(&page, "Le code saisi est incorrect.");
        assert!(page.contains(&format!("Il vous reste {left}")), "{page}");
    }
    let (_, page) = page_of(enter_code(&browser, wrong).await).await;
    assert_shows(&page, "Ce code n'est plus utilisable");
    let (status, page) = page_of(enter_code(&browser, &code).await).await;
    assert_eq!(status, 400);
    assert_shows(&page, "après 5 essais incorrects");
    assert!(page.contains("Envoyer le code"));

    let (_, page) = page_of(enter_code(&browser, "12 34").await).await;
    assert_shows(&page, "Le code doit comporter 6 chiffres.");
}

#[tokio::test]
async fn a_new_code_is_refused_before_the_cooldown_and_after_it_replaces_the_old_one() {
    let (sink, app, browser) = start().await;
    let old = code_of(&ask_code(&browser, &sink, JEAN, 1).await);

    let (status, page) = page_of(post(&browser, "/inscription/code/renvoyer", &[]).await).await;
    assert_eq!(status, 429);
    assert_shows(&page, "Vous pourrez demander un nouveau code dans");
    assert!(
        page.contains("secondes") || page.contains("1 minute"),
        "{page}"
    );
    assert_eq!(sink.messages().len(), 1);

    // The cooldown is over (without waiting a minute).
    let email = Email::parse(JEAN).unwrap();
    app.state
        .ephemeral
        .delete(&signup::code::cooldown_key(&email))
        .await
        .unwrap();
    let (status, page) = page_of(post(&browser, "/inscription/code/renvoyer", &[]).await).await;
    assert_eq!(status, 200);
    assert_shows(&page, "Un nouveau code vous a été envoyé");
    let new = code_of(&sink.wait_for(2).await[1]);
    if new != old {
        let (_, page) = page_of(enter_code(&browser, &old).await).await;
        assert_shows(&page, "Le code saisi est incorrect.");
    }
    let answer = enter_code(&browser, &new).await;
    assert_redirect(&answer, "/inscription/mot-de-passe");
}

#[tokio::test]
async fn weak_common_address_derived_and_mismatched_passwords_are_refused_with_the_rule() {
    let (sink, _app, browser) = start().await;
    let code = code_of(&ask_code(&browser, &sink, JEAN, 1).await);
    enter_code(&browser, &code).await;

    let cases = [
        ("Court-1", "Court-1", "au moins 12 caractères"),
        ("toutenminuscules", "toutenminuscules", "3 des 4 types"),
        ("Azerty-Tulipe-42", "Azerty-Tulipe-42", "trop courant"),
        (idp_tests::PASSWORD, idp_tests::PASSWORD, "trop courant"),
        (
            "Dupont-Orage-42",
            "Dupont-Orage-42",
            "ne doit pas contenir votre adresse e-mail",
        ),
        (
            GOOD_PASSWORD,
            "Tulipe-Orage-43",
            "Les mots de passe ne correspondent pas.",
        ),
    ];
    for (password, confirmation, message) in cases {
        let (status, page) = page_of(choose_password(&browser, password, confirmation).await).await;
        assert_eq!(status, 400, "{password}");
        assert!(page.contains(message), "{password}: {page}");
        assert!(page.contains("Erreur - Je crée mon compte"));
    }
    let answer = browser.get("/inscription/identite").await;
    assert_redirect(&answer, "/inscription/mot-de-passe");
}

#[tokio::test]
async fn missing_identity_fields_are_refused() {
    let (sink, _app, browser) = start().await;
    let code = code_of(&ask_code(&browser, &sink, JEAN, 1).await);
    enter_code(&browser, &code).await;
    choose_password(&browser, GOOD_PASSWORD, GOOD_PASSWORD).await;

    let cases = [
        ("", "Dupont", "Jean", "Veuillez indiquer votre civilité."),
        ("monsieur", "  ", "Jean", "Veuillez saisir votre nom."),
        ("madame", "Dupont", "", "Veuillez saisir votre prénom."),
    ];
    for (civilite, nom, prenom, message) in cases {
        let (status, page) = page_of(identity(&browser, civilite, nom, prenom).await).await;
        assert_eq!(status, 400);
        assert!(page.contains(message), "{page}");
    }
    let long = "a".repeat(101);
    let (status, page) = page_of(identity(&browser, "madame", &long, "Jeanne").await).await;
    assert_eq!(status, 400);
    assert_shows(&page, "ne peut dépasser 100 caractères");
    let answer = browser.get("/inscription/organisation").await;
    assert_redirect(&answer, "/inscription/identite");
}

#[tokio::test]
async fn an_invalid_siren_or_unchecked_terms_are_refused_and_a_siret_is_stored() {
    let (sink, app, browser) = start().await;
    up_to_organization(&browser, &sink).await;

    for (siren, message) in [
        ("130 025 266", "Ce numéro SIREN n'existe pas"),
        ("1300252", "9 chiffres"),
        ("", "Veuillez saisir le numéro SIREN"),
    ] {
        let (status, page) = page_of(organization(&browser, siren, "DINUM", true).await).await;
        assert_eq!(status, 400);
        assert!(page.contains(message), "{siren}: {page}");
        // What was typed comes back.
        assert!(page.contains(&format!("value=\"{siren}\"")), "{page}");
    }
    let (status, page) = page_of(organization(&browser, SIREN, "DINUM", false).await).await;
    assert_eq!(status, 400);
    assert_shows(
        &page,
        "Veuillez accepter les conditions générales d'utilisation",
    );
    let (status, page) = page_of(organization(&browser, SIREN, "  ", true).await).await;
    assert_eq!(status, 400);
    assert_shows(&page, "Veuillez saisir la raison sociale");
    let email = Email::parse(JEAN).unwrap();
    assert!(
        users::user_by_email(&app.state.db, &email)
            .await
            .unwrap()
            .is_none()
    );

    let (status, _) =
        page_of(organization(&browser, "130 025 265 00013", "DINUM", true).await).await;
    assert_eq!(status, 200);
    let user = users::user_by_email(&app.state.db, &email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.siret.as_deref(), Some("13002526500013"));
}

#[tokio::test]
async fn a_shared_mailbox_is_refused_and_nothing_is_sent() {
    let (sink, _app, browser) = start().await;
    for address in [
        "contact@entreprise.fr",
        "Accueil@entreprise.fr",
        "noreply+x@entreprise.fr",
    ] {
        let (status, page) =
            page_of(post(&browser, "/inscription", &[("email", address)]).await).await;
        assert_eq!(status, 400);
        assert_shows(
            &page,
            "interdit d'utiliser une adresse e-mail partagée (contact@",
        );
    }
    let (status, page) =
        page_of(post(&browser, "/inscription", &[("email", "pas-une-adresse")]).await).await;
    assert_eq!(status, 400);
    assert_shows(&page, "Le format de l'adresse e-mail est invalide");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn look_alike_and_invisible_addresses_are_refused_in_french_and_nothing_is_sent() {
    let (sink, _app, browser) = start().await;
    // A zero-width space used to reach the mailer and end in a 503.
    let (status, page) = page_of(
        post(
            &browser,
            "/inscription",
            &[("email", "camille\u{200b}.durand@centre.fr")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_shows(&page, "Le format de l'adresse e-mail est invalide");
    // A Cyrillic « а » next to Latin letters: an address that passes for someone else's.
    let (status, page) = page_of(
        post(
            &browser,
            "/inscription",
            &[("email", "c\u{430}mille.durand@centre.fr")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_shows(&page, "caractères d'alphabets différents");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let (sink, _app, browser) = start().await;
    let _ = csrf(&browser).await;
    for path in [
        "/inscription",
        "/inscription/code",
        "/inscription/code/renvoyer",
        "/inscription/mot-de-passe",
        "/inscription/identite",
        "/inscription/organisation",
    ] {
        let answer = browser
            .post_form(path, &[("email", JEAN), ("csrf", "faux")])
            .await;
        assert_eq!(answer.status(), 403, "{path}");
        let answer = browser.post_form(path, &[("email", JEAN)]).await;
        assert_eq!(answer.status(), 403, "{path}");
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn going_back_with_modifier_keeps_what_was_typed() {
    let (sink, _app, browser) = start().await;

    // Out of order: every step sends to the first one missing.
    let answer = browser.get("/inscription/organisation").await;
    assert_redirect(&answer, "/inscription");

    up_to_organization(&browser, &sink).await;
    let (_, page) = page_of(organization(&browser, "12", "Ma société", true).await).await;
    assert_shows(&page, "href=\"/inscription/identite\">Modifier</a>");
    assert_shows(&page, "href=\"/inscription\">Modifier</a>");

    let (status, page) = get_page(&browser, "/inscription/identite").await;
    assert_eq!(status, 200);
    assert_shows(&page, "value=\"Dupont\"");
    assert_shows(&page, "value=\"Jean\"");
    assert_shows(&page, "value=\"monsieur\" checked");
    let (_, page) = get_page(&browser, "/inscription").await;
    assert!(page.contains(&format!("value=\"{JEAN}\"")), "{page}");
    // Step 1 sent again with the same address: nothing is lost, no new code.
    let answer = post(&browser, "/inscription", &[("email", JEAN)]).await;
    assert_redirect(&answer, "/inscription/organisation");
    assert_eq!(sink.messages().len(), 1);

    let answer = identity(&browser, "madame", "Durand", "Jeanne").await;
    assert_redirect(&answer, "/inscription/organisation");
    let (_, page) = get_page(&browser, "/inscription/organisation").await;
    assert_shows(&page, "Identité : Mme JEANNE DURAND");
    assert_shows(&page, "value=\"Ma société\"");
    assert_shows(&page, "value=\"DRH\"");
    // Refreshing a step already done changes nothing.
    let answer = browser.get("/inscription/code").await;
    assert_redirect(&answer, "/inscription/organisation");
}

#[tokio::test]
async fn the_last_step_is_atomic_when_its_audit_fails() {
    let (sink, app, browser) = start().await;
    up_to_organization(&browser, &sink).await;
    app.fail_audit_of("account.created").await;

    let answer = organization(&browser, SIREN, "DINUM", true).await;
    assert_eq!(answer.status(), 500);

    let account = users::user_by_email(&app.state.db, &Email::parse(JEAN).unwrap())
        .await
        .unwrap();
    assert!(account.is_none(), "no account");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM cgu_acceptances WHERE user_id <> $1",
            ""
        )
        .await,
        0,
        "no acceptance of the CGU either"
    );
    assert_eq!(sink.messages().len(), 1, "only the code was sent");
}

#[tokio::test]
async fn the_password_hint_names_what_the_rule_refuses() {
    let (sink, _app, browser) = start().await;
    let code = code_of(&ask_code(&browser, &sink, JEAN, 1).await);
    enter_code(&browser, &code).await;
    let (_, page) = get_page(&browser, "/inscription/mot-de-passe").await;
    // The address's parts (« dupont » of jean.dupont@…) are refused, not only the whole address.
    assert_shows(
        &page,
        "Il ne doit pas contenir votre adresse e-mail (ni une partie de celle-ci) ni un mot de passe courant, ni votre nom ni votre prénom.",
    );
}

/// The path and query of the sign-up e-mail's button, asserted to be written in full on `app`.
fn signup_link_of(app: &TestApp, mail: &ReceivedMail) -> String {
    let start = mail.text.find("/inscription/lien?jeton=").expect("a link");
    let link = mail.text[start..].lines().next().expect("line").trim();
    assert!(mail.text.contains(&app.url(link)), "{}", mail.text);
    assert!(
        mail.html
            .contains("Vous pouvez également cliquer sur le bouton ci-dessous")
    );
    link.to_owned()
}

#[tokio::test]
async fn the_mails_button_opens_step_two_with_the_code_in_another_browser_once() {
    let (sink, app, browser) = start().await;
    let mail = ask_code(&browser, &sink, JEAN, 1).await;
    let link = signup_link_of(&app, &mail);

    // Another browser (no journey cookie): the link alone names the pending sign-up.
    let other = app.browser();
    let (status, page) = get_page(&other, &link).await;
    assert_eq!(status, 200, "{page}");
    assert_shows(&page, "Étape 2 sur 5");
    assert_shows(&page, &format!("value=\"{}\"", code_of(&mail)));
    // Opening it spends nothing (mail scanners follow links): it opens again.
    let (status, _) = get_page(&other, &link).await;
    assert_eq!(status, 200);
    // The filled-in code goes through the ordinary check.
    let answer = enter_code(&other, &code_of(&mail)).await;
    assert_redirect(&answer, "/inscription/mot-de-passe");
    let (_, page) = get_page(&other, "/inscription/mot-de-passe").await;
    assert_shows(&page, &format!("E-mail : {JEAN}"));

    // Spent: the link has expired, in any browser, and the code no longer validates.
    let (status, page) = get_page(&app.browser(), &link).await;
    assert_eq!(status, 410);
    assert_shows(&page, "Ce lien a expiré ou a déjà été utilisé.");
    let answer = enter_code(&browser, &code_of(&mail)).await;
    assert_eq!(answer.status(), 400);
}

#[tokio::test]
async fn a_replaced_or_guessed_link_has_expired_and_an_existing_account_gets_none() {
    let (sink, app, browser) = start().await;
    let first = ask_code(&browser, &sink, JEAN, 1).await;
    let old_link = signup_link_of(&app, &first);
    app.state
        .ephemeral
        .delete(&signup::code::cooldown_key(&Email::parse(JEAN).unwrap()))
        .await
        .unwrap();
    let answer = post(&browser, "/inscription/code/renvoyer", &[]).await;
    assert_eq!(answer.status(), 200);
    let second = sink.wait_for(2).await[1].clone();
    let (status, _) = get_page(&app.browser(), &old_link).await;
    assert_eq!(status, 410, "the new code's mail replaced this link");
    let (status, _) = get_page(&app.browser(), "/inscription/lien?jeton=devine").await;
    assert_eq!(status, 410);
    let (status, _) = get_page(&app.browser(), "/inscription/lien").await;
    assert_eq!(status, 410);
    let (status, _) = get_page(&app.browser(), &signup_link_of(&app, &second)).await;
    assert_eq!(status, 200);

    // An address with an account gets the « account exists » mail: no code, no link.
    app.user("deja@entreprise.fr").await;
    let other = app.browser();
    let mail = ask_code(&other, &sink, "deja@entreprise.fr", 3).await;
    assert!(!mail.text.contains("/inscription/lien"), "{}", mail.text);
}

#[tokio::test]
async fn a_password_containing_the_name_is_refused_at_step_four_or_three() {
    let (sink, app, browser) = start().await;
    let code = code_of(&ask_code(&browser, &sink, JEAN, 1).await);
    enter_code(&browser, &code).await;
    // Step 3 does not know the names yet…
    let answer = choose_password(&browser, "Tulipe-Éloïse-42", "Tulipe-Éloïse-42").await;
    assert_redirect(&answer, "/inscription/identite");
    // …step 4 does, whatever the case and accents: back to step 3, which says why.
    let answer = identity(&browser, "madame", "Martin", "ELOISE").await;
    assert_redirect(&answer, "/inscription/mot-de-passe");
    let (_, page) = get_page(&browser, "/inscription/mot-de-passe").await;
    assert_shows(
        &page,
        "Le mot de passe ne doit contenir ni votre nom ni votre prénom.",
    );
    // Now that the names are known, step 3 checks them itself.
    let (status, page) =
        page_of(choose_password(&browser, "Martin-Orage-42", "Martin-Orage-42").await).await;
    assert_eq!(status, 400);
    assert_shows(
        &page,
        "Le mot de passe ne doit contenir ni votre nom ni votre prénom.",
    );
    let answer = choose_password(&browser, GOOD_PASSWORD, GOOD_PASSWORD).await;
    assert_redirect(&answer, "/inscription/organisation");
    let (status, page) = page_of(organization(&browser, SIREN, "DINUM", true).await).await;
    assert_eq!(status, 200, "{page}");
    let user = users::user_by_email(&app.state.db, &Email::parse(JEAN).unwrap())
        .await
        .unwrap()
        .expect("account created");
    assert_eq!(user.given_name, "ELOISE");
}

#[tokio::test]
async fn a_sign_up_from_a_service_finished_through_the_link_in_another_browser_goes_back_too() {
    let (sink, app, browser) = start().await;
    let client = app.client("ceres").await;
    let (_, at) = browser.follow(&auth_url(&app, &client, &[])).await;
    let authreq = query_of(&at)["authreq"].clone();
    get_page(&browser, &format!("/inscription?authreq={authreq}")).await;
    let mail = ask_code(&browser, &sink, JEAN, 1).await;

    let other = app.browser();
    let (status, _) = get_page(&other, &signup_link_of(&app, &mail)).await;
    assert_eq!(status, 200);
    assert_redirect(
        &enter_code(&other, &code_of(&mail)).await,
        "/inscription/mot-de-passe",
    );
    choose_password(&other, GOOD_PASSWORD, GOOD_PASSWORD).await;
    identity(&other, "monsieur", "Dupont", "Jean").await;
    let (status, page) = page_of(organization(&other, SIREN, "DINUM", true).await).await;
    assert_eq!(status, 200, "{page}");
    assert_shows(&page, &format!("href=\"/connexion?authreq={authreq}\""));
}
