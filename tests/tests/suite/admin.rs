//! Client and service administration (`idp clients …`, `idp services …`): each action is one
//! transaction with its audit event, so an action whose event cannot be written leaves nothing;
//! and its refusals are typed, with stable codes.

use idp::{
    access::{
        actions::{service_create, service_link_client, service_publish},
        refusal::{AccessRefusal, ServiceRefusal},
        services::{self, DocumentKind},
    },
    action::Refusal,
    oidc::{
        actions::{client_create, client_delete, client_rotate_secret, client_update},
        clients::{self, AuthMethod, ClientRefusal, ClientRegistration},
    },
};
use idp_tests::*;

const EVENTS_ON: &str = "SELECT count(*) FROM audit_events WHERE target = $1";

fn registration(id: &str, auth_method: AuthMethod) -> ClientRegistration {
    ClientRegistration {
        client_id: id.to_owned(),
        name: id.to_owned(),
        auth_method,
        redirect_uris: vec!["https://rp.example/cb".into()],
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec!["authorization_code".into()],
        scopes: vec!["openid".into()],
        id_token_alg: idp::keys::SigningAlg::RS256,
        jwks: None,
        skip_consent: false,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        require_mfa: false,
        require_pkce: true,
        introspects: Vec::new(),
        forwards_end_user_ip: false,
    }
}

/// A new service `code` labelled `label`, without description or home page.
fn service_input(code: &str, label: &str) -> service_create::ServiceInput {
    service_create::ServiceInput {
        code: code.into(),
        label: label.into(),
        description: None,
        home_url: None,
        require_mfa: None,
    }
}

#[tokio::test]
async fn a_client_deletion_whose_audit_fails_leaves_the_client_and_its_secret_working() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let rp = app.client("rp-kept").await;
    app.fail_audit_of("client.deleted").await;

    let failed = client_delete::delete_client(db, "rp-kept", app.state.clock.now(), "test").await;
    assert!(
        matches!(failed, Err(ClientRefusal::Storage(_))),
        "{failed:?}"
    );

    assert!(
        clients::client_by_id(db, "rp-kept")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(app.count(EVENTS_ON, "rp-kept").await, 0);
    // The client still authenticates at the token endpoint (client_credentials is not allowed
    // for it: the answer names the grant, not the client).
    let r = token_request(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    let (status, body) = json(r).await;
    assert_ne!(body["error"], "invalid_client", "{status} {body}");
}

#[tokio::test]
async fn a_client_registration_or_secret_rotation_whose_audit_fails_changes_nothing() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let now = app.state.clock.now();
    app.fail_audit_of("client.created").await;
    let reg = registration("rp-new", AuthMethod::ClientSecretBasic);
    let failed = client_create::create_client(db, &reg, now, "test").await;
    assert!(
        matches!(failed, Err(ClientRefusal::Storage(_))),
        "{failed:?}"
    );
    assert!(clients::client_by_id(db, "rp-new").await.unwrap().is_none());

    app.client("rp-old").await;
    let hash = clients::client_by_id(db, "rp-old")
        .await
        .unwrap()
        .unwrap()
        .secret_hash;
    app.fail_audit_of("client.secret_rotated").await;
    let failed = client_rotate_secret::rotate_secret(db, "rp-old", now, "test").await;
    assert!(
        matches!(failed, Err(ClientRefusal::Storage(_))),
        "{failed:?}"
    );
    let kept = clients::client_by_id(db, "rp-old").await.unwrap().unwrap();
    assert_eq!(kept.secret_hash, hash, "the old secret still works");
}

#[tokio::test]
async fn client_actions_refuse_with_typed_refusals_and_record_their_event() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let now = app.state.clock.now();
    let public = registration("rp-public", AuthMethod::None);
    let secret = client_create::create_client(db, &public, now, "cli")
        .await
        .unwrap();
    assert!(secret.is_none(), "a public client has no secret");
    assert_eq!(app.count(EVENTS_ON, "rp-public").await, 1);

    let taken = client_create::create_client(db, &public, now, "cli").await;
    assert!(
        matches!(&taken, Err(r) if r.code() == "client_exists"),
        "{taken:?}"
    );
    let to_secret = registration("rp-public", AuthMethod::ClientSecretPost);
    let switch = client_update::update_client(db, &to_secret, now, "cli").await;
    assert!(
        matches!(&switch, Err(ClientRefusal::SecretMethodSwitch)),
        "{switch:?}"
    );
    let unknown = client_delete::delete_client(db, "nobody", now, "cli").await;
    assert!(
        matches!(&unknown, Err(r) if r.code() == "unknown_client"),
        "{unknown:?}"
    );
    let no_secret = client_rotate_secret::rotate_secret(db, "rp-public", now, "cli").await;
    assert!(
        matches!(&no_secret, Err(ClientRefusal::NoSecret(_))),
        "{no_secret:?}"
    );
    assert_eq!(
        app.count(EVENTS_ON, "rp-public").await,
        1,
        "refusals change nothing"
    );

    client_delete::delete_client(db, "rp-public", now, "cli")
        .await
        .unwrap();
    assert_eq!(app.count(EVENTS_ON, "rp-public").await, 2);
}

/// The action failed on its audit event.
fn failed_on_audit<T: std::fmt::Debug>(result: Result<T, AccessRefusal>) {
    assert!(
        matches!(result, Err(AccessRefusal::Storage(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn linking_a_client_to_a_service_whose_audit_fails_links_nothing() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    app.client("rp-ceres").await;
    app.fail_audit_of("service.client_linked").await;
    let now = app.state.clock.now();
    failed_on_audit(
        service_link_client::link_client(db, "ceres", "rp-ceres", true, now, "t").await,
    );
    assert!(services::of_client(db, "rp-ceres").await.unwrap().is_none());
}

#[tokio::test]
async fn publishing_a_document_whose_audit_fails_publishes_no_version() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let charte = async || {
        let current = services::current_document(db, "ceres", DocumentKind::Charte).await;
        current.unwrap().map(|d| d.version)
    };
    let before = charte().await;
    app.fail_audit_of("service.document_published").await;
    let now = app.state.clock.now();
    let kind = DocumentKind::Charte;
    failed_on_audit(
        service_publish::publish_document(db, "ceres", kind, "Charte", "Texte.", now, "t").await,
    );
    assert_eq!(before, charte().await);
}

#[tokio::test]
async fn service_actions_refuse_unknown_services_and_clients_and_bad_codes() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let now = app.state.clock.now();
    let unknown_client =
        service_link_client::link_client(db, "ceres", "nobody", false, now, "cli").await;
    assert!(
        matches!(
            &unknown_client,
            Err(AccessRefusal::Service(ServiceRefusal::UnknownClient(_)))
        ),
        "{unknown_client:?}"
    );
    app.client("rp-x").await;
    let unknown_service =
        service_link_client::link_client(db, "inconnu", "rp-x", false, now, "cli").await;
    assert!(
        matches!(&unknown_service, Err(r) if r.code() == "unknown_service"),
        "{unknown_service:?}"
    );
    let bad = service_input("Pas Bon", "x");
    let refused = service_create::save_service(db, bad, now, "cli").await;
    assert!(
        matches!(&refused, Err(r) if r.code() == "invalid_code_name"),
        "{refused:?}"
    );
    assert!(services::by_code(db, "Pas Bon").await.unwrap().is_none());
}

#[tokio::test]
async fn a_service_or_role_saved_whose_audit_fails_changes_nothing() {
    use idp::access::actions::service_add_role;
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let now = app.state.clock.now();
    let before = services::by_code(db, "ceres")
        .await
        .unwrap()
        .expect("CERES");

    app.fail_audit_of("service.saved").await;
    let input = service_input("ceres", "Autre libellé");
    failed_on_audit(service_create::save_service(db, input, now, "t").await);
    let new = service_input("nouveau", "Nouveau service");
    failed_on_audit(service_create::save_service(db, new, now, "t").await);
    let after = services::by_code(db, "ceres")
        .await
        .unwrap()
        .expect("CERES");
    assert_eq!(after.label, before.label, "the label stays");
    assert!(services::by_code(db, "nouveau").await.unwrap().is_none());

    app.fail_audit_of("service.role_saved").await;
    let roles = services::roles(db, "ceres").await.unwrap();
    let role = services::Role {
        code: "nouveau_role".into(),
        label: "Nouveau rôle".into(),
        description: String::new(),
    };
    failed_on_audit(service_add_role::save_role(db, "ceres", role, now, "t").await);
    assert_eq!(
        services::roles(db, "ceres").await.unwrap().len(),
        roles.len()
    );
}

#[tokio::test]
async fn a_client_update_whose_audit_fails_keeps_the_registration() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let now = app.state.clock.now();
    let created = client_create::create_client(
        db,
        &registration("rp-update", AuthMethod::ClientSecretBasic),
        now,
        "t",
    )
    .await;
    assert!(created.is_ok(), "{created:?}");
    app.fail_audit_of("client.updated").await;
    let mut changed = registration("rp-update", AuthMethod::ClientSecretBasic);
    changed.name = "Nouveau nom".into();
    changed.redirect_uris = vec!["https://rp.example/autre".into()];
    let failed = client_update::update_client(db, &changed, now, "t").await;
    assert!(
        matches!(failed, Err(ClientRefusal::Storage(_))),
        "{failed:?}"
    );
    let kept = clients::client_by_id(db, "rp-update")
        .await
        .unwrap()
        .expect("the client");
    assert_eq!(kept.name, "rp-update");
    assert!(kept.has_redirect_uri("https://rp.example/cb"));
    assert!(!kept.has_redirect_uri("https://rp.example/autre"));
}

#[tokio::test]
async fn an_operator_grant_or_account_whose_audit_fails_leaves_nothing() {
    use idp::access::actions::{HabilitationGrant, grant_habilitation::grant_habilitation};
    use idp::accounts::{Email, UserId, actions::create_account::create_account, store::NewUser};
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let bob = app.user("bob@centre.fr").await;
    let ceres = services::by_code(db, "ceres")
        .await
        .unwrap()
        .expect("CERES");

    app.fail_audit_of("habilitation.granted").await;
    let siret = idp::organizations::Siret::parse("13002526500013").unwrap();
    let input = HabilitationGrant {
        person: &UserId::from_stored(bob.id.clone()),
        service: &ceres,
        siret: &siret,
        role: "centre_agree",
        end_date: None,
    };
    failed_on_audit(grant_habilitation(db, &app.state.clock, "cli", &input, true).await);
    let granted = idp::access::habilitations::of_user(db, &bob.id, "ceres")
        .await
        .unwrap();
    assert!(granted.is_empty(), "{granted:?}");
    let managers = idp::access::managers::establishments_of(db, &bob.id, "ceres").await;
    assert!(
        managers.unwrap().is_empty(),
        "nor the Responsable des accès right"
    );

    app.fail_audit_of("user.created").await;
    let email = Email::parse("carole@dreets.gouv.fr").unwrap();
    let new = NewUser {
        given_name: "Carole".into(),
        family_name: "Agent".into(),
        is_agent: true,
        ..NewUser::default()
    };
    let now = app.state.clock.now();
    let failed = create_account(db, now, "cli", &email, "$argon2id$v=19$x", &new).await;
    assert!(
        matches!(
            failed,
            Err(idp::accounts::refusal::AccountRefusal::Storage(_))
        ),
        "{failed:?}"
    );
    assert!(
        idp::accounts::store::user_by_email(db, &email)
            .await
            .unwrap()
            .is_none()
    );
}
