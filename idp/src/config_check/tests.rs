use super::*;
use crate::config::TrustedNet;

#[test]
fn the_defaults_have_no_problem() {
    assert_eq!(Problems::of(&Config::default()), Problems::default());
}

#[test]
fn every_out_of_bounds_value_is_reported_in_french() {
    let mut config = Config::default();
    config.tokens.access_token_ttl_seconds = 0;
    config.limits.login_per_ip = 0;
    config.session.ttl_seconds = 400 * DAY;
    config.database_max_connections = Some(0);
    let problems = Problems::of(&config);
    assert_eq!(problems.0.len(), 4, "{problems}");
    assert_eq!(
        problems.0[0].to_string(),
        "database_max_connections = 0 : attendu entre 1 et 1000"
    );
    assert!(
        problems
            .to_string()
            .contains("tokens.access_token_ttl_seconds = 0 : attendu entre 1 et 86400")
    );
    assert!(
        problems
            .to_string()
            .contains("limits.login_per_ip = 0 : attendu entre 1 et 1000000000")
    );
    assert!(matches!(
        config.validate(),
        Err(crate::config::ConfigError::Checks(p)) if p.0.len() == 4
    ));
}

#[test]
fn the_outbox_viewer_is_refused_unless_on_the_outbox_and_on_localhost() {
    let mut config = Config::default();
    config.mail.outbox_viewer = true;
    assert!(outbox_viewer_enabled(&config));
    assert_eq!(Problems::of(&config), Problems::default());
    for issuer in [
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://demo.localhost",
    ] {
        config.issuer = issuer.into();
        assert!(outbox_viewer_enabled(&config), "{issuer}");
    }
    for issuer in [
        "https://connect.travail.gouv.fr",
        "http://10.0.0.5:8080",
        "http://localhost.example.fr",
    ] {
        config.issuer = issuer.into();
        assert!(!outbox_viewer_enabled(&config), "{issuer}");
        assert_eq!(
            Problems::of(&config).0,
            [Problem::OutboxViewerWithPublicIssuer {
                issuer: issuer.into()
            }]
        );
    }
    config.issuer = "http://localhost:8080".into();
    config.mail.transport = MailTransport::Smtp;
    assert!(!outbox_viewer_enabled(&config));
    assert_eq!(
        Problems::of(&config).0,
        [Problem::OutboxViewerWithoutOutbox]
    );
}

#[test]
fn each_development_setting_gives_one_warning() {
    let config = Config::default();
    assert_eq!(
        warnings(&config),
        [Warning::OutboxTransport, Warning::LocalKek]
    );
    let mut config = Config::default();
    config.mail.outbox_viewer = true;
    config.session.secure_cookies = false;
    config.anti_robot.enabled = false;
    config.redis_url = Some("redis://127.0.0.1:6379".into());
    config.proxy.trusted = vec![TrustedNet("0.0.0.0/0".parse().unwrap())];
    let all = warnings(&config);
    assert_eq!(all.len(), 7, "{all:?}");
    assert!(all.contains(&Warning::SqliteWithSeveralNodes));
    assert!(all.contains(&Warning::EveryoneTrusted("0.0.0.0/0".into())));
    let mut config = Config {
        issuer: "http://connect.example.fr".into(),
        ..Config::default()
    };
    config.mail.transport = MailTransport::Smtp;
    config.keys.kek = Some("a2V5".into());
    assert_eq!(warnings(&config), [Warning::PlainHttpIssuer]);
}

#[test]
fn the_printed_configuration_hides_every_secret() {
    let mut config = Config::default();
    config.keys.kek = Some("cle-de-chiffrement-secrete".into());
    config.mail.smtp_password = Some("mot-de-passe-smtp".into());
    config.metrics.token = Some("jeton-metriques".into());
    config.sirene.api_token = Some("jeton-insee".into());
    config.database_url = "postgres://idp:mot-de-passe-base@db.internal/idp".into();
    config.redis_url = Some("redis://:mot-de-passe-redis@cache.internal:6379".into());
    config.agents.upstreams = vec![crate::config::UpstreamConfig {
        id: "agents".into(),
        client_secret: "secret-amont".into(),
        ..Default::default()
    }];
    let printed = redacted(&config);
    for secret in [
        "cle-de-chiffrement-secrete",
        "mot-de-passe-smtp",
        "jeton-metriques",
        "jeton-insee",
        "mot-de-passe-base",
        "mot-de-passe-redis",
        "secret-amont",
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(
        printed.contains("access_token_ttl_seconds = 600"),
        "{printed}"
    );
    assert!(
        printed.contains("postgres://idp:masque@db.internal/idp"),
        "{printed}"
    );
    assert!(printed.contains("kek = \"<masqué>\""), "{printed}");
}
