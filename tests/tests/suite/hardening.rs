//! What an outside probe asked of every answer: a 429 says when to retry, form tokens belong
//! to one browser and one session, forms go to this origin (or the relying party's they lead
//! back to) and nowhere else, and an `https` deployment asks browsers to stay on `https`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use idp_tests::{
    PASSWORD, POST_LOGOUT_URI, TestApp, auth_url, csrf_of, hidden_field, location, reqwest,
};
use serde_json::json;

const EMAIL: &str = "alice@centre.fr";

/// The `Retry-After` of a 429, in seconds.
fn retry_after(response: &reqwest::Response) -> u64 {
    assert_eq!(response.status(), 429);
    response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("a 429 without Retry-After: {:?}", response.headers()))
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

fn csp(response: &reqwest::Response) -> String {
    response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The `form-action` sources of a response's policy.
fn form_action(response: &reqwest::Response) -> Vec<String> {
    let policy = csp(response);
    let directive = policy
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("form-action "))
        .unwrap_or_else(|| panic!("no form-action in {policy}"));
    directive.split(' ').map(str::to_owned).collect()
}

#[tokio::test]
async fn a_limited_login_says_in_retry_after_when_the_window_ends() {
    let app = TestApp::spawn_with(|c| {
        // One free try, then the address waits 900 s for the account (accounts::guard).
        c.limits.login_free_failures = 1;
        c.limits.login_delay_seconds = 900;
        c.limits.login_max_delay_seconds = 900;
    })
    .await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let r = browser.submit_login("/connexion", EMAIL, "mauvais").await;
    assert_eq!(r.status(), 401);
    let r = browser.submit_login("/connexion", EMAIL, "mauvais").await;
    let wait = retry_after(&r);
    // The delay's own end, not the fallback of a refusal that does not know it (60 s).
    assert!((850..=900).contains(&wait), "{wait}");
}

#[tokio::test]
async fn a_limited_form_shown_again_says_in_retry_after_when_the_window_ends() {
    let app = TestApp::spawn_with(|c| {
        c.limits.reset_per_address = 1;
        c.limits.reset_window_seconds = 600;
    })
    .await;
    let browser = app.browser();
    let page = browser
        .get("/mot-de-passe-oublie")
        .await
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page);
    let fields = [("csrf", csrf.as_str()), ("email", EMAIL)];
    let r = browser.post_form("/mot-de-passe-oublie", &fields).await;
    assert_eq!(r.status(), 303);
    let r = browser.post_form("/mot-de-passe-oublie", &fields).await;
    let wait = retry_after(&r);
    assert!((550..=600).contains(&wait), "{wait}");
    assert!(r.text().await.unwrap().contains("Trop de demandes"));
}

#[tokio::test]
async fn a_limited_json_api_says_in_retry_after_when_the_window_ends() {
    let app = TestApp::spawn().await;
    let client = app.service_client("ceres-app", "ceres", false).await;
    app.user(EMAIL).await;
    let token = app.user_token(&client, EMAIL).await;
    let mut last = None;
    for _ in 0..11 {
        let guess = idp::access::codes::ActivationCode::generate();
        last = Some(
            app.http()
                .post(app.url("/api/v1/activation"))
                .bearer_auth(&token)
                .json(&json!({ "code": guess.as_str() }))
                .send()
                .await
                .unwrap(),
        );
    }
    let r = last.unwrap();
    let wait = retry_after(&r);
    // The activation window is an hour.
    assert!((3500..=3600).contains(&wait), "{wait}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
}

/// The value of `name` among the `Set-Cookie` headers of `response`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A browser whose cookies the test holds: `idp_csrf` and `idp_session`.
struct Cookies {
    csrf: String,
    session: Option<String>,
}

impl Cookies {
    fn header(&self) -> String {
        match &self.session {
            Some(session) => format!("idp_csrf={}; idp_session={session}", self.csrf),
            None => format!("idp_csrf={}", self.csrf),
        }
    }
}

/// `GET path` with `cookies`: the page's CSRF token.
async fn token_on(app: &TestApp, cookies: &Cookies, path: &str) -> String {
    let r = app
        .http()
        .get(app.url(path))
        .header("cookie", cookies.header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    csrf_of(&r.text().await.unwrap())
}

/// A new browser logs in: its cookies, and the login page's token it had before.
async fn logged_in(app: &TestApp) -> (Cookies, String) {
    let http = app.http();
    let r = http.get(app.url("/connexion")).send().await.unwrap();
    let csrf = set_cookie(&r, "idp_csrf").expect("a CSRF cookie");
    let before = csrf_of(&r.text().await.unwrap());
    let r = http
        .post(app.url("/connexion"))
        .header("cookie", format!("idp_csrf={csrf}"))
        .form(&[
            ("csrf", before.as_str()),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(location(&r).is_some(), "login: {}", r.status());
    let cookies = Cookies {
        csrf: set_cookie(&r, "idp_csrf").expect("the CSRF cookie renewed at login"),
        session: Some(set_cookie(&r, "idp_session").expect("a session")),
    };
    assert_ne!(cookies.csrf, csrf, "a new browser value at login");
    (cookies, before)
}

/// POST the account's e-mail form (an empty address) with `cookies` and `token`: 403 when the
/// token is refused, 400 (the address is missing) when it is accepted.
async fn post_email_form(app: &TestApp, cookies: &Cookies, token: &str) -> u16 {
    app.http()
        .post(app.url("/compte/adresse-electronique"))
        .header("cookie", cookies.header())
        .form(&[("csrf", token), ("email", ""), ("password", "")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_form_token_changes_at_login_and_the_one_from_before_is_refused() {
    let app = TestApp::spawn().await;
    app.user(EMAIL).await;
    let (cookies, before) = logged_in(&app).await;
    let after = token_on(&app, &cookies, "/compte/adresse-electronique").await;
    assert_ne!(after, before);
    assert_eq!(post_email_form(&app, &cookies, &before).await, 403);
    assert_eq!(post_email_form(&app, &cookies, &after).await, 400);
}

#[tokio::test]
async fn a_form_token_of_another_session_is_refused_even_with_its_browser_cookie() {
    let app = TestApp::spawn().await;
    app.user(EMAIL).await;
    let (mine, _) = logged_in(&app).await;
    let (theirs, _) = logged_in(&app).await;
    let their_token = token_on(&app, &theirs, "/compte/adresse-electronique").await;
    assert_eq!(post_email_form(&app, &theirs, &their_token).await, 400);
    // Their token, their browser value, my session: refused.
    let mixed = Cookies {
        csrf: theirs.csrf.clone(),
        session: mine.session.clone(),
    };
    assert_eq!(post_email_form(&app, &mixed, &their_token).await, 403);
    assert_eq!(post_email_form(&app, &mine, &their_token).await, 403);
    // A token equal to the cookie (the old double submit) is no token.
    let forged = Cookies {
        csrf: "b".repeat(43),
        session: mine.session.clone(),
    };
    assert_eq!(post_email_form(&app, &forged, &"b".repeat(43)).await, 403);
}

#[tokio::test]
async fn pages_send_forms_to_this_origin_only() {
    let app = TestApp::spawn().await;
    let r = app.http().get(app.url("/connexion")).send().await.unwrap();
    assert_eq!(form_action(&r), ["'self'"], "{}", csp(&r));
    assert!(!csp(&r).contains('*'));
    assert!(r.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn the_pages_of_an_authorization_request_may_lead_back_to_its_client_only() {
    let app = TestApp::spawn().await;
    let client = app.client_with("rp", |reg| reg.skip_consent = false).await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let (login, at) = browser.follow(&auth_url(&app, &client, &[])).await;
    assert!(at.contains("/connexion"), "{at}");
    assert_eq!(form_action(&login), ["'self'", "https://rp.example"]);
    let page = login.text().await.unwrap();
    // The same login page opened in another browser (a link of the sign-up's e-mail) too.
    let elsewhere = app.browser().get(&at).await;
    assert_eq!(form_action(&elsewhere), ["'self'", "https://rp.example"]);
    let r = browser.submit_login(&at, EMAIL, PASSWORD).await;
    let (consent, at) = browser.follow(&location(&r).unwrap()).await;
    assert!(at.contains("/consentement"), "{at}");
    assert_eq!(form_action(&consent), ["'self'", "https://rp.example"]);
    assert!(hidden_field(&page, "authreq").is_some());

    // Another browser, whatever it claims to come back to, gets no other origin.
    for claimed in [
        "https://evil.example; script-src *",
        "https://evil.example/path",
        "javascript:alert(1)",
    ] {
        let r = app
            .http()
            .get(app.url("/connexion"))
            .header("cookie", format!("idp_return={}", B64.encode(claimed)))
            .send()
            .await
            .unwrap();
        assert_eq!(form_action(&r), ["'self'"], "{claimed}: {}", csp(&r));
    }
}

#[tokio::test]
async fn the_logout_confirmation_may_lead_to_the_registered_address() {
    let app = TestApp::spawn().await;
    app.client("rp").await;
    let mut url = url::Url::parse(&app.url("/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "rp")
        .append_pair("post_logout_redirect_uri", POST_LOGOUT_URI);
    let r = app.http().get(url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(form_action(&r), ["'self'", "https://rp.example"]);
}

#[tokio::test]
async fn an_https_issuer_asks_browsers_to_stay_on_https() {
    let app = TestApp::spawn_with(|c| c.issuer = "https://connect.example".into()).await;
    for path in ["/healthz", "/connexion", "/page-qui-n-existe-pas"] {
        let r = app.http().get(app.url(path)).send().await.unwrap();
        assert_eq!(
            r.headers()["strict-transport-security"],
            "max-age=63072000; includeSubDomains",
            "{path}"
        );
    }
}
