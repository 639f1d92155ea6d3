//! Second factor (TOTP): enrolment, the login's code step, replays, recovery codes, disabling,
//! storage at rest, CSRF, and `acr_values=mfa` leading to enrolment.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use idp_tests::{
    Browser, PASSWORD, TestApp, assert_redirect, assert_shows, auth_url, csrf_of, exchange_code,
    hidden_field, location, query_of,
};
use serde_json::Value;
use totp_rs::{Builder, Secret, Totp};

const EMAIL: &str = "alice@centre.fr";
const ENROL: &str = "/compte/double-authentification";
const DISABLE: &str = "/compte/double-authentification/desactivation";

fn totp_of(base32: &str) -> Totp {
    Builder::new()
        .with_secret(Secret::try_from_base32(base32).expect("base32 secret"))
        .build()
        .expect("totp")
}

fn now() -> u64 {
    u64::try_from(idp::store::now()).expect("positive time")
}

/// The code of the step after the current one: the enrolment consumed the current step, and
/// one step of drift is accepted.
fn next_code(totp: &Totp) -> String {
    totp.generate(now() + 30).to_string()
}

fn secret_on(page: &str) -> String {
    let start = page.find("id=\"totp-secret\">").expect("secret shown") + 17;
    let end = page[start..].find('<').expect("end of secret") + start;
    page[start..end].to_owned()
}

fn recovery_codes_on(page: &str) -> Vec<String> {
    page.split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').expect("end of code")].to_owned())
        .collect()
}

async fn log_in_with_password(browser: &Browser) -> reqwest::Response {
    browser.submit_login("/connexion", EMAIL, PASSWORD).await
}

/// Logs in (password only), enrols; returns the secret and the recovery codes.
async fn enrol(browser: &Browser) -> (Totp, Vec<String>) {
    let r = log_in_with_password(browser).await;
    assert_redirect(&r, "/");
    let page = browser.get(ENROL).await.text().await.expect("page");
    assert_shows(&page, "data:image/png;base64,");
    let totp = totp_of(&secret_on(&page));
    let code = totp.generate(now()).to_string();
    let r = browser
        .post_form(ENROL, &[("csrf", &csrf_of(&page)), ("code", &code)])
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.expect("page");
    let codes = recovery_codes_on(&page);
    assert_eq!(codes.len(), 10, "{page}");
    (totp, codes)
}

/// Password then code; returns the answer to the code.
async fn log_in_with_code(browser: &Browser, page_uri: &str, code: &str) -> reqwest::Response {
    let r = browser.submit_login(page_uri, EMAIL, PASSWORD).await;
    assert_eq!(r.status(), 200, "the code page, no redirect");
    assert!(location(&r).is_none());
    let page = r.text().await.expect("code page");
    assert!(page.contains("Code de vérification"));
    browser
        .post_form(
            "/connexion/code",
            &[
                ("csrf", &csrf_of(&page)),
                ("step", &hidden_field(&page, "step").expect("step")),
                ("code", code),
            ],
        )
        .await
}

async fn logged_in(browser: &Browser) -> bool {
    let page = browser.get("/").await.text().await.expect("home");
    page.contains("Alice")
}

#[tokio::test]
async fn an_enrolled_account_logs_in_with_a_code_and_gets_mfa_in_the_id_token() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (totp, _) = enrol(&app.browser()).await;

    let browser = app.browser();
    let (_, at) = browser.follow(&auth_url(&app, &client, &[])).await;
    assert!(at.contains("/connexion"));
    let r = log_in_with_code(&browser, &at, &next_code(&totp)).await;
    let next = location(&r).expect("login continues");
    assert!(next.starts_with("/authorize/continue"), "{next}");
    let (r, _) = browser.follow(&next).await;
    let out = location(&r).expect("back to the client");
    let code = query_of(&out).get("code").cloned().expect("a code");
    let tokens: Value = exchange_code(&app, &client, &code, &[])
        .await
        .json()
        .await
        .expect("tokens");
    let id_token = tokens["id_token"].as_str().expect("id token");
    let payload: Value = serde_json::from_slice(
        &B64.decode(id_token.split('.').nth(1).expect("payload"))
            .expect("base64url"),
    )
    .expect("JSON");
    assert_eq!(payload["acr"], "eidas2");
    let amr: Vec<&str> = payload["amr"]
        .as_array()
        .expect("amr")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(amr.contains(&"otp") && amr.contains(&"mfa"), "{amr:?}");
}

#[tokio::test]
async fn the_password_alone_starts_no_session_and_a_wrong_code_is_refused() {
    let app = TestApp::spawn().await;
    app.user(EMAIL).await;
    let (totp, _) = enrol(&app.browser()).await;
    let browser = app.browser();
    let right = next_code(&totp);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = log_in_with_code(&browser, "/connexion", wrong).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("Code de vérification incorrect.")
    );
    assert!(!logged_in(&browser).await);
}

#[tokio::test]
async fn a_code_is_accepted_once() {
    let app = TestApp::spawn().await;
    app.user(EMAIL).await;
    let (totp, _) = enrol(&app.browser()).await;
    let code = next_code(&totp);
    let first = app.browser();
    let r = log_in_with_code(&first, "/connexion", &code).await;
    assert_redirect(&r, "/");
    assert!(logged_in(&first).await);

    let second = app.browser();
    let r = log_in_with_code(&second, "/connexion", &code).await;
    assert_eq!(r.status(), 401);
    assert!(!logged_in(&second).await);
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = TestApp::spawn().await;
    app.user(EMAIL).await;
    let (_, codes) = enrol(&app.browser()).await;
    let first = app.browser();
    let r = log_in_with_code(&first, "/connexion", &codes[3]).await;
    assert_redirect(&r, "/");
    assert!(logged_in(&first).await);

    let second = app.browser();
    let r = log_in_with_code(&second, "/connexion", &codes[3]).await;
    assert_eq!(r.status(), 401);
    assert!(!logged_in(&second).await);
}

#[tokio::test]
async fn disabling_requires_the_password_and_removes_the_second_factor() {
    let app = TestApp::spawn().await;
    let user = app.user(EMAIL).await;
    let browser = app.browser();
    enrol(&browser).await;
    let page = browser.get(ENROL).await.text().await.expect("page");
    let csrf = csrf_of(&page);

    let r = browser
        .post_form(DISABLE, &[("csrf", &csrf), ("password", "pas-le-bon")])
        .await;
    assert_eq!(r.status(), 401);
    assert!(
        idp::accounts::totp::is_enrolled(&app.state.db, &user.id)
            .await
            .expect("db")
    );

    let r = browser
        .post_form(DISABLE, &[("csrf", &csrf), ("password", PASSWORD)])
        .await;
    assert_redirect(&r, ENROL);
    assert!(
        !idp::accounts::totp::is_enrolled(&app.state.db, &user.id)
            .await
            .expect("db")
    );
    let codes = app.rows_of_user("totp_recovery_codes", &user.id).await;
    assert_eq!(codes, 0);
    // The password alone logs in again.
    let r = log_in_with_password(&app.browser()).await;
    assert_redirect(&r, "/");
}

#[tokio::test]
async fn the_secret_is_stored_encrypted_under_the_kek() {
    let app = TestApp::spawn().await;
    let user = app.user(EMAIL).await;
    let browser = app.browser();
    log_in_with_password(&browser).await;
    let page = browser.get(ENROL).await.text().await.expect("page");
    let base32 = secret_on(&page);
    let totp = totp_of(&base32);
    browser
        .post_form(
            ENROL,
            &[
                ("csrf", &csrf_of(&page)),
                ("code", &totp.generate(now()).to_string()),
            ],
        )
        .await;
    let stored = app.stored_totp_secret(&user.id).await;
    let raw = Secret::try_from_base32(&base32).expect("base32");
    assert!(!String::from_utf8_lossy(&stored).contains(&base32));
    assert!(!stored.windows(raw.len()).any(|w| w == &raw[..]));
    assert_eq!(
        app.state.kek.open(&user.id, &stored).expect("opens"),
        &raw[..]
    );
    assert!(app.state.kek.open("someone-else", &stored).is_err());
}

#[tokio::test]
async fn every_form_requires_csrf() {
    let app = TestApp::spawn().await;
    let user = app.user(EMAIL).await;
    let browser = app.browser();
    log_in_with_password(&browser).await;
    let page = browser.get(ENROL).await.text().await.expect("page");
    let totp = totp_of(&secret_on(&page));
    let r = browser
        .post_form(ENROL, &[("code", &totp.generate(now()).to_string())])
        .await;
    assert_eq!(r.status(), 403);
    assert!(
        !idp::accounts::totp::is_enrolled(&app.state.db, &user.id)
            .await
            .expect("db")
    );
    let r = browser
        .post_form(
            ENROL,
            &[
                ("csrf", &csrf_of(&page)),
                ("code", &totp.generate(now()).to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);

    let r = browser.post_form(DISABLE, &[("password", PASSWORD)]).await;
    assert_eq!(r.status(), 403);
    assert!(
        idp::accounts::totp::is_enrolled(&app.state.db, &user.id)
            .await
            .expect("db")
    );

    let other = app.browser();
    let r = other.submit_login("/connexion", EMAIL, PASSWORD).await;
    let page = r.text().await.expect("code page");
    let r = other
        .post_form(
            "/connexion/code",
            &[
                ("step", &hidden_field(&page, "step").expect("step")),
                ("code", &next_code(&totp)),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(!logged_in(&other).await);
}

#[tokio::test]
async fn a_request_for_mfa_leads_an_account_without_it_through_enrolment() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let (_, at) = browser
        .follow(&auth_url(&app, &client, &[("acr_values", "mfa")]))
        .await;
    let r = browser.submit_login(&at, EMAIL, PASSWORD).await;
    // The request resumes, and the level it asks for leads to the enrolment.
    let (r, at) = browser
        .follow(&location(&r).expect("login continues"))
        .await;
    assert!(at.ends_with(ENROL), "{at}");
    let page = r.text().await.expect("page");
    let totp = totp_of(&secret_on(&page));
    let r = browser
        .post_form(
            ENROL,
            &[
                ("csrf", &csrf_of(&page)),
                ("code", &totp.generate(now()).to_string()),
            ],
        )
        .await;
    let page = r.text().await.expect("page");
    let start = page
        .find("href=\"/authorize/continue?authreq=")
        .expect("continue link")
        + 6;
    let end = page[start..].find('"').expect("end") + start;
    let (r, _) = browser.follow(&page[start..end]).await;
    let out = location(&r).expect("back to the client");
    let code = query_of(&out).get("code").cloned().expect("a code");
    let tokens: Value = exchange_code(&app, &client, &code, &[])
        .await
        .json()
        .await
        .expect("tokens");
    let payload: Value = serde_json::from_slice(
        &B64.decode(
            tokens["id_token"]
                .as_str()
                .expect("id token")
                .split('.')
                .nth(1)
                .expect("payload"),
        )
        .expect("base64url"),
    )
    .expect("JSON");
    assert_eq!(payload["acr"], "mfa");
}

#[tokio::test]
async fn past_the_limit_wrong_codes_get_a_wait_message() {
    let app = TestApp::spawn_with(|config| config.limits.login_free_failures = 2).await;
    app.user(EMAIL).await;
    let (totp, _) = enrol(&app.browser()).await;
    let right = next_code(&totp);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let browser = app.browser();
    let r = browser.submit_login("/connexion", EMAIL, PASSWORD).await;
    let page = r.text().await.expect("code page");
    let form = |code: &'static str| {
        [
            ("csrf", csrf_of(&page)),
            ("step", hidden_field(&page, "step").expect("step")),
            ("code", code.to_owned()),
        ]
    };
    for _ in 0..2 {
        let r = browser
            .post_form("/connexion/code", &as_refs(&form(wrong)))
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = browser
        .post_form("/connexion/code", &as_refs(&form(wrong)))
        .await;
    assert_eq!(r.status(), 429);
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("Veuillez réessayer dans")
    );
    assert!(!logged_in(&browser).await);
}

fn as_refs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The claims of the ID token that `code` is exchanged for.
async fn id_token_claims(app: &TestApp, client: &idp_tests::TestClient, code: &str) -> Value {
    let tokens: Value = exchange_code(app, client, code, &[])
        .await
        .json()
        .await
        .expect("tokens");
    let id_token = tokens["id_token"].as_str().expect("id token");
    serde_json::from_slice(
        &B64.decode(id_token.split('.').nth(1).expect("payload"))
            .expect("base64url"),
    )
    .expect("JSON")
}

#[tokio::test]
async fn a_password_session_steps_up_with_a_code_when_the_client_asks_for_mfa() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let browser = app.browser();
    // Logged in with the password, then enrolled: the session itself is still `pwd`.
    let (totp, _) = enrol(&browser).await;

    // A client content with a password gets its code at once, acr `pwd`.
    let (r, _) = browser.follow(&auth_url(&app, &client, &[])).await;
    let out = location(&r).expect("straight back to the client");
    let code = query_of(&out).get("code").cloned().expect("a code");
    assert_eq!(id_token_claims(&app, &client, &code).await["acr"], "eidas1");

    // One that asks for `mfa` makes the person type a code first, with no new password.
    let r = browser
        .get(&auth_url(&app, &client, &[("acr_values", "mfa")]))
        .await;
    assert_eq!(r.status(), 200, "the code page, no redirect");
    let page = r.text().await.expect("code page");
    assert_shows(&page, "Code de vérification");
    assert!(!page.contains("name=\"password\""), "{page}");
    let r = browser
        .post_form(
            "/connexion/code",
            &[
                ("csrf", &csrf_of(&page)),
                ("step", &hidden_field(&page, "step").expect("step")),
                ("code", &next_code(&totp)),
            ],
        )
        .await;
    let next = location(&r).expect("the request resumes");
    assert!(next.starts_with("/authorize/continue"), "{next}");
    let (r, _) = browser.follow(&next).await;
    let out = location(&r).expect("back to the client");
    let code = query_of(&out).get("code").cloned().expect("a code");
    let claims = id_token_claims(&app, &client, &code).await;
    assert_eq!(claims["acr"], "mfa");
    assert!(
        claims["amr"]
            .as_array()
            .expect("amr")
            .iter()
            .any(|m| m == "otp"),
        "{claims}"
    );

    // The session is `mfa` now: a second such request needs nothing more.
    let (r, _) = browser
        .follow(&auth_url(&app, &client, &[("acr_values", "mfa")]))
        .await;
    let out = location(&r).expect("straight back to the client");
    assert!(query_of(&out).contains_key("code"), "{out}");
}

#[tokio::test]
async fn a_password_session_without_a_second_factor_is_led_to_enrol_on_a_request_for_mfa() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let r = log_in_with_password(&browser).await;
    assert_redirect(&r, "/");

    // `mfa pwd`: either will do, so the password session is enough.
    let (r, _) = browser
        .follow(&auth_url(&app, &client, &[("acr_values", "mfa pwd")]))
        .await;
    assert!(query_of(&location(&r).expect("back")).contains_key("code"));

    // `prompt=none` cannot show the enrolment: the level asked for is unmet (OpenID Connect
    // Core Unmet Authentication Requirements 1.0).
    let (r, _) = browser
        .follow(&auth_url(
            &app,
            &client,
            &[("acr_values", "mfa"), ("prompt", "none")],
        ))
        .await;
    let out = location(&r).expect("back to the client");
    assert_eq!(
        query_of(&out).get("error").map(String::as_str),
        Some("unmet_authentication_requirements"),
        "{out}"
    );

    let r = browser
        .get(&auth_url(&app, &client, &[("acr_values", "mfa")]))
        .await;
    assert_redirect(&r, ENROL);
    let page = browser.get(ENROL).await.text().await.expect("page");
    let totp = totp_of(&secret_on(&page));
    let r = browser
        .post_form(
            ENROL,
            &[
                ("csrf", &csrf_of(&page)),
                ("code", &totp.generate(now()).to_string()),
            ],
        )
        .await;
    let page = r.text().await.expect("page");
    let start = page
        .find("href=\"/authorize/continue?authreq=")
        .expect("continue link")
        + 6;
    let end = page[start..].find('"').expect("end") + start;
    let (r, _) = browser.follow(&page[start..end]).await;
    let out = location(&r).expect("back to the client");
    let code = query_of(&out).get("code").cloned().expect("a code");
    assert_eq!(id_token_claims(&app, &client, &code).await["acr"], "mfa");
}

#[tokio::test]
async fn an_essential_two_factor_acr_steps_up_and_unmet_levels_go_back_to_the_client() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let (totp, _) = enrol(&browser).await;
    let essential =
        |v: &str| format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{v}"]}}}}}}"#);

    // An essential value nobody knows cannot be met: straight back, no login asked.
    let (r, _) = app
        .browser()
        .follow(&auth_url(
            &app,
            &client,
            &[("claims", &essential("loa-inconnu"))],
        ))
        .await;
    let out = location(&r).expect("back to the client");
    assert_eq!(
        query_of(&out).get("error").map(String::as_str),
        Some("unmet_authentication_requirements"),
        "{out}"
    );
    // The establishment level for a person who redeemed no activation code: unmet too.
    let (r, _) = browser
        .follow(&auth_url(
            &app,
            &client,
            &[("claims", &essential("eidas2-etablissement"))],
        ))
        .await;
    let out = location(&r).expect("back to the client");
    assert_eq!(
        query_of(&out).get("error").map(String::as_str),
        Some("unmet_authentication_requirements"),
        "{out}"
    );

    // Two factors, essential, over a password session: the code page, no password.
    let r = browser
        .get(&auth_url(
            &app,
            &client,
            &[("claims", &essential("eidas2"))],
        ))
        .await;
    assert_eq!(r.status(), 200, "the code page, no redirect");
    let page = r.text().await.expect("code page");
    assert!(!page.contains("name=\"password\""), "{page}");
    let r = browser
        .post_form(
            "/connexion/code",
            &[
                ("csrf", &csrf_of(&page)),
                ("step", &hidden_field(&page, "step").expect("step")),
                ("code", &next_code(&totp)),
            ],
        )
        .await;
    let (r, _) = browser.follow(&location(&r).expect("resumes")).await;
    let out = location(&r).expect("back to the client");
    let code = query_of(&out).get("code").cloned().expect("a code");
    let claims = id_token_claims(&app, &client, &code).await;
    assert_eq!(claims["acr"], "eidas2");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
}

#[tokio::test]
async fn enrolment_is_atomic_when_its_audit_fails() {
    let app = TestApp::spawn().await;
    let user = app.user(EMAIL).await;
    let browser = app.browser();
    let r = log_in_with_password(&browser).await;
    assert_redirect(&r, "/");
    let page = browser.get(ENROL).await.text().await.expect("page");
    let code = totp_of(&secret_on(&page)).generate(now()).to_string();
    app.fail_audit_of("totp.enrol").await;

    let r = browser
        .post_form(ENROL, &[("csrf", &csrf_of(&page)), ("code", &code)])
        .await;
    assert_eq!(r.status(), 500);

    let secrets = "SELECT count(*) FROM user_totp WHERE user_id = $1";
    assert_eq!(app.count(secrets, &user.id).await, 0, "no secret");
    let codes = "SELECT count(*) FROM totp_recovery_codes WHERE user_id = $1";
    assert_eq!(app.count(codes, &user.id).await, 0, "no recovery codes");
}

#[tokio::test]
async fn disabling_is_atomic_when_its_audit_fails() {
    let app = TestApp::spawn().await;
    let user = app.user(EMAIL).await;
    let browser = app.browser();
    enrol(&browser).await;
    let page = browser.get(ENROL).await.text().await.expect("page");
    app.fail_audit_of("totp.disable").await;

    let r = browser
        .post_form(
            DISABLE,
            &[("csrf", &csrf_of(&page)), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 500);

    let secrets = "SELECT count(*) FROM user_totp WHERE user_id = $1";
    assert_eq!(app.count(secrets, &user.id).await, 1, "the secret stays");
    let codes = "SELECT count(*) FROM totp_recovery_codes WHERE user_id = $1";
    assert_eq!(
        app.count(codes, &user.id).await,
        10,
        "with its recovery codes"
    );
}

#[tokio::test]
async fn a_new_version_of_the_cgu_is_asked_after_the_second_factor_not_before() {
    let app = TestApp::spawn().await;
    app.user(EMAIL).await;
    let (totp, _) = enrol(&app.browser()).await;
    idp::accounts::actions::publish_cgu::publish_cgu(&app.state.db, 0, "cli", "CGU 2", "Texte.")
        .await
        .expect("published");
    let browser = app.browser();
    // The password alone leads to the code page (checked by `log_in_with_code`), the code to
    // the CGU: only a fully authenticated person is asked, and still no session.
    let r = log_in_with_code(&browser, "/connexion", &next_code(&totp)).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.expect("the CGU");
    assert_shows(&page, "J'accepte les conditions générales d'utilisation");
    assert!(!logged_in(&browser).await);
    let r = browser
        .post_form(
            "/cgu/accepter",
            &[
                ("csrf", &csrf_of(&page)),
                ("step", &hidden_field(&page, "step").expect("step")),
                ("accepte", "oui"),
            ],
        )
        .await;
    assert_redirect(&r, "/");
    assert!(logged_in(&browser).await);
}

/// `prompt=none` for `client`, from a browser where `email` logged in with the password: the
/// `error` the client gets, or `None` when it gets a code.
async fn silent_error(
    app: &TestApp,
    client: &idp_tests::TestClient,
    email: &str,
) -> Option<String> {
    let browser = app.log_in(email).await;
    let (r, _) = browser
        .follow(&auth_url(app, client, &[("prompt", "none")]))
        .await;
    let out = location(&r).expect("back to the client");
    let query = query_of(&out);
    assert!(
        query.contains_key("error") || query.contains_key("code"),
        "{out}"
    );
    query.get("error").cloned()
}

#[tokio::test]
async fn a_client_or_a_service_can_require_a_second_factor_on_every_login() {
    use idp::access::actions::service_create::{ServiceInput, save_service};
    // A service's policy, like a registration, reaches a running node within
    // `clients.cache_seconds`: read at every request here.
    let app = TestApp::spawn_with(|c| c.clients.cache_seconds = 0).await;
    app.user(EMAIL).await;
    let plain = app.client("rp").await;
    assert_eq!(silent_error(&app, &plain, EMAIL).await, None);

    let strict = app
        .client_with("rp-mfa", |reg| reg.require_mfa = true)
        .await;
    let required = Some("interaction_required".to_owned());
    assert_eq!(silent_error(&app, &strict, EMAIL).await, required);
    // With a page to show, the password session is led to the enrolment.
    let browser = app.log_in(EMAIL).await;
    let (_, at) = browser.follow(&auth_url(&app, &strict, &[])).await;
    assert!(at.ends_with(ENROL), "{at}");

    let of_service = app.service_client("ceres-app", "ceres", false).await;
    assert_eq!(silent_error(&app, &of_service, EMAIL).await, None);
    let input = ServiceInput {
        code: "ceres".into(),
        label: "CERES".into(),
        description: None,
        home_url: None,
        require_mfa: Some(true),
    };
    save_service(&app.state.db, input, idp::store::now(), "test")
        .await
        .expect("policy saved");
    assert_eq!(silent_error(&app, &of_service, EMAIL).await, required);
}

#[tokio::test]
async fn a_setting_requires_a_second_factor_of_every_manager_and_agent() {
    let app = TestApp::spawn_with(|c| c.assurance.mfa_for_managers_and_agents = true).await;
    app.establishment(idp_tests::access::CENTRE, "CENTRE DU LAC", true)
        .await;
    let client = app.client("rp").await;
    let alice = app.user(EMAIL).await;
    let bob = app.user("bob@centre.fr").await;
    let carol = app.user("carol@travail.gouv.fr").await;
    assert_eq!(silent_error(&app, &client, EMAIL).await, None);
    app.grant_manager(&alice.id, idp_tests::access::CENTRE)
        .await;
    app.set_agent(&carol.id, true).await;
    let required = Some("interaction_required".to_owned());
    assert_eq!(silent_error(&app, &client, EMAIL).await, required);
    assert_eq!(
        silent_error(&app, &client, "carol@travail.gouv.fr").await,
        required
    );
    assert_eq!(silent_error(&app, &client, &bob.email).await, None);
}

#[tokio::test]
async fn a_manager_by_activation_code_reaches_the_establishment_level_with_two_factors() {
    let app = TestApp::spawn().await;
    app.establishment(idp_tests::access::CENTRE, "CENTRE DU LAC", true)
        .await;
    let client = app.client("rp").await;
    let alice = app.user(EMAIL).await;
    app.grant_manager(&alice.id, idp_tests::access::CENTRE)
        .await;
    let browser = app.log_in(EMAIL).await;
    let claims = r#"{"id_token":{"acr":{"essential":true,"values":["eidas2-etablissement"]}}}"#;
    let (r, at) = browser
        .follow(&auth_url(&app, &client, &[("claims", claims)]))
        .await;
    assert!(at.ends_with(ENROL), "forced enrolment: {at}");
    let page = r.text().await.expect("page");
    let totp = totp_of(&secret_on(&page));
    let r = browser
        .post_form(
            ENROL,
            &[
                ("csrf", &csrf_of(&page)),
                ("code", &totp.generate(now()).to_string()),
            ],
        )
        .await;
    let page = r.text().await.expect("page");
    let start = page
        .find("href=\"/authorize/continue?authreq=")
        .expect("continue link")
        + 6;
    let end = page[start..].find('"').expect("end") + start;
    let (r, _) = browser.follow(&page[start..end]).await;
    let out = location(&r).expect("back to the client");
    let code = query_of(&out).get("code").cloned().expect("a code");
    let claims = id_token_claims(&app, &client, &code).await;
    assert_eq!(claims["acr"], "eidas2-etablissement");
    // Without a request, the ID token says the level reached.
    let (r, _) = browser.follow(&auth_url(&app, &client, &[])).await;
    let out = location(&r).expect("back to the client");
    let code = query_of(&out).get("code").cloned().expect("a code");
    assert_eq!(
        id_token_claims(&app, &client, &code).await["acr"],
        "eidas2-etablissement"
    );
}

/// The enrolment page's « Continuer » link.
fn continue_link(page: &str) -> String {
    let start = page
        .find("Continuer")
        .map_or(0, |i| page[..i].rfind("href=\"").unwrap_or(0))
        + 6;
    let end = page[start..].find('"').expect("end of the link") + start;
    page[start..end].replace("&amp;", "&")
}

#[tokio::test]
async fn with_the_setting_the_managers_and_agents_own_pages_ask_the_second_factor_first() {
    let app = TestApp::spawn_with(|c| c.assurance.mfa_for_managers_and_agents = true).await;
    app.establishment(idp_tests::access::CENTRE, "CENTRE DU LAC", true)
        .await;
    let (_, bob) = app.alice_manages_bob().await;
    let carol = app.user("carol@travail.gouv.fr").await;
    app.set_agent(&carol.id, true).await;

    // A password session of a manager without a second factor: enrolment first, then the page.
    let before = app.log_in(EMAIL).await;
    let still_password = app.log_in(EMAIL).await;
    let (_, at) = before.follow("/acces/ceres/gestion").await;
    assert!(at.ends_with(ENROL), "forced enrolment: {at}");
    let browser = app.log_in(EMAIL).await;
    let (r, at) = browser.follow("/acces/ceres/gestion").await;
    assert!(at.ends_with(ENROL), "{at}");
    let page = r.text().await.expect("enrolment page");
    let totp = totp_of(&secret_on(&page));
    let r = browser
        .post_form(
            ENROL,
            &[("csrf", &csrf_of(&page)), ("code", &next_code(&totp))],
        )
        .await;
    let page = r.text().await.expect("recovery codes");
    let recovery = recovery_codes_on(&page);
    assert_eq!(continue_link(&page), "/acces/ceres/gestion");
    let (status, list) = browser.page("/acces/ceres/gestion").await;
    assert_eq!(status, 200, "{list}");
    assert_shows(&list, "Gérer les accès de mon entreprise");

    // A session opened with the password alone before the enrolment: a code (here a recovery
    // code: the TOTP one was just used), not the password again, then the page.
    let (r, _) = before.follow("/acces/ceres/gestion/demandes").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.expect("code page");
    assert_shows(&page, "Code de vérification");
    let r = before
        .post_form(
            "/connexion/code",
            &[
                ("csrf", &csrf_of(&page)),
                ("step", &hidden_field(&page, "step").expect("step")),
                ("code", &recovery[0]),
            ],
        )
        .await;
    assert_redirect(&r, "/acces/ceres/gestion/demandes");
    let (status, _) = before.page("/acces/ceres/gestion/demandes").await;
    assert_eq!(status, 200);

    // A request's own page (the e-mail's link) too, and deciding from it: the code first,
    // nothing decided.
    let service = idp::access::services::by_code(&app.state.db, "ceres")
        .await
        .expect("db")
        .expect("ceres");
    let requested = idp::access::actions::request_access::request_access(
        &app.state.db,
        &app.state.ephemeral,
        &app.state.clock,
        &idp::accounts::UserId::from_stored(bob.id.clone()),
        &service,
        &idp::organizations::Siret::parse(idp_tests::access::CENTRE).expect("siret"),
        "",
    )
    .await
    .expect("requested");
    let idp::access::actions::request_access::Requested::Created(request) = requested else {
        panic!("a new request");
    };
    let request_page = format!("/acces/ceres/demandes/{}", request.id);
    let (_, page) = still_password.page("/compte/mot-de-passe").await;
    let r = still_password
        .post_form(
            &request_page,
            &[("csrf", &csrf_of(&page)), ("action", "refuser")],
        )
        .await;
    assert_eq!(r.status(), 200, "the code page, not a decision");
    assert_shows(&r.text().await.expect("page"), "Code de vérification");
    assert_eq!(app.request_status(&request.id).await, "pending");
    let (_, page) = still_password.page(&request_page).await;
    assert_shows(&page, "Code de vérification");

    // A break-glass agent: the same before the agents' pages.
    let agent = app.log_in("carol@travail.gouv.fr").await;
    let (_, at) = agent.follow("/agent").await;
    assert!(at.ends_with(ENROL), "{at}");

    // Without the setting, the same pages open with the password alone.
    let app = TestApp::spawn().await;
    app.establishment(idp_tests::access::CENTRE, "CENTRE DU LAC", true)
        .await;
    let _ = app.alice_manages_bob().await;
    let (status, _) = app.log_in(EMAIL).await.page("/acces/ceres/gestion").await;
    assert_eq!(status, 200);
}
