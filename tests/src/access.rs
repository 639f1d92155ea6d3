//! Fixtures and reads of the access tests (managers, habilitations, requests, invitations,
//! audit events): made through idp's own store functions where it has them; the few
//! statements idp has no function for (reads of a whole table, moving a date into the past)
//! are here, in one place, rather than in the tests.

use idp::access::{
    habilitations::{self, GrantedHow, NewHabilitation},
    managers,
    requests::{self, AccessRequest},
    services::{self, DocumentKind},
};
use idp::accounts::store as users;

use crate::{Browser, TestApp, TestClient, auth_url_for, csrf_of};

/// A training centre open in the tests' register.
pub const CENTRE: &str = "13002526500013";
/// Another establishment.
pub const OTHER: &str = "73282932000074";

impl TestApp {
    /// Puts a service `code` (labelled `label`, no home page) in the catalogue beside CERES.
    pub async fn service(&self, code: &str, label: &str) {
        services::upsert(
            &self.state.db,
            &services::Service {
                code: code.into(),
                label: label.into(),
                description: String::new(),
                home_url: None,
            },
        )
        .await
        .expect("upsert the service");
    }

    /// An account with [`crate::PASSWORD`] working at `siret`; returns its id.
    pub async fn person(&self, email: &str, given: &str, family: &str, siret: &str) -> String {
        let new = users::NewUser {
            given_name: given.into(),
            family_name: family.into(),
            gender: Some("male".into()),
            job: Some("Formateur".into()),
            siret: Some(siret.into()),
            organization_label: None,
            is_agent: false,
        };
        self.user_with(email, new).await.id
    }

    /// Makes `user_id` Responsable des accès of `siret` for CERES (by an activation code),
    /// the charte not accepted yet.
    pub async fn grant_manager(&self, user_id: &str, siret: &str) {
        managers::grant(
            &self.state.db,
            user_id,
            "ceres",
            siret,
            None,
            GrantedHow::ActivationCode,
        )
        .await
        .expect("manager");
    }

    /// Records that `user_id` accepted the current CERES charte for `siret`.
    pub async fn accept_charte(&self, user_id: &str, siret: &str) {
        let current = services::current_document(&self.state.db, "ceres", DocumentKind::Charte)
            .await
            .expect("the charte")
            .expect("CERES has a charte")
            .version;
        services::accept_document(
            &self.state.db,
            user_id,
            "ceres",
            DocumentKind::Charte,
            current,
            siret,
        )
        .await
        .expect("charte accepted");
    }

    /// Makes `user_id` Responsable des accès of `siret` for CERES, charte accepted.
    pub async fn make_manager(&self, user_id: &str, siret: &str) {
        self.grant_manager(user_id, siret).await;
        self.accept_charte(user_id, siret).await;
    }

    /// A new provider with CENTRE open in its register.
    pub async fn with_centre() -> TestApp {
        let app = TestApp::spawn().await;
        app.establishment(CENTRE, "CENTRE DU LAC", true).await;
        app
    }

    /// `alice@centre.fr`, Responsable des accès of CENTRE, and `bob@centre.fr`: their accounts.
    pub async fn alice_manages_bob(&self) -> (users::User, users::User) {
        let alice = self.user("alice@centre.fr").await;
        let bob = self.user("bob@centre.fr").await;
        self.make_manager(&alice.id, CENTRE).await;
        (alice, bob)
    }

    /// Gives `user_id` the CERES `role` at `siret` (by an operator, no end); returns its id.
    pub async fn habilitate(&self, user_id: &str, siret: &str, role: &str) -> String {
        habilitations::grant(
            &self.state.db,
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
        .expect("habilitation")
    }

    /// Sets the end date of habilitation `id` (`YYYY-MM-DD`, or none).
    pub async fn end_habilitation(&self, id: &str, end: Option<&str>) {
        sqlx::query("UPDATE habilitations SET end_date = $1 WHERE id = $2")
            .bind(end.map(str::to_owned))
            .bind(id.to_owned())
            .execute(&self.state.db.pool)
            .await
            .expect("end the habilitation");
    }

    /// Marks `user_id` ministry agent or not (`idp users create --agent`).
    pub async fn set_agent(&self, user_id: &str, agent: bool) {
        sqlx::query("UPDATE users SET is_agent = $1 WHERE id = $2")
            .bind(i64::from(agent))
            .bind(user_id.to_owned())
            .execute(&self.state.db.pool)
            .await
            .expect("mark the agent");
    }

    /// Takes `user_id`'s Responsable des accès right of `siret` away (CERES).
    pub async fn withdraw_manager(&self, user_id: &str, siret: &str) {
        let mut tx = self.state.db.begin().await.expect("transaction");
        managers::delete_in(
            &mut tx,
            &idp::accounts::UserId::from_stored(user_id),
            "ceres",
            siret,
        )
        .await
        .expect("withdraw the manager");
        tx.commit().await.expect("commit");
    }

    /// How many audit events `action` there are.
    pub async fn audit_count(&self, action: &str) -> i64 {
        self.count(
            "SELECT count(*) FROM audit_events WHERE action = $1",
            action,
        )
        .await
    }

    /// How many audit events `action` by `actor` there are.
    pub async fn audit_count_by(&self, action: &str, actor: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = $1 AND actor = $2")
            .bind(action.to_owned())
            .bind(actor.to_owned())
            .fetch_one(&self.state.db.pool)
            .await
            .expect("count the audit events")
    }

    /// Whether `user_id` is Responsable des accès of CERES at `siret`.
    pub async fn is_manager(&self, user_id: &str, siret: &str) -> bool {
        managers::is_manager(&self.state.db, user_id, "ceres", siret)
            .await
            .expect("read the managers")
    }

    /// The live CERES habilitations of `user_id`.
    pub async fn live_habilitations(&self, user_id: &str) -> Vec<habilitations::Habilitation> {
        habilitations::live(&self.state.db, user_id, "ceres")
            .await
            .expect("read the habilitations")
    }

    /// How many habilitations `user_id` has, of every service, ended ones included.
    pub async fn habilitation_count(&self, user_id: &str) -> i64 {
        self.count(
            "SELECT count(*) FROM habilitations WHERE user_id = $1",
            user_id,
        )
        .await
    }

    /// The actions of every audit event, oldest first.
    pub async fn audit_actions(&self) -> Vec<String> {
        self.strings("SELECT action FROM audit_events ORDER BY at")
            .await
    }

    /// The stored hashes of the activation codes (never the codes).
    pub async fn stored_code_hashes(&self) -> Vec<String> {
        self.strings("SELECT code_hash FROM activation_codes").await
    }

    /// Every access request, oldest first.
    pub async fn access_requests(&self) -> Vec<AccessRequest> {
        let ids = self
            .strings("SELECT id FROM access_requests ORDER BY created_at, id")
            .await;
        let mut all = Vec::new();
        for id in ids {
            all.push(self.access_request(&id).await);
        }
        all
    }

    /// The one access request there is (panics when there is none).
    pub async fn only_access_request(&self) -> AccessRequest {
        self.access_requests()
            .await
            .into_iter()
            .next()
            .expect("an access request")
    }

    /// Access request `id`.
    pub async fn access_request(&self, id: &str) -> AccessRequest {
        requests::by_id(&self.state.db, id)
            .await
            .expect("db")
            .unwrap_or_else(|| panic!("access request {id}"))
    }

    /// Where access request `id` stands, as stored (`pending`, `accepted`, `refused`).
    pub async fn request_status(&self, id: &str) -> &'static str {
        self.access_request(id).await.status.as_str()
    }

    /// Marks every access request refused, as a manager would.
    pub async fn refuse_all_access_requests(&self) {
        self.execute("UPDATE access_requests SET status = 'refused'")
            .await;
    }

    /// A live activation code of `siret` for CERES, for an hour, issued by an agent.
    pub async fn issue_code(&self, siret: &str) -> String {
        idp::access::codes::issue(
            &self.state.db,
            &self.code_key(),
            "ceres",
            siret,
            "agent",
            3600,
        )
        .await
        .expect("issue a code")
        .code
        .as_str()
        .to_owned()
    }

    /// A client of `service` that may ask for the habilitations scope (`requires`: the
    /// service lets in only people with a habilitation).
    pub async fn service_client(&self, id: &str, service: &str, requires: bool) -> TestClient {
        let client = self
            .client_with(id, |reg| reg.scopes.push("habilitations".into()))
            .await;
        services::link_client(&self.state.db, service, id, requires)
            .await
            .expect("link the client");
        client
    }

    /// The access token of `email` on `client`, asking for the habilitations.
    pub async fn user_token(&self, client: &TestClient, email: &str) -> String {
        let url = auth_url_for(self, client, "openid habilitations", &[]);
        let tokens = self.browser().tokens(self, client, &url, email).await;
        tokens["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// `POST /api/v1/activation` with a person's `token`: status and JSON body.
    pub async fn activation_api(
        &self,
        token: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        crate::json(
            self.http()
                .post(self.url("/api/v1/activation"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("POST /api/v1/activation"),
        )
        .await
    }

    /// The access token of a back office client of CERES with `scope` (client credentials).
    pub async fn back_office_token(&self, id: &str, scope: &str) -> String {
        let client = self
            .client_with(id, |reg| {
                reg.grant_types = vec!["client_credentials".into()];
                reg.redirect_uris = vec![];
                reg.post_logout_redirect_uris = vec![];
                reg.scopes = vec![scope.into()];
            })
            .await;
        services::link_client(&self.state.db, "ceres", id, false)
            .await
            .expect("link the client");
        let (_, tokens) = crate::json(
            self.http()
                .post(self.url("/token"))
                .basic_auth(&client.id, client.secret.as_deref())
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("token request"),
        )
        .await;
        tokens["access_token"].as_str().expect("a token").to_owned()
    }
}

impl Browser {
    /// Posts the activation form of `/acces/ceres` (with `authreq` when given).
    pub async fn submit_code(&self, authreq: &str, siret: &str, code: &str) -> reqwest::Response {
        let csrf = csrf_of(
            &self
                .get(&format!("/acces/ceres?authreq={authreq}"))
                .await
                .text()
                .await
                .expect("page"),
        );
        let form = [
            ("csrf", csrf.as_str()),
            ("authreq", authreq),
            ("siret", siret),
            ("code", code),
        ];
        self.post_form("/acces/ceres/activation", &form).await
    }
}
