//! The provider's JSON API (docs/api.md): activation of a code and the person's notifications
//! with their access token; establishments and codes with the service's client_credentials
//! token. Errors are
//! typed; the provider's `error_description` is French and shown as is.

use serde::{Deserialize, de::DeserializeOwned};

use crate::PageError;

/// A SIRET as typed: 14 digits once spaces are removed (the provider checks the rest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Siret(String);

impl Siret {
    /// Parses a typed SIRET.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 14 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err("Le SIRET doit comporter 14 chiffres.")
        }
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An activation code as typed: 12 letters or digits once spaces are removed, upper case.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode(String);

impl ActivationCode {
    /// Parses a typed code.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let code: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_uppercase();
        if code.len() == 12 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(code))
        } else {
            Err("Le code d'activation comporte 12 caractères (lettres et chiffres).")
        }
    }
}

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The provider refused the request (4xx) with its `error` and French description.
    #[error("{status} {error}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// `error` code.
        error: String,
        /// `error_description`, French.
        description: String,
    },
    /// The token was refused (401).
    #[error("token refused")]
    Unauthorized,
    /// The provider could not be reached or answered something unusable.
    #[error("unreachable: {0}")]
    Unreachable(String),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Refused {
                error, description, ..
            } => PageError::Api { error, description },
            ApiError::Unauthorized => PageError::SessionExpired,
            ApiError::Unreachable(why) => PageError::Unreachable(why),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// A French sentence for API errors that came without a description.
fn default_description(error: &str) -> &'static str {
    match error {
        "invalid_code" => "Ce code d'activation n'est pas valide.",
        "wrong_siret" => "Ce code d'activation n'a pas été délivré pour ce SIRET.",
        "expired_code" => "Ce code d'activation a expiré : demandez-en un nouveau.",
        "revoked_code" => "Ce code d'activation a été remplacé ou révoqué.",
        "used_code" => "Ce code d'activation a déjà été utilisé.",
        "invalid_siret" => "Ce SIRET n'est pas valide.",
        "rate_limited" => "Trop de tentatives : veuillez réessayer plus tard.",
        "closed_establishment" => {
            "Cet établissement est fermé : il ne peut pas recevoir de code d'activation."
        }
        "not_found" => "Aucun établissement ne porte ce SIRET.",
        _ => "EFP Connect a refusé la demande.",
    }
}

async fn call<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T, ApiError> {
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::Unreachable(e.to_string()))?;
    let status = response.status();
    if status.is_success() {
        return response
            .json()
            .await
            .map_err(|e| ApiError::Unreachable(format!("unreadable answer: {e}")));
    }
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(ApiError::Unauthorized);
    }
    if status.is_client_error() {
        let envelope: Envelope = response.json().await.unwrap_or(Envelope {
            error: None,
            error_description: None,
        });
        let error = envelope.error.unwrap_or_else(|| "invalid_request".into());
        let description = envelope
            .error_description
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| default_description(&error).to_owned());
        return Err(ApiError::Refused {
            status: status.as_u16(),
            error,
            description,
        });
    }
    Err(ApiError::Unreachable(format!("status {status}")))
}

/// What a redeemed code gave.
#[derive(Debug, Deserialize)]
pub struct Activated {
    /// Service code.
    pub service: String,
    /// Establishment.
    pub siret: String,
    /// Its name.
    #[serde(default)]
    pub establishment: Option<String>,
    /// Where the browser goes next (the provider's charte page).
    pub next: String,
}

/// `POST {issuer}/api/v1/activation` with the person's access token.
pub async fn activate(
    http: &reqwest::Client,
    issuer: &str,
    access_token: &str,
    code: &ActivationCode,
    siret: Option<&Siret>,
) -> Result<Activated, ApiError> {
    let mut body = serde_json::json!({ "code": code.0 });
    if let Some(siret) = siret {
        body["siret"] = siret.as_str().into();
    }
    call(
        http.post(format!("{issuer}/api/v1/activation"))
            .bearer_auth(access_token)
            .json(&body),
    )
    .await
}

/// What waits for the person at the provider: the red pastille beside their name.
#[derive(Clone, Debug, Deserialize)]
pub struct Notifications {
    /// Responsable des accès of at least one establishment for CERES.
    pub access_manager: bool,
    /// Access requests waiting for them.
    pub pending_access_requests: u32,
    /// The provider's « Demandes d'accès » page (managers only).
    #[serde(default)]
    pub requests_url: Option<String>,
    /// The provider's « Gérer mon compte ».
    pub account_url: String,
}

/// `GET {issuer}/api/v1/notifications` with the person's access token.
pub async fn notifications(
    http: &reqwest::Client,
    issuer: &str,
    access_token: &str,
) -> Result<Notifications, ApiError> {
    call(
        http.get(format!("{issuer}/api/v1/notifications"))
            .bearer_auth(access_token),
    )
    .await
}

/// An establishment of the SIRENE register.
#[derive(Clone, Debug, Deserialize)]
pub struct Establishment {
    /// SIRET.
    pub siret: String,
    /// SIREN.
    #[serde(default)]
    pub siren: Option<String>,
    /// Raison sociale.
    pub name: String,
    /// Street address.
    #[serde(default)]
    pub address: String,
    /// Postcode.
    #[serde(default)]
    pub postcode: String,
    /// Commune.
    #[serde(default)]
    pub commune: String,
    /// Open (true) or closed.
    pub active: bool,
}

/// `GET {issuer}/api/v1/establishments/{siret}`: `None` when the register does not know it.
pub async fn establishment(
    http: &reqwest::Client,
    issuer: &str,
    service_token: &str,
    siret: &Siret,
) -> Result<Option<Establishment>, ApiError> {
    match call(
        http.get(format!("{issuer}/api/v1/establishments/{}", siret.as_str()))
            .bearer_auth(service_token),
    )
    .await
    {
        Ok(e) => Ok(Some(e)),
        Err(ApiError::Refused { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A code just issued, with what the letter needs. No `Debug`: the code must not reach logs.
#[derive(Deserialize)]
pub struct IssuedCode {
    /// The code, printed in the letter and nowhere else.
    pub code: String,
    /// Establishment.
    pub siret: String,
    /// Its name.
    #[serde(default)]
    pub establishment: Option<String>,
    /// Street address.
    #[serde(default)]
    pub address: Option<String>,
    /// Postcode.
    #[serde(default)]
    pub postcode: Option<String>,
    /// Commune.
    #[serde(default)]
    pub commune: Option<String>,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// Where the code is typed at the provider.
    #[serde(default)]
    pub redeem_url: Option<String>,
    /// The provider's assistance number (its `assistance.phone`), which the letter gives.
    pub assistance_phone: String,
    /// When that line answers.
    pub assistance_hours: String,
}

/// `POST {issuer}/api/v1/codes` `{"siret"}` with the service token.
pub async fn issue_code(
    http: &reqwest::Client,
    issuer: &str,
    service_token: &str,
    siret: &Siret,
) -> Result<IssuedCode, ApiError> {
    call(
        http.post(format!("{issuer}/api/v1/codes"))
            .bearer_auth(service_token)
            .json(&serde_json::json!({ "siret": siret.as_str() })),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_sirets_and_codes_are_normalised_or_refused() {
        assert_eq!(
            Siret::parse("130 025 265 00013").expect("siret").as_str(),
            "13002526500013"
        );
        assert!(Siret::parse("1300252650001").is_err());
        assert!(Siret::parse("1300252650001A").is_err());
        assert!(ActivationCode::parse("kbj9sl msn8f7").is_ok());
        assert!(ActivationCode::parse("KBJ9SLMSN8F").is_err());
        assert!(ActivationCode::parse("KBJ9SLMSN8F7!").is_err());
    }
}
