//! Criterion benchmarks of the functions on the hot paths: signing and verifying tokens,
//! password hashing, secrets, and the in-process short-lived store.
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

criterion_group!(benches, signing, passwords, secrets_and_store);
criterion_main!(benches);
