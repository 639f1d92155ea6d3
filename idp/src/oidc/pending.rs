//! An authorization request waiting for login or consent, in the shared store: what the
//! login, second-factor, sign-up and consent pages read to resume it. Its own module so the
//! account pages can read it without importing the authorization endpoint.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{AppState, error::PageError, secrets};

/// How long a person has to log in and consent before the request must start over.
const PENDING_TTL: Duration = Duration::from_secs(30 * 60);

/// A checked authorization request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: String,
    /// Exactly one of its registered redirect URIs.
    pub redirect_uri: String,
    /// Requested scopes the client may have.
    pub scopes: Vec<String>,
    /// Opaque value echoed back.
    pub state: Option<String>,
    /// Replay protection for the ID token.
    pub nonce: Option<String>,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// Maximum authentication age, seconds.
    pub max_age: Option<i64>,
    /// Suggested login.
    pub login_hint: Option<String>,
    /// Requested authentication levels.
    pub acr_values: Vec<String>,
    /// The `claims` parameter, JSON, restricted to what the client may have.
    pub claims: Option<String>,
    /// Scopes of the user claims named in `claims`: consented to like `scopes`, though only
    /// the named claims are released.
    #[serde(default)]
    pub claim_scopes: Vec<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// When the request reached us (a login after this satisfies `prompt=login`/`max_age`).
    pub created_at: i64,
    /// The session (`sid`) started by a login during this request: it satisfies
    /// `prompt=login` and `max_age`. Set by the login page only, bound to the session it made.
    #[serde(default)]
    pub logged_in_sid: Option<String>,
    /// The person consented during this request.
    #[serde(default)]
    pub consented: bool,
}

impl AuthorizationRequest {
    /// What the person consents to: the requested scopes and those of claims named in `claims`.
    pub fn consent_scopes(&self) -> Vec<String> {
        let mut all = self.scopes.clone();
        all.extend(
            self.claim_scopes
                .iter()
                .filter(|s| !self.scopes.contains(s))
                .cloned(),
        );
        all
    }
}

/// A request waiting for login or consent, in the shared store.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingAuthorization {
    /// The request.
    pub request: AuthorizationRequest,
    /// Client name, for the pages.
    pub client_name: String,
}

pub(crate) fn pending_key(id: &str) -> String {
    format!("authreq:{}", secrets::hash(id))
}

impl PendingAuthorization {
    /// The pending request with this id, if still there.
    pub async fn load(state: &AppState, id: &str) -> Result<Option<Self>, PageError> {
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        Ok(state
            .ephemeral
            .get(&pending_key(id))
            .await?
            .and_then(|raw| serde_json::from_str(&raw).ok()))
    }

    /// Records that the session `sid` was started by a login during this request.
    pub async fn logged_in(
        mut self,
        state: &AppState,
        id: &str,
        sid: &str,
    ) -> Result<(), PageError> {
        self.request.logged_in_sid = Some(sid.to_owned());
        self.save(state, id).await
    }

    pub(crate) async fn save(&self, state: &AppState, id: &str) -> Result<(), PageError> {
        let raw = serde_json::to_string(self).expect("pending request serialises");
        state
            .ephemeral
            .put(&pending_key(id), &raw, PENDING_TTL)
            .await?;
        Ok(())
    }
}
