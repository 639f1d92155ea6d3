//! Criterion benchmarks of the functions on the hot paths: signing and verifying tokens,
//! password hashing, secrets, the in-process short-lived store, and the middleware every
//! request goes through (`router`: `GET /jwks` through the real router, then through the bare
//! routes with one layer at a time, so each layer's price is the difference).
//! Run: `cargo bench -p idp --bench hot_paths`; results in docs/performance.md.

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use idp::{
    accounts::{Password, PasswordHasher},
    keys::{
        KeySet, SigningAlg,
        keyset::{SigningKey, generate},
    },
    secrets,
    store::Ephemeral,
};
use serde_json::{Value, json};

fn claims() -> Value {
    json!({
        "iss": "https://connexion.efp.example", "sub": "8c5e2b3e-4f0c-4d53-9a57-1f0a8e0f6c1d",
        "aud": "ceres", "exp": 4_000_000_000u64, "iat": 1_700_000_000u64, "scope": "openid email profile",
        "jti": "k3mZ0p9qS1uV8wX2yA4bCg", "client_id": "ceres"
    })
}

fn signing(c: &mut Criterion) {
    for alg in SigningAlg::ALL {
        let key = generate(alg, 2048).expect("key");
        let signer = SigningKey::from_pkcs8(&key.kid, alg, &key.pkcs8).expect("signer");
        let set = KeySet::new(
            vec![key.public_jwk.clone()],
            vec![SigningKey::from_pkcs8(&key.kid, alg, &key.pkcs8).expect("signer")],
        );
        let body = claims();
        c.bench_function(&format!("sign {}", alg.as_str()), |b| {
            b.iter(|| signer.sign("at+jwt", black_box(&body)))
        });
        let token = signer.sign("at+jwt", &body);
        c.bench_function(&format!("verify {}", alg.as_str()), |b| {
            b.iter(|| {
                set.verify::<Value>(black_box(&token), "https://connexion.efp.example", true)
                    .expect("valid")
            })
        });
    }
}

fn passwords(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let hasher = PasswordHasher::new(1, 4);
    let password = Password::parse("Motdepasse-solide-42").expect("password");
    let phc = rt.block_on(hasher.hash(&password)).expect("hash");
    let mut group = c.benchmark_group("argon2id m=19MiB t=2 p=1");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("verify", |b| {
        b.to_async(&rt).iter(|| async {
            hasher
                .verify("Motdepasse-solide-42", Some(&phc))
                .await
                .expect("verify")
        })
    });
    // What a node's cores allow: verifications queued to a hasher with one thread per core,
    // as the server's, all cores busy (they share the memory bandwidth and the caches, which a
    // verification timed alone does not show). The time reported is per verification, so
    // 1000 ms ÷ it is the logins per second the node can hash.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let parallel = PasswordHasher::new(cores, 1 << 20);
    group.bench_function("verify, every core busy", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (parallel, phc) = (parallel.clone(), phc.clone());
            async move {
                let started = std::time::Instant::now();
                let mut all = tokio::task::JoinSet::new();
                for _ in 0..iters {
                    let (hasher, phc) = (parallel.clone(), phc.clone());
                    all.spawn(
                        async move { hasher.verify("Motdepasse-solide-42", Some(&phc)).await },
                    );
                }
                while let Some(ok) = all.join_next().await {
                    assert!(ok.expect("task").expect("verify"));
                }
                started.elapsed()
            }
        })
    });
    group.finish();
}

fn secrets_and_store(c: &mut Criterion) {
    c.bench_function("random 256-bit token + SHA-256", |b| {
        b.iter(|| secrets::hash(&secrets::random_token(32)))
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let store = Ephemeral::memory();
    c.bench_function("memory store put + take (authorization code)", |b| {
        b.to_async(&rt).iter(|| async {
            let key = secrets::random_token(16);
            store
                .put(&key, "{\"grant\":\"…\"}", Duration::from_secs(60))
                .await
                .expect("put");
            store.take(&key).await.expect("take")
        })
    });
}

/// A provider on a fresh SQLite file, as `idp serve` opens it.
fn app_state(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> idp::AppState {
    let mut config = idp::config::Config {
        database_url: format!("sqlite://{}?mode=rwc", dir.join("idp.db").display()),
        ..idp::config::Config::default()
    };
    config.keys.kek = Some(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [7u8; 32],
    ));
    config.keys.dir = dir.join("keys");
    config.mail.outbox_dir = dir.join("outbox");
    rt.block_on(idp::AppState::open(config))
        .expect("provider starts")
}

fn router(c: &mut Criterion) {
    use axum::{Router, body::Body, http::Request};
    use tower::ServiceExt;

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // As the load bench runs the server (`IDP_LOG=warn`, JSON): spans and events below the
    // level must cost what they cost there, not nothing (no subscriber) nor a write.
    let filter = tracing_subscriber::EnvFilter::try_from_env("IDP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_writer(std::io::sink)
        .try_init();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = app_state(&rt, dir.path());
    idp::metrics::handle();

    let variants: Vec<(&str, Router)> = vec![
        ("full router", idp::router(state.clone())),
        (
            "bare + one layer of nothing",
            idp::routes(state.clone()).layer(tower::layer::util::Identity::new()),
        ),
        ("bare routes", idp::routes(state.clone())),
        (
            "bare + metrics",
            idp::routes(state.clone()).layer(idp::metrics::TrackLayer),
        ),
        (
            "bare + security_headers",
            idp::routes(state.clone()).layer(idp::web::security_headers::layer()),
        ),
        (
            "bare + body limit",
            idp::routes(state.clone())
                .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024)),
        ),
        (
            "bare + trace",
            idp::routes(state.clone()).layer(
                tower_http::trace::TraceLayer::new_for_http()
                    .make_span_with(idp::web::request_id::span)
                    .on_response(idp::web::request_id::on_response),
            ),
        ),
        (
            "bare + request id",
            idp::routes(state.clone()).layer(
                tower::ServiceBuilder::new()
                    .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
                        idp::web::request_id::MakeRequestUuid,
                    ))
                    .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id()),
            ),
        ),
    ];
    let mut group = c.benchmark_group("router");
    for path in ["/jwks", "/.well-known/openid-configuration"] {
        for (name, app) in &variants {
            group.bench_function(format!("GET {path} {name}"), |b| {
                b.to_async(&rt).iter(|| async {
                    let request = Request::get(path).body(Body::empty()).expect("request");
                    let response = app.clone().oneshot(request).await.expect("infallible");
                    axum::body::to_bytes(response.into_body(), usize::MAX)
                        .await
                        .expect("body")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, signing, passwords, secrets_and_store, router);
criterion_main!(benches);
