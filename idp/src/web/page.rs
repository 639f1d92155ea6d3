//! The plumbing every server-rendered page shares: rendering with this browser's CSRF token
//! and `no-store`, refusing a form without it, and the way to the login and back.

use askama::Template;
use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};

use crate::{AppState, error::PageError, mail::messages::LOGIN_PATH, web::csrf};

/// A local path safe to go back to after the login: it starts with one `/` (not `//`, and no
/// `\`, which browsers read as `/`), so it cannot name another site.
pub fn safe_return(input: &str) -> Option<&str> {
    let ok = input.starts_with('/')
        && !input.starts_with("//")
        && input.len() <= 512
        && !input.contains('\\')
        && !input.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(input)
}

/// The login page, coming back to `path` afterwards.
pub fn login_then(path: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("retour", path)
        .finish();
    Redirect::to(&format!("{LOGIN_PATH}?{query}")).into_response()
}

/// What a handler needs to answer with a page: the state (through `Deref`) and this request's
/// headers, which hold the browser's CSRF and session cookies.
pub struct Page {
    state: AppState,
    headers: HeaderMap,
    client_ip: Option<std::net::IpAddr>,
}

impl axum::extract::FromRequestParts<AppState> for Page {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut page = Self::new(state, &parts.headers);
        page.client_ip = parts
            .extensions
            .get::<crate::web::client_ip::RealClient>()
            .and_then(|c| c.ip);
        Ok(page)
    }
}

impl std::ops::Deref for Page {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.state
    }
}

impl Page {
    /// The page of a request whose handler holds the state and headers apart.
    pub fn new(state: &AppState, headers: &HeaderMap) -> Self {
        Self {
            state: state.clone(),
            headers: headers.clone(),
            client_ip: None,
        }
    }

    /// The client's address, as far as the trusted proxies tell (for the audit trail); `None`
    /// for a page made with [`Page::new`].
    pub fn client_ip(&self) -> Option<std::net::IpAddr> {
        self.client_ip
    }

    /// The request's headers (its cookies: the login session, the CSRF token).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// This page as the browser will be once it stores `set_cookies` (a session started in
    /// this very answer): the forms it renders then carry the new session's CSRF token.
    pub fn after(&self, set_cookies: &[HeaderValue]) -> Self {
        let mut jar: Vec<(String, String)> = self
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for set in set_cookies.iter().filter_map(|v| v.to_str().ok()) {
            let Some((name, value)) = set.split(';').next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            jar.retain(|(k, _)| k != name);
            if !set.contains("Max-Age=0") {
                jar.push((name.to_owned(), value.to_owned()));
            }
        }
        let mut headers = self.headers.clone();
        headers.remove(header::COOKIE);
        let line: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Ok(value) = HeaderValue::from_str(&line.join("; ")) {
            headers.insert(header::COOKIE, value);
        }
        Self {
            state: self.state.clone(),
            headers,
            client_ip: self.client_ip,
        }
    }

    /// Renders a form page: 400 when it shows an error, 200 otherwise.
    pub fn render_form<T: Template>(
        &self,
        has_error: bool,
        build: impl FnOnce(String) -> T,
    ) -> Result<Response, PageError> {
        let status = if has_error {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        self.render(status, build)
    }

    /// Renders a page with this browser's CSRF token (`build` gets it), never cached; the
    /// token's cookie is set when the browser had none.
    pub fn render<T: Template>(
        &self,
        status: StatusCode,
        build: impl FnOnce(String) -> T,
    ) -> Result<Response, PageError> {
        let token = csrf::token(&self.state, &self.headers);
        let body = build(token.value)
            .render()
            .map_err(|e| PageError::internal("page template", &e))?;
        let mut response = (status, Html(body)).into_response();
        if let Some(cookie) = token.set_cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        Ok(crate::web::no_store(response))
    }
}

/// Refuses a form without this browser's CSRF token.
pub fn check_csrf(state: &AppState, headers: &HeaderMap, submitted: &str) -> Result<(), PageError> {
    if csrf::verify(state, headers, submitted) {
        Ok(())
    } else {
        Err(PageError::form_expired())
    }
}

/// A form that carries this browser's CSRF token in its `csrf` field.
pub trait WithCsrf {
    /// The submitted token.
    fn csrf(&self) -> &str;
}

/// Implements [`WithCsrf`] for forms whose token is their `csrf` field.
#[macro_export]
macro_rules! with_csrf {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::web::page::WithCsrf for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}

/// A posted form whose CSRF token was checked: a handler taking it never sees a forged form
/// (refused with « formulaire expiré » before the handler runs).
pub struct CsrfForm<T>(pub T);

impl<T> axum::extract::FromRequest<AppState> for CsrfForm<T>
where
    T: serde::de::DeserializeOwned + WithCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let axum::Form(form) = axum::Form::<T>::from_request(req, state).await.map_err(
            |rejection| match rejection {
                // A field of the wrong kind (every field has a default): said in French. Other
                // rejections (wrong content type, body too large) keep axum's status.
                axum::extract::rejection::FormRejection::FailedToDeserializeForm(_)
                | axum::extract::rejection::FormRejection::FailedToDeserializeFormBody(_) => {
                    PageError::bad_request(
                        "Le formulaire envoyé est illisible. Rechargez la page et recommencez.",
                    )
                    .into_response()
                }
                other => other.into_response(),
            },
        )?;
        check_csrf(state, &headers, form.csrf()).map_err(IntoResponse::into_response)?;
        Ok(Self(form))
    }
}

/// A form with only the CSRF token (a button).
#[derive(serde::Deserialize)]
pub struct PlainForm {
    #[serde(default)]
    csrf: String,
}

crate::with_csrf!(PlainForm);
