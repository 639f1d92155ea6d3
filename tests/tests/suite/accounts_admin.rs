//! Account administration (`idp users …` and `/api/v1/admin/users`): what support does each
//! week, every call audited with the operator and the reason; a disabled account refused
//! everywhere; logins in the audit trail.

use idp_tests::*;
use reqwest::Method;
use serde_json::{Value, json};

/// A caller of the administration API: `app` with a bearer `token`.
struct Office<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Office<'a> {
    /// A back-office client with the `admin` scope and its `client_credentials` access token.
    async fn of(app: &'a TestApp) -> Self {
        let client = app
            .client_with("back-office", |reg| {
                reg.grant_types = vec!["client_credentials".into()];
                reg.scopes = vec!["admin".into()];
            })
            .await;
        let form = [("grant_type", "client_credentials"), ("scope", "admin")];
        let (status, body) = json(token_request(app, &client, &form).await).await;
        assert_eq!(status, 200, "{body}");
        Self::with(app, &string(&body, "access_token"))
    }

    /// Calls made with `token`.
    fn with(app: &'a TestApp, token: &str) -> Self {
        Self {
            app,
            token: token.to_owned(),
        }
    }

    /// `method path` with a JSON `body`: the status and the JSON answer.
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = self.app.url(path);
        let mut request = self
            .app
            .http()
            .request(method, url)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin API");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `method path` naming the operator and the reason ([`who`]).
    async fn act(&self, method: Method, path: &str) -> (u16, Value) {
        self.send(method, path, Some(who())).await
    }
}

fn who() -> Value {
    json!({ "operator": "Claire (support)", "reason": "ticket 4242" })
}

/// The details of the latest audit event `action` on `target`.
async fn audited(app: &TestApp, action: &str, target: &str) -> (String, Value) {
    let row: (String, String) = sqlx::query_as(
        "SELECT actor, details FROM audit_events WHERE action = $1 AND target = $2 \
         ORDER BY at DESC LIMIT 1",
    )
    .bind(action)
    .bind(target)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap_or_else(|e| panic!("no {action} event on {target}: {e}"));
    (row.0, serde_json::from_str(&row.1).expect("details"))
}

/// Sessions started in the second an operator ended them (or disabled the account) are void
/// too: a login that must hold comes a second later.
async fn next_second() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

/// A browser logged in as `email` (its own login, no client).
async fn logged_in(app: &TestApp, email: &str) -> Browser {
    let browser = app.browser();
    let response = browser.submit_login("/connexion", email, PASSWORD).await;
    assert_eq!(response.status(), 303, "logged in");
    assert_eq!(browser.get("/compte").await.status(), 200);
    browser
}

#[tokio::test]
async fn a_disabled_account_is_refused_everywhere_and_enabled_again_logs_in() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice@example.fr").await;
    let rp = app.client("rp").await;
    let rs = app
        .client_with("rs", |reg| reg.introspects = vec!["rp".into()])
        .await;
    let tokens = app
        .browser()
        .tokens(&app, &rp, &auth_url(&app, &rp, &[]), &alice.email)
        .await;
    let access = string(&tokens, "access_token");
    let refresh_token = string(&tokens, "refresh_token");
    let browser = logged_in(&app, &alice.email).await;
    let office = Office::of(&app).await;

    let (status, body) = office
        .act(
            Method::POST,
            &format!("/api/v1/admin/users/{}/disable", alice.id),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["disabled"], true);

    // The session this browser had ends; logging in again is refused, with the reason.
    let account = browser.get("/compte").await;
    assert_eq!(account.status(), 303, "the session no longer holds");
    let again = app.browser();
    let refused = again
        .submit_login("/connexion", &alice.email, PASSWORD)
        .await;
    assert_eq!(refused.status(), 403);
    assert_shows(
        &refused.text().await.expect("page"),
        "Ce compte est désactivé",
    );
    // A wrong password still says only « incorrect »: nothing about the account's state.
    let wrong = again
        .submit_login("/connexion", &alice.email, "pas-le-bon-mot")
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.expect("page").contains("désactivé"));
    // No token: no refresh, userinfo and introspection refuse the access token.
    let (status, body) = refresh(&app, &rp, &refresh_token).await;
    assert_error(status, &body, 400, "invalid_grant");
    let (status, _) = userinfo(&app, &access).await;
    assert_eq!(status, 401);
    let answer = introspect(&app, &rs, &access).await;
    assert_eq!(answer["active"], false, "{answer}");
    let (actor, details) = audited(&app, "account.disabled", &alice.id).await;
    assert_eq!(actor, "back-office");
    assert_eq!(details["operator"], "Claire (support)");
    assert_eq!(details["reason"], "ticket 4242");
    assert_eq!(details["via"], "api");
    for reason in ["account_disabled", "bad_credentials"] {
        let sql = format!(
            "SELECT count(*) FROM audit_events WHERE action = 'login.failed' AND target = $1 \
             AND details LIKE '%\"reason\":\"{reason}\"%'"
        );
        assert_eq!(app.count(&sql, &alice.id).await, 1, "{reason}");
    }

    // Disabling twice is a conflict; enabling brings the login back.
    let path = format!("/api/v1/admin/users/{}/disable", alice.id);
    let (status, body) = office.act(Method::POST, &path).await;
    assert_error(status, &body, 409, "already_disabled");
    let path = format!("/api/v1/admin/users/{}/enable", alice.id);
    let (status, body) = office.act(Method::POST, &path).await;
    assert_eq!(status, 200, "{body}");
    next_second().await;
    logged_in(&app, &alice.email).await;
    audited(&app, "account.enabled", &alice.id).await;
}

#[tokio::test]
async fn the_command_line_disables_an_account_the_running_server_then_refuses() {
    let app = TestApp::spawn().await;
    let bob = app.user("bob@example.fr").await;
    let browser = logged_in(&app, &bob.email).await;

    let (status, out, err) = app
        .cli(&[
            "users",
            "disable",
            "bob@example.fr",
            "--reason",
            "poste quitté",
        ])
        .await;
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("compte désactivé"), "{out}");
    assert_eq!(
        browser.get("/compte").await.status(),
        303,
        "its session ended"
    );
    let refused = app
        .browser()
        .submit_login("/connexion", &bob.email, PASSWORD)
        .await;
    assert_eq!(refused.status(), 403);
    let (actor, details) = audited(&app, "account.disabled", &bob.id).await;
    assert_eq!(actor, "cli");
    assert_eq!(details["operator"], "Claire");
    assert_eq!(details["reason"], "poste quitté");

    // Typed errors, nothing changed: no reason, an unknown account, twice.
    let (status, _, err) = app
        .cli(&["users", "enable", "bob@example.fr", "--reason", " "])
        .await;
    assert_eq!(status, 2);
    assert!(err.contains("Le motif est obligatoire"), "{err}");
    let (status, _, err) = app
        .cli(&["users", "enable", "personne@example.fr", "--reason", "x"])
        .await;
    assert_eq!(status, 2);
    assert!(err.contains("introuvable"), "{err}");
    let (status, _, err) = app
        .cli(&["users", "disable", &bob.id, "--reason", "encore"])
        .await;
    assert_eq!(status, 2);
    assert!(err.contains("déjà désactivé"), "{err}");

    let (status, out, err) = app
        .cli(&["users", "enable", &bob.id, "--reason", "retour de congé"])
        .await;
    assert_eq!(status, 0, "{out}{err}");
    next_second().await;
    logged_in(&app, &bob.email).await;
}

#[tokio::test]
async fn ending_the_sessions_logs_out_every_browser_and_the_person_can_log_in_again() {
    let app = TestApp::spawn().await;
    let carol = app.user("carol@example.fr").await;
    let one = logged_in(&app, &carol.email).await;
    let two = logged_in(&app, &carol.email).await;
    let office = Office::of(&app).await;
    let path = format!("/api/v1/admin/users/{}/end-sessions", carol.id);
    let (status, body) = office.act(Method::POST, &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(one.get("/compte").await.status(), 303);
    assert_eq!(two.get("/compte").await.status(), 303);
    next_second().await;
    logged_in(&app, &carol.email).await;
    audited(&app, "account.sessions_ended", &carol.id).await;
}

#[tokio::test]
async fn show_and_export_answer_support_without_sql_and_hold_no_secret() {
    let app = TestApp::spawn().await;
    let dora = app.user("dora@example.fr").await;
    logged_in(&app, &dora.email).await;

    let (status, out, err) = app
        .cli(&[
            "users",
            "show",
            "dora@example.fr",
            "--reason",
            "appel du 5/12",
        ])
        .await;
    assert_eq!(status, 0, "{err}");
    for fact in [
        "dora@example.fr",
        "Alice Martin",
        "état              actif",
        "dernières connexions",
    ] {
        assert!(out.contains(fact), "{fact} in:\n{out}");
    }
    audited(&app, "account.viewed", &dora.id).await;

    let office = Office::of(&app).await;
    let path = format!(
        "/api/v1/admin/users/{}/export?operator=Claire&reason=demande%20RGPD",
        dora.id
    );
    let (status, file) = office.send(Method::GET, &path, None).await;
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["account"]["email"], "dora@example.fr");
    assert_eq!(file["account"]["has_password"], 1);
    let logins = file["last_logins"].as_array().expect("logins");
    assert!(!logins.is_empty(), "{file}");
    let events: Vec<&str> = file["audit_events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        events.contains(&"account.created") || events.contains(&"login.succeeded"),
        "{events:?}"
    );
    let text = file.to_string();
    let hash = dora.password_hash.clone().expect("hash");
    assert!(
        !text.contains(&hash) && !text.contains("$argon2"),
        "no password hash"
    );
    let (_, details) = audited(&app, "account.exported", &dora.id).await;
    assert_eq!(details["reason"], "demande RGPD");

    // Without a reason, nothing is read.
    let path = format!("/api/v1/admin/users/{}?operator=Claire", dora.id);
    let (status, body) = office.send(Method::GET, &path, None).await;
    assert_error(status, &body, 400, "invalid_request");
}

#[tokio::test]
async fn the_administration_api_wants_the_back_office_token_and_names_what_is_missing() {
    let app = TestApp::spawn().await;
    let erin = app.user("erin@example.fr").await;
    let path = format!("/api/v1/admin/users/{}/disable", erin.id);
    // No token.
    let response = app
        .http()
        .post(app.url(&path))
        .json(&who())
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 401);
    // A person's token, even one a client asked `admin` for, is not the back office's.
    let rp = app
        .client_with("rp", |reg| reg.scopes.push("admin".into()))
        .await;
    let tokens = app
        .browser()
        .tokens(
            &app,
            &rp,
            &auth_url_for(&app, &rp, "openid admin", &[]),
            &erin.email,
        )
        .await;
    let person = string(&tokens, "access_token");
    let (status, body) = Office::with(&app, &person).act(Method::POST, &path).await;
    assert_error(status, &body, 403, "insufficient_scope");
    // The back office: unknown account, unknown action, no operator.
    let office = Office::of(&app).await;
    let (status, body) = office
        .act(Method::POST, "/api/v1/admin/users/nobody/disable")
        .await;
    assert_error(status, &body, 404, "not_found");
    let other = format!("/api/v1/admin/users/{}/promote", erin.id);
    let (status, body) = office.act(Method::POST, &other).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = office
        .send(Method::POST, &path, Some(json!({ "reason": "x" })))
        .await;
    assert_error(status, &body, 400, "invalid_request");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM users WHERE id = $1 AND disabled_at IS NULL",
            &erin.id
        )
        .await,
        1,
        "nothing changed"
    );
}

#[tokio::test]
async fn list_finds_people_by_address_status_and_inactivity() {
    let app = TestApp::spawn().await;
    let a = app.user("anne.durand@centre.fr").await;
    app.user("bruno@centre.fr").await;
    app.user("claude@autre.fr").await;
    logged_in(&app, &a.email).await;
    let office = Office::of(&app).await;
    let emails = |body: &Value| -> Vec<String> {
        body["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| string(u, "email"))
            .collect()
    };
    let (status, body) = office
        .send(Method::GET, "/api/v1/admin/users?email=CENTRE", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(emails(&body), ["anne.durand@centre.fr", "bruno@centre.fr"]);
    // `%` and `_` are letters here, not wildcards.
    let (_, body) = office
        .send(Method::GET, "/api/v1/admin/users?email=%25", None)
        .await;
    assert!(emails(&body).is_empty(), "{body}");
    let since = idp::store::now() - 60;
    let path = format!("/api/v1/admin/users?email=centre&inactive_since={since}");
    let (_, body) = office.send(Method::GET, &path, None).await;
    assert_eq!(
        emails(&body),
        ["bruno@centre.fr"],
        "anne logged in just now"
    );

    let (status, out, err) = app
        .cli(&["users", "disable", "claude@autre.fr", "--reason", "départ"])
        .await;
    assert_eq!(status, 0, "{err}");
    let (status, out2, err) = app.cli(&["users", "list", "--disabled"]).await;
    assert_eq!(status, 0, "{out}{err}");
    assert!(
        out2.contains("claude@autre.fr") && !out2.contains("bruno@"),
        "{out2}"
    );
}

#[tokio::test]
async fn second_factors_reset_agent_mark_unlock_and_delete_are_audited_actions() {
    let app = TestApp::spawn_with(|c| {
        c.limits.login_failures_per_account = 3;
        c.limits.login_free_failures = 10;
    })
    .await;
    let fred = app.user("fred@example.fr").await;
    let office = Office::of(&app).await;
    let base = format!("/api/v1/admin/users/{}", fred.id);

    // Nothing to reset is said, not hidden.
    let (status, body) = office
        .act(Method::POST, &format!("{base}/reset-second-factor"))
        .await;
    assert_error(status, &body, 409, "unchanged");

    // The agent mark, set and unset.
    let (status, body) = office.act(Method::PUT, &format!("{base}/agent")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM users WHERE id = $1 AND is_agent = 1",
            &fred.id
        )
        .await,
        1
    );
    let (status, body) = office.act(Method::PUT, &format!("{base}/agent")).await;
    assert_error(status, &body, 409, "unchanged");
    let (status, _) = office.act(Method::DELETE, &format!("{base}/agent")).await;
    assert_eq!(status, 200);
    audited(&app, "account.agent_set", &fred.id).await;
    audited(&app, "account.agent_unset", &fred.id).await;

    // Wrong passwords from three addresses close the account to every try; unlocking opens it.
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let r = app
            .browser_from(ip)
            .submit_login("/connexion", &fred.email, "mauvais-mot-de-passe")
            .await;
        assert_eq!(r.status(), 401);
    }
    let closed = app
        .browser()
        .submit_login("/connexion", &fred.email, PASSWORD)
        .await;
    assert_eq!(closed.status(), 429, "the account's ceiling");
    let (status, body) = office.act(Method::POST, &format!("{base}/unlock")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["counters_cleared"].as_u64().expect("count") >= 2,
        "{body}"
    );
    logged_in(&app, &fred.email).await;
    audited(&app, "account.unlocked", &fred.id).await;

    // Deleted by an operator: gone, the trail kept.
    let (status, _) = office.act(Method::DELETE, &base).await;
    assert_eq!(status, 204);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE id = $1", &fred.id)
            .await,
        0
    );
    let (actor, details) = audited(&app, "account.deleted", &fred.id).await;
    assert_eq!(actor, "back-office");
    assert_eq!(details["operator"], "Claire (support)");
}

#[tokio::test]
async fn every_login_is_in_the_audit_trail_with_method_client_and_address() {
    let app = TestApp::spawn().await;
    let gina = app.user("gina@example.fr").await;
    let rp = app.client("rp").await;
    app.browser()
        .tokens(&app, &rp, &auth_url(&app, &rp, &[]), &gina.email)
        .await;
    let (actor, details) = audited(&app, "login.succeeded", &gina.id).await;
    assert_eq!(actor, gina.id);
    assert_eq!(details["amr"], json!(["pwd"]));
    assert_eq!(details["client_id"], "rp");
    assert_eq!(details["ip"], "127.0.0.1");
    assert!(details["user_agent"].is_string());
    let last: Option<i64> = sqlx::query_scalar("SELECT last_login_at FROM users WHERE id = $1")
        .bind(&gina.id)
        .fetch_one(&app.state.db.pool)
        .await
        .expect("row");
    assert!(last.is_some());

    // Logging out, giving consent and a replayed code are in the trail too.
    let browser = app.browser();
    let tokens = browser
        .tokens(&app, &rp, &auth_url(&app, &rp, &[]), &gina.email)
        .await;
    let id_token = string(&tokens, "id_token");
    browser
        .get(&format!("{}?id_token_hint={id_token}", app.url("/logout")))
        .await;
    audited(&app, "session.logout", &gina.id).await;
    let asking = app
        .client_with("asks-consent", |reg| reg.skip_consent = false)
        .await;
    let browser = logged_in(&app, &gina.email).await;
    let (_, page) = browser.follow(&auth_url(&app, &asking, &[])).await;
    assert!(page.contains("/consentement"), "{page}");
    let out = browser.consent(&page, "allow").await;
    assert!(out.starts_with(REDIRECT_URI), "{out}");
    let (_, details) = audited(&app, "consent.granted", &gina.id).await;
    assert_eq!(details["client_id"], "asks-consent");
    let code = query_of(&app.authorized(&rp, &gina.email).await)["code"].clone();
    assert_eq!(exchange_code(&app, &rp, &code, &[]).await.status(), 200);
    assert_eq!(exchange_code(&app, &rp, &code, &[]).await.status(), 400);
    let reuse = "SELECT count(*) FROM audit_events WHERE action = $1";
    assert_eq!(app.count(reuse, "token.reuse_detected").await, 1);

    let r = app
        .browser()
        .submit_login("/connexion", "personne@example.fr", PASSWORD)
        .await;
    assert_eq!(r.status(), 401);
    let (_, details) = audited(&app, "login.failed", "inconnu").await;
    assert_eq!(details["reason"], "bad_credentials");
    assert_eq!(details["method"], "pwd");
    assert!(
        !details.to_string().contains("personne@"),
        "no address in the trail"
    );
}

#[tokio::test]
async fn the_audit_trail_is_exported_as_json_lines_or_csv_filtered_by_person_and_establishment() {
    let app = TestApp::spawn().await;
    let hana = app.user("hana@example.fr").await;
    app.user("ivan@example.fr").await;
    logged_in(&app, &hana.email).await;
    logged_in(&app, "ivan@example.fr").await;
    let siret = "13002526500013";
    idp::audit::record_alone(
        &app.state.db,
        idp::store::now(),
        &hana.id,
        "habilitation.granted",
        "h1",
        json!({ "siret": siret }),
    )
    .await
    .expect("event");

    let (status, out, err) = app
        .cli(&[
            "audit",
            "export",
            "--since",
            "2020-01-01",
            "--user",
            &hana.email,
        ])
        .await;
    assert_eq!(status, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(lines.len() >= 2, "{out}");
    for line in &lines {
        assert!(
            line["actor"] == hana.id || line["target"] == hana.id,
            "{line}"
        );
        assert!(line["at"].as_str().expect("at").ends_with('Z'), "{line}");
        assert!(line["details"].is_object(), "{line}");
    }
    assert!(lines.iter().any(|l| l["action"] == "login.succeeded"));
    assert!(err.contains("événement(s) exporté(s)"), "{err}");

    let (status, out, err) = app
        .cli(&[
            "audit",
            "export",
            "--since",
            "2020-01-01",
            "--establishment",
            siret,
            "--format",
            "csv",
        ])
        .await;
    assert_eq!(status, 0, "{err}");
    let mut rows = out.lines();
    assert_eq!(rows.next(), Some("at,actor,action,target,details"));
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(rows[0].contains("habilitation.granted"), "{out}");

    // The export is itself in the trail; a bad date is a typed error.
    assert!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = $1",
            "audit.exported"
        )
        .await
            >= 2
    );
    let (status, _, err) = app.cli(&["audit", "export", "--since", "hier"]).await;
    assert_eq!(status, 2);
    assert!(err.contains("AAAA-MM-JJ"), "{err}");
}

/// The stored password hash of `email`.
async fn stored_hash(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.state.db.pool)
        .await
        .expect("account")
}

#[tokio::test]
async fn legacy_accounts_log_in_with_their_old_password_which_becomes_argon2id() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("dir");
    let bcrypt = bcrypt::hash("Ancien-secret-bcrypt-1", 4).expect("bcrypt");
    // The PBKDF2-SHA256 vector of the pbkdf2 crate: password `passwordPASSWORDpassword`.
    let pbkdf2 = "$pbkdf2-sha256$i=4096,l=40$c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0\
                  $NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+HGNVGMfaxH6Q";
    let csv = dir.path().join("mes-demarches.csv");
    std::fs::write(
        &csv,
        format!(
            "email,password_hash,given_name,family_name,gender,job,siret,organization_label\n\
             jeanne@centre.fr,{bcrypt},Jeanne,Roux,female,Formatrice,13002526500013,Centre A\n\
             paul@centre.fr,\"{pbkdf2}\",Paul,Blanc,male,,,\n\
             sans.mdp@centre.fr,,Sans,Motdepasse,,,,\n"
        ),
    )
    .expect("export");
    let path = csv.to_string_lossy().into_owned();
    let (status, out, err) = app
        .cli(&[
            "users",
            "import",
            &path,
            "--dry-run",
            "--reason",
            "reprise Mes démarches",
        ])
        .await;
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("3 compte(s) à importer"), "{out}");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM users WHERE email LIKE $1",
            "%@centre.fr"
        )
        .await,
        0
    );
    let (status, out, err) = app
        .cli(&[
            "users",
            "import",
            &path,
            "--reason",
            "reprise Mes démarches",
        ])
        .await;
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("3 compte(s) importé(s)"), "{out}");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = $1",
            "account.imported"
        )
        .await,
        3
    );

    // Each logs in with the old password (then is asked to accept EFP Connect's CGU, which an
    // imported account never did); the hash becomes argon2id at once.
    for (email, password) in [
        ("jeanne@centre.fr", "Ancien-secret-bcrypt-1"),
        ("paul@centre.fr", "passwordPASSWORDpassword"),
    ] {
        let response = app
            .browser()
            .submit_login("/connexion", email, password)
            .await;
        assert_eq!(response.status(), 200, "{email}: the password is right");
        assert_shows(
            &response.text().await.expect("page"),
            "conditions générales",
        );
        let hash = stored_hash(&app, email).await;
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let again = app
            .browser()
            .submit_login("/connexion", email, password)
            .await;
        assert_eq!(again.status(), 200, "and again with the new hash");
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = $1",
            "password.rehashed"
        )
        .await,
        2
    );
    // A wrong password changes nothing.
    let wrong = app
        .browser()
        .submit_login("/connexion", "paul@centre.fr", "pas-le-bon")
        .await;
    assert_eq!(wrong.status(), 401);

    // Importing again: every line's address is taken, nothing is written, each line is named.
    let (status, _, err) = app
        .cli(&["users", "import", &path, "--reason", "encore"])
        .await;
    assert_eq!(status, 2);
    for line in ["ligne 2", "ligne 3", "ligne 4"] {
        assert!(err.contains(line), "{line} in {err}");
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = $1",
            "accounts.imported"
        )
        .await,
        1
    );

    // A bad file: every bad row reported, nothing imported.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"email\":\"ok@autre.fr\"}\n{\"email\":\"pas une adresse\"}\n{\"email\":\"x@autre.fr\",\"password_hash\":\"$md5$abc\"}\n",
    )
    .expect("bad export");
    let (status, _, err) = app
        .cli(&[
            "users",
            "import",
            &bad.to_string_lossy(),
            "--reason",
            "essai",
        ])
        .await;
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains("ligne 2") && err.contains("ligne 3") && !err.contains("ligne 1 "),
        "{err}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = $1", "ok@autre.fr")
            .await,
        0
    );
}
