//! The Responsable des accès's changes are each one action, one transaction with its audit
//! event: when the event cannot be written, nothing of the change remains (run on SQLite and on
//! PostgreSQL). Called as the pages call them, with the manager's typed input.

use idp::access::{
    actions::{
        HabilitationGrant, add_habilitation, designate_manager, remove_habilitation,
        withdraw_manager,
    },
    habilitations::{self, GrantedHow, NewHabilitation},
    managers,
    refusal::AccessRefusal,
    services::{self, Service},
};
use idp::accounts::UserId;
use idp::organizations::Siret;
use idp_tests::TestApp;

const CENTRE: &str = "13002526500013";

/// Alice manages CENTRE; Bob holds « Centre agréé » there.
struct Team {
    app: TestApp,
    ceres: Service,
    alice: UserId,
    bob: UserId,
    siret: Siret,
}

async fn team() -> Team {
    let app = TestApp::with_centre().await;
    let db = &app.state.db;
    let alice = app.user("alice@centre.fr").await.id;
    let bob = app.user("bob@centre.fr").await.id;
    managers::grant(
        db,
        &alice,
        "ceres",
        CENTRE,
        None,
        GrantedHow::ActivationCode,
    )
    .await
    .unwrap();
    let new = NewHabilitation {
        user_id: &bob,
        service_code: "ceres",
        siret: CENTRE,
        role: "centre_agree",
        end_date: None,
        granted_by: Some(&alice),
        how: GrantedHow::Manager,
    };
    habilitations::grant(db, &new).await.unwrap();
    let ceres = services::by_code(db, "ceres")
        .await
        .unwrap()
        .expect("CERES");
    Team {
        app,
        ceres,
        alice: UserId::from_stored(alice),
        bob: UserId::from_stored(bob),
        siret: Siret::parse(CENTRE).unwrap(),
    }
}

fn failed_on_audit<T: std::fmt::Debug>(result: Result<T, AccessRefusal>) {
    assert!(
        matches!(result, Err(AccessRefusal::Storage(_))),
        "{result:?}"
    );
}

impl Team {
    async fn bob_manages(&self) -> bool {
        self.app.is_manager(self.bob.as_str(), CENTRE).await
    }

    async fn bobs_habilitations(&self) -> Vec<String> {
        habilitations::of_user(&self.app.state.db, self.bob.as_str(), "ceres")
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.role)
            .collect()
    }
}

#[tokio::test]
async fn access_atomicity_a_designation_whose_audit_fails_names_nobody() {
    let t = team().await;
    let (db, clock) = (&t.app.state.db, &t.app.state.clock);
    t.app.fail_audit_of("access_manager.granted").await;
    let done =
        designate_manager::designate_manager(db, clock, &t.alice, &t.ceres, &t.bob, &t.siret).await;
    failed_on_audit(done);
    assert!(!t.bob_manages().await);
}

#[tokio::test]
async fn access_atomicity_a_withdrawal_whose_audit_fails_keeps_the_right() {
    let t = team().await;
    let (db, clock) = (&t.app.state.db, &t.app.state.clock);
    managers::grant(
        db,
        t.bob.as_str(),
        "ceres",
        CENTRE,
        None,
        GrantedHow::Delegation,
    )
    .await
    .unwrap();
    t.app.fail_audit_of("access_manager.removed").await;
    let done =
        withdraw_manager::withdraw_manager(db, clock, &t.alice, &t.ceres, &t.bob, CENTRE, false)
            .await;
    failed_on_audit(done);
    assert!(t.bob_manages().await);
}

#[tokio::test]
async fn access_atomicity_a_habilitation_added_or_removed_whose_audit_fails_changes_nothing() {
    let t = team().await;
    let (db, clock) = (&t.app.state.db, &t.app.state.clock);
    let before = t.bobs_habilitations().await;

    t.app.fail_audit_of("habilitation.granted").await;
    let input = HabilitationGrant {
        person: &t.bob,
        service: &t.ceres,
        siret: &t.siret,
        role: "gestionnaire_centres",
        end_date: None,
    };
    failed_on_audit(add_habilitation::add_habilitation(db, clock, &t.alice, &input).await);
    assert_eq!(t.bobs_habilitations().await, before);

    t.app.fail_audit_of("habilitation.removed").await;
    let id = habilitations::of_user(db, t.bob.as_str(), "ceres")
        .await
        .unwrap()[0]
        .id
        .clone();
    let done = remove_habilitation::remove_habilitation(db, clock, &t.alice, &t.ceres, &id).await;
    failed_on_audit(done);
    assert_eq!(t.bobs_habilitations().await, before);
}
