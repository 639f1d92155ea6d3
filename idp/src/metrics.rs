//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4).
//!
//! Counters and histograms go through the `metrics` facade into one process-wide
//! `metrics-exporter-prometheus` recorder, installed on first use; the signing keys are read
//! from the database at each scrape and appended, so their ages and states are exact rather
//! than a gauge left over from an earlier state.
//!
//! What is counted (docs/operations.md):
//! - `idp_http_requests_total{route,method,status}` and `idp_http_request_duration_seconds`
//!   `{route,method}`: `route` is the matched route template (`/acces/{service}`), never the
//!   raw path, so labels stay few whatever the clients send;
//! - `idp_logins_total{outcome}`, `idp_rate_limited_total{bucket}`,
//!   `idp_mails_total{kind,outcome}`, `idp_tokens_issued_total{grant_type}`;
//! - `idp_signing_key_age_seconds{kid,alg,state}` for every published key.
//!
//! Who may read it (`metrics.token`, `metrics.listen`): [`scrape`] and [`dedicated_routes`].

use std::{
    cell::RefCell,
    collections::HashMap,
    fmt::Write as _,
    pin::Pin,
    sync::OnceLock,
    task::{Context, Poll},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, State},
    http::{self, HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use crate::{
    AppState,
    keys::{rotation::KeyState, store as key_store},
    store::now,
};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets, seconds: from a cached discovery document (well under a millisecond) to
/// a password hash queued behind others (seconds).
const BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The recorder's handle, installing the recorder on first call. A program embedding the
/// library that installed its own recorder first keeps it: our handle then renders only what
/// reached ours (nothing), and the keys.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("idp_http_request_duration_seconds".into()),
                &BUCKETS,
            )
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Drains the histograms' buffers into their buckets: the server calls it periodically so
/// memory stays flat between scrapes.
pub fn upkeep() {
    handle().run_upkeep();
}

fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

/// Middleware: counts and times every request under its route template.
///
/// A tower layer rather than `axum::middleware::from_fn`, and with the label handles resolved
/// once per thread: the macros build, hash and free a label set per call, and `from_fn` boxes
/// the inner service and the future, which together cost more than serving `/jwks` itself.
#[derive(Clone, Copy, Default)]
pub struct TrackLayer;

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track { inner }
    }
}

/// The service of [`TrackLayer`].
#[derive(Clone)]
pub struct Track<S> {
    inner: S,
}

impl<S, B, ResB> tower::Service<http::Request<B>> for Track<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResB>>,
{
    type Response = http::Response<ResB>;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = method_label(request.method());
        TrackFuture {
            started: Instant::now(),
            route,
            method,
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Track`]: records when the inner service answers.
    pub struct TrackFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        route: Option<MatchedPath>,
        method: &'static str,
    }
}

impl<F, ResB, E> Future for TrackFuture<F>
where
    F: Future<Output = Result<http::Response<ResB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
            record(
                route,
                this.method,
                response.status().as_u16(),
                this.started.elapsed().as_secs_f64(),
            );
        }
        Poll::Ready(result)
    }
}

/// The handles of one route template, by method and status.
#[derive(Default)]
struct RouteHandles {
    by_method: Vec<MethodHandles>,
}

struct MethodHandles {
    method: &'static str,
    duration: metrics::Histogram,
    by_status: Vec<(u16, metrics::Counter)>,
}

thread_local! {
    // Per thread, so a hit takes no lock and touches no line another core writes. The recorder
    // never drops a series (no idle timeout is configured), so a handle stays valid for the
    // process; the entries are bounded by templates x methods x statuses.
    static HANDLES: RefCell<HashMap<Box<str>, RouteHandles>> = RefCell::new(HashMap::new());
}

fn record(route: &str, method: &'static str, status: u16, seconds: f64) {
    HANDLES.with_borrow_mut(|handles| {
        let by_route = match handles.get_mut(route) {
            Some(found) => found,
            None => handles.entry(route.into()).or_default(),
        };
        let by_method = match by_route.by_method.iter().position(|m| m.method == method) {
            Some(i) => &mut by_route.by_method[i],
            None => {
                by_route.by_method.push(MethodHandles {
                    method,
                    duration: metrics::histogram!(
                        "idp_http_request_duration_seconds",
                        "route" => route.to_owned(),
                        "method" => method
                    ),
                    by_status: Vec::new(),
                });
                by_route.by_method.last_mut().expect("just pushed")
            }
        };
        by_method.duration.record(seconds);
        match by_method.by_status.iter().find(|(s, _)| *s == status) {
            Some((_, counter)) => counter.increment(1),
            None => {
                let counter = metrics::counter!(
                    "idp_http_requests_total",
                    "route" => route.to_owned(),
                    "method" => method,
                    "status" => status.to_string()
                );
                counter.increment(1);
                by_method.by_status.push((status, counter));
            }
        }
    });
}

/// Rows (or outbox messages) the janitor removed from `table`.
pub fn purged(table: &'static str, rows: u64) {
    metrics::counter!("idp_purged_rows_total", "table" => table).increment(rows);
}

/// A login form's outcome: `success` or `failure` (wrong credentials).
pub fn login(outcome: &'static str) {
    metrics::counter!("idp_logins_total", "outcome" => outcome).increment(1);
}

/// A request refused by the rate limit `bucket`.
pub fn rate_limited(bucket: &str) {
    metrics::counter!("idp_rate_limited_total", "bucket" => bucket.to_owned()).increment(1);
}

/// An e-mail of `kind` sent, or given up after its retries.
pub fn mail(kind: &'static str, sent: bool) {
    let outcome = if sent { "sent" } else { "failed" };
    metrics::counter!("idp_mails_total", "kind" => kind, "outcome" => outcome).increment(1);
}

/// Tokens issued by the token endpoint for `grant_type`.
pub fn tokens_issued(grant_type: &'static str) {
    metrics::counter!("idp_tokens_issued_total", "grant_type" => grant_type).increment(1);
}

/// Whether the request carries the configured bearer token (compared in constant time);
/// `None` when no token is configured.
fn token_given(state: &AppState, headers: &HeaderMap) -> Option<bool> {
    let expected = state
        .config
        .metrics
        .token
        .as_deref()
        .filter(|t| !t.is_empty())?;
    Some(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes()))),
    )
}

/// `GET /metrics` on the main listener: only with the configured bearer token; 404 otherwise,
/// and always when no token is configured (the address of the request proves nothing behind
/// a reverse proxy).
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if token_given(&state, &headers) != Some(true) {
        return StatusCode::NOT_FOUND.into_response();
    }
    exposition(&state).await
}

/// `GET /metrics` on the dedicated listener (`metrics.listen`): to whoever reaches that
/// address, or only with the token when one is configured.
async fn scrape_dedicated(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if token_given(&state, &headers) == Some(false) {
        return StatusCode::NOT_FOUND.into_response();
    }
    exposition(&state).await
}

/// The router of the dedicated listener: `/metrics` and nothing else.
pub fn dedicated_routes(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape_dedicated))
        .with_state(state)
}

/// The exposition: the recorder's series, then the signing keys read now.
async fn exposition(state: &AppState) -> Response {
    let mut body = handle().render();
    match key_store::all_keys(&state.db).await {
        Ok(keys) => {
            let t = now();
            body.push_str(
                "# HELP idp_signing_key_age_seconds Age of each published signing key.\n\
                 # TYPE idp_signing_key_age_seconds gauge\n",
            );
            for key in &keys {
                let key_state = KeyState::of(key, t);
                if !key_state.is_published() {
                    continue;
                }
                let label = serde_json::to_value(key_state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let _ = writeln!(
                    body,
                    "idp_signing_key_age_seconds{{kid=\"{}\",alg=\"{}\",state=\"{label}\"}} {}",
                    key.kid,
                    key.alg,
                    t - key.created_at
                );
            }
        }
        Err(e) => tracing::warn!(error.message = %e, "metrics: signing keys not read"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
