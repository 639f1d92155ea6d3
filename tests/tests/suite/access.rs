//! Services, habilitations, Responsables des accès and activation codes: the storage rules,
//! the operators' commands, and the `habilitations` claims as relying parties see them.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use clap::Parser;
use idp::{
    access::{
        ActivationCode, EndDate,
        actions::redeem_code::{Redemption, redeem_code},
        claims, codes, dates,
        habilitations::{self, GrantedHow, NewHabilitation},
        managers,
        refusal::AccessRefusal,
        requests, services,
    },
    accounts::store::User,
    cli::{Cli, CliError},
};
use idp_tests::{TestApp, TestClient, auth_url_for, refresh, userinfo};
use serde_json::Value;

use idp_tests::access::{CENTRE, OTHER as OTHER_CENTRE};

async fn run_cli(app: &TestApp, args: &[&str]) -> Result<(), CliError> {
    let mut argv = vec!["idp"];
    argv.extend_from_slice(args);
    idp::cli::run(Cli::parse_from(argv), (*app.state.config).clone()).await
}

/// A fresh app with two people of the centre, alice and bob.
async fn alice_and_bob() -> (TestApp, User, User) {
    let app = TestApp::spawn().await;
    let alice = app.user("alice@centre.fr").await;
    let bob = app.user("bob@centre.fr").await;
    (app, alice, bob)
}

#[tokio::test]
async fn access_ceres_is_seeded_with_its_two_roles_and_its_documents() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let ceres = services::by_code(db, "ceres")
        .await
        .unwrap()
        .expect("CERES");
    assert_eq!(ceres.label, "CERES");
    let roles: Vec<(String, String)> = services::roles(db, "ceres")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.code, r.label))
        .collect();
    assert_eq!(
        roles,
        [
            ("centre_agree".to_owned(), "Centre agréé".to_owned()),
            (
                "gestionnaire_centres".to_owned(),
                "Gestionnaire CENTRES".to_owned()
            )
        ]
    );
    let cgu = services::current_document(db, "ceres", services::DocumentKind::Cgu)
        .await
        .unwrap()
        .expect("CERES's CGU");
    assert_eq!(cgu.version, 1);
    assert!(cgu.blocks().len() >= 2);
    // The charte is guide 002's: Préambule, then Articles 1 to 8, each a heading.
    let charte = services::current_document(db, "ceres", services::DocumentKind::Charte)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(charte.title, "Charte du responsable des accès");
    assert_eq!(charte.version, 2);
    let headings: Vec<String> = charte
        .blocks()
        .into_iter()
        .filter_map(|b| match b {
            services::Block::Heading(h) => Some(h),
            services::Block::Paragraph(_) => None,
        })
        .collect();
    assert_eq!(headings[0], "Préambule");
    assert_eq!(headings.len(), 9, "{headings:?}");
    for n in 1..=8 {
        assert!(
            headings[n].starts_with(&format!("ARTICLE {n} – ")),
            "{headings:?}"
        );
    }
    assert!(
        charte
            .body
            .contains("la DGEFP se réserve le droit de suspendre l'accès")
    );
}

#[tokio::test]
async fn access_a_code_is_redeemed_once_and_makes_its_redeemer_responsable_des_acces() {
    let (app, alice, bob) = alice_and_bob().await;
    let db = &app.state.db;
    let issued = codes::issue(db, &app.code_key(), "ceres", CENTRE, "agent", 3600)
        .await
        .unwrap();
    // Stored only as a keyed hash.
    let stored = app.stored_code_hashes().await.remove(0);
    assert_ne!(stored, issued.code.as_str());
    assert!(!stored.contains(issued.code.as_str()));

    // Typed loosely: lower case, spaces.
    let typed = issued.code.as_str().to_lowercase();
    let typed = format!("{} {}", &typed[..6], &typed[6..]);
    let code = ActivationCode::parse(&typed).unwrap();
    let done = app
        .redeem_code(&code, Some(CENTRE), &alice.id)
        .await
        .expect("redeemed");
    assert_eq!(done.siret.as_str(), CENTRE);
    assert!(app.is_manager(&alice.id, CENTRE).await);
    let m = &managers::of_establishment(db, "ceres", CENTRE)
        .await
        .unwrap()[0];
    assert_eq!(m.granted_how, GrantedHow::ActivationCode);
    assert!(m.origin().starts_with("attribué par code d'activation le "));

    let again = app.redeem_code(&code, None, &bob.id).await;
    assert!(matches!(again, Err(AccessRefusal::UsedCode)), "{again:?}");
    assert!(!app.is_manager(&bob.id, CENTRE).await);
    let listed = codes::list(db, "ceres", Some(CENTRE)).await.unwrap();
    assert_eq!(
        listed[0].status,
        codes::CodeStatus::Redeemed(alice.id.clone())
    );
}

#[tokio::test]
async fn access_wrong_expired_revoked_and_replaced_codes_each_get_their_own_refusal() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let k = app.code_key();
    let alice = app.user("alice@centre.fr").await;

    // Unknown code, and a code of another service.
    let unknown = ActivationCode::generate();
    let r = app.redeem_code(&unknown, None, &alice.id).await;
    assert!(matches!(r, Err(AccessRefusal::UnknownCode)), "{r:?}");

    // A new code replaces the previous one for the same establishment.
    let first = codes::issue(db, &k, "ceres", CENTRE, "agent", 3600)
        .await
        .unwrap();
    let second = codes::issue(db, &k, "ceres", CENTRE, "agent", 3600)
        .await
        .unwrap();
    let r = app.redeem_code(&first.code, None, &alice.id).await;
    assert!(matches!(r, Err(AccessRefusal::RevokedCode)), "{r:?}");

    // The SIRET typed with the code must be the code's.
    let r = app
        .redeem_code(&second.code, Some(OTHER_CENTRE), &alice.id)
        .await;
    assert!(matches!(r, Err(AccessRefusal::WrongSiret)), "{r:?}");

    // Revoked by an agent.
    assert!(codes::revoke(db, &second.id).await.unwrap());
    assert!(!codes::revoke(db, &second.id).await.unwrap(), "once");
    let r = app.redeem_code(&second.code, None, &alice.id).await;
    assert!(matches!(r, Err(AccessRefusal::RevokedCode)), "{r:?}");

    // Expired: an hour later, a code valid for an hour.
    let old = codes::issue(db, &k, "ceres", OTHER_CENTRE, "agent", 3600)
        .await
        .unwrap();
    app.state
        .clock
        .advance(std::time::Duration::from_secs(3601));
    let r = app.redeem_code(&old.code, None, &alice.id).await;
    assert!(matches!(r, Err(AccessRefusal::ExpiredCode)), "{r:?}");

    // None of that made anyone a manager, and every message is distinct.
    assert!(
        managers::establishments_of(db, &alice.id, "ceres")
            .await
            .unwrap()
            .is_empty()
    );
    let messages: std::collections::HashSet<String> = [
        AccessRefusal::UnknownCode,
        AccessRefusal::WrongSiret,
        AccessRefusal::ExpiredCode,
        AccessRefusal::RevokedCode,
        AccessRefusal::UsedCode,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(messages.len(), 5);
}

#[tokio::test]
async fn access_concurrent_redemptions_of_one_code_make_exactly_one_manager() {
    let app = TestApp::spawn().await;
    let k = app.code_key();
    let issued = codes::issue(&app.state.db, &k, "ceres", CENTRE, "agent", 3600)
        .await
        .unwrap();
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(app.user(&format!("personne{i}@centre.fr")).await);
    }
    let tasks: Vec<_> = users
        .iter()
        .map(|u| {
            let db = app.state.db.clone();
            let clock = app.state.clock.clone();
            let code = issued.code.clone();
            let by = idp::accounts::UserId::from_stored(u.id.clone());
            tokio::spawn(async move {
                let input = Redemption {
                    by: &by,
                    service_code: "ceres",
                    siret: None,
                    code: &code,
                    via: None,
                };
                redeem_code(&db, &clock, &k, &input).await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(AccessRefusal::UsedCode) => {}
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(
        managers::of_establishment(&app.state.db, "ceres", CENTRE)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn access_the_last_responsable_des_acces_is_removed_only_when_confirmed() {
    let (app, alice, bob) = alice_and_bob().await;
    let db = &app.state.db;
    app.grant_manager(&alice.id, CENTRE).await;
    managers::grant(
        db,
        &bob.id,
        "ceres",
        CENTRE,
        Some(&alice.id),
        GrantedHow::Delegation,
    )
    .await
    .unwrap();
    let bob_right = managers::of_establishment(db, "ceres", CENTRE)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.user_id == bob.id)
        .unwrap();
    assert!(
        bob_right
            .origin()
            .starts_with("Habilité par Alice Martin le ")
    );

    // The right is withdrawn through the action the page calls.
    let ceres = idp::access::services::by_code(db, "ceres")
        .await
        .unwrap()
        .unwrap();
    let (a, b) = (
        idp::accounts::UserId::from_stored(alice.id.clone()),
        idp::accounts::UserId::from_stored(bob.id.clone()),
    );
    let clock = &app.state.clock;
    let withdraw = |person: idp::accounts::UserId, confirm: bool| {
        let (ceres, a) = (ceres.clone(), a.clone());
        async move {
            idp::access::actions::withdraw_manager::withdraw_manager(
                db, clock, &a, &ceres, &person, CENTRE, confirm,
            )
            .await
        }
    };
    withdraw(b.clone(), false).await.unwrap();
    let r = withdraw(a.clone(), false).await;
    assert!(
        matches!(r, Err(idp::access::refusal::AccessRefusal::LastManager)),
        "{r:?}"
    );
    assert!(app.is_manager(&alice.id, CENTRE).await);
    withdraw(a.clone(), true).await.unwrap();
    assert!(
        managers::of_establishment(db, "ceres", CENTRE)
            .await
            .unwrap()
            .is_empty()
    );
    // No longer a Responsable des accès there: nothing more to withdraw.
    let r = withdraw(a.clone(), true).await;
    assert!(
        matches!(r, Err(idp::access::refusal::AccessRefusal::NotManager(_))),
        "{r:?}"
    );
}

fn payload(jwt: &str) -> Value {
    serde_json::from_slice(&B64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// Alice logs in through `client` asking for `scope`; the token response for her code.
async fn alice_tokens(app: &TestApp, client: &TestClient, scope: &str) -> Value {
    let browser = app.browser();
    let (_, at) = browser.follow(&auth_url_for(app, client, scope, &[])).await;
    let r = browser
        .submit_login(&at, "alice@centre.fr", idp_tests::PASSWORD)
        .await;
    browser.tokens_after(app, client, r).await
}

#[tokio::test]
async fn access_tokens_carry_the_live_habilitations_of_the_clients_service_only() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    app.establishment(CENTRE, "CENTRE DE FORMATION DU LAC", true)
        .await;
    app.service("autre", "Autre service").await;
    services::upsert_role(
        db,
        "autre",
        &services::Role {
            code: "lecteur".into(),
            label: "Lecteur".into(),
            description: String::new(),
        },
    )
    .await
    .unwrap();
    let ceres = app.service_client("ceres-app", "ceres", false).await;
    let other = app.service_client("autre-app", "autre", false).await;
    let alice = app.user("alice@centre.fr").await;
    let grant =
        |siret: &'static str, service: &'static str, role: &'static str, end: Option<EndDate>| {
            let id = alice.id.clone();
            async move {
                habilitations::grant(
                    db,
                    &NewHabilitation {
                        user_id: &id,
                        service_code: service,
                        siret,
                        role,
                        end_date: end,
                        granted_by: None,
                        how: GrantedHow::Operator,
                    },
                )
                .await
                .unwrap()
            }
        };
    let end = EndDate::parse("31/12/2099", dates::today()).unwrap();
    grant(CENTRE, "ceres", "centre_agree", Some(end)).await;
    grant(OTHER_CENTRE, "autre", "lecteur", None).await;
    // Ended yesterday: counts nowhere.
    let ended = grant(OTHER_CENTRE, "ceres", "gestionnaire_centres", None).await;
    app.end_habilitation(&ended, Some("2000-01-01")).await;
    app.grant_manager(&alice.id, CENTRE).await;

    let tokens = alice_tokens(&app, &ceres, "openid habilitations offline_access").await;
    let id = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        id["habilitations"],
        serde_json::json!([{
            "siret": CENTRE,
            "establishment": "CENTRE DE FORMATION DU LAC",
            "role": "centre_agree",
            "role_label": "Centre agréé",
            "expires_at": "2099-12-31",
        }])
    );
    assert_eq!(id["access_manager_of"], serde_json::json!([CENTRE]));
    assert_eq!(id["pending_access_requests"], 0);
    assert_eq!(id["ministry_agent"], false);
    // A colleague asks for access to the centre Alice manages: userinfo (always fresh) counts
    // it for her badge; an agent's standing shows as it is now.
    let colleague = app.user("bob@centre.fr").await;
    requests::create(db, &colleague.id, "ceres", CENTRE, "Bonjour")
        .await
        .unwrap()
        .expect("a new request");
    app.set_agent(&alice.id, true).await;
    let (status, info) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["habilitations"], id["habilitations"]);
    assert_eq!(info["access_manager_of"], id["access_manager_of"]);
    assert_eq!(info["pending_access_requests"], 1);
    assert_eq!(info["ministry_agent"], true);

    // A new habilitation shows at the next token, refresh included.
    grant(OTHER_CENTRE, "ceres", "centre_agree", None).await;
    let (status, refreshed) =
        refresh(&app, &ceres, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    let id = payload(
        refreshed["id_token"]
            .as_str()
            .expect("an ID token on refresh"),
    );
    let sirets: Vec<&str> = id["habilitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["siret"].as_str().unwrap())
        .collect();
    assert_eq!(sirets, [CENTRE, OTHER_CENTRE]);
    assert_eq!(id["habilitations"][1]["establishment"], Value::Null);

    // The other service's client sees its own habilitation and no CERES right.
    let link = services::of_client(db, &other.id).await.unwrap();
    let seen = claims::for_client(db, &alice, link.as_ref(), None)
        .await
        .unwrap();
    assert_eq!(seen["habilitations"].as_array().unwrap().len(), 1);
    assert_eq!(seen["habilitations"][0]["role"], "lecteur");
    assert_eq!(seen["access_manager_of"], serde_json::json!([]));
    assert_eq!(
        seen["pending_access_requests"], 0,
        "CERES requests are not its business"
    );
    // A client of no service sees nothing.
    let plain = app.client("plain").await;
    let link = services::of_client(db, &plain.id).await.unwrap();
    let seen = claims::for_client(db, &alice, link.as_ref(), None)
        .await
        .unwrap();
    assert_eq!(seen["habilitations"], serde_json::json!([]));

    // Without the scope, no habilitation claim at all.
    let tokens = alice_tokens(&app, &ceres, "openid").await;
    let id = payload(tokens["id_token"].as_str().unwrap());
    assert!(id.get("habilitations").is_none(), "{id}");
}

/// `habilitations grant` for alice@centre.fr at `siret` as `role`, with `extra` options.
async fn grant_alice(
    app: &TestApp,
    siret: &str,
    role: &str,
    extra: &[&str],
) -> Result<(), CliError> {
    let mut args = vec![
        "habilitations",
        "grant",
        "--email",
        "alice@centre.fr",
        "--siret",
        siret,
        "--role",
        role,
    ];
    args.extend_from_slice(extra);
    run_cli(app, &args).await
}

#[tokio::test]
async fn access_operators_manage_services_codes_and_habilitations_from_the_command_line() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    app.client("ceres-demo").await;
    run_cli(
        &app,
        &[
            "services",
            "link-client",
            "ceres",
            "ceres-demo",
            "--requires-habilitation",
        ],
    )
    .await
    .unwrap();
    let link = services::of_client(db, "ceres-demo")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.service.code, "ceres");
    assert!(link.requires_habilitation);

    run_cli(&app, &["services", "create", "vae", "--label", "VAE"])
        .await
        .unwrap();
    run_cli(
        &app,
        &[
            "services",
            "add-role",
            "vae",
            "jury",
            "--label",
            "Membre de jury",
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        services::roles(db, "vae").await.unwrap()[0].label,
        "Membre de jury"
    );

    // Typed refusals that change nothing.
    let r = run_cli(&app, &["services", "create", "Pas Bon", "--label", "x"]).await;
    assert!(matches!(r, Err(CliError::Invalid(_))), "{r:?}");
    let r = run_cli(
        &app,
        &["codes", "issue", "--service", "inconnu", "--siret", CENTRE],
    )
    .await;
    assert!(matches!(r, Err(CliError::NotFound(_))), "{r:?}");
    let r = run_cli(&app, &["codes", "issue", "--siret", "13002526500014"]).await;
    assert!(matches!(r, Err(CliError::Invalid(_))), "{r:?}");
    app.establishment(OTHER_CENTRE, "CENTRE FERMÉ", false).await;
    // Codes go to open establishments of the register (the issue action's rule).
    app.establishment(CENTRE, "CENTRE DE FORMATION DU LAC", true)
        .await;
    let r = run_cli(&app, &["codes", "issue", "--siret", OTHER_CENTRE]).await;
    assert!(matches!(r, Err(CliError::Invalid(_))), "{r:?}");
    assert!(codes::list(db, "ceres", None).await.unwrap().is_empty());

    run_cli(
        &app,
        &["codes", "issue", "--siret", "130 025 265 00013", "--json"],
    )
    .await
    .unwrap();
    let listed = codes::list(db, "ceres", Some(CENTRE)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, codes::CodeStatus::Live);
    run_cli(&app, &["codes", "revoke", &listed[0].id])
        .await
        .unwrap();
    assert_eq!(
        codes::list(db, "ceres", Some(CENTRE)).await.unwrap()[0].status,
        codes::CodeStatus::Revoked
    );
    let r = run_cli(&app, &["codes", "revoke", &listed[0].id]).await;
    assert!(matches!(r, Err(CliError::NotFound(_))), "{r:?}");

    let alice = app.user("alice@centre.fr").await;
    grant_alice(
        &app,
        CENTRE,
        "centre_agree",
        &["--end-date", "31/12/2099", "--manager"],
    )
    .await
    .unwrap();
    let live = app.live_habilitations(&alice.id).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].end_date.unwrap().french(), "12/2099");
    assert!(app.is_manager(&alice.id, CENTRE).await);
    let r = grant_alice(&app, CENTRE, "pilote", &[]).await;
    assert!(matches!(r, Err(CliError::NotFound(_))), "{r:?}");
    let r = grant_alice(&app, OTHER_CENTRE, "centre_agree", &[]).await;
    assert!(matches!(r, Err(CliError::Invalid(_))), "closed: {r:?}");
    let mut events = 0;
    for action in [
        "activation_code.issued",
        "activation_code.revoked",
        "habilitation.granted",
    ] {
        events += app.audit_count(action).await;
    }
    assert_eq!(events, 3);
}
