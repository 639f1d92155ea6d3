//! « Inviter un utilisateur » and the « Invitations » tab (guide `002` §6.2–6.3): a
//! Responsable des accès invites a new person (account created without a password, who
//! chooses one from the e-mailed link) or an existing account (habilitation only); pending
//! invitations can be relaunched once expired; nothing outside the manager's establishments.

use idp::{
    access::{
        habilitations::{self, GrantedHow},
        invitations,
    },
    accounts::{Email, store as users},
};
use idp_tests::access::{CENTRE, OTHER};
use idp_tests::{
    Browser, SmtpSink, TestApp, assert_redirect, assert_shows, csrf_of, location, reset_link_of,
};

const COMPANY: &str = "35600000000048";
const NEW_PASSWORD: &str = "Nouveau-mot-de-passe-2026";
const SUBJECT: &str =
    "Vous avez obtenu une nouvelle habilitation d'accès au service numérique CERES";

async fn with_register(app: &TestApp) {
    app.establishment(CENTRE, "CENTRE DE FORMATION DU LAC", true)
        .await;
    app.establishment(COMPANY, "BOURSIDIERE CENTRE D AFFAIRES", true)
        .await;
}

const INVITE: &str = "/acces/ceres/gestion/inviter";

/// Adds a habilitation at step 5.
async fn add(
    browser: &Browser,
    siret: &str,
    role: &str,
    end: &str,
) -> (u16, Option<String>, String) {
    let step5 = format!("{INVITE}/habilitations");
    browser
        .submit(
            &step5,
            &step5,
            &[("siret", siret), ("role", role), ("date_fin", end)],
        )
        .await
}

async fn finish(browser: &Browser) -> (u16, Option<String>, String) {
    browser
        .submit(
            &format!("{INVITE}/habilitations"),
            &format!("{INVITE}/terminer"),
            &[],
        )
        .await
}

async fn pending_count(app: &TestApp) -> usize {
    pending_at(app, CENTRE).await.len()
}

/// The pending invitations at `siret`.
async fn pending_at(app: &TestApp, siret: &str) -> Vec<invitations::Invitation> {
    invitations::pending(&app.state.db, "ceres", &[siret.to_owned()])
        .await
        .unwrap()
}

/// Step 1 of a new invitation: `email` typed.
async fn start_invite(browser: &Browser, email: &str) -> (u16, Option<String>, String) {
    browser.page(&format!("{INVITE}?nouveau")).await;
    browser.submit(INVITE, INVITE, &[("email", email)]).await
}

/// Alice, Responsable des accès of CENTRE, logged in on a provider whose register holds
/// CENTRE and COMPANY; its mail caught by the sink.
async fn alice_on_the_register() -> (SmtpSink, TestApp, Browser) {
    let (sink, app) = TestApp::with_mailbox().await;
    with_register(&app).await;
    let alice = app.user("alice@centre.fr").await;
    app.make_manager(&alice.id, CENTRE).await;
    let browser = app.log_in("alice@centre.fr").await;
    (sink, app, browser)
}

/// Alice, logged in, has invited bob at CENTRE, and the mail went out.
async fn bob_invited() -> (SmtpSink, TestApp, Browser) {
    let (sink, app) = TestApp::with_mailbox().await;
    app.alice_manages_bob().await;
    let browser = app.log_in("alice@centre.fr").await;
    invite_bob(&browser, CENTRE).await;
    sink.wait_for(1).await;
    (sink, app, browser)
}

/// Invites bob@centre.fr (an account already) as « Centre agréé » at `siret`.
async fn invite_bob(browser: &Browser, siret: &str) {
    start_invite(browser, "bob@centre.fr").await;
    add(browser, siret, "centre_agree", "").await;
    finish(browser).await;
}

#[tokio::test]
async fn access_invite_a_new_person_in_five_steps_then_they_choose_a_password_and_log_in() {
    let (sink, app, browser) = alice_on_the_register().await;

    // The button on the users tab, and the tab itself.
    let (_, users_tab) = browser.page("/acces/ceres/gestion").await;
    assert!(users_tab.contains("Inviter un utilisateur") && users_tab.contains("Invitations"));

    // Step 1: the e-mail.
    let (status, html) = browser.page(&format!("{INVITE}?nouveau")).await;
    assert_eq!(status, 200);
    assert_shows(&html, "Étape 1 sur 5");
    let (status, to, _) = browser
        .submit(INVITE, INVITE, &[("email", "pas-une-adresse")])
        .await;
    assert_eq!((status, to), (400, None));
    let (_, to, _) = browser
        .submit(INVITE, INVITE, &[("email", "Jean.Dupont@Boursidiere.fr")])
        .await;
    assert_eq!(to.as_deref(), Some("/acces/ceres/gestion/inviter/type"));

    // Step 2: the type of account.
    let step2 = format!("{INVITE}/type");
    let (_, html) = browser.page(&step2).await;
    assert!(
        html.contains("Étape 2 sur 5") && html.contains("✓ E-mail : jean.dupont@boursidiere.fr"),
        "{html}"
    );
    let (_, to, _) = browser
        .submit(&step2, &step2, &[("type_compte", "professionnel")])
        .await;
    assert_eq!(to.as_deref(), Some("/acces/ceres/gestion/inviter/identite"));

    // Step 3: the identity, with the sign-up's rules.
    let step3 = format!("{INVITE}/identite");
    let (status, _, html) = browser
        .submit(
            &step3,
            &step3,
            &[("civilite", "monsieur"), ("nom", ""), ("prenom", "Jean")],
        )
        .await;
    assert_eq!(status, 400);
    assert_shows(&html, "Veuillez saisir le nom de l'utilisateur.");
    let (_, to, _) = browser
        .submit(
            &step3,
            &step3,
            &[
                ("civilite", "monsieur"),
                ("nom", "Dupont"),
                ("prenom", "Jean"),
            ],
        )
        .await;
    assert_eq!(
        to.as_deref(),
        Some("/acces/ceres/gestion/inviter/organisation")
    );

    // Step 4: the organisation, searched in the register without script.
    let step4 = format!("{INVITE}/organisation");
    let (_, html) = browser
        .page(&format!("{step4}?recherche=boursidiere"))
        .await;
    assert_shows(&html, "Étape 4 sur 5");
    assert!(
        html.contains("✓ Type de compte : Professionnel")
            && html.contains("✓ Identité : M. Jean Dupont"),
        "{html}"
    );
    assert_shows(&html, "1 résultat");
    assert!(html.contains(&format!("value=\"{COMPANY}\"")), "{html}");
    let (status, _, _) = browser
        .submit(&step4, &step4, &[("poste", "Responsable RH")])
        .await;
    assert_eq!(status, 400, "an establishment must be picked");
    let (_, to, _) = browser
        .submit(
            &step4,
            &step4,
            &[("poste", "Responsable RH"), ("siret", COMPANY)],
        )
        .await;
    assert_eq!(
        to.as_deref(),
        Some("/acces/ceres/gestion/inviter/habilitations")
    );

    // Step 5: the habilitations, kept until « Terminer ».
    let (_, html) = browser.page(&format!("{INVITE}/habilitations")).await;
    assert_shows(&html, "Étape 5 sur 5");
    assert_shows(&html, "Attribuez des habilitations à M. Jean Dupont");
    assert!(
        html.contains(
            "✓ Organisation de rattachement de l'utilisateur : BOURSIDIERE CENTRE D AFFAIRES"
        ),
        "{html}"
    );
    assert!(html.contains("Laissez le champ vide pour une durée indéterminée"));
    let (_, to, _) = add(&browser, CENTRE, "centre_agree", "").await;
    assert_eq!(
        to.as_deref(),
        Some("/acces/ceres/gestion/inviter/habilitations")
    );
    let (_, html) = browser.page(&format!("{INVITE}/habilitations")).await;
    assert!(
        html.contains("Liste des habilitations de M. Jean Dupont")
            && html.contains("Ajouter une autre habilitation"),
        "{html}"
    );
    let (_, to, _) = add(&browser, CENTRE, "gestionnaire_centres", "2099-12-31").await;
    assert!(to.is_some());
    assert!(
        users::user_by_email(
            &app.state.db,
            &Email::parse("jean.dupont@boursidiere.fr").unwrap()
        )
        .await
        .unwrap()
        .is_none(),
        "nothing before « Terminer »"
    );

    // « Terminer »: the account, the habilitations, the invitation, the e-mail.
    let (_, to, _) = finish(&browser).await;
    assert_eq!(
        to.as_deref(),
        Some("/acces/ceres/gestion/invitations?fait=envoyee")
    );
    let jean = users::user_by_email(
        &app.state.db,
        &Email::parse("jean.dupont@boursidiere.fr").unwrap(),
    )
    .await
    .unwrap()
    .expect("account created");
    assert!(jean.password_hash.is_none());
    assert_eq!(
        (jean.given_name.as_str(), jean.family_name.as_str()),
        ("Jean", "Dupont")
    );
    assert_eq!(jean.siret.as_deref(), Some(COMPANY));
    assert_eq!(jean.job.as_deref(), Some("Responsable RH"));
    let live = app.live_habilitations(&jean.id).await;
    assert_eq!(live.len(), 2);
    assert!(
        live.iter()
            .all(|h| h.granted_how == GrantedHow::Invitation && h.siret == CENTRE)
    );
    assert!(
        live[0]
            .origin()
            .starts_with("Habilité par Alice Martin le "),
        "{}",
        live[0].origin()
    );
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].subject, SUBJECT);
    assert_eq!(mails[0].rcpt_tos, ["jean.dupont@boursidiere.fr"]);
    assert!(mails[0].text.contains("Alice Martin") && mails[0].text.contains("Centre agréé"));
    assert!(
        mails[0].text.contains("Gestionnaire CENTRES")
            && mails[0].text.contains("jusqu'à fin 12/2099")
    );
    assert!(
        mails[0].text.contains("CENTRE DE FORMATION DU LAC"),
        "{}",
        mails[0].text
    );
    let audited: i64 = app.audit_count("invitation.sent").await;
    assert_eq!(audited, 1);

    // The « Invitations » tab.
    let (status, html) = browser.page("/acces/ceres/gestion/invitations").await;
    assert_eq!(status, 200);
    assert_shows(&html, "1 invitation en attente de connexion");
    assert!(html.contains("M. Jean Dupont") && html.contains("jean.dupont@boursidiere.fr"));
    assert!(html.contains("Invitation envoyée le "));
    assert_shows(&html, "Vous pourrez relancer cette invitation dans 1 jour.");

    // Jean follows the link, chooses a password, logs in: no longer pending.
    let link = reset_link_of(&app, &mails[0]);
    let jeans = app.browser();
    let r = jeans.get(&link).await;
    assert_redirect(&r, "/mot-de-passe-oublie/nouveau");
    // An invited person creates a password: the page does not speak of a reset.
    let (_, html) = jeans.page("/mot-de-passe-oublie/nouveau").await;
    assert_shows(
        &html,
        "<title>Création de votre mot de passe - Étape 3 sur 3",
    );
    assert_shows(&html, "<h1>Création de votre mot de passe</h1>");
    assert!(!html.contains("Réinitialisation"), "{html}");
    // CERES's home page, where the journey ends (guide 002: back to the service).
    let ceres = idp::access::services::Service {
        code: "ceres".into(),
        label: "CERES".into(),
        description: String::new(),
        home_url: Some("https://ceres.example/".into()),
    };
    idp::access::services::upsert(&app.state.db, &ceres)
        .await
        .unwrap();
    let password = [("password", NEW_PASSWORD), ("confirmation", NEW_PASSWORD)];
    let r = jeans
        .post_to("/mot-de-passe-oublie/nouveau", &password)
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert_shows(&html, "Votre mot de passe a été créé.");
    assert_shows(&html, "href=\"https://ceres.example/\"");
    assert_shows(&html, "Continuer vers CERES");
    assert!(!html.contains("Réinitialisation"), "{html}");
    assert_eq!(pending_count(&app).await, 1);
    let login = app.browser();
    let r = login
        .submit_login("/connexion", "jean.dupont@boursidiere.fr", NEW_PASSWORD)
        .await;
    // Invited, Jean never went through the sign-up: EFP Connect's CGU are asked first, and
    // no session starts before they are accepted.
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert_shows(&html, "J'accepte les conditions générales d'utilisation");
    assert_shows(&html, "Pour vous connecter, veuillez lire et accepter");
    assert_eq!(pending_count(&app).await, 1);
    let step = idp_tests::hidden_field(&html, "step").expect("step");
    let r = login
        .post_form(
            "/cgu/accepter",
            &[
                ("csrf", &csrf_of(&html)),
                ("step", &step),
                ("accepte", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(pending_count(&app).await, 0);
    let (_, html) = browser.page("/acces/ceres/gestion/invitations").await;
    assert_shows(&html, "0 invitation en attente de connexion");
}

#[tokio::test]
async fn access_invite_an_existing_account_skips_to_the_habilitations() {
    let (sink, app) = TestApp::with_mailbox().await;
    let (_, bob) = app.alice_manages_bob().await;
    let browser = app.log_in("alice@centre.fr").await;

    let (_, to, _) = start_invite(&browser, "bob@centre.fr").await;
    assert_eq!(
        to.as_deref(),
        Some("/acces/ceres/gestion/inviter/habilitations")
    );
    // Steps 2–4 do not apply.
    for step in ["type", "identite", "organisation"] {
        let r = browser.get(&format!("{INVITE}/{step}")).await;
        assert_redirect(&r, "/acces/ceres/gestion/inviter/habilitations");
    }
    let (_, html) = browser.page(&format!("{INVITE}/habilitations")).await;
    assert!(
        html.contains("Étape 5 sur 5")
            && html.contains("Attribuez des habilitations à Mme Alice Martin"),
        "{html}"
    );
    add(&browser, CENTRE, "centre_agree", "").await;
    let (_, to, _) = finish(&browser).await;
    assert_eq!(
        to.as_deref(),
        Some("/acces/ceres/gestion/invitations?fait=envoyee")
    );

    let live = app.live_habilitations(&bob.id).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].granted_how, GrantedHow::Invitation);
    let bob_now = users::user_by_id(&app.state.db, &bob.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        bob_now.password_hash, bob.password_hash,
        "the account is untouched"
    );
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].subject, SUBJECT);
    assert!(
        !mails[0].text.contains("/mot-de-passe-oublie/lien"),
        "{}",
        mails[0].text
    );
    assert!(mails[0].text.contains("Accéder à CERES"));
    // Guide 002 §5.1: the service's address and where to see one's habilitations.
    assert!(
        mails[0].text.contains(
            "Vous pouvez désormais accéder au service numérique CERES en vous connectant sur "
        ) && mails[0]
            .text
            .contains("Note : Vous pouvez consulter vos habilitations sur ")
            && mails[0].text.contains("/compte/habilitations."),
        "{}",
        mails[0].text
    );
}

#[tokio::test]
async fn access_invite_relaunch_is_refused_early_and_allowed_once_expired() {
    let (sink, app, browser) = bob_invited().await;
    let pending = pending_at(&app, CENTRE).await;
    assert_eq!(pending.len(), 1);
    let id = pending[0].id.clone();
    let relaunch = format!("/acces/ceres/gestion/invitations/{id}/relancer");
    let tab = "/acces/ceres/gestion/invitations";

    // Too early: refused, nothing sent.
    let (status, _, html) = browser.submit(tab, &relaunch, &[]).await;
    assert_eq!(status, 400);
    assert_shows(&html, "Vous pourrez relancer cette invitation dans");
    assert_eq!(sink.messages().len(), 1);

    // Expired: « Relancer l'invitation » works and sends a new e-mail.
    app.state
        .clock
        .advance(std::time::Duration::from_secs(86_401));
    let (_, html) = browser.page(tab).await;
    assert!(
        html.contains(&relaunch) && !html.contains("Vous pourrez relancer"),
        "{html}"
    );
    let (_, to, _) = browser.submit(tab, &relaunch, &[]).await;
    assert_eq!(
        to.as_deref(),
        Some("/acces/ceres/gestion/invitations?fait=relancee")
    );
    let mails = sink.wait_for(2).await;
    assert_eq!(mails[1].subject, SUBJECT);
    let again = invitations::by_id(&app.state.db, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(again.expires_at > idp::store::now() + 86_000);
    let audited: i64 = app.audit_count("invitation.resent").await;
    assert_eq!(audited, 1);
    // And not twice in a row.
    let (status, _, _) = browser.submit(tab, &relaunch, &[]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn access_invite_outside_ones_establishments_or_forged_or_empty_is_refused() {
    let (_sink, app) = TestApp::with_mailbox().await;
    let alice = app.user("alice@centre.fr").await;
    let dave = app.user("dave@autre.fr").await;
    let bob = app.user("bob@centre.fr").await;
    app.make_manager(&alice.id, CENTRE).await;
    app.make_manager(&dave.id, OTHER).await;
    let browser = app.log_in("alice@centre.fr").await;
    start_invite(&browser, "bob@centre.fr").await;

    // An establishment Alice does not manage: 403, nothing kept.
    let (status, _, _) = add(&browser, OTHER, "centre_agree", "").await;
    assert_eq!(status, 403);
    // « Terminer » with no habilitation.
    let (status, _, html) = finish(&browser).await;
    assert_eq!(status, 400);
    assert_shows(
        &html,
        "Ajoutez au moins une habilitation avant de terminer l'invitation.",
    );
    // A forged form.
    browser
        .assert_forged_refused(
            &format!("{INVITE}/habilitations"),
            &[("siret", CENTRE), ("role", "centre_agree")],
        )
        .await;
    browser
        .assert_forged_refused(&format!("{INVITE}/terminer"), &[])
        .await;
    assert!(
        habilitations::of_user(&app.state.db, &bob.id, "ceres")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(pending_count(&app).await, 0);

    // Dave's invitation is not Alice's to relaunch.
    let daves = app.log_in("dave@autre.fr").await;
    invite_bob(&daves, OTHER).await;
    let theirs = pending_at(&app, OTHER).await;
    assert_eq!(theirs.len(), 1);
    app.state
        .clock
        .advance(std::time::Duration::from_secs(86_401));
    let (_, html) = browser.page("/acces/ceres/gestion/invitations").await;
    assert_shows(&html, "0 invitation en attente de connexion");
    let (status, _, _) = browser
        .submit(
            INVITE,
            &format!("/acces/ceres/gestion/invitations/{}/relancer", theirs[0].id),
            &[],
        )
        .await;
    assert_eq!(status, 403);
    let after = invitations::by_id(&app.state.db, &theirs[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.expires_at, theirs[0].expires_at, "nothing changed");
}

#[tokio::test]
async fn access_invite_is_for_responsables_des_acces_only() {
    let app = TestApp::spawn().await;
    app.user("bob@centre.fr").await;
    let browser = app.log_in("bob@centre.fr").await;
    for path in [
        INVITE,
        "/acces/ceres/gestion/invitations",
        "/acces/ceres/gestion/inviter/habilitations",
    ] {
        let (status, _) = browser.page(path).await;
        assert_eq!(status, 403, "{path}");
    }
    // Logged out: the login page first.
    let r = app.browser().get(INVITE).await;
    assert!(location(&r).unwrap_or_default().starts_with("/connexion"));
}

/// Hole closed by issue 12: step 1 told any Responsable des accès, without limit, whether an
/// address has an account. Now each look-up is in the audit (the address only as a hash) and
/// past the limit the wizard answers with the wait.
#[tokio::test]
async fn access_invite_address_look_ups_are_audited_and_limited_per_manager() {
    use idp::access::actions::look_up_invitee::LOOKUPS_PER_MANAGER;
    let app = TestApp::spawn().await;
    let (alice, bob) = app.alice_manages_bob().await;
    let browser = app.log_in("alice@centre.fr").await;
    browser.page(&format!("{INVITE}?nouveau")).await;

    let (_, to, _) = browser
        .submit(INVITE, INVITE, &[("email", "bob@centre.fr")])
        .await;
    assert!(to.is_some(), "the first look-up goes on");
    let events = idp::audit::latest(&app.state.db, 50).await.unwrap();
    let looked_up: Vec<_> = events
        .iter()
        .filter(|e| e.action == "invitation.address_looked_up")
        .collect();
    assert_eq!(looked_up.len(), 1);
    assert_eq!(looked_up[0].actor, alice.id);
    assert_eq!(looked_up[0].target, bob.id);
    assert!(!looked_up[0].details.contains("bob@centre.fr"));

    for i in 1..LOOKUPS_PER_MANAGER {
        let address = format!("personne{i}@ailleurs.fr");
        let (status, _, _) = browser.submit(INVITE, INVITE, &[("email", &address)]).await;
        assert_eq!(status, 303, "look-up {i}");
    }
    let (status, _, html) = browser
        .submit(INVITE, INVITE, &[("email", "bob@centre.fr")])
        .await;
    assert_eq!(status, 429, "{html}");
    assert_shows(&html, "Trop de tentatives. Veuillez réessayer dans");
    let counted = idp::audit::latest(&app.state.db, 500)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "invitation.address_looked_up")
        .count();
    assert_eq!(counted as u64, LOOKUPS_PER_MANAGER);
}

/// Finishing an invitation is one action: when its last audit event cannot be written, nothing
/// of it remains (no account, no habilitation, no invitation) and no e-mail leaves.
#[tokio::test]
async fn access_invite_finishing_is_atomic() {
    let (sink, app, browser) = alice_on_the_register().await;
    browser.page(&format!("{INVITE}?nouveau")).await;
    let steps: [(&str, Vec<(&str, &str)>); 4] = [
        ("", vec![("email", "jean.dupont@boursidiere.fr")]),
        ("/type", vec![("type_compte", "professionnel")]),
        (
            "/identite",
            vec![
                ("civilite", "monsieur"),
                ("nom", "Dupont"),
                ("prenom", "Jean"),
            ],
        ),
        (
            "/organisation",
            vec![("poste", "Responsable RH"), ("siret", COMPANY)],
        ),
    ];
    for (step, fields) in &steps {
        let path = format!("{INVITE}{step}");
        let (status, _, body) = browser.submit(&path, &path, fields).await;
        assert_eq!(status, 303, "{step}: {body}");
    }
    add(&browser, CENTRE, "centre_agree", "").await;
    app.fail_audit_of("invitation.sent").await;
    let (status, _, _) = finish(&browser).await;
    assert_eq!(status, 500);
    let email = "jean.dupont@boursidiere.fr";
    for sql in [
        "SELECT count(*) FROM users WHERE email = $1",
        "SELECT count(*) FROM invitations WHERE email = $1",
        "SELECT count(*) FROM habilitations h JOIN users u ON u.id = h.user_id WHERE u.email = $1",
        "SELECT count(*) FROM audit_events WHERE action = 'account.created' AND details LIKE $1",
    ] {
        let arg = if sql.contains("LIKE") {
            "%invitation%"
        } else {
            email
        };
        assert_eq!(app.count(sql, arg).await, 0, "{sql}");
    }
    assert!(sink.messages().is_empty());
}

/// « Relancer l'invitation » and its `invitation.resent` event are one transaction: when the
/// event cannot be written, the invitation keeps its dates and no e-mail goes.
#[tokio::test]
async fn access_invite_relaunch_whose_audit_fails_changes_nothing() {
    let (sink, app, browser) = bob_invited().await;
    let before = pending_at(&app, CENTRE).await.remove(0);
    app.state
        .clock
        .advance(std::time::Duration::from_secs(86_401));
    app.fail_audit_of("invitation.resent").await;

    let tab = "/acces/ceres/gestion/invitations";
    let relaunch = format!("{tab}/{}/relancer", before.id);
    let (status, _, _) = browser.submit(tab, &relaunch, &[]).await;
    assert_eq!(status, 500);
    let after = invitations::by_id(&app.state.db, &before.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (after.sent_at, after.expires_at),
        (before.sent_at, before.expires_at)
    );
    assert_eq!(sink.messages().len(), 1, "no second e-mail");
}

/// A form whose field cannot be read (a habilitation's index that is not a number) is refused
/// with a French message and changes nothing in the wizard.
#[tokio::test]
async fn access_invite_an_unreadable_form_is_refused_in_french_and_changes_nothing() {
    let (_sink, app, browser) = alice_on_the_register().await;
    app.user("bob@centre.fr").await;
    start_invite(&browser, "bob@centre.fr").await;
    add(&browser, CENTRE, "centre_agree", "").await;
    let step5 = format!("{INVITE}/habilitations");
    let (status, _, html) = browser
        .submit(
            &step5,
            &format!("{step5}/retirer"),
            &[("index", "pas-un-nombre")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        html.contains("Le formulaire envoyé est illisible. Rechargez la page et recommencez."),
        "{html}"
    );
    let (_, page) = browser.page(&step5).await;
    assert!(
        page.contains("Liste des habilitations de"),
        "the habilitation is still listed: {page}"
    );
}
