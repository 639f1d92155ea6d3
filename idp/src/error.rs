//! The two error surfaces of the provider: pages (a French message in the page layout) and
//! protocol endpoints (RFC 6749 `error` / `error_description` JSON). Internal failures are
//! logged with context and shown as a generic message; their details never reach the client.

use std::time::Duration;

use askama::Template;
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use crate::{
    accounts::password::Overloaded,
    action::{Refusal, RefusalKind},
    store::ephemeral::EphemeralError,
    web::rate_limit::LimitReached,
};

/// An error shown to a person as a page.
#[derive(Debug)]
pub struct PageError {
    /// HTTP status.
    pub status: StatusCode,
    /// Page title.
    pub title: &'static str,
    /// The French message.
    pub message: String,
    /// How long to wait before trying again (`Retry-After`, 429 answers).
    pub retry_after: Option<Duration>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl PageError {
    /// A page of `status`, `title` and `message`.
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A request we cannot serve, explained.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Requête invalide", message)
    }

    /// Something the person may not do.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Accès refusé", message)
    }

    /// A form whose CSRF token does not match the browser's: the one message for every form.
    pub fn form_expired() -> Self {
        Self::forbidden(
            "Le formulaire a expiré ou n'a pas été envoyé depuis EFP Connect. Veuillez recharger la page et réessayer.",
        )
    }

    /// Nothing here.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Page introuvable",
            "La page demandée n'existe pas.",
        )
    }

    /// An action's refusal as a page: its French message, the status of its kind.
    pub fn refused(refusal: &impl Refusal) -> Self {
        let (status, title) = match refusal.kind() {
            RefusalKind::Invalid => (StatusCode::BAD_REQUEST, "Requête invalide"),
            RefusalKind::Forbidden => (StatusCode::FORBIDDEN, "Accès refusé"),
            RefusalKind::NotFound => (StatusCode::NOT_FOUND, "Page introuvable"),
            RefusalKind::Conflict => (StatusCode::CONFLICT, "Action impossible"),
            RefusalKind::TooMany => (StatusCode::TOO_MANY_REQUESTS, "Trop de tentatives"),
            RefusalKind::Internal => return Self::internal(refusal.code(), refusal),
        };
        Self {
            retry_after: refusal.retry_after(),
            ..Self::new(status, title, refusal.to_string())
        }
    }

    /// A failure on our side: logged here, generic for the person.
    pub fn internal(context: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error.context = context, error.message = %error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Erreur technique",
            "Une erreur technique est survenue. Veuillez réessayer dans quelques instants.",
        )
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = ErrorPage {
            title: self.title,
            message: &self.message,
        }
        .render()
        .unwrap_or_else(|_| self.message.clone());
        let response = crate::web::no_store((self.status, Html(body)));
        match self.retry_after {
            Some(wait) => crate::web::rate_limit::with_retry_after(response, wait),
            None => response,
        }
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal("database", &e)
    }
}

impl From<EphemeralError> for PageError {
    fn from(e: EphemeralError) -> Self {
        Self::internal("ephemeral store", &e)
    }
}

impl From<Overloaded> for PageError {
    fn from(_: Overloaded) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service momentanément indisponible",
            "Le service est très sollicité. Veuillez réessayer dans quelques instants.",
        )
    }
}

impl From<LimitReached> for PageError {
    fn from(limit: LimitReached) -> Self {
        Self {
            retry_after: Some(limit.retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Trop de tentatives",
                format!(
                    "Trop de tentatives. Veuillez réessayer dans {}.",
                    crate::web::rate_limit::french_duration(limit.retry_after)
                ),
            )
        }
    }
}

/// An OAuth 2.0 error of a protocol endpoint (RFC 6749 §5.2).
#[derive(Debug)]
pub struct OAuthError {
    /// HTTP status.
    pub status: StatusCode,
    /// The `error` code.
    pub error: &'static str,
    /// Human-readable detail (`error_description`), French.
    pub description: String,
    /// `WWW-Authenticate` to send (401 answers).
    pub www_authenticate: Option<String>,
    /// How long to wait before trying again (`Retry-After`, 429 answers).
    pub retry_after: Option<Duration>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            www_authenticate: None,
            retry_after: None,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }

    /// `invalid_client`, 401 with a Basic challenge.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self {
            www_authenticate: Some("Basic realm=\"efp-connect\"".into()),
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
        }
    }

    /// `invalid_grant`.
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }

    /// `unauthorized_client`.
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }

    /// `unsupported_grant_type`.
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }

    /// `invalid_scope`.
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }

    /// `invalid_token` on a resource (RFC 6750): 401 with a Bearer challenge. The French
    /// description stays in the body: RFC 6750 §3 allows only printable ASCII in the header.
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self {
            www_authenticate: Some("Bearer error=\"invalid_token\"".into()),
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_token", d)
        }
    }

    /// `insufficient_scope` on a resource (RFC 6750): 403.
    pub fn insufficient_scope(d: impl Into<String>) -> Self {
        Self {
            www_authenticate: Some("Bearer error=\"insufficient_scope\"".into()),
            ..Self::new(StatusCode::FORBIDDEN, "insufficient_scope", d)
        }
    }

    /// `insufficient_user_authentication` on a resource (RFC 9470): 401 with a Bearer
    /// challenge naming the `acr_values` to log in again with (ASCII values from the
    /// configuration); the French description stays in the body.
    pub fn insufficient_user_authentication(acr_values: &str, d: impl Into<String>) -> Self {
        Self {
            www_authenticate: Some(format!(
                "Bearer error=\"insufficient_user_authentication\", acr_values=\"{acr_values}\""
            )),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "insufficient_user_authentication",
                d,
            )
        }
    }

    /// An error of one of the provider's JSON APIs, in the same envelope as the protocol's
    /// (`error`, `error_description`), with an error code of that API.
    pub fn api(status: StatusCode, error: &'static str, d: impl Into<String>) -> Self {
        Self::new(status, error, d)
    }

    /// An action's refusal in the JSON envelope: its stable code as `error`, its French message
    /// as `error_description`, the status of its kind.
    pub fn refused(refusal: &impl Refusal) -> Self {
        let status = match refusal.kind() {
            RefusalKind::Invalid => StatusCode::BAD_REQUEST,
            RefusalKind::Forbidden => StatusCode::FORBIDDEN,
            RefusalKind::NotFound => StatusCode::NOT_FOUND,
            RefusalKind::Conflict => StatusCode::CONFLICT,
            RefusalKind::TooMany => StatusCode::TOO_MANY_REQUESTS,
            RefusalKind::Internal => return Self::internal(refusal.code(), refusal),
        };
        Self {
            retry_after: refusal.retry_after(),
            ..Self::new(status, refusal.code(), refusal.to_string())
        }
    }

    /// Too many attempts: 429 with the wait in French and in `Retry-After`.
    pub fn rate_limited(reached: LimitReached) -> Self {
        Self {
            retry_after: Some(reached.retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!(
                    "Trop de tentatives. Veuillez réessayer dans {}.",
                    crate::web::rate_limit::french_duration(reached.retry_after)
                ),
            )
        }
    }

    /// `temporarily_unavailable`: overload.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "Service momentanément surchargé.",
        )
    }

    /// `server_error`: logged here, generic for the client.
    pub fn internal(context: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error.context = context, error.message = %error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Erreur technique.",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(challenge) = self
            .www_authenticate
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        match self.retry_after {
            Some(wait) => crate::web::rate_limit::with_retry_after(response, wait),
            None => response,
        }
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal("database", &e)
    }
}

impl From<EphemeralError> for OAuthError {
    fn from(e: EphemeralError) -> Self {
        Self::internal("ephemeral store", &e)
    }
}

impl From<Overloaded> for OAuthError {
    fn from(_: Overloaded) -> Self {
        Self::unavailable()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::{
        http::{StatusCode, header},
        response::IntoResponse,
    };

    use super::*;

    #[test]
    fn every_surface_sends_the_wait_of_its_limit() {
        let reached = LimitReached {
            retry_after: Duration::from_secs(125),
        };
        let page = PageError::from(reached).into_response();
        let api = OAuthError::rate_limited(reached).into_response();
        for response in [page, api] {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()[header::RETRY_AFTER], "125");
        }
    }
}
