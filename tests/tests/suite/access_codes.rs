//! Activation codes, one action behind every surface: each refusal of a redemption is the same
//! through the page and through the JSON API (the same audit `reason`); codes are issued only
//! for open establishments of the register; a redemption or an issue whose audit event fails
//! leaves nothing behind (run on SQLite and on PostgreSQL).

use std::time::Duration;

use idp::access::{
    ActivationCode,
    actions::issue_code::{CodeIssue, issue_code},
    codes,
    refusal::AccessRefusal,
};
use idp_tests::access::{CENTRE, OTHER};
use idp_tests::{Browser, TestApp, assert_error, csrf_of, text};
use serde_json::{Value, json};

const ALICE: &str = "alice@centre.fr";

/// Alice, logged in on the provider's pages and holding a token of the CERES relying party.
struct Surfaces {
    app: TestApp,
    alice: String,
    browser: Browser,
    token: String,
}

/// Alice's two ways in, opened after whatever the test did to the clock.
async fn surfaces(app: TestApp) -> Surfaces {
    let client = app.service_client("ceres-app", "ceres", false).await;
    let alice = app.user(ALICE).await.id;
    let token = app.user_token(&client, ALICE).await;
    let browser = app.log_in(ALICE).await;
    Surfaces {
        app,
        alice,
        browser,
        token,
    }
}

/// A live code of CENTRE for an hour, issued by the action the agents' page calls.
async fn issue(app: &TestApp) -> String {
    let siret = idp::organizations::Siret::parse(CENTRE).unwrap();
    let input = CodeIssue {
        by: "agent",
        service_code: "ceres",
        siret: &siret,
        ttl_seconds: 3600,
    };
    let issued = issue_code(&app.state.db, &app.state.clock, &app.code_key(), &input)
        .await
        .expect("issued");
    issued.code.code.as_str().to_owned()
}

/// An app with CENTRE open in the register and a live code of CENTRE.
async fn centre_code() -> (TestApp, String) {
    let app = TestApp::with_centre().await;
    let code = issue(&app).await;
    (app, code)
}

/// The codes of CENTRE, as the operators list them.
async fn centre_codes(app: &TestApp) -> Vec<codes::CodeInfo> {
    codes::list(&app.state.db, "ceres", Some(CENTRE))
        .await
        .unwrap()
}

/// CENTRE's newest code is `status`, for the reason `why`.
async fn assert_code_is(app: &TestApp, status: codes::CodeStatus, why: &str) {
    assert_eq!(centre_codes(app).await[0].status, status, "{why}");
}

/// `POST /api/v1/codes` for `siret` with the back office's `token`: status and JSON body.
async fn issue_by_api(app: &TestApp, token: &str, siret: &str) -> (u16, Value) {
    let r = app
        .http()
        .post(app.url("/api/v1/codes"))
        .bearer_auth(token)
        .json(&json!({ "siret": siret }))
        .send()
        .await
        .unwrap();
    idp_tests::json(r).await
}

/// `code` redeemed by bob, through the action.
async fn redeemed_by_bob(app: &TestApp, code: &str) {
    let bob = app.user("bob@centre.fr").await;
    app.redeem_code(&ActivationCode::parse(code).unwrap(), None, &bob.id)
        .await
        .expect("bob redeems it");
}

/// A request of the back office codes API at `path` (a `ceres-batch` token with `codes:issue`).
async fn codes_api(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    let token = app.back_office_token("ceres-batch", "codes:issue").await;
    app.http()
        .request(method, app.url(path))
        .bearer_auth(&token)
}

/// The response to `r` is `status` and its page shows `refusal`'s French message.
async fn assert_page_refuses(r: reqwest::Response, status: u16, refusal: &AccessRefusal) {
    assert_eq!(r.status(), status, "{refusal:?}");
    let page = text(&r.text().await.unwrap());
    assert!(page.contains(&refusal.to_string()), "{page}");
}

/// The API answered `status` with `refusal`'s code.
fn assert_api_refuses(got: u16, body: &Value, status: u16, refusal: &AccessRefusal) {
    assert_eq!(
        (got, body["error"].as_str()),
        (status, Some(idp::action::Refusal::code(refusal))),
        "{body}"
    );
}

/// How many refusals of a redemption the audit holds with this reason.
async fn refusals(app: &TestApp, reason: &str) -> i64 {
    app.count(
        "SELECT count(*) FROM audit_events WHERE action = 'activation_code.refused' AND details LIKE $1",
        &format!("%\"reason\":\"{reason}\"%"),
    )
    .await
}

/// `code` typed with `siret` is refused on the page (400, the French message, beside the
/// field) and through the JSON API (`status`, the refusal's code), audited alike both times;
/// Alice's surfaces, opened on `app` for the check.
async fn refused_alike(
    app: TestApp,
    siret: &str,
    code: &str,
    refusal: AccessRefusal,
    status: u16,
) -> Surfaces {
    let s = surfaces(app).await;
    let reason = idp::action::Refusal::code(&refusal);
    let message = refusal.to_string();
    let r = s.browser.submit_code("", siret, code).await;
    assert_eq!(r.status(), 400, "page: {reason}");
    let page = text(&r.text().await.unwrap());
    assert!(page.contains(&message), "page: {message} in {page}");
    assert_eq!(
        refusals(&s.app, reason).await,
        1,
        "page audited as {reason}"
    );

    let (got, body) = s
        .app
        .activation_api(&s.token, json!({"code": code, "siret": siret}))
        .await;
    assert_eq!(
        (got, body["error"].as_str()),
        (status, Some(reason)),
        "{body}"
    );
    assert_eq!(body["error_description"], Value::from(message));
    assert_eq!(refusals(&s.app, reason).await, 2, "API audited as {reason}");
    let managers = "SELECT count(*) FROM access_managers WHERE user_id = $1";
    assert_eq!(
        s.app.count(managers, &s.alice).await,
        0,
        "nobody became manager"
    );
    s
}

#[tokio::test]
async fn access_codes_an_unknown_code_is_refused_alike_on_the_page_and_the_api() {
    let unknown = ActivationCode::generate();
    refused_alike(
        TestApp::with_centre().await,
        CENTRE,
        unknown.as_str(),
        AccessRefusal::UnknownCode,
        400,
    )
    .await;
}

#[tokio::test]
async fn access_codes_a_code_of_another_establishment_is_refused_alike() {
    let (app, code) = centre_code().await;
    refused_alike(app, OTHER, &code, AccessRefusal::WrongSiret, 400).await;
}

#[tokio::test]
async fn access_codes_an_expired_code_is_refused_alike() {
    let (app, code) = centre_code().await;
    app.state.clock.advance(Duration::from_secs(3601));
    let s = refused_alike(app, CENTRE, &code, AccessRefusal::ExpiredCode, 400).await;
    // The back office sees it expired by the same clock.
    let listed = codes_api(
        &s.app,
        reqwest::Method::GET,
        &format!("/api/v1/codes?siret={CENTRE}"),
    )
    .await
    .send()
    .await
    .unwrap();
    let (_, listed) = idp_tests::json(listed).await;
    assert_eq!(listed["codes"][0]["status"], "expired", "{listed}");
}

#[tokio::test]
async fn access_codes_a_revoked_code_is_refused_alike() {
    let (app, code) = centre_code().await;
    issue(&app).await;
    refused_alike(app, CENTRE, &code, AccessRefusal::RevokedCode, 400).await;
}

#[tokio::test]
async fn access_codes_a_used_code_is_refused_alike() {
    let (app, code) = centre_code().await;
    redeemed_by_bob(&app, &code).await;
    refused_alike(app, CENTRE, &code, AccessRefusal::UsedCode, 400).await;
}

#[tokio::test]
async fn access_codes_a_closed_establishments_code_is_refused_alike_the_api_too() {
    let (app, code) = centre_code().await;
    // Closed in the register after the letter went out.
    app.establishment(CENTRE, "CENTRE DU LAC", false).await;
    let closed = AccessRefusal::ClosedEstablishment(idp::access::refusal::NewAccess::Access);
    let s = refused_alike(app, CENTRE, &code, closed, 409).await;
    // Without the SIRET, the code's establishment is the one checked.
    let (got, body) = s.app.activation_api(&s.token, json!({"code": code})).await;
    assert_error(got, &body, 409, "closed_establishment");
    assert_code_is(&s.app, codes::CodeStatus::Live, "the code stays unused").await;
}

#[tokio::test]
async fn access_codes_are_issued_only_for_establishments_the_register_holds_open() {
    let app = TestApp::spawn().await;
    let token = app.back_office_token("ceres-batch", "codes:issue").await;
    // Luhn-valid, but no establishment of the register.
    let (status, body) = issue_by_api(&app, &token, "00000000000000").await;
    assert_error(status, &body, 404, "unknown_establishment");
    let stored = "SELECT count(*) FROM activation_codes WHERE siret = $1";
    assert_eq!(app.count(stored, "00000000000000").await, 0);

    // The agents' page says it in French.
    let r = issue_on_the_page(&app, "00000000000000").await;
    assert_page_refuses(r, 400, &AccessRefusal::UnknownEstablishment).await;
    assert_eq!(app.count(stored, "00000000000000").await, 0);

    // Open in the register: issued.
    app.establishment(CENTRE, "CENTRE DU LAC", true).await;
    assert_eq!(issue_by_api(&app, &token, CENTRE).await.0, 201);
}

#[tokio::test]
async fn access_codes_a_redemption_whose_audit_fails_leaves_the_code_live_and_no_manager() {
    let (app, code) = centre_code().await;
    let s = surfaces(app).await;
    s.app.fail_audit_of("activation_code.redeemed").await;

    let r = s.browser.submit_code("", CENTRE, &code).await;
    assert_eq!(r.status(), 500);
    let (status, _) = s.app.activation_api(&s.token, json!({"code": code})).await;
    assert_eq!(status, 500);

    let managers = "SELECT count(*) FROM access_managers WHERE user_id = $1";
    assert_eq!(s.app.count(managers, &s.alice).await, 0);
    assert_code_is(&s.app, codes::CodeStatus::Live, "still redeemable").await;
    let redeemed = "SELECT count(*) FROM audit_events WHERE action = $1";
    assert_eq!(s.app.count(redeemed, "activation_code.redeemed").await, 0);
}

#[tokio::test]
async fn access_codes_an_issue_whose_audit_fails_leaves_the_previous_code_live() {
    let app = TestApp::with_centre().await;
    let token = app.back_office_token("ceres-batch", "codes:issue").await;
    let (status, first) = issue_by_api(&app, &token, CENTRE).await;
    assert_eq!(status, 201);
    app.fail_audit_of("activation_code.issued").await;

    let (status, _) = issue_by_api(&app, &token, CENTRE).await;
    assert_eq!(status, 500);

    let listed = centre_codes(&app).await;
    assert_eq!(listed.len(), 1, "no new code");
    assert_eq!(listed[0].id, first["id"].as_str().unwrap());
    assert_eq!(
        listed[0].status,
        codes::CodeStatus::Live,
        "the previous one still works"
    );
}

/// Alice on her pages, Responsable des accès of CENTRE by its code.
async fn new_manager() -> Surfaces {
    let (app, code) = centre_code().await;
    let s = surfaces(app).await;
    s.app
        .redeem_code(
            &ActivationCode::parse(&code).unwrap(),
            Some(CENTRE),
            &s.alice,
        )
        .await
        .expect("redeemed");
    s
}

/// Posts the form of the page at `path` (its CSRF token read there) with `fields`.
async fn post_on(s: &Surfaces, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("siret", CENTRE)];
    form.extend_from_slice(fields);
    let page = format!("{path}?siret={CENTRE}");
    s.browser.post_from(&page, path, &form).await
}

#[tokio::test]
async fn access_codes_a_charte_acceptance_whose_audit_fails_is_not_recorded() {
    let s = new_manager().await;
    s.app.fail_audit_of("charte.accepted").await;
    let r = post_on(&s, "/acces/ceres/charte", &[("accepte", "oui")]).await;
    assert_eq!(r.status(), 500);
    let accepted = "SELECT count(*) FROM document_acceptances WHERE user_id = $1";
    assert_eq!(s.app.count(accepted, &s.alice).await, 0);
    // Still asked for it.
    let r = s
        .browser
        .get(&format!("/acces/ceres/mes-acces?siret={CENTRE}"))
        .await;
    assert!(
        idp_tests::location(&r)
            .unwrap()
            .starts_with("/acces/ceres/charte?")
    );
}

#[tokio::test]
async fn access_codes_an_own_habilitation_whose_audit_fails_is_not_granted() {
    let s = new_manager().await;
    let r = post_on(&s, "/acces/ceres/charte", &[("accepte", "oui")]).await;
    assert_eq!(r.status(), 303);
    s.app.fail_audit_of("habilitation.granted").await;
    let fields = [("action", "ajouter"), ("role", "centre_agree")];
    let r = post_on(&s, "/acces/ceres/mes-acces", &fields).await;
    assert_eq!(r.status(), 500);
    let granted = "SELECT count(*) FROM habilitations WHERE user_id = $1";
    assert_eq!(s.app.count(granted, &s.alice).await, 0);
}

#[tokio::test]
async fn access_codes_a_closed_establishment_gets_no_new_own_habilitation() {
    let s = new_manager().await;
    let r = post_on(&s, "/acces/ceres/charte", &[("accepte", "oui")]).await;
    assert_eq!(r.status(), 303);
    s.app.establishment(CENTRE, "CENTRE DU LAC", false).await;
    let fields = [("action", "ajouter"), ("role", "centre_agree")];
    let r = post_on(&s, "/acces/ceres/mes-acces", &fields).await;
    assert_eq!(r.status(), 400);
    let closed = AccessRefusal::ClosedEstablishment(idp::access::refusal::NewAccess::Habilitation);
    assert!(text(&r.text().await.unwrap()).contains(&closed.to_string()));
    let granted = "SELECT count(*) FROM habilitations WHERE user_id = $1";
    assert_eq!(s.app.count(granted, &s.alice).await, 0);
}

#[tokio::test]
async fn access_codes_a_revocation_whose_audit_fails_leaves_the_code_live() {
    let app = TestApp::with_centre().await;
    issue(&app).await;
    let id = centre_codes(&app).await[0].id.clone();
    let revoke = codes_api(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/codes/{id}"),
    )
    .await;
    app.fail_audit_of("activation_code.revoked").await;
    let r = revoke.send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_code_is(&app, codes::CodeStatus::Live, "revocation not recorded").await;
}

#[tokio::test]
async fn access_codes_the_page_and_the_api_count_tries_in_the_same_buckets() {
    let s = surfaces(TestApp::with_centre().await).await;
    for _ in 0..10 {
        let guess = ActivationCode::generate();
        let r = s.browser.submit_code("", CENTRE, guess.as_str()).await;
        assert_eq!(r.status(), 400);
    }
    let guess = ActivationCode::generate();
    let (status, body) = s
        .app
        .activation_api(&s.token, json!({"code": guess.as_str()}))
        .await;
    assert_error(status, &body, 429, "too_many_requests");
    let r = s.browser.submit_code("", CENTRE, guess.as_str()).await;
    assert_eq!(r.status(), 429);
}

/// An agent logged in on the provider's pages, with a CSRF token of the agents' page of `siret`.
async fn agent_on_the_page(app: &TestApp, siret: &str) -> (Browser, String) {
    app.agent("agent@dreets.gouv.fr").await;
    let browser = app.browser();
    let r = browser
        .submit_login("/connexion", "agent@dreets.gouv.fr", idp_tests::PASSWORD)
        .await;
    assert_eq!(r.status(), 303);
    let page = browser
        .get(&format!("/agent?service=ceres&siret={siret}"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page);
    (browser, csrf)
}

/// An agent asks the agents' page for a code of `siret`.
async fn issue_on_the_page(app: &TestApp, siret: &str) -> reqwest::Response {
    let (browser, csrf) = agent_on_the_page(app, siret).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("siret", siret),
        ("service", "ceres"),
    ];
    browser.post_form("/agent/codes", &form).await
}

/// A code for a closed establishment is refused alike by the agents' page (the French message)
/// and the codes API (`closed_establishment`); none is stored either way.
#[tokio::test]
async fn access_codes_a_closed_establishment_gets_no_code_alike_on_the_page_and_the_api() {
    let app = TestApp::spawn().await;
    app.establishment(CENTRE, "CENTRE DU LAC", false).await;
    let refusal = AccessRefusal::ClosedEstablishment(idp::access::refusal::NewAccess::Code);
    let stored = "SELECT count(*) FROM activation_codes WHERE siret = $1";

    let r = issue_on_the_page(&app, CENTRE).await;
    assert_page_refuses(r, 400, &refusal).await;
    assert_eq!(app.count(stored, CENTRE).await, 0);

    let token = app.back_office_token("ceres-batch", "codes:issue").await;
    let (status, body) = issue_by_api(&app, &token, CENTRE).await;
    assert_api_refuses(status, &body, 409, &refusal);
    assert_eq!(body["error_description"], Value::from(refusal.to_string()));
    assert_eq!(app.count(stored, CENTRE).await, 0);
}

/// A code that was used cannot be revoked, alike on the agents' page and through the API: the
/// same refusal, and the code stays used.
#[tokio::test]
async fn access_codes_a_used_code_is_not_revocable_alike_on_the_page_and_the_api() {
    let (app, code) = centre_code().await;
    redeemed_by_bob(&app, &code).await;
    let id = centre_codes(&app).await[0].id.clone();
    let refusal = AccessRefusal::NotRevocable;

    let (browser, csrf) = agent_on_the_page(&app, CENTRE).await;
    let r = browser
        .post_form(&format!("/agent/codes/{id}/revoquer"), &[("csrf", &csrf)])
        .await;
    assert_page_refuses(r, 409, &refusal).await;

    let revoke = codes_api(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/codes/{id}"),
    )
    .await;
    let (status, body) = idp_tests::json(revoke.send().await.unwrap()).await;
    assert_api_refuses(status, &body, 409, &refusal);
    let listed = centre_codes(&app).await;
    assert!(
        matches!(listed[0].status, codes::CodeStatus::Redeemed(_)),
        "the code stays used"
    );
}

/// RFC 9470: when becoming Responsable des accès needs two factors, a password-only token gets
/// the step-up challenge naming the level, and the code stays unused.
#[tokio::test]
async fn access_codes_the_api_asks_for_a_second_factor_when_managers_need_one() {
    let app = TestApp::spawn_with(|c| c.assurance.mfa_for_managers_and_agents = true).await;
    app.establishment(CENTRE, "CENTRE DU LAC", true).await;
    let code = issue(&app).await;
    let client = app.service_client("ceres-app", "ceres", false).await;
    app.user(ALICE).await;
    let token = app.user_token(&client, ALICE).await;
    let r = app
        .http()
        .post(app.url("/api/v1/activation"))
        .bearer_auth(&token)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer error=\"insufficient_user_authentication\", acr_values=\"eidas2\""
    );
    let (_, body) = idp_tests::json(r).await;
    assert_eq!(body["error"], "insufficient_user_authentication");
    assert_code_is(&app, codes::CodeStatus::Live, "not redeemed").await;
}
