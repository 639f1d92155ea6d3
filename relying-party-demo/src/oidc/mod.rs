//! The provider as an OpenID Connect client sees it: discovery (re-run when the provider's
//! signing keys rotate), ID token verification, the refresh and client_credentials grants,
//! and userinfo. The handlers are in [`login`] (login and callback) and [`logout`].

pub mod backchannel;
pub mod login;
pub mod logout;

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use axum::http::HeaderMap;
use openidconnect::{
    ClaimsVerificationError, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IssuerUrl, Nonce, OAuth2TokenResponse, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardErrorResponse, TokenResponse,
    core::{CoreClient, CoreErrorResponseType, CoreIdToken, CoreProviderMetadata},
};
use serde::{Deserialize, Deserializer};
use tokio::sync::OwnedMutexGuard;

use crate::{
    AppState, Config, Error, PageError,
    provider_api::{self, Notifications},
    session::{Login, Session, SessionHandle},
};

/// Scopes asked at login.
pub const SCOPES: [&str; 5] = [
    "email",
    "profile",
    "organization",
    "habilitations",
    "offline_access",
];

/// The scope of the service token (provider API for establishments and codes).
pub const CODES_SCOPE: &str = "codes:issue";

/// An access token this close to its expiry is refreshed before it is used.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// The client as built from discovery.
pub type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What discovery gave: the client (with the JWKS of that moment) and the endpoints the
/// `openidconnect` types do not keep.
pub struct Discovered {
    /// The client.
    pub client: Client,
    /// `end_session_endpoint`, for RP-initiated logout.
    pub end_session: Option<String>,
    /// `userinfo_endpoint`.
    pub userinfo: Option<String>,
    /// `jwks_uri`, read again to check each logout token.
    pub jwks_uri: Option<String>,
}

/// The provider: its discovered metadata and a cached service token.
pub struct Provider {
    discovered: RwLock<Arc<Discovered>>,
    service_token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

async fn fetch(config: &Config, http: &reqwest::Client) -> Result<Discovered, String> {
    let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|e| e.to_string())?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| e.to_string())?;
    // The same document, read as JSON for the endpoints CoreProviderMetadata leaves out.
    let raw: serde_json::Value = http
        .get(format!(
            "{}/.well-known/openid-configuration",
            config.issuer
        ))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let endpoint = |k: &str| raw[k].as_str().map(str::to_owned);
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(config.redirect_uri()).map_err(|e| e.to_string())?);
    Ok(Discovered {
        client,
        end_session: endpoint("end_session_endpoint"),
        userinfo: endpoint("userinfo_endpoint"),
        jwks_uri: endpoint("jwks_uri"),
    })
}

fn token_error<E: std::error::Error + 'static>(
    e: RequestTokenError<E, StandardErrorResponse<CoreErrorResponseType>>,
) -> PageError {
    match e {
        RequestTokenError::ServerResponse(r) => PageError::TokenRejected(r.error().to_string()),
        RequestTokenError::Request(e) => PageError::Unreachable(e.to_string()),
        other => PageError::Unreachable(other.to_string()),
    }
}

impl Provider {
    /// Runs discovery (start-up).
    pub async fn discover(config: &Config, http: &reqwest::Client) -> Result<Self, Error> {
        let discovered = fetch(config, http).await.map_err(Error::Discovery)?;
        Ok(Self {
            discovered: RwLock::new(Arc::new(discovered)),
            service_token: tokio::sync::Mutex::new(None),
        })
    }

    /// The provider as last discovered.
    pub fn current(&self) -> Arc<Discovered> {
        self.discovered
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Runs discovery again: new signing keys after a rotation.
    async fn rediscover(&self, config: &Config, http: &reqwest::Client) -> Result<(), PageError> {
        let fresh = fetch(config, http).await.map_err(PageError::Unreachable)?;
        *self
            .discovered
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh);
        tracing::info!("provider metadata and JWKS fetched again");
        Ok(())
    }

    /// Verifies an ID token and returns its `sub`. A token signed with a key the cached JWKS
    /// does not have (the provider rotated its keys since discovery) makes the JWKS be
    /// fetched again, once, before the token is judged. `nonce`: the login's nonce;
    /// `nonce_required`: false for ID tokens from a refresh, which may omit it.
    pub async fn verify_id_token(
        &self,
        config: &Config,
        http: &reqwest::Client,
        token: &CoreIdToken,
        nonce: &str,
        nonce_required: bool,
    ) -> Result<String, PageError> {
        for attempt in 0..2 {
            let discovered = self.current();
            let check = |n: Option<&Nonce>| match n {
                Some(n) if n.secret() == nonce => Ok(()),
                None if !nonce_required => Ok(()),
                _ => Err("nonce mismatch".to_owned()),
            };
            match token.claims(&discovered.client.id_token_verifier(), check) {
                Ok(claims) => return Ok(claims.subject().as_str().to_owned()),
                Err(ClaimsVerificationError::SignatureVerification(_)) if attempt == 0 => {
                    self.rediscover(config, http).await?;
                }
                Err(e) => return Err(PageError::TokenRejected(e.to_string())),
            }
        }
        Err(PageError::TokenRejected("signature".into()))
    }

    /// The refresh grant: new access token, the rotated refresh token, and the ID token if
    /// one came back.
    pub async fn refresh(
        &self,
        config: &Config,
        http: &reqwest::Client,
        login: &mut Login,
    ) -> Result<(), PageError> {
        let Some(refresh) = login.refresh_token.clone() else {
            return Err(PageError::SessionExpired);
        };
        let discovered = self.current();
        let token = discovered
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh))
            .map_err(|e| PageError::Internal(e.to_string()))?
            .request_async(http)
            .await
            .map_err(|e| match token_error(e) {
                // invalid_grant and friends: the grant is gone, the person logs in again.
                PageError::TokenRejected(_) => PageError::SessionExpired,
                other => other,
            })?;
        if let Some(id_token) = token.id_token() {
            let sub = self
                .verify_id_token(config, http, id_token, &login.nonce, false)
                .await?;
            if sub != login.sub {
                return Err(PageError::TokenRejected("sub changed".into()));
            }
            login.id_token = id_token.to_string();
        }
        login.access_token = token.access_token().secret().clone();
        if let Some(rotated) = token.refresh_token() {
            login.refresh_token = Some(rotated.secret().clone());
        }
        login.expires_at = token.expires_in().map(|d| Instant::now() + d);
        Ok(())
    }

    /// The person's claims from userinfo (fresh at each call).
    pub async fn userinfo(
        &self,
        http: &reqwest::Client,
        login: &Login,
    ) -> Result<Profile, PageError> {
        let Some(url) = self.current().userinfo.clone() else {
            return Err(PageError::Internal("no userinfo endpoint".into()));
        };
        let response = http
            .get(url)
            .bearer_auth(&login.access_token)
            .send()
            .await
            .map_err(|e| PageError::Unreachable(e.to_string()))?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(PageError::SessionExpired);
        }
        if !response.status().is_success() {
            return Err(PageError::Unreachable(format!(
                "userinfo answered {}",
                response.status()
            )));
        }
        let profile: Profile = response
            .json()
            .await
            .map_err(|e| PageError::Unreachable(format!("userinfo: {e}")))?;
        if profile.sub != login.sub {
            return Err(PageError::TokenRejected("userinfo sub".into()));
        }
        Ok(profile)
    }

    /// A client_credentials token with [`CODES_SCOPE`], cached until shortly before expiry.
    pub async fn service_token(&self, http: &reqwest::Client) -> Result<String, PageError> {
        let mut cached = self.service_token.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && *expires > Instant::now() + REFRESH_MARGIN
        {
            return Ok(token.clone());
        }
        let discovered = self.current();
        let token = discovered
            .client
            .exchange_client_credentials()
            .map_err(|e| PageError::Internal(e.to_string()))?
            .add_scope(Scope::new(CODES_SCOPE.into()))
            .request_async(http)
            .await
            .map_err(token_error)?;
        let secret = token.access_token().secret().clone();
        let lifetime = token.expires_in().unwrap_or(Duration::from_secs(60));
        *cached = Some((secret.clone(), Instant::now() + lifetime));
        Ok(secret)
    }

    /// Drops the cached service token (the API refused it).
    pub async fn forget_service_token(&self) {
        *self.service_token.lock().await = None;
    }
}

/// One habilitation as the `habilitations` claim gives it.
#[derive(Clone, Debug, Deserialize)]
pub struct HabilitationClaim {
    /// Establishment's SIRET.
    pub siret: String,
    /// Its name.
    #[serde(default)]
    pub establishment: Option<String>,
    /// Role code (`centre_agree`, `gestionnaire_centres`).
    pub role: String,
    /// Role label ("Centre agréé").
    #[serde(default)]
    pub role_label: Option<String>,
    /// End date, `YYYY-MM-DD`, or none.
    #[serde(default)]
    pub expires_at: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The person's claims (userinfo), as CERES uses them.
#[derive(Clone, Debug, Deserialize)]
pub struct Profile {
    /// Subject.
    pub sub: String,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// First name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Job ("poste").
    #[serde(default)]
    pub job: Option<String>,
    /// The account's organisation.
    #[serde(default)]
    pub organization_label: Option<String>,
    /// Its SIRET.
    #[serde(default)]
    pub siret: Option<String>,
    /// Live habilitations for this service.
    #[serde(default, deserialize_with = "null_as_default")]
    pub habilitations: Vec<HabilitationClaim>,
    /// Establishments the person is Responsable des accès of, for this service.
    #[serde(default, deserialize_with = "null_as_default")]
    pub access_manager_of: Vec<String>,
    /// Ministry agent.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ministry_agent: bool,
    /// Access requests waiting for this manager.
    #[serde(default, deserialize_with = "null_as_default")]
    pub pending_access_requests: u32,
}

impl Profile {
    /// "Prénom Nom", or the e-mail if the provider gave no name.
    pub fn display_name(&self) -> String {
        let name = format!(
            "{} {}",
            self.given_name.as_deref().unwrap_or_default(),
            self.family_name.as_deref().unwrap_or_default()
        );
        let name = name.trim();
        if name.is_empty() {
            self.email.clone().unwrap_or_else(|| "Utilisateur".into())
        } else {
            name.to_owned()
        }
    }
}

/// The logged-in person of a request: their session, locked for the request, and fresh
/// claims.
pub struct Person {
    /// The session's id and handle.
    pub handle: SessionHandle,
    /// The session, locked.
    pub session: OwnedMutexGuard<Session>,
    /// Claims from userinfo, fetched for this request.
    pub profile: Profile,
    /// What waits for them at the provider (the header's pastille), fetched with the claims;
    /// `None` when the provider could not say: the page shows no pastille.
    pub notifications: Option<Notifications>,
}

impl Person {
    /// The login of the session (always there for a [`Person`]).
    pub fn login(&self) -> Result<&Login, PageError> {
        self.session.login.as_ref().ok_or(PageError::SessionExpired)
    }
}

/// Refreshes the session's tokens when they are about to expire or an activation changed the
/// person's rights.
pub async fn ensure_fresh(state: &AppState, session: &mut Session) -> Result<(), PageError> {
    let forced = session.refresh_needed;
    let Some(login) = session.login.as_mut() else {
        return Err(PageError::SessionExpired);
    };
    let expiring = login
        .expires_at
        .is_some_and(|at| at <= Instant::now() + REFRESH_MARGIN);
    if forced || expiring {
        state
            .provider
            .refresh(&state.config, &state.http, login)
            .await?;
        session.refresh_needed = false;
    }
    Ok(())
}

/// The person's notifications, or `None` (logged) when the provider could not give them: a
/// missing pastille must not cost the page.
async fn notifications(state: &AppState, login: &Login) -> Option<Notifications> {
    match provider_api::notifications(&state.http, &state.config.issuer, &login.access_token).await
    {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "notifications unavailable: no pastille on this page");
            None
        }
    }
}

/// The logged-in person of the request with fresh tokens and claims, or `None` if the browser
/// has no logged-in session. A session whose grant is gone is closed.
pub async fn person(state: &AppState, headers: &HeaderMap) -> Result<Option<Person>, PageError> {
    let Some(handle) = state.sessions.find(&state.config, headers) else {
        return Ok(None);
    };
    let mut session = handle.session.clone().lock_owned().await;
    if session.login.is_none() {
        return Ok(None);
    }
    let result = async {
        ensure_fresh(state, &mut session).await?;
        let login = session.login.as_ref().ok_or(PageError::SessionExpired)?;
        let (profile, notifications) = tokio::join!(
            state.provider.userinfo(&state.http, login),
            notifications(state, login)
        );
        Ok((profile?, notifications))
    }
    .await;
    match result {
        Ok((profile, notifications)) => Ok(Some(Person {
            handle,
            session,
            profile,
            notifications,
        })),
        Err(PageError::SessionExpired) => {
            session.login = None;
            drop(session);
            state.sessions.remove(&handle.id);
            Err(PageError::SessionExpired)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_read_with_missing_or_null_extras() {
        let p: Profile = serde_json::from_value(serde_json::json!({
            "sub": "abc",
            "given_name": "Alice",
            "family_name": "Martin",
            "habilitations": null,
        }))
        .expect("profile");
        assert!(p.habilitations.is_empty());
        assert!(!p.ministry_agent);
        assert_eq!(p.pending_access_requests, 0);
        assert_eq!(p.display_name(), "Alice Martin");
        let p: Profile = serde_json::from_value(serde_json::json!({
            "sub": "abc",
            "email": "a@b.fr",
            "habilitations": [{"siret": "13002526500013", "establishment": "CENTRE", "role": "centre_agree", "role_label": "Centre agréé", "expires_at": null}],
            "access_manager_of": ["13002526500013"],
            "ministry_agent": true,
            "pending_access_requests": 2,
        }))
        .expect("profile");
        assert_eq!(p.habilitations[0].role, "centre_agree");
        assert!(p.ministry_agent);
        assert_eq!(p.display_name(), "a@b.fr");
    }
}
