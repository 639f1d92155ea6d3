//! The account journeys in a real browser: `tests/browser/journeys.mjs` drives Debian's
//! Chromium (playwright-core) through sign-up, login, logout, password reset and TOTP, reading
//! the codes from the SMTP sink, and runs axe-core on every page. `scripts/test.sh` installs
//! Chromium and the npm packages; this test starts the providers and runs the script.
//! `tests/browser/access.mjs` does the same for the access pages (guide 002 journeys 4–6 and
//! the agents' area), set up through the library by `browser_access_journeys_pass_axe_on_every_page`.

use std::{path::PathBuf, process::Stdio, time::Duration};

use idp_tests::*;

/// Where the screenshots go: `IDP_BROWSER_SCREENSHOTS`, or target/browser-screenshots/<backend>.
fn screenshot_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("IDP_BROWSER_SCREENSHOTS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let backend = if Backend::from_env().postgres_admin.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    repo().join("target/browser-screenshots").join(backend)
}

/// A provider (serving the compiled-in DSFR), its mail caught by the returned sink.
async fn dsfr_app_with_mailbox() -> (SmtpSink, TestApp) {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(|c| sink.configure(c)).await;
    (sink, app)
}

/// A sibling of the account journeys' folder named with `suffix` (their test empties theirs
/// when it starts), emptied.
fn sibling_screenshot_dir(suffix: &str) -> PathBuf {
    let accounts = screenshot_dir();
    let mut name = accounts.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    let screenshots = accounts.with_file_name(name);
    let _ = std::fs::remove_dir_all(&screenshots);
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    screenshots
}

#[tokio::test]
async fn browser_account_journeys_pass_axe_on_every_page() {
    let (sink, app) = dsfr_app_with_mailbox().await;
    let client = app.client("navigateur").await;
    // A second provider with the anti-robot check on, as in production.
    // It also has an agents' upstream provider (« AGENT DU MINISTÈRE »).
    let upstream_port = super::upstream::free_port();
    let robot = TestApp::spawn_with(|c| {
        c.anti_robot.enabled = true;
        c.agents.upstreams = vec![super::upstream::upstream_config(upstream_port)];
    })
    .await;
    let _upstream = super::upstream::start_upstream(&robot, upstream_port, "").await;
    let robot_user = robot.user("robot.teste@organisme-formation.fr").await;

    let screenshots = screenshot_dir();
    let _ = std::fs::remove_dir_all(&screenshots);
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    println!("browser journeys: screenshots in {}", screenshots.display());

    let envs = [
        ("BASE_URL", app.base.clone()),
        ("AUTH_URL", auth_url(&app, &client, &[])),
        ("ROBOT_BASE_URL", robot.base.clone()),
        ("ROBOT_EMAIL", robot_user.email.as_str().to_owned()),
        ("ROBOT_PASSWORD", PASSWORD.to_owned()),
        ("AGENT_LOGIN", "agent.navigateur@travail.gouv.fr".to_owned()),
        ("MAIL_DIR", sink.dir().display().to_string()),
        ("SCREENSHOT_DIR", screenshots.display().to_string()),
    ];
    run_script("journeys.mjs", &envs, Duration::from_secs(240)).await;
}

/// Runs `tests/browser/<script>` with node and `envs`, within `limit`; fails with its output.
async fn run_script(script: &str, envs: &[(&str, String)], limit: Duration) {
    let chromium = node_and_chromium("browser", "playwright-core");
    let started = std::time::Instant::now();
    let child = tokio::process::Command::new("node")
        .arg(repo().join("tests/browser").join(script))
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs the script");
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect("the browser journeys finish in time")
        .expect("node output");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    println!("{script}: {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        output.status.success(),
        "{script} failed ({}): see the output above and the screenshots",
        output.status
    );
}

/// The access journeys of guide 002 (`tests/browser/access.mjs`): first access with an
/// activation code from a client linked with `--requires-habilitation`, an access request
/// handled from the manager's e-mail, « Gérer les accès de mon entreprise » with an invitation,
/// and the agents' area; axe-core on every page.
#[tokio::test]
async fn browser_access_journeys_pass_axe_on_every_page() {
    const SIRET: &str = "13002526500013";
    const NAME: &str = "CENTRE DE FORMATION DU LAC";
    const MANAGER: &str = "alice.responsable@centre-du-lac.fr";
    const REQUESTER: &str = "paul.formateur@centre-du-lac.fr";
    const AGENT: &str = "agent@dreets.gouv.fr";
    const PENDING: &str = "claire.stagiaire@centre-du-lac.fr";
    let (sink, app) = dsfr_app_with_mailbox().await;
    let db = &app.state.db;
    app.establishment(SIRET, NAME, true).await;
    let client = app.service_client("ceres-app", "ceres", true).await;
    let code = app.issue_code(SIRET).await;
    let mut ids = Vec::new();
    for (email, given, family) in [
        (MANAGER, "Alice", "Responsable"),
        (REQUESTER, "Paul", "Formateur"),
        (AGENT, "Agathe", "Agent"),
        (PENDING, "Claire", "Stagiaire"),
    ] {
        let id = app.person(email, given, family, SIRET).await;
        app.set_agent(&id, email == AGENT).await;
        ids.push(id);
    }
    // A request left pending: the red badge of « Demandes d'accès » in journey 6.
    let claire = ids.last().expect("the accounts above");
    idp::access::requests::create(db, claire, "ceres", SIRET, "")
        .await
        .unwrap()
        .expect("a new request");
    let authorize = idp_tests::auth_url_for(&app, &client, "openid habilitations", &[]);

    let screenshots = sibling_screenshot_dir("-access");
    run_script(
        "access.mjs",
        &[
            ("BASE_URL", app.base.clone()),
            ("AUTH_URL", authorize),
            ("REDIRECT_URI", REDIRECT_URI.into()),
            ("SIRET", SIRET.into()),
            ("SIRET_NAME", NAME.into()),
            ("CODE", code),
            ("MANAGER_EMAIL", MANAGER.into()),
            ("REQUESTER_EMAIL", REQUESTER.into()),
            ("AGENT_EMAIL", AGENT.into()),
            ("PASSWORD", PASSWORD.into()),
            ("INVITEE_EMAIL", "louis.invite@centre-du-lac.fr".into()),
            ("MAIL_DIR", sink.dir().display().to_string()),
            ("SCREENSHOT_DIR", screenshots.display().to_string()),
        ],
        Duration::from_secs(180),
    )
    .await;
}

/// The newcomer's walk of the demo (`tests/browser/demo_walk.mjs`), from the demo CERES's home
/// page: sign-up with the code read in the provider's outbox (`/outbox`), login into CERES, the
/// activation code typed in CERES, the charte and « Gestion de mes accès » at the provider, the
/// dashboard as Responsable des accès, the red pastille of a waiting request beside the name and
/// « Gérer les demandes d'accès » in the side panel (guide 002 §6.1), an invitation of a
/// colleague, logout, the colleague's first password and login into CERES with the granted role,
/// then their « Me déconnecter » on the provider, which CERES learns by back-channel logout. The
/// demo CERES runs in-process on
/// `localhost`, the provider on `127.0.0.1`: two hosts, two cookie jars, as in production.
#[tokio::test]
async fn browser_demo_walk_from_sign_up_to_an_invited_colleague() {
    use idp::access::services;

    const SIRET: &str = "13002526500013";
    const NAME: &str = "CENTRE DE FORMATION DU LAC";

    // The provider on the test configuration's mail transport: the outbox, read at /outbox,
    // which the demo asks for (mail.outbox_viewer).
    let app = TestApp::spawn_with(|c| c.mail.outbox_viewer = true).await;
    assert_eq!(
        app.state.config.mail.transport,
        idp::config::MailTransport::Outbox,
        "the newcomer reads the e-mails at /outbox"
    );
    let db = &app.state.db;
    app.establishment(SIRET, NAME, true).await;
    // A colleague's request waits: the newcomer, once Responsable des accès, sees the pastille.
    let requester = app
        .person(
            "paul.formateur@centre-du-lac.fr",
            "Paul",
            "Formateur",
            SIRET,
        )
        .await;
    idp::access::requests::create(db, &requester, "ceres", SIRET, "")
        .await
        .unwrap()
        .expect("a new request");

    // The demo CERES's address first: the provider sends people back to it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let rp = format!(
        "http://localhost:{}",
        listener.local_addr().expect("addr").port()
    );
    let ceres = services::by_code(db, "ceres")
        .await
        .unwrap()
        .expect("CERES is seeded");
    services::upsert(
        db,
        &services::Service {
            home_url: Some(format!("{rp}/")),
            ..ceres
        },
    )
    .await
    .unwrap();
    let client = app
        .client_with("ceres-demo", |reg| {
            reg.name = "CERES (démo)".into();
            reg.redirect_uris = vec![format!("{rp}/callback")];
            reg.post_logout_redirect_uris = vec![format!("{rp}/")];
            // As scripts/demo.sh: told when a provider session it logged into ends.
            reg.backchannel_logout_uri = Some(format!("{rp}/backchannel-logout"));
            reg.backchannel_logout_session_required = true;
            // As `idp clients create` registers it: PKCE required (the demo sends it).
            reg.require_pkce = true;
            reg.grant_types = ["authorization_code", "refresh_token", "client_credentials"]
                .map(String::from)
                .to_vec();
            reg.scopes = [
                "openid",
                "email",
                "profile",
                "organization",
                "habilitations",
                "offline_access",
                "codes:issue",
            ]
            .map(String::from)
            .to_vec();
        })
        .await;
    services::link_client(db, "ceres", &client.id, false)
        .await
        .unwrap();
    let code = app.issue_code(SIRET).await;

    // The demo CERES, in-process, configured as scripts/demo.sh does through RP_* variables.
    let rp_dir = tempfile::tempdir().expect("temp dir");
    let rp_vars = [
        ("RP_ISSUER", app.issuer.clone()),
        ("RP_CLIENT_ID", client.id.clone()),
        (
            "RP_CLIENT_SECRET",
            client.secret.clone().expect("a confidential client"),
        ),
        (
            "RP_LISTEN",
            listener.local_addr().expect("addr").to_string(),
        ),
        ("RP_BASE_URL", rp.clone()),
        (
            "RP_DATABASE_URL",
            format!(
                "sqlite://{}?mode=rwc",
                rp_dir.path().join("ceres-demo.db").display()
            ),
        ),
    ];
    let config = relying_party_demo::Config::from_lookup(|k| {
        rp_vars
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
    .expect("the demo CERES's configuration");
    let router = relying_party_demo::build(config)
        .await
        .expect("the demo CERES starts");
    let rp_server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    let screenshots = sibling_screenshot_dir("-demo");
    run_script(
        "demo_walk.mjs",
        &[
            ("BASE_URL", app.base.clone()),
            ("RP_URL", rp.clone()),
            ("SIRET", SIRET.into()),
            ("SIRET_NAME", NAME.into()),
            ("CODE", code),
            ("REQUESTER_NAME", "Paul Formateur".into()),
            ("NEWCOMER_EMAIL", "lea.nouvelle@centre-du-lac.fr".into()),
            ("COLLEAGUE_EMAIL", "marc.collegue@centre-du-lac.fr".into()),
            ("SCREENSHOT_DIR", screenshots.display().to_string()),
        ],
        Duration::from_secs(240),
    )
    .await;
    rp_server.abort();
}

/// Sign-up and EFP Connect's CGU by guide 002 §3.2 (`tests/browser/guide_signup.mjs`): from a
/// service's /authorize, the code e-mail's button opened in a second browser context, the name
/// rule, the organisation as the guide asks it, the CGU page in a new window, back at the
/// service; then a version 2 of the CGU, published by this test when the script asks for it,
/// accepted at the next login.
#[tokio::test]
async fn browser_guide_sign_up_and_cgu() {
    const SIRET: &str = "13002526500013";
    const NAME: &str = "DIRECTION INTERMINISTERIELLE DU NUMERIQUE";
    let (sink, app) = dsfr_app_with_mailbox().await;
    app.establishment(SIRET, NAME, true).await;
    let client = app.client("service-guide").await;
    let signals = tempfile::tempdir().expect("signal folder");

    let publisher = {
        let db = app.state.db.clone();
        let dir = signals.path().to_owned();
        tokio::spawn(async move {
            while !dir.join("publier").exists() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            const TITLE: &str = "Conditions générales d'utilisation d'EFP Connect";
            let body = "## Article 1 – Objet\n\nLa version 2 des conditions.";
            let now = idp::clock::Clock::system().now();
            idp::accounts::actions::publish_cgu::publish_cgu(&db, now, "cli", TITLE, body)
                .await
                .expect("version 2 published");
            std::fs::write(dir.join("publiee"), "").expect("signal");
        })
    };

    let screenshots = sibling_screenshot_dir("-guide-signup");
    run_script(
        "guide_signup.mjs",
        &[
            ("BASE_URL", app.base.clone()),
            ("AUTH_URL", auth_url(&app, &client, &[])),
            ("REDIRECT_URI", REDIRECT_URI.into()),
            ("SIREN", SIRET[..9].into()),
            ("SIRET_NAME", NAME.into()),
            ("SIGNAL_DIR", signals.path().display().to_string()),
            ("MAIL_DIR", sink.dir().display().to_string()),
            ("SCREENSHOT_DIR", screenshots.display().to_string()),
        ],
        Duration::from_secs(180),
    )
    .await;
    publisher.abort();
}

/// Guide 002 §6.4 by its labels (`tests/browser/guide_people.mjs`): the users list and a
/// collaborator's page, axe-core on each.
#[tokio::test]
async fn browser_guide_users_and_invitations() {
    const SIRET: &str = "13002526500013";
    const NAME: &str = "CENTRE DE FORMATION DU LAC";
    const MANAGER: &str = "alice.responsable@centre-du-lac.fr";
    let (sink, app) = dsfr_app_with_mailbox().await;
    app.establishment(SIRET, NAME, true).await;
    let alice = app.person(MANAGER, "Alice", "Responsable", SIRET).await;
    app.make_manager(&alice, SIRET).await;
    let paul = app
        .person(
            "paul.formateur@centre-du-lac.fr",
            "Paul",
            "Formateur",
            SIRET,
        )
        .await;
    app.habilitate(&paul, SIRET, "centre_agree").await;
    let screenshots = sibling_screenshot_dir("-people");
    run_script(
        "guide_people.mjs",
        &[
            ("BASE_URL", app.base.clone()),
            ("SIRET_NAME", NAME.into()),
            ("MANAGER_EMAIL", MANAGER.into()),
            ("PASSWORD", PASSWORD.into()),
            ("COLLEAGUE_NAME", "Paul Formateur".into()),
            ("MAIL_DIR", sink.dir().display().to_string()),
            ("SCREENSHOT_DIR", screenshots.display().to_string()),
        ],
        Duration::from_secs(120),
    )
    .await;
}

/// Guide 002 §4 and §6.1 (`tests/browser/guide_requests.mjs`): a pending request recalled on
/// the no-access page, then the Responsable des accès accepting one request and refusing
/// another from « Demandes d'accès », by the guide's labels; axe-core on every page.
#[tokio::test]
async fn browser_guide_access_requests() {
    const SIRET: &str = "13002526500013";
    const NAME: &str = "CENTRE DE FORMATION DU LAC";
    const MANAGER: &str = "jeanne.responsable@centre-du-lac.fr";
    const REQUESTER: &str = "bob.durand@centre-du-lac.fr";
    const REFUSED: &str = "claire.martin@centre-du-lac.fr";
    let (sink, app) = dsfr_app_with_mailbox().await;
    app.establishment(SIRET, NAME, true).await;
    let manager = app.person(MANAGER, "Jeanne", "Responsable", SIRET).await;
    app.make_manager(&manager, SIRET).await;
    for (email, given, family) in [(REQUESTER, "Bob", "Durand"), (REFUSED, "Claire", "Martin")] {
        let id = app.person(email, given, family, SIRET).await;
        idp::access::requests::create(&app.state.db, &id, "ceres", SIRET, "")
            .await
            .unwrap()
            .expect("a new request");
    }
    let screenshots = sibling_screenshot_dir("-requests");
    run_script(
        "guide_requests.mjs",
        &[
            ("BASE_URL", app.base.clone()),
            ("SIRET_NAME", NAME.into()),
            ("MANAGER_EMAIL", MANAGER.into()),
            ("REQUESTER_EMAIL", REQUESTER.into()),
            ("REFUSED_EMAIL", REFUSED.into()),
            ("PASSWORD", PASSWORD.into()),
            ("MAIL_DIR", sink.dir().display().to_string()),
            ("SCREENSHOT_DIR", screenshots.display().to_string()),
        ],
        Duration::from_secs(120),
    )
    .await;
}

/// Passkeys (`tests/browser/passkeys.mjs`) with Chromium's virtual authenticator: added on
/// « Mon compte », a step-up to acr eidas2, a passwordless login, the second factor after the
/// password, a cloned key refused, removal. WebAuthn needs a domain name, not an IP address:
/// this provider's issuer is `http://localhost:<port>`, where the browser goes.
#[tokio::test]
async fn browser_passkey_journeys_pass_axe_on_every_page() {
    let app = TestApp::spawn_with(|c| {
        c.issuer = format!("http://localhost:{}", c.listen.port());
    })
    .await;
    let client = app.client("navigateur").await;
    let user = app.user("cle.acces@organisme-formation.fr").await;
    let on_localhost = |url: String| url.replacen("http://127.0.0.1:", "http://localhost:", 1);
    let step_up = auth_url(&app, &client, &[("acr_values", "eidas2")]);
    let screenshots = sibling_screenshot_dir("-passkeys");
    let callback_file = screenshots.join("step-up-callback.txt");
    let envs = [
        ("BASE_URL", app.issuer.clone()),
        ("STEP_UP_URL", on_localhost(step_up)),
        ("EMAIL", user.email.as_str().to_owned()),
        ("PASSWORD", PASSWORD.to_owned()),
        ("CALLBACK_FILE", callback_file.display().to_string()),
        ("SCREENSHOT_DIR", screenshots.display().to_string()),
    ];
    run_script("passkeys.mjs", &envs, Duration::from_secs(120)).await;

    // The step-up's ID token: the level asked, reached with the password and the passkey.
    let callback = std::fs::read_to_string(&callback_file).expect("the step-up's callback");
    let callback = url::Url::parse(&callback).expect("callback URL");
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let (status, tokens) = json(exchange_code(&app, &client, &code, &[]).await).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let payload = id_token.split('.').nth(1).expect("JWT payload");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
    )
    .expect("claims");
    assert_eq!(claims["acr"], "eidas2", "{claims}");
    assert_eq!(
        claims["amr"],
        serde_json::json!(["pwd", "hwk", "user", "mfa"]),
        "{claims}"
    );

    // Each use, the refusal of the copy, the registration and the removal are audited.
    let actions: Vec<String> = idp::audit::latest(&app.state.db, 100)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("passkey."))
        .collect();
    for (action, times) in [
        ("passkey.register", 1),
        ("passkey.use", 3),
        ("passkey.refused", 1),
        ("passkey.remove", 1),
    ] {
        let seen = actions.iter().filter(|a| *a == action).count();
        assert_eq!(seen, times, "{action} in {actions:?}");
    }
}
