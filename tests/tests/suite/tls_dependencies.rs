//! TLS to the provider's dependencies, against real servers with a private certificate
//! authority (`idp_tests::tls`): Redis with a client certificate, Redis Sentinel through a
//! failover under load, SMTP over STARTTLS and over implicit TLS.
//!
//! The Redis tests start their own `redis-server` processes (Debian's, built with TLS): they run
//! with the PostgreSQL + Redis suite, where Redis is installed (marked ignored, run there with
//! `--include-ignored`), and are reported as skipped in the embedded run.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use idp::{
    accounts::Email,
    config::{Config, RedisConfig, SmtpTls},
    mail::{MailError, Mailer, Outgoing, messages},
    store::{Db, Ephemeral},
};
use idp_tests::{
    tls::{PostgresProcess, RedisProcess, TestPki},
    *,
};

// ---- Redis over TLS ----

#[tokio::test]
#[ignore = "needs redis-server (PostgreSQL + Redis run): scripts/test.sh runs it there (--include-ignored)"]
async fn the_shared_store_speaks_tls_to_redis_with_a_private_ca_and_a_client_certificate() {
    let pki = TestPki::generate();
    let redis = RedisProcess::server(&pki, None).await;
    let url = format!("rediss://127.0.0.1:{}", redis.port);

    // The system's roots do not know the private CA; the server wants a client certificate;
    // and a plain connection to its TLS port gets no answer it can read.
    let mut settings = RedisConfig::default();
    assert!(Ephemeral::redis(Some(&url), &settings, "t:").await.is_err());
    settings.ca_file = Some(pki.ca());
    assert!(Ephemeral::redis(Some(&url), &settings, "t:").await.is_err());
    let plain = format!("redis://127.0.0.1:{}", redis.port);
    assert!(
        Ephemeral::redis(Some(&plain), &RedisConfig::default(), "t:")
            .await
            .is_err()
    );

    let app = TestApp::spawn_with(|config| {
        config.redis_url = Some(url.clone());
        pki.configure_redis(config);
    })
    .await;
    let client = app.client("rp").await;
    app.user("alice@centre.fr").await;
    let browser = app.browser();
    let out = browser
        .authorize(&auth_url(&app, &client, &[]), "alice@centre.fr")
        .await;
    assert!(query_of(&out).contains_key("code"), "{out}");
    assert!(single_sign_on(&browser, &app, &client).await);

    // The session and the codes are in that Redis, under the deployment's prefix.
    let pattern = format!("{}*", app.state.config.redis_key_prefix);
    let keys = redis.cli(&pki, &["--scan", "--pattern", &pattern]);
    assert!(keys.lines().count() >= 2, "keys in the TLS Redis: {keys:?}");
}

/// Whether `browser` gets a code from `prompt=none`: its session is alive.
async fn single_sign_on(browser: &Browser, app: &TestApp, client: &TestClient) -> bool {
    let response = browser
        .client
        .get(auth_url(app, client, &[("prompt", "none")]))
        .send()
        .await;
    response
        .ok()
        .and_then(|r| location(&r))
        .is_some_and(|to| to.starts_with(REDIRECT_URI) && query_of(&to).contains_key("code"))
}

// ---- Redis Sentinel ----

const SERVICE: &str = "efp";

/// The value after `name` in redis-cli's listing of a map (one field or value per line).
fn field(listing: &str, name: &str) -> Option<String> {
    let mut lines = listing.lines();
    lines.find(|l| l.trim() == name)?;
    lines.next().map(|v| v.trim().to_owned())
}

/// One request of the load: when it was sent and answered, and whether it succeeded.
struct Sample {
    sent: Instant,
    answered: Instant,
    ok: bool,
    what: String,
}

#[tokio::test]
#[ignore = "needs redis-server (PostgreSQL + Redis run): scripts/test.sh runs it there (--include-ignored)"]
async fn a_sentinel_failover_under_load_keeps_sessions_and_counters_and_no_request_fails_after_it()
{
    let pki = TestPki::generate();
    let mut master = RedisProcess::server(&pki, None).await;
    let replica = RedisProcess::server(&pki, Some(master.port)).await;
    let (on_master, pki_ref) = (&master, &pki);
    assert!(
        eventually(Duration::from_secs(10), || async move {
            on_master
                .cli(pki_ref, &["info", "replication"])
                .contains("state=online")
        })
        .await,
        "the replica did not sync"
    );
    // Started once the replica is online, the sentinels see it in their first look at the
    // master instead of 10 s later.
    let mut sentinels = Vec::new();
    for _ in 0..3 {
        sentinels.push(RedisProcess::sentinel(&pki, SERVICE, master.port).await);
    }
    let replica_port = replica.port.to_string();
    let (watchers, replica_at) = (&sentinels, replica_port.as_str());
    assert!(
        eventually(Duration::from_secs(15), || async move {
            watchers.iter().all(|s| {
                let about = s.cli(pki_ref, &["sentinel", "master", SERVICE]);
                s.cli(pki_ref, &["sentinel", "replicas", SERVICE])
                    .contains(replica_at)
                    && field(&about, "num-other-sentinels").as_deref() == Some("2")
            })
        })
        .await,
        "the sentinels did not find the replica and each other"
    );

    let app = TestApp::spawn_with(|config| {
        config.redis_url = None;
        config.redis.sentinels = sentinels
            .iter()
            .map(|s| format!("rediss://127.0.0.1:{}", s.port))
            .collect();
        config.redis.sentinel_service = SERVICE.into();
        pki.configure_redis(config);
        // Six tries of one account's password from one address before it waits (the 6th
        // starts the wait, the 7th is refused): accounts::guard's counter, kept in Redis.
        config.limits.login_free_failures = 6;
        config.limits.login_delay_seconds = 900;
    })
    .await;
    let client = app.client("rp").await;

    // Sessions made before the failover, and a login counter at 4 of 6.
    let mut browsers = Vec::new();
    for i in 0..6 {
        let email = format!("user{i}@centre.fr");
        app.user(&email).await;
        let browser = app.browser();
        let out = browser
            .authorize(&auth_url(&app, &client, &[]), &email)
            .await;
        assert!(query_of(&out).contains_key("code"), "{out}");
        browsers.push(browser);
    }
    app.user("bob@centre.fr").await;
    let wrong_password = |browser: Browser| async move {
        browser
            .submit_login("/connexion", "bob@centre.fr", "Mauvais-mot-de-passe-1")
            .await
            .status()
    };
    for _ in 0..4 {
        assert_eq!(wrong_password(app.browser()).await, 401);
    }

    // Load: four of those browsers ask for codes by single sign-on (a session read, a code
    // written) every 20 ms, from before the failover to after it.
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for browser in browsers.iter().take(4).cloned() {
        let (samples, stop) = (samples.clone(), stop.clone());
        let url = auth_url(&app, &client, &[("prompt", "none")]);
        load.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sent = Instant::now();
                let answer = browser.client.get(&url).send().await;
                let (ok, what) = match answer {
                    Ok(r) => {
                        let to = location(&r).unwrap_or_default();
                        let ok = to.starts_with(REDIRECT_URI) && to.contains("code=");
                        (ok, format!("{} {to}", r.status()))
                    }
                    Err(e) => (false, format!("transport: {e}")),
                };
                samples.lock().unwrap().push(Sample {
                    sent,
                    answered: Instant::now(),
                    ok,
                    what,
                });
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The master crashes; the failover is over when every sentinel names the replica.
    let killed = Instant::now();
    master.kill();
    let switched = eventually(Duration::from_secs(20), || async move {
        watchers.iter().all(|s| {
            s.cli(pki_ref, &["sentinel", "get-master-addr-by-name", SERVICE])
                .lines()
                .nth(1)
                == Some(replica_at)
        })
    })
    .await;
    assert!(switched, "no failover within 20 s:\n{}", sentinels[0].log());
    let failover_over = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }

    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let before: Vec<_> = samples.iter().filter(|s| s.answered < killed).collect();
    let after: Vec<_> = samples.iter().filter(|s| s.sent > failover_over).collect();
    let in_window = samples.len() - before.len() - after.len();
    let failed_in_window = samples
        .iter()
        .filter(|s| s.answered >= killed && s.sent <= failover_over && !s.ok)
        .count();
    eprintln!(
        "failover in {:.1} s; requests: {} before ({} failed), {in_window} during ({failed_in_window} \
         failed), {} after",
        (failover_over - killed).as_secs_f64(),
        before.len(),
        before.iter().filter(|s| !s.ok).count(),
        after.len()
    );
    assert!(
        before.iter().all(|s| s.ok),
        "a request failed before the crash"
    );
    let failed_after: Vec<_> = after.iter().filter(|s| !s.ok).map(|s| &s.what).collect();
    assert!(
        failed_after.is_empty(),
        "{} requests failed after the failover, the first: {:?}",
        failed_after.len(),
        &failed_after[..failed_after.len().min(3)]
    );
    assert!(after.len() >= 20, "too little load after the failover");

    // Every session made before the crash still holds, on the new master.
    for (i, browser) in browsers.iter().enumerate() {
        assert!(
            single_sign_on(browser, &app, &client).await,
            "session {i} lost in the failover"
        );
    }
    // The counter kept its 4 attempts: 5 and 6 are still checked, the 7th is refused.
    assert_eq!(wrong_password(app.browser()).await, 401);
    assert_eq!(wrong_password(app.browser()).await, 401);
    assert_eq!(wrong_password(app.browser()).await, 429);
    drop(replica);
}

// ---- PostgreSQL over TLS ----

#[tokio::test]
#[ignore = "needs PostgreSQL's server binaries (PostgreSQL + Redis run): scripts/test.sh runs it there (--include-ignored)"]
async fn the_database_connection_checks_the_postgresql_certificate_with_verify_full() {
    let pki = TestPki::generate();
    let server = PostgresProcess::start(&pki).await;
    let url = |query: &str| {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?{query}",
            server.port
        )
    };
    let ca = pki.ca().display().to_string();

    // The server may still be starting: the first good connection can take a few tries.
    let verified = url(&format!("sslmode=verify-full&sslrootcert={ca}"));
    let mut db = None;
    for _ in 0..50 {
        match Db::connect(&verified).await {
            Ok(connected) => {
                db = Some(connected);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let db = db.expect("a verify-full connection with the private CA");
    use sqlx::Row;
    let row = sqlx::query("SELECT ssl::int AS ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(row.get::<i32, _>("ssl"), 1, "the session is not encrypted");

    // The Mozilla roots do not know the private CA; another CA is not this one; the server
    // refuses plain connections.
    let other = TestPki::generate();
    for refused in [
        url("sslmode=verify-full"),
        url(&format!(
            "sslmode=verify-ca&sslrootcert={}",
            other.ca().display()
        )),
        url("sslmode=disable"),
    ] {
        assert!(Db::connect(&refused).await.is_err(), "{refused} connected");
    }
}

// ---- SMTP with a private CA ----

fn a_message(config: &Config) -> Outgoing {
    let to = Email::parse("alice@centre-formation.fr").unwrap();
    messages::account_exists(&config.issuer, &to).unwrap()
}

#[tokio::test]
async fn mail_goes_over_starttls_to_a_server_of_a_private_ca_with_a_client_certificate() {
    let pki = TestPki::generate();
    let sink = SmtpSink::start_tls("starttls", &pki, true).await;
    let app = TestApp::spawn_with(|config| {
        sink.configure(config);
        config.mail.smtp_tls = SmtpTls::Starttls;
        config.mail.smtp_ca_file = Some(pki.ca());
        let (cert, key) = pki.client();
        config.mail.smtp_client_cert_file = Some(cert);
        config.mail.smtp_client_key_file = Some(key);
    })
    .await;

    let message = a_message(&app.state.config);
    app.state.mailer.send(&message).await.unwrap();
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, message.subject);
    assert!(mail.tls, "the message came in plain text");
    assert_eq!(mail.client_cert_cn.as_deref(), Some("idp-client"));
}

#[tokio::test]
async fn mail_goes_over_implicit_tls_to_a_server_of_a_private_ca() {
    let pki = TestPki::generate();
    let sink = SmtpSink::start_tls("tls", &pki, false).await;
    let app = TestApp::spawn_with(|config| {
        sink.configure(config);
        config.mail.smtp_tls = SmtpTls::Tls;
        config.mail.smtp_ca_file = Some(pki.ca());
    })
    .await;

    let message = a_message(&app.state.config);
    app.state.mailer.send(&message).await.unwrap();
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, message.subject);
    assert!(mail.tls, "the message came in plain text");
    assert_eq!(mail.client_cert_cn, None);
}

#[tokio::test]
async fn mail_is_not_sent_to_a_server_whose_certificate_the_provider_does_not_trust() {
    let pki = TestPki::generate();
    let other = TestPki::generate();
    for (mode, tls) in [("starttls", SmtpTls::Starttls), ("tls", SmtpTls::Tls)] {
        let sink = SmtpSink::start_tls(mode, &pki, false).await;
        // The public roots, then another private CA: neither knows the sink's certificate.
        for ca in [None, Some(other.ca())] {
            let mut config = Config::default();
            sink.configure(&mut config);
            config.mail.smtp_tls = tls;
            config.mail.smtp_ca_file = ca.clone();
            let mailer = Mailer::from_config(&config.mail).unwrap();
            let sent = mailer.send(&a_message(&config)).await;
            assert!(
                matches!(sent, Err(MailError::NotSent { .. })),
                "{mode} with CA {ca:?}: {sent:?}"
            );
        }
        assert!(sink.messages().is_empty(), "{mode}: a message got through");
    }
}
