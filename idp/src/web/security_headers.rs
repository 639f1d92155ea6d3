//! Security headers on every response.
//!
//! The Content-Security-Policy lets forms go to this origin only (`form-action 'self'`), so a
//! form injected into a page cannot post a person's input elsewhere. Browsers built on
//! Chromium also check `form-action` against every redirect that follows a form's submission:
//! a login form whose answer ends at the relying party (`303 /authorize/continue`, then `302`
//! to its `redirect_uri`) needs that relying party's origin. [`DeploymentLayer`] adds, to the
//! pages of one browser, exactly the origins our answers may send it to from a form:
//! - the origin of the `redirect_uri` of this browser's latest authorization request (the
//!   `idp_return` cookie that `/authorize` sets, [`return_origin_cookie`]; only a registered
//!   redirect URI ever gets there);
//! - the origins a handler names for its own page ([`allow_form_action`]): the consent page
//!   (its client's `redirect_uri`), the logout confirmation (the `post_logout_redirect_uri`);
//! - the configured upstream providers' issuers: an agent's logout goes on to theirs.
//!
//! The same layer sends `Strict-Transport-Security` when the issuer is `https`.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    body::Body,
    http::{self, HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use tower::util::MapResponseLayer;

use super::{cookies, rate_limit};
use crate::config::Config;

/// The policy of every page that names no other destination; its `form-action` comes last, so
/// [`csp_with`] appends origins to it.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// HSTS for an `https` issuer: two years, sub-domains included (a sub-domain served over
/// plain HTTP could otherwise set cookies for the provider's domain).
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// How long the browser keeps the origin of its authorization request: as long as the request
/// waits for the person (`oidc::pending`).
const RETURN_ORIGIN_SECONDS: u64 = 30 * 60;

/// Built at compile time: a response takes cheap clones of static bytes, never a check of
/// the values nor an allocation.
const HEADERS: [(HeaderName, HeaderValue); 5] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];

/// The layer adding [`HEADERS`] to every response, unless the handler set its own, and a
/// `Retry-After` to a 429 whose handler did not say how long to wait. A plain function mapped
/// over the responses: no boxing of the inner service or of the future, as
/// `axum::middleware::from_fn` would do per request.
pub fn layer() -> MapResponseLayer<fn(Response<Body>) -> Response<Body>> {
    MapResponseLayer::new(add_missing)
}

fn add_missing(mut response: Response<Body>) -> Response<Body> {
    let too_many = response.status() == StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        headers.entry(name).or_insert(value);
    }
    if too_many {
        headers
            .entry(header::RETRY_AFTER)
            .or_insert_with(|| rate_limit::retry_after_value(rate_limit::RETRY_AFTER_FALLBACK));
    }
    response
}

/// Origins (`scheme://host[:port]`) a page's forms may lead to besides this one, named by its
/// handler (a response extension [`DeploymentLayer`] reads).
#[derive(Clone, Debug, Default)]
pub struct FormActionOrigins(Vec<String>);

/// The origin of `uri` (`https://rp.example:8443`), if it is an `http(s)` URL.
pub fn origin_of(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    match url.origin() {
        origin @ url::Origin::Tuple(..) => Some(origin.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// Lets the forms of `response` lead to the origin of `uri` too (its `form-action`).
pub fn allow_form_action(response: &mut axum::response::Response, uri: &str) {
    let Some(origin) = origin_of(uri) else {
        return;
    };
    let extensions = response.extensions_mut();
    match extensions.get_mut::<FormActionOrigins>() {
        Some(FormActionOrigins(origins)) => origins.push(origin),
        None => {
            extensions.insert(FormActionOrigins(vec![origin]));
        }
    }
}

/// The cookie remembering the origin of this browser's authorization request (`redirect_uri`):
/// its pages' forms may end there.
fn return_origin_cookie(redirect_uri: &str, secure: bool) -> Option<HeaderValue> {
    let origin = origin_of(redirect_uri)?;
    Some(cookies::set(
        cookies::RETURN_ORIGIN,
        &B64.encode(origin),
        secure,
        Some(RETURN_ORIGIN_SECONDS),
    ))
}

/// Lets `response`'s forms, and the pages this browser opens next, lead to the origin of the
/// authorization request's `redirect_uri` (a registered one): the answer of `/authorize`, and
/// the login page of a request opened in another browser (a link of the sign-up's e-mail).
pub fn remember_return(response: &mut axum::response::Response, redirect_uri: &str, secure: bool) {
    if let Some(cookie) = return_origin_cookie(redirect_uri, secure) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    allow_form_action(response, redirect_uri);
}

fn return_origin(headers: &HeaderMap, secure: bool) -> Option<String> {
    let encoded = cookies::get(headers, cookies::RETURN_ORIGIN, secure)?;
    let decoded = String::from_utf8(B64.decode(encoded).ok()?).ok()?;
    // Whatever the cookie holds, only an origin parsed back reaches the header.
    origin_of(&decoded).filter(|o| *o == decoded)
}

/// The policy with `form-action 'self'` and `origins`.
fn csp_with(origins: &[String]) -> Option<HeaderValue> {
    let mut policy = String::from(CSP);
    for origin in origins {
        if !policy.split(' ').any(|s| s == origin) {
            policy.push(' ');
            policy.push_str(origin);
        }
    }
    HeaderValue::from_str(&policy).ok()
}

/// What the deployment adds: HSTS, and the `form-action` origins of its upstream providers.
struct Deployment {
    hsts: bool,
    secure_cookies: bool,
    upstreams: Vec<String>,
    /// The policy with the upstreams alone, built once: most answers need no other origin.
    upstreams_policy: Option<HeaderValue>,
}

/// The headers that depend on the configuration and on the request: HSTS and the extra
/// `form-action` origins (module docs). Outside [`layer`], whose default policy it widens.
#[derive(Clone)]
pub struct DeploymentLayer(Arc<Deployment>);

impl DeploymentLayer {
    /// From the configuration.
    pub fn new(config: &Config) -> Self {
        let upstreams: Vec<String> = config
            .agents
            .upstreams
            .iter()
            .filter_map(|u| origin_of(&u.issuer))
            .collect();
        Self(Arc::new(Deployment {
            hsts: config.issuer.starts_with("https://"),
            secure_cookies: config.session.secure_cookies,
            upstreams_policy: (!upstreams.is_empty())
                .then(|| csp_with(&upstreams))
                .flatten(),
            upstreams,
        }))
    }
}

impl<S> tower::Layer<S> for DeploymentLayer {
    type Service = DeploymentHeaders<S>;

    fn layer(&self, inner: S) -> DeploymentHeaders<S> {
        DeploymentHeaders {
            inner,
            deployment: self.0.clone(),
        }
    }
}

/// The service of [`DeploymentLayer`].
#[derive(Clone)]
pub struct DeploymentHeaders<S> {
    inner: S,
    deployment: Arc<Deployment>,
}

impl<S, B> tower::Service<http::Request<B>> for DeploymentHeaders<S>
where
    S: tower::Service<http::Request<B>, Response = axum::response::Response>,
{
    type Response = axum::response::Response;
    type Error = S::Error;
    type Future = DeploymentFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let returns_to = return_origin(request.headers(), self.deployment.secure_cookies);
        DeploymentFuture {
            inner: self.inner.call(request),
            deployment: self.deployment.clone(),
            returns_to,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`DeploymentHeaders`].
    pub struct DeploymentFuture<F> {
        #[pin]
        inner: F,
        deployment: Arc<Deployment>,
        returns_to: Option<String>,
    }
}

impl<F, E> Future for DeploymentFuture<F>
where
    F: Future<Output = Result<axum::response::Response, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        let deployment = &**this.deployment;
        if deployment.hsts {
            response
                .headers_mut()
                .entry(header::STRICT_TRANSPORT_SECURITY)
                .or_insert(HeaderValue::from_static(HSTS));
        }
        let named = response.extensions_mut().remove::<FormActionOrigins>();
        // Only the default policy is widened: a handler's own policy stays as it wrote it.
        let is_default = response
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .is_none_or(|v| v.as_bytes() == CSP.as_bytes());
        if !is_default {
            return Poll::Ready(Ok(response));
        }
        let policy = if named.is_none() && this.returns_to.is_none() {
            deployment.upstreams_policy.clone()
        } else {
            let mut origins: Vec<String> = named.map(|n| n.0).unwrap_or_default();
            origins.extend(this.returns_to.take());
            origins.extend(deployment.upstreams.iter().cloned());
            csp_with(&origins)
        };
        if let Some(policy) = policy {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, policy);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_sends_forms_nowhere_else() {
        assert!(CSP.ends_with("form-action 'self'"), "{CSP}");
        assert!(!CSP.contains('*'));
    }

    #[test]
    fn a_429_that_does_not_say_when_gets_the_fallback_wait() {
        let said = Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header(header::RETRY_AFTER, "300")
            .body(Body::empty())
            .unwrap();
        assert_eq!(add_missing(said).headers()[header::RETRY_AFTER], "300");
        let unsaid = Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .body(Body::empty())
            .unwrap();
        assert_eq!(add_missing(unsaid).headers()[header::RETRY_AFTER], "60");
        let fine = Response::new(Body::empty());
        assert!(
            add_missing(fine)
                .headers()
                .get(header::RETRY_AFTER)
                .is_none()
        );
    }

    #[test]
    fn only_origins_reach_the_policy() {
        assert_eq!(
            origin_of("https://rp.example:8443/callback?x=1").as_deref(),
            Some("https://rp.example:8443")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("data:text/html,x"), None);
        let policy = csp_with(&["https://rp.example".into(), "https://rp.example".into()])
            .expect("valid header");
        assert!(
            policy
                .to_str()
                .unwrap()
                .ends_with("form-action 'self' https://rp.example"),
            "{policy:?}"
        );
    }
}
