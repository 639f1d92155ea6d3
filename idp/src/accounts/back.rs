//! Where a journey ends when it started from a service (guide 002: a person who resets their
//! password from CERES's login page, or who is invited to CERES, must end in CERES, not on the
//! provider's home). A journey keeps a [`Back`]: the pending authorization it came from and the
//! service behind it. Neither is ever a URL taken from the query string: the authorization is
//! looked up in the shared store, the service's home page comes from the database, so a link
//! cannot be turned into an open redirect.

use serde::{Deserialize, Serialize};

use crate::{AppState, access::services, error::PageError, oidc::pending::PendingAuthorization};

/// The service a journey goes back to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Back {
    /// The pending authorization the journey started from (its id), if any.
    #[serde(default)]
    pub authreq: String,
    /// The service's code, known even once the authorization has expired.
    #[serde(default)]
    pub service: Option<String>,
}

/// The link that ends a journey: « Se connecter à CERES » or « Continuer vers CERES ».
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continue {
    /// A local path or a registered service's home page.
    pub href: String,
    /// The button's text.
    pub label: String,
}

impl Back {
    /// The journey came from the login page of `authreq`: keeps it if it is still pending,
    /// with the service of its client.
    pub async fn of_authreq(state: &AppState, authreq: &str) -> Result<Self, PageError> {
        let Some(pending) = PendingAuthorization::load(state, authreq).await? else {
            return Ok(Self::default());
        };
        let service = services::of_client(&state.db, &pending.request.client_id)
            .await?
            .map(|link| link.service.code);
        Ok(Self {
            authreq: authreq.to_owned(),
            service,
        })
    }

    /// The journey is about `service` (an invitation).
    pub fn of_service(service: &str) -> Self {
        Self {
            authreq: String::new(),
            service: Some(service.to_owned()),
        }
    }

    /// How the journey ends for someone who must now log in: back into the pending
    /// authorization through the login page while it lives (the person then arrives in the
    /// service logged in), else to the service's home page, else nowhere in particular.
    pub async fn link(&self, state: &AppState) -> Result<Option<Continue>, PageError> {
        let service = match &self.service {
            Some(code) => services::by_code(&state.db, code).await?,
            None => None,
        };
        if let Some(pending) = PendingAuthorization::load(state, &self.authreq).await? {
            let name = service.map_or(pending.client_name, |s| s.label);
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("authreq", &self.authreq)
                .finish();
            return Ok(Some(Continue {
                href: format!("/connexion?{query}"),
                label: format!("Se connecter à {name}"),
            }));
        }
        Ok(service.and_then(|s| {
            s.home_url.map(|href| Continue {
                href,
                label: format!("Continuer vers {}", s.label),
            })
        }))
    }
}
