//! The ministry agents' area: look up an establishment, issue (« Éditer le courrier
//! d'activation ») and revoke its codes, read its audit trail; agents only.

use idp::access::{ActivationCode, codes, refusal::AccessRefusal};
use idp_tests::access::CENTRE;
use idp_tests::{TestApp, assert_shows, csrf_of, location, text};

const CLOSED: &str = "73282932000074";

fn code_on(page: &str) -> String {
    let start = page
        .find("id=\"code-activation\">")
        .expect("the code is shown")
        + 21;
    page[start..start + 12].to_owned()
}

#[tokio::test]
async fn access_agent_issues_and_revokes_codes_and_reads_the_journal() {
    let app = TestApp::with_centre().await;
    app.establishment(CLOSED, "ANCIEN CENTRE", false).await;
    app.agent("agent@dreets.gouv.fr").await;
    let alice = app.user("alice@centre.fr").await;

    // Not for everyone.
    let r = app.browser().get("/agent").await;
    assert!(location(&r).unwrap().starts_with("/connexion"));
    let r = app.log_in("alice@centre.fr").await.get("/agent").await;
    assert_eq!(r.status(), 403);

    let browser = app.log_in("agent@dreets.gouv.fr").await;
    let r = browser.get("/agent?siret=123").await;
    assert_eq!(r.status(), 400);
    let page = browser
        .page(&format!("/agent?service=ceres&siret={CENTRE}"))
        .await
        .1;
    assert_shows(&page, "CENTRE DU LAC");
    assert!(page.contains("Aucun responsable des accès"));
    let csrf = csrf_of(&page);

    let issue = |siret: &'static str| {
        let browser = browser.clone();
        let csrf = csrf.clone();
        async move {
            browser
                .post_form(
                    "/agent/codes",
                    &[("csrf", &csrf), ("siret", siret), ("service", "ceres")],
                )
                .await
        }
    };
    let r = issue(CENTRE).await;
    assert_eq!(r.status(), 200);
    let shown = text(&r.text().await.unwrap());
    assert!(shown.contains("Objet : Modalités d'accès à l'applicatif CERES"));
    let first = code_on(&shown);
    let second = code_on(&text(&issue(CENTRE).await.text().await.unwrap()));
    assert_ne!(first, second);
    let r = issue(CLOSED).await;
    assert_eq!(r.status(), 400, "closed establishments get no code");
    let r = browser
        .post_form(
            "/agent/codes",
            &[("csrf", "faux"), ("siret", CENTRE), ("service", "ceres")],
        )
        .await;
    assert_eq!(r.status(), 403);

    // The first code was replaced; the second works.
    let db = &app.state.db;
    let r = app
        .redeem_code(&ActivationCode::parse(&first).unwrap(), None, &alice.id)
        .await;
    assert!(matches!(r, Err(AccessRefusal::RevokedCode)), "{r:?}");
    app.redeem_code(&ActivationCode::parse(&second).unwrap(), None, &alice.id)
        .await
        .unwrap();
    assert!(app.is_manager(&alice.id, CENTRE).await);

    // A third code, revoked from the page.
    code_on(&text(&issue(CENTRE).await.text().await.unwrap()));
    let live = codes::list(db, "ceres", Some(CENTRE)).await.unwrap();
    assert_eq!(live[0].status, codes::CodeStatus::Live);
    let r = browser
        .post_form(
            &format!("/agent/codes/{}/revoquer", live[0].id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        location(&r).as_deref(),
        Some(format!("/agent?service=ceres&siret={CENTRE}").as_str())
    );
    // Found by id: codes issued within the same second have no set order among themselves.
    let revoked_id = &live[0].id;
    assert_eq!(
        codes::list(db, "ceres", Some(CENTRE))
            .await
            .unwrap()
            .iter()
            .find(|c| &c.id == revoked_id)
            .expect("the revoked code is listed")
            .status,
        codes::CodeStatus::Revoked
    );

    // The page now shows the manager, the codes and the journal with the agent's name.
    let page = browser
        .page(&format!("/agent?service=ceres&siret={CENTRE}"))
        .await
        .1;
    assert!(page.contains("alice@centre.fr"));
    assert!(page.contains("révoqué") && page.contains("utilisé"));
    assert!(page.contains("activation_code.issued") && page.contains("activation_code.revoked"));
    assert!(
        page.contains("Alice Martin"),
        "the agent's name as actor: {page}"
    );
    assert!(!page.contains(&second), "codes are never shown again");
    // Whether the Responsable des accès accepted the charte, and which version.
    assert_shows(&page, "charte pas encore acceptée");
    app.accept_charte(&alice.id, CENTRE).await;
    let page = browser
        .page(&format!("/agent?service=ceres&siret={CENTRE}"))
        .await
        .1;
    assert_shows(&page, "charte acceptée le");
    assert_shows(&page, "(version 2)");
}
