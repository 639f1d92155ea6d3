//! The two error types: [`Error`] stops the start-up; [`PageError`] ends a request on the
//! French error page (`templates/error.html`), never on a panic or raw JSON.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::pages::error::ErrorPage;

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Discovery failed: the provider is unreachable or its metadata is unusable.
    #[error("découverte du fournisseur impossible : {0}")]
    Discovery(String),
    /// The HTTP client or server failed.
    #[error("HTTP : {0}")]
    Http(String),
    /// The database could not be opened.
    #[error("base de données : {0}")]
    Database(#[from] sqlx::Error),
}

/// How a request ends when it cannot go on: each variant has its status and French message.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The provider answered the authorization request with `error=…`.
    #[error("le fournisseur a répondu {0}")]
    Provider(String),
    /// The callback does not match the login this browser started (state, session, `iss`).
    #[error("réponse d'autorisation inattendue : {0}")]
    BadCallback(&'static str),
    /// A token from the provider was refused (signature, audience, nonce…) or the code
    /// exchange failed.
    #[error("jeton refusé : {0}")]
    TokenRejected(String),
    /// The person must log in again (no session, refresh refused, token expired).
    #[error("session expirée")]
    SessionExpired,
    /// The provider could not be reached or answered something unusable.
    #[error("fournisseur injoignable : {0}")]
    Unreachable(String),
    /// The provider's API refused the request; the description is the API's own French text.
    #[error("API du fournisseur : {error}")]
    Api {
        /// `error` code of the API.
        error: String,
        /// Its French `error_description`.
        description: String,
    },
    /// The person may not see this page.
    #[error("accès refusé")]
    Forbidden(&'static str),
    /// A form failed its CSRF check or is malformed.
    #[error("requête invalide : {0}")]
    BadRequest(&'static str),
    /// No such page.
    #[error("page introuvable")]
    NotFound,
    /// A bug or an unexpected failure: logged, shown as a generic page.
    #[error("erreur interne : {0}")]
    Internal(String),
}

/// The French sentence for an `error` code the provider puts on the redirect URI. The
/// `error_description` that comes with it is not shown: anyone can craft that URL.
pub fn provider_error_sentence(code: &str) -> &'static str {
    match code {
        "access_denied" => {
            "La connexion a été refusée ou annulée : CERES n'a pas reçu l'autorisation d'accéder à votre compte EFP Connect."
        }
        "login_required" => "Vous devez vous connecter à EFP Connect pour accéder à CERES.",
        "interaction_required" | "consent_required" | "account_selection_required" => {
            "EFP Connect a besoin que vous confirmiez votre connexion : recommencez en vous connectant."
        }
        "invalid_scope"
        | "unauthorized_client"
        | "invalid_request"
        | "unsupported_response_type" => {
            "La demande de connexion de CERES a été refusée par EFP Connect. Si le problème persiste, contactez l'assistance."
        }
        "temporarily_unavailable" | "server_error" => {
            "EFP Connect est momentanément indisponible. Veuillez réessayer dans quelques instants."
        }
        _ => "EFP Connect n'a pas pu vous connecter à CERES.",
    }
}

impl PageError {
    fn parts(
        &self,
    ) -> (
        StatusCode,
        &'static str,
        String,
        (&'static str, &'static str),
    ) {
        let home = ("/", "Retour à l'accueil de CERES");
        let again = ("/login", "Se reconnecter avec EFP Connect");
        match self {
            Self::Provider(code) => (
                if code == "access_denied" {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::BAD_REQUEST
                },
                "Connexion impossible",
                provider_error_sentence(code).to_owned(),
                home,
            ),
            Self::BadCallback(_) => (
                StatusCode::BAD_REQUEST,
                "Connexion impossible",
                "La réponse d'EFP Connect ne correspond pas à la connexion commencée sur ce navigateur (elle a peut-être expiré). Veuillez recommencer.".into(),
                home,
            ),
            Self::TokenRejected(_) => (
                StatusCode::UNAUTHORIZED,
                "Connexion impossible",
                "Les informations d'identité transmises par EFP Connect n'ont pas pu être vérifiées. Veuillez recommencer.".into(),
                home,
            ),
            Self::SessionExpired => (
                StatusCode::UNAUTHORIZED,
                "Session expirée",
                "Votre session a expiré ou a été fermée. Veuillez vous reconnecter.".into(),
                again,
            ),
            Self::Unreachable(_) => (
                StatusCode::BAD_GATEWAY,
                "Service indisponible",
                "EFP Connect ne répond pas pour le moment. Veuillez réessayer dans quelques instants.".into(),
                home,
            ),
            Self::Api { description, .. } => (
                StatusCode::BAD_GATEWAY,
                "Opération impossible",
                description.clone(),
                home,
            ),
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, "Accès refusé", (*why).to_owned(), home),
            Self::BadRequest(why) => (
                StatusCode::BAD_REQUEST,
                "Requête invalide",
                (*why).to_owned(),
                home,
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Page introuvable",
                "La page que vous cherchez n'existe pas ou a été déplacée.".into(),
                home,
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Erreur inattendue",
                "Une erreur inattendue s'est produite. Veuillez réessayer plus tard.".into(),
                home,
            ),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(_) | Self::Unreachable(_) => {
                tracing::error!(error = %self, "page error")
            }
            _ => tracing::info!(error = %self, "page refused"),
        }
        let (status, title, message, (link, link_label)) = self.parts();
        let page = ErrorPage {
            title,
            message,
            link,
            link_label,
            user: None,
        };
        (status, page).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_provider_errors_get_their_own_french_sentence() {
        assert!(provider_error_sentence("access_denied").contains("refusée"));
        assert!(provider_error_sentence("login_required").contains("connecter"));
        assert!(provider_error_sentence("interaction_required").contains("confirmiez"));
        assert_ne!(
            provider_error_sentence("whatever"),
            provider_error_sentence("access_denied")
        );
        assert_eq!(
            PageError::Provider("access_denied".into()).parts().0,
            StatusCode::FORBIDDEN
        );
    }
}
