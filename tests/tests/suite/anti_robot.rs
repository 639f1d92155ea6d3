//! The anti-robot check (« Je ne suis pas un robot ») of the login form, sign-up step 1 and
//! reset step 1: the proof of work solved here as the page's script would, the question for
//! browsers without JavaScript, and every way a solution can be wrong.

use base64::{Engine, engine::general_purpose::STANDARD};
use idp::web::anti_robot;
use idp_tests::{
    Browser, PASSWORD, SmtpSink, TestApp, assert_redirect, assert_shows, content_type, csrf_of,
    hidden_field, location,
};

const ALICE: &str = "alice@centre.fr";
const FAILED: &str = "La vérification anti-robot a échoué. Veuillez réessayer.";
/// Small, so the tests solve challenges at once.
const MAX_NUMBER: u64 = 50;

async fn app_mailing_to(sink: &SmtpSink) -> TestApp {
    TestApp::spawn_with(|config| {
        sink.configure(config);
        config.anti_robot.enabled = true;
        config.anti_robot.max_number = MAX_NUMBER;
    })
    .await
}

/// The value of `data-<name>` on the page.
fn data(page: &str, name: &str) -> String {
    let marker = format!("data-{name}=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} in {page}"))
        + marker.len();
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].to_owned()
}

/// The base64 JSON solution the script would put in `altcha`, with `number` and `signature`.
fn payload(salt: &str, challenge: &str, number: u64, signature: &str) -> String {
    STANDARD.encode(
        serde_json::json!({
            "algorithm": "SHA-256",
            "challenge": challenge,
            "number": number,
            "salt": salt,
            "signature": signature,
        })
        .to_string(),
    )
}

/// The secret number of a challenge, by brute force (as `anti_robot.js` does).
fn solve_number(salt: &str, challenge: &str) -> u64 {
    (0..=MAX_NUMBER)
        .find(|n| anti_robot::hash_challenge(salt, *n) == challenge)
        .expect("a solution within max_number")
}

/// The solution of the page's challenge.
fn solve(page: &str) -> String {
    let (salt, challenge) = (data(page, "salt"), data(page, "challenge"));
    assert_eq!(data(page, "max-number"), MAX_NUMBER.to_string());
    let number = solve_number(&salt, &challenge);
    payload(&salt, &challenge, number, &data(page, "signature"))
}

/// The page's question, answered.
fn answer(page: &str) -> String {
    const WORDS: [&str; 11] = [
        "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
    ];
    let start = page.find("Combien font ").expect("a question") + "Combien font ".len();
    let end = page[start..].find(" ?").unwrap() + start;
    let sum: usize = page[start..end]
        .split(" plus ")
        .map(|w| WORDS.iter().position(|x| *x == w).expect("a number word"))
        .sum();
    sum.to_string()
}

async fn page(browser: &Browser, uri: &str) -> String {
    browser.get(uri).await.text().await.unwrap()
}

async fn login(browser: &Browser, page: &str, robot: &[(&str, &str)]) -> reqwest::Response {
    let csrf = csrf_of(page);
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("email", ALICE),
        ("password", PASSWORD),
    ];
    form.extend_from_slice(robot);
    browser.post_form("/connexion", &form).await
}

async fn assert_refused(response: reqwest::Response) {
    assert_eq!(response.status(), 400);
    assert_eq!(location(&response), None);
    let has_session = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().contains("session"));
    assert!(!has_session, "no session cookie");
    let body = response.text().await.unwrap();
    assert_shows(&body, FAILED);
    // The question is marked invalid and tells why (people answering it without JavaScript).
    assert!(
        body.contains(r#"id="robot_answer""#)
            && body.contains(r#"aria-invalid="true" aria-describedby="login-error""#),
        "{body}"
    );
    // A fresh challenge comes with the page.
    assert_shows(&body, "data-challenge=\"");
}

#[tokio::test]
async fn the_pages_carry_a_challenge_the_script_and_a_labelled_question() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink).await;
    let browser = app.browser();
    for uri in ["/connexion", "/inscription", "/mot-de-passe-oublie"] {
        let page = page(&browser, uri).await;
        assert_shows(
            &page,
            "<script src=\"/static/anti_robot.js\" defer></script>",
        );
        assert_shows(
            &page,
            "<label class=\"fr-label\" for=\"robot_answer\">Je ne suis pas un robot : Combien font ",
        );
        assert!(data(&page, "salt").contains("?expires="), "{page}");
        assert_eq!(hidden_field(&page, "altcha").as_deref(), Some(""));
    }
    let script = browser.get("/static/anti_robot.js").await;
    assert_eq!(script.status(), 200);
    assert!(content_type(&script).starts_with("text/javascript"));
    assert!(script.text().await.unwrap().contains("crypto.subtle"));
}

#[tokio::test]
async fn a_solved_challenge_lets_the_login_proceed() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink).await;
    app.user(ALICE).await;
    let browser = app.browser();
    let page = page(&browser, "/connexion").await;
    let answer = login(&browser, &page, &[("altcha", &solve(&page))]).await;
    assert_eq!(answer.status(), 303);
    assert_redirect(&answer, "/");
}

#[tokio::test]
async fn a_missing_forged_expired_wrong_or_replayed_solution_is_refused_at_login() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink).await;
    app.user(ALICE).await;
    let browser = app.browser();
    let page = page(&browser, "/connexion").await;
    let (salt, challenge) = (data(&page, "salt"), data(&page, "challenge"));
    let number = solve_number(&salt, &challenge);

    // Missing.
    assert_refused(login(&browser, &page, &[]).await).await;
    // Forged: a signature not made with the server's key.
    let forged = payload(&salt, &challenge, number, &"ab".repeat(32));
    assert_refused(login(&browser, &page, &[("altcha", &forged)]).await).await;
    // The wrong number.
    let wrong = payload(&salt, &challenge, number + 1, &data(&page, "signature"));
    assert_refused(login(&browser, &page, &[("altcha", &wrong)]).await).await;
    // Expired: a genuine challenge whose time is up.
    let key = anti_robot::key(&app.state);
    let old = anti_robot::issue_at(&key, MAX_NUMBER, idp::store::now() - 1);
    let expired = payload(
        &old.salt,
        &old.challenge,
        solve_number(&old.salt, &old.challenge),
        &old.signature,
    );
    assert_refused(login(&browser, &page, &[("altcha", &expired)]).await).await;
    // Replayed: works once, then refused.
    let good = solve(&page);
    assert_eq!(
        login(&browser, &page, &[("altcha", &good)]).await.status(),
        303
    );
    let other = app.browser();
    let other_page = self::page(&other, "/connexion").await;
    assert_refused(login(&other, &other_page, &[("altcha", &good)]).await).await;
}

#[tokio::test]
async fn the_question_lets_a_login_without_javascript_proceed_once() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink).await;
    app.user(ALICE).await;
    let browser = app.browser();
    let page = page(&browser, "/connexion").await;
    let token = hidden_field(&page, "robot_token").unwrap();
    let right = answer(&page);
    let robot = [("robot_token", token.as_str()), ("robot_answer", &right)];
    let answer = login(&browser, &page, &robot).await;
    assert_eq!(answer.status(), 303);
    // The same token and answer again: refused.
    let other = app.browser();
    let other_page = self::page(&other, "/connexion").await;
    assert_refused(login(&other, &other_page, &robot).await).await;
}

#[tokio::test]
async fn a_wrong_answer_to_the_question_is_refused_and_spends_the_question() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink).await;
    app.user(ALICE).await;
    let browser = app.browser();
    let page = page(&browser, "/connexion").await;
    let token = hidden_field(&page, "robot_token").unwrap();
    let right = answer(&page);
    let wrong = (right.parse::<u64>().unwrap() + 1).to_string();
    let refused = login(
        &browser,
        &page,
        &[("robot_token", &token), ("robot_answer", &wrong)],
    )
    .await;
    assert_refused(refused).await;
    // One guess per question: the right answer now comes too late.
    let late = login(
        &browser,
        &page,
        &[("robot_token", &token), ("robot_answer", &right)],
    )
    .await;
    assert_refused(late).await;
}

async fn signup_step1(browser: &Browser, page: &str, robot: &[(&str, &str)]) -> reqwest::Response {
    let csrf = csrf_of(page);
    let mut form = vec![("csrf", csrf.as_str()), ("email", ALICE)];
    form.extend_from_slice(robot);
    browser.post_form("/inscription", &form).await
}

#[tokio::test]
async fn sign_up_sends_a_code_only_after_the_check() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink).await;
    let browser = app.browser();
    let page = page(&browser, "/inscription").await;
    let refused = signup_step1(&browser, &page, &[("altcha", "bm9uc2Vuc2U=")]).await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains(FAILED));
    let refused = signup_step1(&browser, &page, &[]).await;
    assert!(refused.text().await.unwrap().contains(FAILED));
    assert!(sink.messages().is_empty(), "no code sent");

    let solution = solve(&page);
    let accepted = signup_step1(&browser, &page, &[("altcha", &solution)]).await;
    assert_redirect(&accepted, "/inscription/code");
    assert_eq!(sink.wait_for(1).await.len(), 1);
    // The same solution from another browser: refused, nothing sent.
    let other = app.browser();
    let other_page = self::page(&other, "/inscription").await;
    let replayed = signup_step1(&other, &other_page, &[("altcha", &solution)]).await;
    assert!(replayed.text().await.unwrap().contains(FAILED));
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn sign_up_without_javascript_answers_the_question() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink).await;
    let browser = app.browser();
    let page = page(&browser, "/inscription").await;
    let token = hidden_field(&page, "robot_token").unwrap();
    let accepted = signup_step1(
        &browser,
        &page,
        &[("robot_token", &token), ("robot_answer", &answer(&page))],
    )
    .await;
    assert_redirect(&accepted, "/inscription/code");
}

async fn reset_step1(browser: &Browser, page: &str, robot: &[(&str, &str)]) -> reqwest::Response {
    let csrf = csrf_of(page);
    let mut form = vec![("csrf", csrf.as_str()), ("email", ALICE)];
    form.extend_from_slice(robot);
    browser.post_form("/mot-de-passe-oublie", &form).await
}

#[tokio::test]
async fn a_reset_code_is_sent_only_after_the_check() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink).await;
    app.user(ALICE).await;
    let browser = app.browser();
    let page = page(&browser, "/mot-de-passe-oublie").await;
    let token = hidden_field(&page, "robot_token").unwrap();
    let refused = reset_step1(
        &browser,
        &page,
        &[("robot_token", &token), ("robot_answer", "99")],
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains(FAILED));
    let refused = reset_step1(&browser, &page, &[]).await;
    assert!(refused.text().await.unwrap().contains(FAILED));
    assert!(sink.messages().is_empty(), "no code sent");

    let accepted = reset_step1(&browser, &page, &[("altcha", &solve(&page))]).await;
    assert_redirect(&accepted, "/mot-de-passe-oublie/code");
    assert_eq!(sink.wait_for(1).await.len(), 1);
}
