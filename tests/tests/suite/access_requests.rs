//! Access requests (guide `002` §4 and §6.1): a person without access asks the Responsables
//! des accès of their establishment, who accept or refuse from the e-mail's link. E-mails are
//! read from a real SMTP server.

use idp::access::{
    claims, dates,
    habilitations::GrantedHow,
    requests,
    services::{self, DocumentKind},
};
use idp_tests::access::{CENTRE, OTHER};
use idp_tests::{
    Browser, ReceivedMail, SmtpSink, TestApp, assert_shows, csrf_of, hidden_field, location, text,
};

const CLOSED: &str = "44200038500009";
const REQUESTER: &str = "bob@centre.fr";
const MANAGER: &str = "jeanne@centre.fr";
const MANAGER2: &str = "paul@centre.fr";
const STRANGER: &str = "zoe@autre.fr";

struct World {
    sink: SmtpSink,
    app: TestApp,
    requester: String,
    manager: String,
    manager2: String,
    stranger: String,
}

/// A provider mailing to a sink; CENTRE with two managers, OTHER with one (the stranger),
/// CLOSED closed; the requester works at CENTRE.
async fn world() -> World {
    world_mailing(true).await
}

/// [`world`], its e-mails going to the sink, or (`reachable` false) to a port nobody listens on.
async fn world_mailing(reachable: bool) -> World {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(|config| {
        sink.configure(config);
        if !reachable {
            config.mail.smtp_port = idp_tests::free_port();
        }
    })
    .await;
    app.establishment(CENTRE, "CENTRE DE FORMATION DU LAC", true)
        .await;
    app.establishment(OTHER, "AUTRE CENTRE", true).await;
    app.establishment(CLOSED, "CENTRE FERME", false).await;
    let requester = app.person(REQUESTER, "Bob", "Durand", CENTRE).await;
    let manager = app.person(MANAGER, "Jeanne", "Martin", CENTRE).await;
    let manager2 = app.person(MANAGER2, "Paul", "Leroy", CENTRE).await;
    let stranger = app.person(STRANGER, "Zoé", "Petit", OTHER).await;
    app.make_manager(&manager, CENTRE).await;
    app.make_manager(&manager2, CENTRE).await;
    app.make_manager(&stranger, OTHER).await;
    World {
        sink,
        app,
        requester,
        manager,
        manager2,
        stranger,
    }
}

/// Submits the request form for `siret`.
async fn ask(browser: &Browser, siret: &str, message: &str) -> reqwest::Response {
    let fields = [("authreq", ""), ("siret", siret), ("message", message)];
    let form = "/acces/ceres/demande";
    browser.post_to(form, &fields).await
}

/// The link of a manager's e-mail.
fn link_of(mail: &ReceivedMail) -> String {
    mail.text
        .lines()
        .find(|l| l.contains("/acces/ceres/demandes/"))
        .expect("link in the e-mail")
        .trim()
        .to_owned()
}

/// The request's page as its manager sees it; asserts 200.
async fn manage_page(browser: &Browser, path: &str) -> String {
    let r = browser.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    text(&r.text().await.unwrap())
}

#[tokio::test]
async fn access_request_reaches_every_manager_and_can_be_sent_again_after_30_days() {
    let w = world().await;
    let app = &w.app;
    let browser = app.log_in(REQUESTER).await;

    // The form is pre-filled with the person's own establishment; the register is searchable.
    let page = browser.page("/acces/ceres/demande").await.1;
    assert_shows(
        &page,
        "Vous souhaitez demander un accès au service numérique CERES ?",
    );
    assert_shows(&page, "1 résultats affichés sur 1");
    assert!(
        page.contains(&format!("value=\"{CENTRE}\" checked")),
        "{page}"
    );
    let found = browser.page("/acces/ceres/demande?recherche=autre").await.1;
    assert_shows(&found, "AUTRE CENTRE");
    assert!(found.contains(&format!("value=\"{OTHER}\"")), "{found}");

    // A too long message: nothing stored.
    let r = ask(&browser, CENTRE, &"x".repeat(1001)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.access_requests().await.len(), 0);

    let r = ask(&browser, CENTRE, "Je suis formateur depuis lundi.").await;
    assert_eq!(r.status(), 303);
    let status_path = location(&r).unwrap();
    assert_eq!(
        status_path,
        format!("/acces/ceres/demande/envoyee?siret={CENTRE}")
    );

    // Both managers are e-mailed, with the link to the request.
    let mails = w.sink.wait_for(2).await;
    let mut to: Vec<String> = mails.iter().map(|m| m.rcpt_tos.join(",")).collect();
    to.sort();
    assert_eq!(to, vec![MANAGER.to_owned(), MANAGER2.to_owned()]);
    let id = app.only_access_request().await.id;
    for m in &mails {
        assert_eq!(
            m.subject,
            "Nouvelle demande d'accès au service numérique CERES"
        );
        assert!(
            m.text.contains("Monsieur Bob Durand (bob@centre.fr)"),
            "{}",
            m.text
        );
        assert!(
            m.text
                .contains("CENTRE DE FORMATION DU LAC (SIRET 13002526500013)")
        );
        assert!(m.text.contains("Je suis formateur depuis lundi."));
        assert_eq!(link_of(m), app.url(&format!("/acces/ceres/demandes/{id}")));
        assert!(m.html.contains(&format!("/acces/ceres/demandes/{id}")));
    }

    // The status page: when, and « Relancer ma demande » not before 30 days.
    let sent_at = app.only_access_request().await.sent_at;
    let page = browser.page(&status_path).await.1;
    assert!(
        page.contains(&format!(
            "Un e-mail a été envoyé à votre Responsable des accès, le {} :",
            dates::french_date_time(sent_at)
        )),
        "{page}"
    );
    assert!(page.contains("Dès que celui-ci aura validé votre accès, vous recevrez un e-mail"));
    assert!(page.contains("Retourner à l'accueil"));
    assert!(page.contains("disabled aria-describedby=\"relance-hint\">Relancer ma demande"));
    assert!(page.contains("Vous pourrez relancer la demande dans 30 jours."));

    // The server refuses an early resend; asking again shows the same request.
    let csrf = csrf_of(&page);
    let form = [("csrf", csrf.as_str()), ("siret", CENTRE)];
    let r = browser
        .post_form("/acces/ceres/demande/relance", &form)
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        text(&r.text().await.unwrap()).contains("Vous pourrez relancer la demande dans 30 jours.")
    );
    let r = ask(&browser, CENTRE, "Encore moi").await;
    assert_eq!(location(&r).unwrap(), status_path);
    assert_eq!(w.sink.messages().len(), 2);
    assert_eq!(app.access_requests().await.len(), 1);

    // 30 days later (29 days and a bit: still 1 day to wait), on the provider's clock.
    app.state
        .clock
        .advance(std::time::Duration::from_secs(29 * 86_400 + 60));
    let page = browser.page(&status_path).await.1;
    assert_shows(&page, "Vous pourrez relancer la demande dans 1 jour.");
    app.state
        .clock
        .advance(std::time::Duration::from_secs(86_400));
    let page = browser.page(&status_path).await.1;
    assert!(!page.contains("disabled"), "{page}");
    assert!(!page.contains("Vous pourrez relancer"));
    let csrf = csrf_of(&page);
    let form = [("csrf", csrf.as_str()), ("siret", CENTRE)];
    let r = browser
        .post_form("/acces/ceres/demande/relance", &form)
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r).unwrap(), status_path);
    let mails = w.sink.wait_for(4).await;
    assert!(
        mails[2..]
            .iter()
            .all(|m| m.subject.contains("Nouvelle demande"))
    );
    let page = browser.page(&status_path).await.1;
    assert!(page.contains("Vous pourrez relancer la demande dans 30 jours."));

    for action in ["access_request.created", "access_request.resent"] {
        assert_eq!(app.audit_count(action).await, 1, "{action}");
    }
    // The managers' lists and badge.
    let list = idp::access::requests::pending_for_manager(&app.state.db, &w.manager, "ceres")
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].user_id, w.requester);
    for (who, n) in [(&w.manager, 1), (&w.manager2, 1), (&w.stranger, 0)] {
        assert_eq!(
            idp::access::requests::count_pending_for_manager(&app.state.db, who, "ceres")
                .await
                .unwrap(),
            n
        );
    }
}

#[tokio::test]
async fn access_request_without_manager_explains_the_activation_code_and_stores_nothing() {
    let w = world().await;
    let app = &w.app;
    app.withdraw_manager(&w.stranger, OTHER).await;
    let browser = app.log_in(REQUESTER).await;
    let r = ask(&browser, OTHER, "").await;
    assert_eq!(r.status(), 200);
    let page = text(&r.text().await.unwrap());
    assert_shows(
        &page,
        "n'a pas encore de responsable des accès pour le service numérique CERES",
    );
    assert!(page.contains("DREETS ou DDETS"));
    assert!(page.contains("code d'activation"));
    assert!(page.contains("courrier postal"));
    assert_eq!(app.access_requests().await.len(), 0);
    assert!(w.sink.messages().is_empty());

    // A closed establishment: refused, nothing stored.
    let r = ask(&browser, CLOSED, "").await;
    assert_eq!(r.status(), 400);
    assert!(text(&r.text().await.unwrap()).contains("Cet établissement est fermé"));
    // Not a SIRET: refused.
    let r = ask(&browser, "123", "").await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.access_requests().await.len(), 0);
}

#[tokio::test]
async fn access_request_accepted_from_the_email_link_is_handled_once() {
    let w = world().await;
    let app = &w.app;
    let client = app
        .client_with("ceres-app", |reg| reg.scopes.push("habilitations".into()))
        .await;
    services::link_client(&app.state.db, "ceres", &client.id, false)
        .await
        .unwrap();
    let requester = app.log_in(REQUESTER).await;
    assert_eq!(ask(&requester, CENTRE, "Merci").await.status(), 303);
    let mails = w.sink.wait_for(2).await;
    let link = link_of(mails.iter().find(|m| m.rcpt_tos == [MANAGER]).unwrap());
    let path = link.strip_prefix(&app.base).unwrap().to_owned();

    // The manager, not logged in, goes through the login and comes back.
    let manager = app.browser();
    let r = manager.get(&link).await;
    let login = location(&r).unwrap();
    assert!(login.starts_with("/connexion?retour="), "{login}");
    let r = manager.log_in_back(&login, MANAGER).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r).unwrap(), path);
    let page = manage_page(&manager, &path).await;
    for expected in [
        "Monsieur Durand Bob",
        "bob@centre.fr",
        "Formateur",
        "Demande d'accès pour : <strong>SIRET 13002526500013</strong>",
        "« Merci »",
        "Nom de l'établissement",
        "Rôle *",
        "Laissez le champ vide pour une durée indéterminée",
        "Ajouter l'habilitation",
        "Refuser la demande",
    ] {
        assert!(page.contains(expected), "{expected}: {page}");
    }

    // Bad input: a message, still pending.
    let r = manager
        .post_to(&path, &[("action", "accepter"), ("role", "pilote")])
        .await;
    assert_eq!(r.status(), 400);
    let r = manager
        .post_to(
            &path,
            &[
                ("action", "accepter"),
                ("role", "centre_agree"),
                ("date_fin", "01/01/2001"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    let id = app.only_access_request().await.id;
    assert_eq!(app.request_status(&id).await, "pending");

    let r = manager
        .post_to(
            &path,
            &[
                ("action", "accepter"),
                ("role", "centre_agree"),
                ("date_fin", "31/12/2099"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r).unwrap(), path);
    assert_eq!(app.request_status(&id).await, "accepted");
    // The deciding manager is told what they did, not that it was already handled.
    let page = manage_page(&manager, &path).await;
    assert_shows(&page, "La demande de Bob Durand a été acceptée le ");
    assert_shows(
        &page,
        " : Centre agréé pour CENTRE DE FORMATION DU LAC (SIRET 13002526500013), jusqu'à fin 12/2099.",
    );
    assert!(!page.contains("déjà été traitée"), "{page}");

    // The requester is told, and the habilitation is in the claims.
    let mails = w.sink.wait_for(3).await;
    let mail = &mails[2];
    assert_eq!(mail.rcpt_tos, [REQUESTER]);
    assert_eq!(
        mail.subject,
        "Votre demande d'accès au service numérique CERES a été acceptée"
    );
    assert!(mail.text.contains("« Centre agréé »"), "{}", mail.text);
    assert!(mail.text.contains("CENTRE DE FORMATION DU LAC"));
    assert!(mail.text.contains("jusqu'à fin 12/2099"));
    let requester_account = idp::accounts::store::user_by_id(&app.state.db, &w.requester)
        .await
        .unwrap()
        .unwrap();
    let link = services::of_client(&app.state.db, &client.id)
        .await
        .unwrap();
    let claims = claims::for_client(&app.state.db, &requester_account, link.as_ref(), None)
        .await
        .unwrap();
    let list = claims["habilitations"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["siret"], CENTRE);
    assert_eq!(list[0]["role"], "centre_agree");
    assert_eq!(list[0]["expires_at"], "2099-12-31");
    let h = &app.live_habilitations(&w.requester).await[0];
    assert_eq!(h.granted_how, GrantedHow::Request);
    assert_eq!(h.granted_by.as_deref(), Some(w.manager.as_str()));
    assert_eq!(
        h.origin(),
        format!(
            "Habilité par Jeanne Martin le {}",
            dates::french_date(h.granted_at)
        )
    );

    // Handled once: the other manager sees who did it, and cannot refuse it now.
    let other = app.log_in(MANAGER2).await;
    let page = manage_page(&other, &path).await;
    assert_shows(&page, "Cette demande a déjà été traitée.");
    assert_shows(&page, "Demande acceptée par Jeanne Martin le ");
    assert!(!page.contains("Ajouter l'habilitation"));
    let csrf = other.csrf_at("/acces/ceres/demande").await;
    let r = other
        .post_form(
            &path,
            &[("csrf", &csrf), ("action", "refuser"), ("motif", "Non")],
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(app.request_status(&id).await, "accepted");
    assert_eq!(w.sink.messages().len(), 3);
    // The requester's status page now leads back to the service.
    let r = requester
        .get(&format!("/acces/ceres/demande/envoyee?siret={CENTRE}"))
        .await;
    assert_eq!(location(&r).unwrap(), "/acces/ceres");
    let n = app
        .audit_count_by("access_request.accepted", &w.manager)
        .await;
    assert_eq!(n, 1);
    assert_eq!(
        idp::access::requests::count_pending_for_manager(&app.state.db, &w.manager, "ceres")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn access_request_refused_tells_the_requester_why() {
    let w = world().await;
    let app = &w.app;
    let requester = app.log_in(REQUESTER).await;
    assert_eq!(ask(&requester, CENTRE, "").await.status(), 303);
    w.sink.wait_for(2).await;
    let id = app.only_access_request().await.id;
    let path = format!("/acces/ceres/demandes/{id}");
    let manager = app.log_in(MANAGER2).await;
    let r = manager
        .post_to(
            &path,
            &[
                ("action", "refuser"),
                ("motif", "Vous ne faites pas partie de l'établissement."),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.request_status(&id).await, "refused");
    let mails = w.sink.wait_for(3).await;
    let mail = &mails[2];
    assert_eq!(mail.rcpt_tos, [REQUESTER]);
    assert_eq!(
        mail.subject,
        "Votre demande d'accès au service numérique CERES a été refusée"
    );
    assert!(
        mail.text
            .contains("Motif : « Vous ne faites pas partie de l'établissement. »"),
        "{}",
        mail.text
    );
    assert!(app.live_habilitations(&w.requester).await.is_empty());
    let page = manage_page(&manager, &path).await;
    assert_shows(&page, "La demande de Bob Durand a été refusée le ");
    assert!(!page.contains("déjà été traitée"), "{page}");
    // Accepting after the refusal: refused, nothing granted.
    let r = manager
        .post_form(
            &path,
            &[
                ("csrf", &manager.csrf_at("/acces/ceres/demande").await),
                ("action", "accepter"),
                ("role", "centre_agree"),
            ],
        )
        .await;
    assert_eq!(r.status(), 409);
    assert!(app.live_habilitations(&w.requester).await.is_empty());
    assert_eq!(app.audit_count("access_request.refused").await, 1);
}

#[tokio::test]
async fn access_request_outsiders_get_403_and_change_nothing() {
    let w = world().await;
    let app = &w.app;
    let requester = app.log_in(REQUESTER).await;
    assert_eq!(ask(&requester, CENTRE, "").await.status(), 303);
    w.sink.wait_for(2).await;
    let id = app.only_access_request().await.id;
    let path = format!("/acces/ceres/demandes/{id}");

    // The manager of another establishment, and the requester themselves.
    for (email, who) in [(STRANGER, &w.stranger), (REQUESTER, &w.requester)] {
        let browser = app.log_in(email).await;
        let r = browser.get(&path).await;
        assert_eq!(r.status(), 403, "{email}");
        // A valid CSRF token of this browser, from another page.
        let page = browser
            .get("/acces/ceres/demande")
            .await
            .text()
            .await
            .unwrap();
        for action in ["accepter", "refuser"] {
            let r = browser
                .post_form(
                    &path,
                    &[
                        ("csrf", &csrf_of(&page)),
                        ("action", action),
                        ("role", "centre_agree"),
                    ],
                )
                .await;
            assert_eq!(r.status(), 403, "{email} {action}");
        }
        assert_eq!(
            idp::access::requests::pending_for_manager(&app.state.db, who, "ceres")
                .await
                .unwrap()
                .len(),
            0
        );
    }
    // The right manager with a forged CSRF token.
    let manager = app.log_in(MANAGER).await;
    manage_page(&manager, &path).await;
    let r = manager
        .post_form(
            &path,
            &[
                ("csrf", "forged"),
                ("action", "accepter"),
                ("role", "centre_agree"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    // Another service's URL for this request: not found.
    app.service("vae", "VAE").await;
    assert_eq!(
        manager
            .get(&format!("/acces/vae/demandes/{id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        manager.get("/acces/ceres/demandes/inconnue").await.status(),
        404
    );

    assert_eq!(app.request_status(&id).await, "pending");
    assert!(app.live_habilitations(&w.requester).await.is_empty());
    assert_eq!(w.sink.messages().len(), 2);

    // A manager who has not accepted the current charte goes to it first.
    let published = services::publish_document(
        &app.state.db,
        "ceres",
        DocumentKind::Charte,
        "Charte du responsable des accès",
        "Une nouvelle version.",
    )
    .await
    .unwrap();
    let r = manager.get(&path).await;
    // The charte, coming back to the request once accepted.
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("siret", CENTRE)
        .append_pair("retour", &path)
        .finish();
    assert_eq!(
        location(&r).unwrap(),
        format!("/acces/ceres/charte?{query}")
    );
    services::accept_document(
        &app.state.db,
        &w.manager,
        "ceres",
        DocumentKind::Charte,
        published,
        CENTRE,
    )
    .await
    .unwrap();

    // The establishment closed since the request: no new habilitation.
    app.establishment(CENTRE, "CENTRE DE FORMATION DU LAC", false)
        .await;
    let r = manager
        .post_to(&path, &[("action", "accepter"), ("role", "centre_agree")])
        .await;
    assert_eq!(r.status(), 400);
    assert!(text(&r.text().await.unwrap()).contains("Cet établissement est fermé"));
    assert_eq!(app.request_status(&id).await, "pending");
    assert!(app.live_habilitations(&w.requester).await.is_empty());
}

#[tokio::test]
async fn access_request_pages_send_the_logged_out_to_the_login() {
    let w = world().await;
    let anonymous = w.app.browser();
    for path in [
        "/acces/ceres/demande".to_owned(),
        format!("/acces/ceres/demande/envoyee?siret={CENTRE}"),
        "/acces/ceres/demandes/abc".to_owned(),
    ] {
        let r = anonymous.get(&path).await;
        assert_eq!(r.status(), 303, "{path}");
        let to = location(&r).unwrap();
        assert!(to.starts_with("/connexion?retour="), "{to}");
    }
    assert_eq!(anonymous.get("/acces/inconnu/demande").await.status(), 404);
}

#[tokio::test]
async fn access_request_decided_at_once_on_two_nodes_is_handled_once() {
    let w = world().await;
    let app = &w.app;
    let node2 = app.another_node().await;
    let requester = app.log_in(REQUESTER).await;
    assert_eq!(ask(&requester, CENTRE, "").await.status(), 303);
    w.sink.wait_for(2).await;
    let id = app.only_access_request().await.id;
    let path = format!("/acces/ceres/demandes/{id}");
    let first = app.log_in(MANAGER).await;
    let second = node2.log_in(MANAGER2).await;
    let (csrf1, csrf2) = (
        csrf_of(&manage_page(&first, &path).await),
        csrf_of(&manage_page(&second, &path).await),
    );
    let accept = [
        ("csrf", csrf1.as_str()),
        ("action", "accepter"),
        ("role", "gestionnaire_centres"),
    ];
    let refuse = [("csrf", csrf2.as_str()), ("action", "refuser")];
    let (a, b) = tokio::join!(
        first.post_form(&path, &accept),
        second.post_form(&path, &refuse)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 409]);
    let status = app.request_status(&id).await;
    let live = app.live_habilitations(&w.requester).await;
    // The habilitation exists exactly when the acceptance won.
    assert_eq!(live.len(), usize::from(status == "accepted"), "{status}");
    // One e-mail to the requester, whichever won.
    let mails = w.sink.wait_for(3).await;
    assert_eq!(w.sink.messages().len(), 3);
    assert_eq!(mails[2].rcpt_tos, [REQUESTER]);
}

#[tokio::test]
async fn access_request_tells_the_requester_when_no_manager_could_be_mailed() {
    let w = world_mailing(false).await;
    let app = &w.app;
    let browser = app.log_in(REQUESTER).await;
    let r = ask(&browser, CENTRE, "").await;
    assert_eq!(r.status(), 303);
    let page = browser.page(&location(&r).unwrap()).await.1;
    assert_shows(
        &page,
        "aucun e-mail n'a pu être envoyé à votre responsable des accès",
    );
    assert!(!page.contains("Un e-mail a été envoyé"));
    // Sending again is allowed at once.
    assert!(!page.contains("disabled"), "{page}");
    assert_eq!(
        idp::access::requests::count_pending_for_manager(&app.state.db, &w.manager, "ceres")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn access_request_creation_is_limited_per_person() {
    let w = world().await;
    let app = &w.app;
    let browser = app.log_in(REQUESTER).await;
    for _ in 0..10 {
        assert_eq!(ask(&browser, CENTRE, "").await.status(), 303);
        // Handled meanwhile: the next one is a new request.
        app.refuse_all_access_requests().await;
    }
    let r = ask(&browser, CENTRE, "").await;
    assert_eq!(r.status(), 429);
    assert_eq!(app.access_requests().await.len(), 10);
    assert_eq!(
        app.access_requests()
            .await
            .iter()
            .filter(|r| r.status == requests::Status::Pending)
            .count(),
        0
    );
}

/// « Liste des habilitations » (guide 002 §6.1, 9–13): the manager chooses the establishment
/// among theirs, adds several habilitations to the list (nothing is granted yet), removes one,
/// and « Terminer » grants the list in one action, with one e-mail naming each.
#[tokio::test]
async fn access_request_accepted_with_a_list_of_habilitations() {
    let w = world().await;
    let app = &w.app;
    app.make_manager(&w.manager, OTHER).await;
    let requester = app.log_in(REQUESTER).await;
    assert_eq!(ask(&requester, CENTRE, "").await.status(), 303);
    w.sink.wait_for(2).await;
    let id = app.only_access_request().await.id;
    let path = format!("/acces/ceres/demandes/{id}");
    let manager = app.log_in(MANAGER).await;
    let (status, html) = manager.page(&path).await;
    assert_eq!(status, 200);
    // Both of the manager's establishments, the request's first and chosen.
    assert!(
        html.contains(&format!("<option value=\"{CENTRE}\" selected>")),
        "{html}"
    );
    assert!(
        html.contains(&format!("<option value=\"{OTHER}\">")),
        "{html}"
    );
    assert_shows(&text(&html), "Liste des habilitations");

    let liste = |html: &str| {
        hidden_field(html, "liste")
            .unwrap()
            .replace("&#34;", "\"")
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
    };
    let press = async |fields: &[(&str, &str)]| {
        let r = manager.post_to(&path, fields).await;
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    };
    // « Ajouter l'habilitation » three times; a role of another service is refused in the form.
    let (status, html) =
        press(&[("action", "ajouter"), ("siret", CENTRE), ("role", "pilote")]).await;
    assert_eq!(status, 400);
    assert_shows(&text(&html), "Sélectionnez le rôle du demandeur.");
    let (status, html) = press(&[
        ("action", "ajouter"),
        ("siret", CENTRE),
        ("role", "centre_agree"),
        ("date_fin", "06/2099"),
    ])
    .await;
    assert_eq!(status, 200, "{html}");
    let (_, html) = press(&[
        ("action", "ajouter"),
        ("liste", &liste(&html)),
        ("siret", OTHER),
        ("role", "centre_agree"),
    ])
    .await;
    let (_, html) = press(&[
        ("action", "ajouter"),
        ("liste", &liste(&html)),
        ("siret", CENTRE),
        ("role", "gestionnaire_centres"),
    ])
    .await;
    let page = text(&html);
    assert_shows(&page, "CENTRE DE FORMATION DU LAC (SIRET 13002526500013)");
    assert_shows(&page, "Fin : 06/2099");
    assert_shows(&page, "AUTRE CENTRE");
    assert_shows(&page, "Gestionnaire CENTRES");
    // Nothing granted before « Terminer ».
    assert!(app.live_habilitations(&w.requester).await.is_empty());
    assert_eq!(app.request_status(&id).await, "pending");
    // « Retirer » the second line.
    let (status, html) = press(&[("action", "retirer:1"), ("liste", &liste(&html))]).await;
    assert_eq!(status, 200);
    assert!(!text(&html).contains("AUTRE CENTRE (SIRET"), "{html}");
    // A tampered list is refused whole.
    let (status, _) = press(&[("action", "terminer"), ("liste", "[{\"siret\":\"1\"}]")]).await;
    assert_eq!(status, 400);
    assert_eq!(app.request_status(&id).await, "pending");

    let r = manager
        .post_to(&path, &[("action", "terminer"), ("liste", &liste(&html))])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.request_status(&id).await, "accepted");
    let mut granted: Vec<(String, String, Option<String>)> = app
        .live_habilitations(&w.requester)
        .await
        .into_iter()
        .map(|h| (h.siret, h.role, h.end_date.map(|d| d.iso())))
        .collect();
    granted.sort();
    assert_eq!(
        granted,
        [
            (
                CENTRE.to_owned(),
                "centre_agree".to_owned(),
                Some("2099-06-30".to_owned())
            ),
            (CENTRE.to_owned(), "gestionnaire_centres".to_owned(), None),
        ]
    );
    let page = manage_page(&manager, &path).await;
    assert_shows(
        &page,
        "Centre agréé pour CENTRE DE FORMATION DU LAC (SIRET 13002526500013), jusqu'à fin 06/2099 ; Gestionnaire CENTRES pour",
    );
    // One e-mail naming both.
    let mails = w.sink.wait_for(3).await;
    let mail = &mails[2];
    assert_eq!(mail.rcpt_tos, [REQUESTER]);
    assert!(
        mail.text.contains("avec les habilitations suivantes"),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("« Centre agréé » pour l'établissement CENTRE DE FORMATION DU LAC (SIRET 13002526500013), jusqu'à fin 06/2099"), "{}", mail.text);
    assert!(
        mail.text
            .contains("« Gestionnaire CENTRES » pour l'établissement"),
        "{}",
        mail.text
    );
    assert_eq!(
        app.audit_count_by("habilitation.granted", &w.manager).await,
        2
    );
    assert_eq!(
        app.audit_count_by("access_request.accepted", &w.manager)
            .await,
        1
    );
}

/// Deciding a request is one action: when its event cannot be written, the request stays
/// pending, no habilitation is granted and the requester gets no e-mail.
#[tokio::test]
async fn access_request_accepted_whose_audit_fails_stays_pending_and_grants_nothing() {
    let w = world().await;
    let app = &w.app;
    let requester = app.log_in(REQUESTER).await;
    assert_eq!(ask(&requester, CENTRE, "Merci").await.status(), 303);
    w.sink.wait_for(2).await;
    let id = app.only_access_request().await.id;
    let path = format!("/acces/ceres/demandes/{id}");
    let manager = app.log_in(MANAGER).await;
    app.fail_audit_of("access_request.accepted").await;

    let r = manager
        .post_to(&path, &[("action", "accepter"), ("role", "centre_agree")])
        .await;
    assert_eq!(r.status(), 500);
    assert_eq!(app.request_status(&id).await, "pending");
    assert_eq!(app.habilitation_count(&w.requester).await, 0);
    assert_eq!(w.sink.messages().len(), 2, "only the managers' two e-mails");
}

/// The request and its `access_request.created` event are one transaction: when the event
/// cannot be written, no request remains and no manager is e-mailed.
#[tokio::test]
async fn access_request_whose_audit_fails_stores_nothing_and_mails_nobody() {
    let w = world().await;
    let app = &w.app;
    let requester = app.log_in(REQUESTER).await;
    app.fail_audit_of("access_request.created").await;

    let r = ask(&requester, CENTRE, "Bonjour").await;
    assert_eq!(r.status(), 500);
    assert_eq!(app.access_requests().await.len(), 0);
    assert!(
        w.sink.messages().is_empty(),
        "no e-mail for a request that was rolled back"
    );
}

/// « Relancer ma demande » and its `access_request.resent` event are one transaction: when the
/// event cannot be written, the last e-mail's date stays and nobody is e-mailed again.
#[tokio::test]
async fn access_request_relaunch_whose_audit_fails_changes_nothing() {
    let w = world().await;
    let app = &w.app;
    let requester = app.log_in(REQUESTER).await;
    assert_eq!(ask(&requester, CENTRE, "Bonjour").await.status(), 303);
    assert_eq!(w.sink.wait_for(2).await.len(), 2);
    let before = app.only_access_request().await.sent_at;
    app.state
        .clock
        .advance(std::time::Duration::from_secs(31 * 86_400));
    app.fail_audit_of("access_request.resent").await;

    let status_page = format!("/acces/ceres/demande/envoyee?siret={CENTRE}");
    let r = requester
        .post_from(
            &status_page,
            "/acces/ceres/demande/relance",
            &[("siret", CENTRE)],
        )
        .await;
    assert_eq!(r.status(), 500);
    assert_eq!(app.only_access_request().await.sent_at, before);
    assert_eq!(
        w.sink.messages().len(),
        2,
        "the managers are not e-mailed again"
    );
}

/// The no-access page recalls a pending request (when it was sent, for which establishment)
/// and offers « Relancer ma demande » once the 30 days have passed; the relaunch e-mails the
/// managers again and is audited.
#[tokio::test]
async fn access_request_pending_shows_on_the_no_access_page_with_relancer() {
    let w = world().await;
    let app = &w.app;
    let browser = app.log_in(REQUESTER).await;
    let page = browser.page("/acces/ceres").await.1;
    assert!(!page.contains("Relancer ma demande"), "no request yet");
    assert_eq!(ask(&browser, CENTRE, "").await.status(), 303);
    w.sink.wait_for(2).await;
    let sent_at = app.only_access_request().await.sent_at;
    let page = browser.page("/acces/ceres").await.1;
    assert_shows(
        &page,
        &format!(
            "Un e-mail a été envoyé à votre Responsable des accès, le {} :",
            dates::french_date_time(sent_at)
        ),
    );
    assert_shows(
        &page,
        "Demande d'accès pour CENTRE DE FORMATION DU LAC (SIRET 13002526500013).",
    );
    assert_shows(
        &page,
        "disabled aria-describedby=\"relance-hint-1\">Relancer ma demande",
    );
    assert_shows(&page, "Vous pourrez relancer la demande dans 30 jours.");
    // The code form is still there for a person who received one.
    assert_shows(&page, "Code d'activation *");

    app.state
        .clock
        .advance(std::time::Duration::from_secs(30 * 86_400));
    let page = browser.page("/acces/ceres").await.1;
    assert!(!page.contains("Vous pourrez relancer"), "{page}");
    assert!(!page.contains("disabled"), "{page}");
    let csrf = csrf_of(&page);
    let form = [("csrf", csrf.as_str()), ("siret", CENTRE)];
    let r = browser
        .post_form("/acces/ceres/demande/relance", &form)
        .await;
    assert_eq!(r.status(), 303);
    w.sink.wait_for(4).await;
    assert_eq!(app.audit_count("access_request.resent").await, 1);
    let page = browser.page("/acces/ceres").await.1;
    assert_shows(&page, "Vous pourrez relancer la demande dans 30 jours.");

    // Once accepted, the page sends the person on: nothing pending is shown any more.
    let id = app.only_access_request().await.id;
    let manager = app.log_in(MANAGER).await;
    let path = format!("/acces/ceres/demandes/{id}");
    let fields = [("action", "accepter"), ("role", "centre_agree")];
    assert_eq!(manager.post_to(&path, &fields).await.status(), 303);
    let r = browser.get("/acces/ceres").await;
    assert_ne!(r.status(), 200, "a habilitated person is sent on");
}

/// The « Demandes d'accès » tab: ✓ and ✗ on each row, named for screen readers; ✗ leads to
/// « Motif du refus (facultatif) »; the tab's badge counts in words too.
#[tokio::test]
async fn access_request_rows_offer_accept_and_refuse_named_for_screen_readers() {
    let w = world().await;
    let app = &w.app;
    let requester = app.log_in(REQUESTER).await;
    assert_eq!(ask(&requester, CENTRE, "").await.status(), 303);
    let id = app.only_access_request().await.id;
    let manager = app.log_in(MANAGER).await;
    let (status, list) = manager.page("/acces/ceres/gestion/demandes").await;
    assert_eq!(status, 200);
    let path = format!("/acces/ceres/demandes/{id}");
    assert_shows(
        &list,
        &format!(
            "href=\"{path}\">Accepter<span class=\"fr-sr-only\"> la demande de Bob Durand</span>"
        ),
    );
    assert_shows(
        &list,
        &format!(
            "href=\"{path}#refus\">Refuser<span class=\"fr-sr-only\"> la demande de Bob Durand</span>"
        ),
    );
    assert_shows(&list, "<span class=\"fr-sr-only\"> (1 en attente)</span>");
    let page = manage_page(&manager, &path).await;
    assert_shows(&page, "id=\"refus\"");
    assert_shows(&page, "Motif du refus (facultatif)");
    let fields = [("action", "refuser"), ("motif", "")];
    assert_eq!(manager.post_to(&path, &fields).await.status(), 303);
    let mails = w.sink.wait_for(3).await;
    assert!(!mails[2].text.contains("Motif :"), "no reason, no line");
    let (_, list) = manager.page("/acces/ceres/gestion/demandes").await;
    assert_shows(&list, "Aucune demande d'accès n'attend votre décision.");
    assert!(!list.contains("en attente)"), "no badge once handled");
}

/// `GET /api/v1/notifications` with `token` (none: no header): status, JSON body and the
/// `WWW-Authenticate` challenge.
async fn notifications(app: &TestApp, token: Option<&str>) -> (u16, serde_json::Value, String) {
    let mut request = app.http().get(app.url("/api/v1/notifications"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let r = request.send().await.expect("GET /api/v1/notifications");
    let challenge = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, body) = idp_tests::json(r).await;
    (status, body, challenge)
}

/// The relying party's red pastille (guide 002 §6.1): `GET /api/v1/notifications` counts, for
/// the token's service, the requests waiting in the establishments the person manages (the
/// « Demandes d'accès » tab's count), the charte not yet accepted included, and gives the
/// provider's pages; bad tokens get the RFC 6750 answers of the rest of the API.
#[tokio::test]
async fn access_request_notifications_api_counts_the_persons_own_pending_requests() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    app.establishment(CENTRE, "CENTRE DE FORMATION DU LAC", true)
        .await;
    app.establishment(OTHER, "AUTRE CENTRE", true).await;
    let requester = app.person(REQUESTER, "Bob", "Durand", CENTRE).await;
    let manager = app.person(MANAGER, "Jeanne", "Martin", CENTRE).await;
    let colleague = app.person(MANAGER2, "Paul", "Leroy", CENTRE).await;
    let stranger = app.person(STRANGER, "Zoé", "Petit", OTHER).await;
    app.make_manager(&manager, CENTRE).await;
    // Responsable des accès of OTHER by a code, the charte not accepted yet.
    app.grant_manager(&stranger, OTHER).await;
    for (who, siret) in [
        (&requester, CENTRE),
        (&colleague, CENTRE),
        (&requester, OTHER),
    ] {
        requests::create(db, who, "ceres", siret, "")
            .await
            .unwrap()
            .expect("a new request");
    }
    let client = app.service_client("ceres-app", "ceres", false).await;

    let token = app.user_token(&client, MANAGER).await;
    let (status, body, _) = notifications(&app, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        serde_json::json!({
            "service": "ceres",
            "access_manager": true,
            "pending_access_requests": 2,
            "requests_url": app.url("/acces/ceres/gestion/demandes"),
            "account_url": app.url("/compte"),
        }),
        "CENTRE's two requests, not OTHER's"
    );
    assert_eq!(
        body["pending_access_requests"],
        requests::count_pending_for_manager(db, &manager, "ceres")
            .await
            .unwrap(),
        "the badge's count"
    );
    let (_, body, _) = notifications(&app, Some(&app.user_token(&client, STRANGER).await)).await;
    assert_eq!(body["access_manager"], true);
    assert_eq!(body["pending_access_requests"], 1, "OTHER's, charte aside");
    let (status, body, _) =
        notifications(&app, Some(&app.user_token(&client, REQUESTER).await)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["access_manager"], false);
    assert_eq!(body["pending_access_requests"], 0);
    assert_eq!(body["requests_url"], serde_json::Value::Null);
    // Decided requests no longer count.
    app.refuse_all_access_requests().await;
    let (_, body, _) = notifications(&app, Some(&token)).await;
    assert_eq!(body["pending_access_requests"], 0);

    // RFC 6750: no token, a forged one, a client's own token, a token without the scope.
    let (status, body, challenge) = notifications(&app, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(challenge, "Bearer realm=\"efp-connect\"");
    let (status, body, challenge) = notifications(&app, Some("pas-un-jeton")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(challenge, "Bearer error=\"invalid_token\"");
    assert!(body["error_description"].is_string());
    let back_office = app.back_office_token("ceres-back", "codes:issue").await;
    let (status, body, _) = notifications(&app, Some(&back_office)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("user_token_required"))
    );
    let url = idp_tests::auth_url_for(&app, &client, "openid", &[]);
    let plain = app.browser().tokens(&app, &client, &url, MANAGER).await;
    let (status, body, challenge) = notifications(&app, plain["access_token"].as_str()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert_eq!(challenge, "Bearer error=\"insufficient_scope\"");
}
