//! « Gérer les accès de mon entreprise »: a Responsable des accès lists the users of their
//! establishments, adds and removes habilitations, designates and removes Responsables des
//! accès; nothing outside their establishments, every change e-mailed to the person.

use idp::access::{habilitations, managers};
use idp_tests::access::{CENTRE, OTHER};
use idp_tests::{Browser, TestApp, assert_redirect, assert_shows, csrf_of, location, text};

/// Accepts the charte on `page` (its HTML), asking to go back to `retour`.
async fn accept_charte_returning(browser: &Browser, page: &str, retour: &str) -> reqwest::Response {
    let csrf = csrf_of(page);
    let form = [
        ("csrf", csrf.as_str()),
        ("siret", CENTRE),
        ("retour", retour),
        ("accepte", "oui"),
    ];
    browser.post_form("/acces/ceres/charte", &form).await
}

/// POSTs CENTRE as `siret` to `action` with `csrf`.
async fn post_for_centre(browser: &Browser, csrf: &str, action: &str) -> reqwest::Response {
    browser
        .post_form(action, &[("csrf", csrf), ("siret", CENTRE)])
        .await
}

#[tokio::test]
async fn access_manage_a_responsable_sees_and_changes_only_their_establishments() {
    let (sink, app) = TestApp::with_mailbox().await;
    let (alice, bob) = app.alice_manages_bob().await;
    let carol = app.user("carol@autre.fr").await;
    let dave = app.user("dave@autre.fr").await;
    app.make_manager(&dave.id, OTHER).await;
    app.habilitate(&bob.id, CENTRE, "centre_agree").await;
    let carols = app.habilitate(&carol.id, OTHER, "centre_agree").await;
    let browser = app.log_in("alice@centre.fr").await;

    // The list: Alice (Responsable des accès) and Bob, never Carol.
    let (status, list) = browser.page("/acces/ceres/gestion").await;
    assert_eq!(status, 200, "{list}");
    assert!(list.contains("Gérer les accès de mon entreprise"));
    assert!(
        list.contains("bob@centre.fr") && list.contains("alice@centre.fr"),
        "{list}"
    );
    assert!(!list.contains("carol@autre.fr"));
    assert_shows(&list, "2 utilisateurs ont accès à la démarche");
    assert_shows(&list, "Habilité à accéder à CERES : Centre agréé");
    let (_, filtered) = browser.page("/acces/ceres/gestion?role=centre_agree").await;
    assert!(filtered.contains("bob@centre.fr") && !filtered.contains("alice@centre.fr"));
    let (_, filtered) = browser.page("/acces/ceres/gestion?role=responsable").await;
    assert!(!filtered.contains("bob@centre.fr") && filtered.contains("alice@centre.fr"));
    let (status, _) = browser
        .page(&format!("/acces/ceres/gestion?siret={OTHER}"))
        .await;
    assert_eq!(status, 403);

    // Bob's page; Carol's is not Alice's business.
    let bob_page = format!("/acces/ceres/gestion/utilisateurs/{}", bob.id);
    let (status, html) = browser.page(&bob_page).await;
    assert_eq!(status, 200);
    assert!(html.contains("Coordonnées") && html.contains("Centre agréé"));
    assert_shows(&html, "attribué par l'administration le ");
    assert_shows(&html, "Société : ");
    assert_shows(
        &html,
        "Le droit de responsable des accès permet de gérer les collaborateurs et les accès sur le service numérique.",
    );
    assert!(html.contains("Ajouter une habilitation") && html.contains("1 habilitation"));
    let (status, _) = browser
        .page(&format!("/acces/ceres/gestion/utilisateurs/{}", carol.id))
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
    let added_page = format!("{bob_page}?fait=habilitation-ajoutee");
    assert_eq!(location(&r).as_deref(), Some(added_page.as_str()));
    let (_, html) = browser.page(&added_page).await;
    assert_shows(&html, "L'habilitation a été enregistrée.");
    let live = app.live_habilitations(&bob.id).await;
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
    assert!(
        mails[0].text.contains("Gestionnaire CENTRES")
            && mails[0].text.contains("jusqu'à fin 12/2099")
    );

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
    assert_eq!(app.live_habilitations(&carol.id).await.len(), 1);
    let r = browser
        .post_form(
            &format!("/acces/ceres/gestion/utilisateurs/{}/responsable", carol.id),
            &[("csrf", &csrf), ("siret", OTHER)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(!app.is_manager(&carol.id, OTHER).await);
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
    browser
        .assert_forged_refused(
            &format!("{bob_page}/habilitations"),
            &[("siret", CENTRE), ("role", "centre_agree")],
        )
        .await;

    // « Retirer » asks first; « Confirmer le retrait » removes Bob's new habilitation, and
    // Bob is told.
    let (status, html) = browser
        .page(&format!("{bob_page}?retirer={}", added.id))
        .await;
    assert_eq!(status, 200);
    assert_shows(
        &html,
        "Êtes-vous sûr de vouloir retirer l'habilitation « Gestionnaire CENTRES »",
    );
    assert_eq!(app.live_habilitations(&bob.id).await.len(), 2);
    let (_, html) = browser.page(&format!("{bob_page}?retirer={carols}")).await;
    assert!(
        !html.contains("Êtes-vous sûr"),
        "not one of Bob's shown here"
    );
    let r = browser
        .post_form(
            &format!("/acces/ceres/gestion/habilitations/{}/retirer", added.id),
            &[("csrf", &csrf)],
        )
        .await;
    let removed_page = format!("{bob_page}?fait=habilitation-retiree");
    assert_eq!(location(&r).as_deref(), Some(removed_page.as_str()));
    let (_, html) = browser.page(&removed_page).await;
    assert_shows(&html, "L'habilitation a été retirée.");
    assert_eq!(app.live_habilitations(&bob.id).await.len(), 1);
    let mails = sink.wait_for(2).await;
    assert_eq!(
        mails[1].subject,
        "Votre habilitation au service numérique CERES a été retirée"
    );

    // Designate Bob Responsable des accès: told, and his pages need the charte first.
    let r = post_for_centre(&browser, &csrf, &format!("{bob_page}/responsable")).await;
    assert_eq!(r.status(), 303);
    assert!(app.is_manager(&bob.id, CENTRE).await);
    let mails = sink.wait_for(3).await;
    assert_eq!(
        mails[2].subject,
        "Vous êtes responsable des accès du service numérique CERES"
    );
    let bobs = app.log_in("bob@centre.fr").await;
    let r = bobs.get("/acces/ceres/gestion").await;
    assert!(location(&r).unwrap().starts_with("/acces/ceres/charte?"));
    let (_, html) = browser.page(&bob_page).await;
    assert_shows(&html, "Habilité par Alice Martin le ");

    // Alice removes Bob's right (not the last one: done at once), then her own (the last
    // one: confirmation first).
    let r = post_for_centre(&browser, &csrf, &format!("{bob_page}/responsable/retirer")).await;
    assert_eq!(r.status(), 303);
    assert!(!app.is_manager(&bob.id, CENTRE).await);
    let own = format!(
        "/acces/ceres/gestion/utilisateurs/{}/responsable/retirer",
        alice.id
    );
    let r = post_for_centre(&browser, &csrf, &own).await;
    assert_eq!(r.status(), 200);
    assert!(text(&r.text().await.unwrap()).contains("Dernier responsable des accès"));
    assert!(app.is_manager(&alice.id, CENTRE).await);
    let r = browser
        .post_form(
            &own,
            &[("csrf", &csrf), ("siret", CENTRE), ("confirmer", "oui")],
        )
        .await;
    assert_redirect(&r, "/acces/ceres");
    assert!(
        managers::of_establishment(&app.state.db, "ceres", CENTRE)
            .await
            .unwrap()
            .is_empty()
    );
    let (status, _) = browser.page("/acces/ceres/gestion").await;
    assert_eq!(status, 403, "no longer a manager");
}

#[tokio::test]
async fn access_manage_needs_a_login_and_the_charte() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice@centre.fr").await;
    let r = app.browser().get("/acces/ceres/gestion").await;
    assert!(location(&r).unwrap().starts_with("/connexion"));
    let browser = app.log_in("alice@centre.fr").await;
    let (status, _) = browser.page("/acces/ceres/gestion").await;
    assert_eq!(status, 403, "not a manager");
    app.grant_manager(&alice.id, CENTRE).await;
    let r = browser.get("/acces/ceres/gestion").await;
    let charte = location(&r).unwrap();
    assert_eq!(
        charte,
        format!("/acces/ceres/charte?siret={CENTRE}&retour=%2Facces%2Fceres%2Fgestion")
    );
    // Once accepted, back to the page that sent there.
    let page = browser.get(&charte).await.text().await.unwrap();
    let r = accept_charte_returning(&browser, &page, "/acces/ceres/gestion").await;
    assert_redirect(&r, "/acces/ceres/gestion");
    // A return to another site is ignored.
    let r = accept_charte_returning(&browser, &page, "//evil.example/").await;
    assert!(location(&r).unwrap().starts_with("/acces/ceres/mes-acces?"));
    assert_eq!(browser.get("/acces/ceres/gestion").await.status(), 200);
}

#[tokio::test]
async fn access_manage_the_requests_tab_lists_pending_requests_with_a_badge() {
    let app = TestApp::spawn().await;
    let (_, bob) = app.alice_manages_bob().await;
    let carol = app.user("carol@autre.fr").await;
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
    let browser = app.log_in("alice@centre.fr").await;
    let (_, users) = browser.page("/acces/ceres/gestion").await;
    assert_shows(&users, "(1 en attente)");
    let (status, list) = browser.page("/acces/ceres/gestion/demandes").await;
    assert_eq!(status, 200);
    assert_shows(&list, "1 demande d'accès en attente");
    assert!(list.contains("bob@centre.fr") && list.contains("« Merci »"));
    assert!(
        !list.contains("carol@autre.fr"),
        "another establishment's request"
    );
    assert!(list.contains(&format!("/acces/ceres/demandes/{}", mine.id)));
}

/// Hole closed by issue 12: the add form reached any account by its id, although that
/// person's page was refused. Whom a manager may see is whom they may change.
#[tokio::test]
async fn access_manage_a_habilitation_cannot_be_added_to_someone_outside_the_establishments() {
    let app = TestApp::spawn().await;
    let (_, bob) = app.alice_manages_bob().await;
    let stranger = app.user("stranger@ailleurs.fr").await;
    app.habilitate(&bob.id, CENTRE, "centre_agree").await;
    let browser = app.log_in("alice@centre.fr").await;
    let (_, bob_page) = browser
        .page(&format!("/acces/ceres/gestion/utilisateurs/{}", bob.id))
        .await;
    let csrf = csrf_of(&bob_page);

    let r = browser
        .post_form(
            &format!(
                "/acces/ceres/gestion/utilisateurs/{}/habilitations",
                stranger.id
            ),
            &[
                ("csrf", &csrf),
                ("siret", CENTRE),
                ("role", "centre_agree"),
                ("date_fin", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let html = text(&r.text().await.unwrap());
    assert!(
        html.contains(
            "Cette personne n'a pas d'accès aux établissements dont vous êtes responsable des accès."
        ),
        "{html}"
    );
    let theirs = habilitations::of_user(&app.state.db, &stranger.id, "ceres")
        .await
        .unwrap();
    assert!(theirs.is_empty(), "{theirs:?}");
    // Still out of reach afterwards: their page and the Responsable des accès form.
    let (status, _) = browser
        .page(&format!(
            "/acces/ceres/gestion/utilisateurs/{}",
            stranger.id
        ))
        .await;
    assert_eq!(status, 403);
    let r = browser
        .post_form(
            &format!(
                "/acces/ceres/gestion/utilisateurs/{}/responsable",
                stranger.id
            ),
            &[("csrf", &csrf), ("siret", CENTRE)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(!app.is_manager(&stranger.id, CENTRE).await);
}

/// Adding a habilitation is one transaction with its audit event: when the event cannot be
/// written, no habilitation remains and no e-mail goes.
#[tokio::test]
async fn access_manage_an_added_habilitation_whose_audit_fails_is_not_granted() {
    let (sink, app) = TestApp::with_mailbox().await;
    let (_, bob) = app.alice_manages_bob().await;
    app.habilitate(&bob.id, CENTRE, "centre_agree").await;
    let browser = app.log_in("alice@centre.fr").await;
    let bob_page = format!("/acces/ceres/gestion/utilisateurs/{}", bob.id);
    let (_, html) = browser.page(&bob_page).await;
    app.fail_audit_of("habilitation.granted").await;

    let r = browser
        .post_form(
            &format!("{bob_page}/habilitations"),
            &[
                ("csrf", &csrf_of(&html)),
                ("siret", CENTRE),
                ("role", "gestionnaire_centres"),
                ("date_fin", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 500);
    let roles: Vec<String> = habilitations::of_user(&app.state.db, &bob.id, "ceres")
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.role)
        .collect();
    assert_eq!(roles, vec!["centre_agree".to_owned()]);
    assert!(sink.messages().is_empty());
}

/// « Modifier la date de fin »: its own control and action, the e-mail « … a été modifiée »
/// (never « nouvelle habilitation »), the same when the role is given again; the CLI goes
/// through the same action.
#[tokio::test]
async fn access_manage_an_end_date_is_changed_with_its_own_control_and_e_mail() {
    use idp::cli::{Cli, Command, HabilitationsCommand};
    let (sink, app) = TestApp::with_mailbox().await;
    let (alice, bob) = app.alice_manages_bob().await;
    let hid = app.habilitate(&bob.id, CENTRE, "centre_agree").await;
    let browser = app.log_in("alice@centre.fr").await;
    let bob_page = format!("/acces/ceres/gestion/utilisateurs/{}", bob.id);
    let (_, html) = browser.page(&bob_page).await;
    assert_shows(&html, "Modifier la date de fin");

    let (status, html) = browser.page(&format!("{bob_page}?modifier={hid}")).await;
    assert_eq!(status, 200);
    assert_shows(&html, "Nouvelle date de fin (MM/AAAA)");
    assert_shows(&html, "aujourd'hui sans date de fin");
    let form = format!("/acces/ceres/gestion/habilitations/{hid}/date-fin");
    let csrf = csrf_of(&html);
    // A past date: said on the page, nothing changes.
    let r = browser
        .post_form(&form, &[("csrf", &csrf), ("date_fin", "01/2001")])
        .await;
    assert_eq!(r.status(), 400);
    assert_shows(&text(&r.text().await.unwrap()), "antérieure");
    assert_eq!(app.live_habilitations(&bob.id).await[0].end_date, None);

    let r = browser
        .post_form(&form, &[("csrf", &csrf), ("date_fin", "06/2099")])
        .await;
    let done = format!("{bob_page}?fait=date-fin-modifiee");
    assert_eq!(location(&r).as_deref(), Some(done.as_str()));
    let (_, html) = browser.page(&done).await;
    assert_shows(&html, "La date de fin de l'habilitation a été modifiée.");
    assert_shows(&html, "Fin : 06/2099");
    let h = &app.live_habilitations(&bob.id).await[0];
    assert_eq!(h.id, hid);
    assert_eq!(h.end_date.map(|d| d.iso()).as_deref(), Some("2099-06-30"));
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].rcpt_tos, ["bob@centre.fr"]);
    assert_eq!(
        mails[0].subject,
        "Votre habilitation au service numérique CERES a été modifiée"
    );
    assert!(
        mails[0].text.contains("jusqu'à fin 06/2099"),
        "{}",
        mails[0].text
    );
    assert!(
        mails[0].text.contains("Auparavant : sans date de fin."),
        "{}",
        mails[0].text
    );
    assert_eq!(
        app.audit_count_by("habilitation.end_date_changed", &alice.id)
            .await,
        1
    );

    // Giving the role again is the same change, told the same way.
    let r = browser
        .post_form(
            &format!("{bob_page}/habilitations"),
            &[
                ("csrf", &csrf),
                ("siret", CENTRE),
                ("role", "centre_agree"),
                ("date_fin", "12/2099"),
            ],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some(done.as_str()));
    let mails = sink.wait_for(2).await;
    assert_eq!(
        mails[1].subject,
        "Votre habilitation au service numérique CERES a été modifiée"
    );
    assert_eq!(
        app.audit_count_by("habilitation.granted", &alice.id).await,
        0
    );
    // The same date again: nothing changes, nobody is told.
    let r = browser
        .post_form(&form, &[("csrf", &csrf), ("date_fin", "12/2099")])
        .await;
    assert_eq!(
        location(&r).as_deref(),
        Some(format!("{bob_page}?fait=inchangee").as_str())
    );

    // The CLI: no end any more, through the same action.
    let cli = Cli {
        config: None,
        command: Command::Habilitations(HabilitationsCommand::EndDate {
            id: hid.clone(),
            service: "ceres".into(),
            end_date: None,
            no_end_date: true,
        }),
    };
    idp::cli::run(cli, (*app.state.config).clone())
        .await
        .unwrap();
    assert_eq!(app.live_habilitations(&bob.id).await[0].end_date, None);
    assert_eq!(
        app.audit_count_by("habilitation.end_date_changed", "cli")
            .await,
        1
    );
    let cli = Cli {
        config: None,
        command: Command::Habilitations(HabilitationsCommand::EndDate {
            id: "nope".into(),
            service: "ceres".into(),
            end_date: Some("06/2099".into()),
            no_end_date: false,
        }),
    };
    assert!(
        idp::cli::run(cli, (*app.state.config).clone())
            .await
            .is_err()
    );
    // A habilitation of another establishment is not Alice's to change.
    let carol = app.user("carol@autre.fr").await;
    let carols = app.habilitate(&carol.id, OTHER, "centre_agree").await;
    let r = browser
        .post_form(
            &format!("/acces/ceres/gestion/habilitations/{carols}/date-fin"),
            &[("csrf", &csrf), ("date_fin", "06/2099")],
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(sink.messages().len(), 3 - 1);
}
