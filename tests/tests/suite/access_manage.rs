//! « Gérer les accès de mon entreprise »: a Responsable des accès lists the users of their
//! establishments, adds and removes habilitations, designates and removes Responsables des
//! accès; nothing outside their establishments, every change e-mailed to the person.

use idp::access::{
    habilitations::{self, GrantedHow, NewHabilitation},
    managers,
    services::{self, DocumentKind},
};
use idp_tests::{Browser, PASSWORD, SmtpSink, TestApp, csrf_of, location};

const CENTRE: &str = "13002526500013";
const OTHER: &str = "73282932000074";

fn text(html: &str) -> String {
    html.replace("&#39;", "'").replace("&#x27;", "'")
}

async fn make_manager(app: &TestApp, user_id: &str, siret: &str, accept: bool) {
    managers::grant(
        &app.state.db,
        user_id,
        "ceres",
        siret,
        None,
        GrantedHow::ActivationCode,
    )
    .await
    .unwrap();
    if accept {
        services::accept_document(
            &app.state.db,
            user_id,
            "ceres",
            DocumentKind::Charte,
            1,
            siret,
        )
        .await
        .unwrap();
    }
}

async fn habilitate(app: &TestApp, user_id: &str, siret: &str, role: &str) -> String {
    habilitations::grant(
        &app.state.db,
        &NewHabilitation {
            user_id,
            service_code: "ceres",
            siret,
            role,
            end_date: None,
            granted_by: None,
            how: GrantedHow::Operator,
        },
    )
    .await
    .unwrap()
}

async fn log_in(app: &TestApp, email: &str) -> Browser {
    let browser = app.browser();
    let r = browser.submit_login("/connexion", email, PASSWORD).await;
    assert_eq!(r.status(), 303, "{email} logs in");
    browser
}

async fn page(browser: &Browser, path: &str) -> (u16, String) {
    let r = browser.get(path).await;
    (r.status().as_u16(), text(&r.text().await.unwrap()))
}

#[tokio::test]
async fn access_manage_a_responsable_sees_and_changes_only_their_establishments() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(|c| sink.configure(c)).await;
    let alice = app.user("alice@centre.fr").await;
    let bob = app.user("bob@centre.fr").await;
    let carol = app.user("carol@autre.fr").await;
    let dave = app.user("dave@autre.fr").await;
    make_manager(&app, &alice.id, CENTRE, true).await;
    make_manager(&app, &dave.id, OTHER, true).await;
    habilitate(&app, &bob.id, CENTRE, "centre_agree").await;
    let carols = habilitate(&app, &carol.id, OTHER, "centre_agree").await;
    let browser = log_in(&app, "alice@centre.fr").await;

    // The list: Alice (Responsable des accès) and Bob, never Carol.
    let (status, list) = page(&browser, "/acces/ceres/gestion").await;
    assert_eq!(status, 200, "{list}");
    assert!(list.contains("Gérer les accès de mon entreprise"));
    assert!(
        list.contains("bob@centre.fr") && list.contains("alice@centre.fr"),
        "{list}"
    );
    assert!(!list.contains("carol@autre.fr"));
    let (_, filtered) = page(&browser, "/acces/ceres/gestion?role=centre_agree").await;
    assert!(filtered.contains("bob@centre.fr") && !filtered.contains("alice@centre.fr"));
    let (_, filtered) = page(&browser, "/acces/ceres/gestion?role=responsable").await;
    assert!(!filtered.contains("bob@centre.fr") && filtered.contains("alice@centre.fr"));
    let (status, _) = page(&browser, &format!("/acces/ceres/gestion?siret={OTHER}")).await;
    assert_eq!(status, 403);

    // Bob's page; Carol's is not Alice's business.
    let bob_page = format!("/acces/ceres/gestion/utilisateurs/{}", bob.id);
    let (status, html) = page(&browser, &bob_page).await;
    assert_eq!(status, 200);
    assert!(html.contains("Coordonnées") && html.contains("Centre agréé"));
    assert!(html.contains("attribué par l'administration le "), "{html}");
    let (status, _) = page(
        &browser,
        &format!("/acces/ceres/gestion/utilisateurs/{}", carol.id),
    )
    .await;
    assert_eq!(status, 403);

    // Add a habilitation to Bob: stored with its origin, Bob is told.
    let csrf = csrf_of(&html);
    let r = browser
        .post_form(
            &format!("{bob_page}/habilitations"),
            &[
                ("csrf", &csrf),
                ("siret", CENTRE),
                ("role", "gestionnaire_centres"),
                ("date_fin", "2099-12-31"),
            ],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some(bob_page.as_str()));
    let live = habilitations::live(&app.state.db, &bob.id, "ceres")
        .await
        .unwrap();
    let added = live
        .iter()
        .find(|h| h.role == "gestionnaire_centres")
        .unwrap();
    assert!(added.origin().starts_with("Habilité par Alice Martin le "));
    let mails = sink.wait_for(1).await;
    assert_eq!(
        mails[0].subject,
        "Vous avez obtenu une nouvelle habilitation d'accès au service numérique CERES"
    );
    assert_eq!(mails[0].rcpt_tos, ["bob@centre.fr"]);
    assert!(mails[0].text.contains("Gestionnaire CENTRES") && mails[0].text.contains("31/12/2099"));

    // Outside her establishments: 403, nothing changes.
    let r = browser
        .post_form(
            &format!("{bob_page}/habilitations"),
            &[("csrf", &csrf), ("siret", OTHER), ("role", "centre_agree")],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = browser
        .post_form(
            &format!("/acces/ceres/gestion/habilitations/{carols}/retirer"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        habilitations::live(&app.state.db, &carol.id, "ceres")
            .await
            .unwrap()
            .len(),
        1
    );
    let r = browser
        .post_form(
            &format!("/acces/ceres/gestion/utilisateurs/{}/responsable", carol.id),
            &[("csrf", &csrf), ("siret", OTHER)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(
        !managers::is_manager(&app.state.db, &carol.id, "ceres", OTHER)
            .await
            .unwrap()
    );
    // A past end date, an unknown role: the page says why.
    for (role, end, says) in [
        ("centre_agree", "01/01/2001", "antérieure"),
        ("pilote", "", "Sélectionnez un rôle"),
    ] {
        let r = browser
            .post_form(
                &format!("{bob_page}/habilitations"),
                &[
                    ("csrf", &csrf),
                    ("siret", CENTRE),
                    ("role", role),
                    ("date_fin", end),
                ],
            )
            .await;
        assert_eq!(r.status(), 400);
        assert!(text(&r.text().await.unwrap()).contains(says), "{says}");
    }
    // A forged form.
    let r = browser
        .post_form(
            &format!("{bob_page}/habilitations"),
            &[
                ("csrf", "faux"),
                ("siret", CENTRE),
                ("role", "centre_agree"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);

    // Remove Bob's new habilitation: Bob is told.
    let r = browser
        .post_form(
            &format!("/acces/ceres/gestion/habilitations/{}/retirer", added.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some(bob_page.as_str()));
    assert_eq!(
        habilitations::live(&app.state.db, &bob.id, "ceres")
            .await
            .unwrap()
            .len(),
        1
    );
    let mails = sink.wait_for(2).await;
    assert_eq!(
        mails[1].subject,
        "Votre habilitation au service numérique CERES a été retirée"
    );

    // Designate Bob Responsable des accès: told, and his pages need the charte first.
    let r = browser
        .post_form(
            &format!("{bob_page}/responsable"),
            &[("csrf", &csrf), ("siret", CENTRE)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        managers::is_manager(&app.state.db, &bob.id, "ceres", CENTRE)
            .await
            .unwrap()
    );
    let mails = sink.wait_for(3).await;
    assert_eq!(
        mails[2].subject,
        "Vous êtes responsable des accès du service numérique CERES"
    );
    let bobs = log_in(&app, "bob@centre.fr").await;
    let r = bobs.get("/acces/ceres/gestion").await;
    assert!(location(&r).unwrap().starts_with("/acces/ceres/charte?"));
    let (_, html) = page(&browser, &bob_page).await;
    assert!(html.contains("Habilité par Alice Martin le "), "{html}");

    // Alice removes Bob's right (not the last one: done at once), then her own (the last
    // one: confirmation first).
    let r = browser
        .post_form(
            &format!("{bob_page}/responsable/retirer"),
            &[("csrf", &csrf), ("siret", CENTRE)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        !managers::is_manager(&app.state.db, &bob.id, "ceres", CENTRE)
            .await
            .unwrap()
    );
    let own = format!(
        "/acces/ceres/gestion/utilisateurs/{}/responsable/retirer",
        alice.id
    );
    let r = browser
        .post_form(&own, &[("csrf", &csrf), ("siret", CENTRE)])
        .await;
    assert_eq!(r.status(), 200);
    assert!(text(&r.text().await.unwrap()).contains("Dernier responsable des accès"));
    assert!(
        managers::is_manager(&app.state.db, &alice.id, "ceres", CENTRE)
            .await
            .unwrap()
    );
    let r = browser
        .post_form(
            &own,
            &[("csrf", &csrf), ("siret", CENTRE), ("confirmer", "oui")],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some("/acces/ceres"));
    assert!(
        managers::of_establishment(&app.state.db, "ceres", CENTRE)
            .await
            .unwrap()
            .is_empty()
    );
    let (status, _) = page(&browser, "/acces/ceres/gestion").await;
    assert_eq!(status, 403, "no longer a manager");
}

#[tokio::test]
async fn access_manage_needs_a_login_and_the_charte() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice@centre.fr").await;
    let r = app.browser().get("/acces/ceres/gestion").await;
    assert!(location(&r).unwrap().starts_with("/connexion"));
    let browser = log_in(&app, "alice@centre.fr").await;
    let (status, _) = page(&browser, "/acces/ceres/gestion").await;
    assert_eq!(status, 403, "not a manager");
    make_manager(&app, &alice.id, CENTRE, false).await;
    let r = browser.get("/acces/ceres/gestion").await;
    let charte = location(&r).unwrap();
    assert_eq!(
        charte,
        format!("/acces/ceres/charte?siret={CENTRE}&retour=%2Facces%2Fceres%2Fgestion")
    );
    // Once accepted, back to the page that sent there.
    let page = browser.get(&charte).await.text().await.unwrap();
    let r = browser
        .post_form(
            "/acces/ceres/charte",
            &[
                ("csrf", &csrf_of(&page)),
                ("siret", CENTRE),
                ("retour", "/acces/ceres/gestion"),
                ("accepte", "oui"),
            ],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some("/acces/ceres/gestion"));
    // A return to another site is ignored.
    let r = browser
        .post_form(
            "/acces/ceres/charte",
            &[
                ("csrf", &csrf_of(&page)),
                ("siret", CENTRE),
                ("retour", "//evil.example/"),
                ("accepte", "oui"),
            ],
        )
        .await;
    assert!(location(&r).unwrap().starts_with("/acces/ceres/mes-acces?"));
    assert_eq!(browser.get("/acces/ceres/gestion").await.status(), 200);
}

#[tokio::test]
async fn access_manage_the_requests_tab_lists_pending_requests_with_a_badge() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice@centre.fr").await;
    let bob = app.user("bob@centre.fr").await;
    let carol = app.user("carol@autre.fr").await;
    make_manager(&app, &alice.id, CENTRE, true).await;
    let mine = idp::access::requests::create(&app.state.db, &bob.id, "ceres", CENTRE, "Merci")
        .await
        .unwrap()
        .expect("a new request");
    // A second pending request for the same establishment is not stored.
    assert!(
        idp::access::requests::create(&app.state.db, &bob.id, "ceres", CENTRE, "Encore")
            .await
            .unwrap()
            .is_none()
    );
    idp::access::requests::create(&app.state.db, &carol.id, "ceres", OTHER, "")
        .await
        .unwrap();
    let browser = log_in(&app, "alice@centre.fr").await;
    let (_, users) = page(&browser, "/acces/ceres/gestion").await;
    assert!(users.contains("aria-label=\"1 en attente\""), "{users}");
    let (status, list) = page(&browser, "/acces/ceres/gestion/demandes").await;
    assert_eq!(status, 200);
    assert!(list.contains("1 demande d'accès en attente"), "{list}");
    assert!(list.contains("bob@centre.fr") && list.contains("« Merci »"));
    assert!(
        !list.contains("carol@autre.fr"),
        "another establishment's request"
    );
    assert!(list.contains(&format!("/acces/ceres/demandes/{}", mine.id)));
}

/// Hole 1 of issue 12: a habilitation reaches someone new only through an invitation or their
/// own request. Adding one to a stranger is refused like reading their page, and leaves them a
/// stranger (no habilitation, page still 403, not designable).
#[tokio::test]
async fn access_manage_a_responsable_cannot_habilitate_a_stranger_by_id() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice@centre.fr").await;
    let bob = app.user("bob@centre.fr").await;
    let eve = app.user("eve@ailleurs.fr").await;
    make_manager(&app, &alice.id, CENTRE, true).await;
    habilitate(&app, &bob.id, CENTRE, "centre_agree").await;
    let browser = log_in(&app, "alice@centre.fr").await;
    let (_, html) = page(
        &browser,
        &format!("/acces/ceres/gestion/utilisateurs/{}", bob.id),
    )
    .await;
    let csrf = csrf_of(&html);
    let eves = format!("/acces/ceres/gestion/utilisateurs/{}", eve.id);

    let r = browser
        .post_form(
            &format!("{eves}/habilitations"),
            &[("csrf", &csrf), ("siret", CENTRE), ("role", "centre_agree")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(
        text(&r.text().await.unwrap()).contains(
            "Cette personne n'a pas d'accès aux établissements dont vous êtes responsable"
        )
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM habilitations WHERE user_id = $1",
            &eve.id
        )
        .await,
        0
    );
    let (status, _) = page(&browser, &eves).await;
    assert_eq!(status, 403);
    let r = browser
        .post_form(
            &format!("{eves}/responsable"),
            &[("csrf", &csrf), ("siret", CENTRE)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(
        !managers::is_manager(&app.state.db, &eve.id, "ceres", CENTRE)
            .await
            .unwrap()
    );
}

/// Adding a habilitation is one action: when its audit event cannot be written, no habilitation
/// remains and no e-mail leaves.
#[tokio::test]
async fn access_manage_adding_a_habilitation_is_atomic() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(|c| sink.configure(c)).await;
    let alice = app.user("alice@centre.fr").await;
    let bob = app.user("bob@centre.fr").await;
    make_manager(&app, &alice.id, CENTRE, true).await;
    habilitate(&app, &bob.id, CENTRE, "centre_agree").await;
    let browser = log_in(&app, "alice@centre.fr").await;
    let bob_page = format!("/acces/ceres/gestion/utilisateurs/{}", bob.id);
    let (_, html) = page(&browser, &bob_page).await;
    let csrf = csrf_of(&html);
    app.fail_audit_of("habilitation.granted").await;
    let r = browser
        .post_form(
            &format!("{bob_page}/habilitations"),
            &[
                ("csrf", &csrf),
                ("siret", CENTRE),
                ("role", "gestionnaire_centres"),
            ],
        )
        .await;
    assert_eq!(r.status(), 500);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM habilitations WHERE user_id = $1",
            &bob.id
        )
        .await,
        1
    );
    assert!(sink.messages().is_empty());
}
