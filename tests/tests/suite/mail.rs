//! E-mail: each message the provider sends, delivered to a real SMTP server (aiosmtpd, see
//! `tests/smtp_sink.py`) and read back by another parser; failures that must not look like
//! success; the local outbox and its viewer.

use idp::{
    accounts::Email,
    config::{Config, ConfigError, MailTransport, Problem, SmtpTls, TrustedNet},
    mail::{MailError, Mailer, Outgoing, messages},
};
use idp_tests::{ReceivedMail, SmtpSink, TestApp, assert_shows, free_port};

const SENDER: &str = "EFP Connect <no-reply@efp-connect.test>";

fn alice() -> Email {
    Email::parse("alice@centre-formation.fr").unwrap()
}

/// A provider whose mail goes to `sink`, from [`SENDER`].
async fn app_mailing_to(sink: &SmtpSink, adjust: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(|config| {
        sink.configure(config);
        config.mail.from = SENDER.into();
        adjust(config);
    })
    .await
}

/// Sends `message` through `app` and reads it at `sink`: a mail to Alice from [`SENDER`] with
/// `subject`.
async fn delivered(
    app: &TestApp,
    sink: &SmtpSink,
    message: &Outgoing,
    subject: &str,
) -> ReceivedMail {
    app.state.mailer.send(message).await.unwrap();
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, subject);
    assert_eq!(mail.rcpt_tos, ["alice@centre-formation.fr"]);
    assert_eq!(mail.from, SENDER);
    mail
}

#[tokio::test]
async fn the_signup_code_arrives_with_its_subject_sender_recipient_and_code() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;

    let message = alices_code();
    let mail = delivered(
        &app,
        &sink,
        &message,
        "Validation de votre compte EFP CONNECT",
    )
    .await;
    assert_eq!(mail.to, "alice@centre-formation.fr");
    assert_eq!(mail.mail_from, "no-reply@efp-connect.test");
    assert_eq!(mail.content_type, "multipart/alternative");
    for part in [&mail.text, &mail.html] {
        assert_shows(part, "764906");
        assert_shows(part, "Ce code expirera dans 1 heure.");
    }
    assert!(mail.html.contains("<html lang=\"fr\">"));
}

#[tokio::test]
async fn the_reset_mail_arrives_with_its_code_and_a_link_on_the_configured_base_url() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |config| {
        config.issuer = "https://connexion.efp-connect.test".into();
    })
    .await;

    let message = messages::password_reset(
        &app.state.config.issuer,
        &alice(),
        Some("Alice Martin"),
        "596922",
        "jeton-opaque",
    )
    .unwrap();
    let mail = delivered(
        &app,
        &sink,
        &message,
        "Réinitialisation du mot de passe de votre compte EFP Connect",
    )
    .await;
    let link = "https://connexion.efp-connect.test/mot-de-passe-oublie/lien?jeton=jeton-opaque";
    assert!(mail.text.contains("596922"));
    assert!(mail.text.contains(link), "{}", mail.text);
    assert!(mail.text.contains("Il expirera au bout de 24 heures."));
    assert!(mail.html.contains("596922"));
    assert!(
        mail.html.contains(&format!("href=\"{link}\"")),
        "{}",
        mail.html
    );
    assert!(mail.text.contains("Bonjour Alice Martin,"));
}

#[tokio::test]
async fn the_account_exists_mail_arrives_and_points_to_login_and_reset() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;

    let message = messages::account_exists(&app.state.config.issuer, &alice()).unwrap();
    let mail = delivered(
        &app,
        &sink,
        &message,
        "Création de compte EFP Connect : vous avez déjà un compte",
    )
    .await;
    for part in [&mail.text, &mail.html] {
        assert!(part.contains(&app.url("/connexion")), "{part}");
        assert!(part.contains(&app.url("/mot-de-passe-oublie")), "{part}");
    }
}

#[tokio::test]
async fn the_account_created_mail_arrives_with_a_link_to_the_login_page() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;

    let message =
        messages::account_created(&app.state.config.issuer, &alice(), Some("Alice Martin"))
            .unwrap();
    let mail = delivered(&app, &sink, &message, "Votre compte EFP Connect a été créé").await;
    assert!(
        mail.text
            .contains("Votre compte EFP Connect a bien été créé.")
    );
    assert!(mail.text.contains(&app.url("/connexion")));
    assert!(
        mail.html
            .contains(&format!("href=\"{}\"", app.url("/connexion")))
    );
}

#[tokio::test]
async fn several_messages_arrive_in_order_on_separate_connections() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, |_| {}).await;
    let bob = Email::parse("bob@centre-formation.fr").unwrap();

    for (to, code) in [(&alice(), "111111"), (&bob, "222222")] {
        let message =
            messages::signup_code("https://connect.example", to, code, "jeton-du-lien").unwrap();
        app.state.mailer.send(&message).await.unwrap();
    }

    let received = sink.wait_for(2).await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].rcpt_tos, ["alice@centre-formation.fr"]);
    assert!(received[0].text.contains("111111"));
    assert_eq!(received[1].rcpt_tos, ["bob@centre-formation.fr"]);
    assert!(received[1].text.contains("222222"));
}

#[tokio::test]
async fn a_message_to_an_smtp_server_that_is_down_fails_after_the_retries() {
    let mut config = Config::default().mail;
    config.transport = MailTransport::Smtp;
    config.smtp_host = "127.0.0.1".into();
    config.smtp_port = free_port();
    config.smtp_tls = SmtpTls::None;
    let mailer = Mailer::from_config(&config).unwrap();

    let message = alices_code();
    let error = mailer.send(&message).await.unwrap_err();

    match &error {
        MailError::NotSent { attempts, .. } => {
            assert_eq!(*attempts, idp::mail::mailer::SEND_ATTEMPTS)
        }
        other => panic!("expected NotSent, got {other:?}"),
    }
    // The error may be logged or shown to an operator: no address, no code in it.
    let shown = error.to_string();
    assert!(!shown.contains("alice"), "{shown}");
    assert!(!shown.contains("764906"), "{shown}");
}

#[tokio::test]
async fn starttls_to_a_server_that_does_not_offer_it_fails_without_sending() {
    let sink = SmtpSink::start().await;
    let mut config = Config::default().mail;
    config.transport = MailTransport::Smtp;
    config.smtp_host = "127.0.0.1".into();
    config.smtp_port = sink.port;
    config.smtp_tls = SmtpTls::Starttls;
    let mailer = Mailer::from_config(&config).unwrap();

    let message = alices_code();
    assert!(mailer.send(&message).await.is_err());
    assert!(sink.messages().is_empty(), "sent in plain text");
}

#[tokio::test]
async fn the_outbox_transport_writes_a_file_that_the_outbox_page_lists_and_shows() {
    let app = with_outbox_viewer().await;
    let outbox = app.state.mailer.outbox().expect("outbox is the default");

    let message = alices_code();
    app.state.mailer.send(&message).await.unwrap();

    let files: Vec<_> = std::fs::read_dir(outbox.dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("multipart/alternative"));

    let browser = app.browser();
    let list = browser.get("/outbox").await;
    assert_eq!(list.status(), 200);
    let list = list.text().await.unwrap();
    assert_shows(&list, "Validation de votre compte EFP CONNECT");
    assert!(list.contains("alice@centre-formation.fr"));

    let id = files[0].file_stem().unwrap().to_str().unwrap().to_owned();
    assert!(list.contains(&format!("href=\"/outbox/{id}\"")));
    let page = browser.get(&format!("/outbox/{id}")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("764906"));
    // The HTML part is escaped into a sandboxed frame, never part of our page's markup.
    let srcdoc_start = page
        .find("<iframe sandbox srcdoc=\"")
        .expect("sandboxed frame")
        + "<iframe sandbox srcdoc=\"".len();
    let srcdoc = &page[srcdoc_start..srcdoc_start + page[srcdoc_start..].find('"').unwrap()];
    assert!(srcdoc.contains("764906"));
    assert!(srcdoc.contains("DOCTYPE html"));
    assert!(!srcdoc.contains('<') && !srcdoc.contains('>'), "{srcdoc}");
    assert!(!page.contains("<table role=\"presentation\""));
}

#[tokio::test]
async fn the_outbox_lists_the_newest_message_first() {
    let app = with_outbox_viewer().await;
    for code in ["111111", "222222"] {
        let message =
            messages::signup_code("https://connect.example", &alice(), code, "jeton-du-lien")
                .unwrap();
        app.state.mailer.send(&message).await.unwrap();
        // Ids are made of milliseconds: keep the two apart.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let list = app.browser().get("/outbox").await.text().await.unwrap();
    let ids: Vec<&str> = list
        .split("href=\"/outbox/")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(ids.len(), 2);
    let newest = app
        .browser()
        .get(&format!("/outbox/{}", ids[0]))
        .await
        .text()
        .await
        .unwrap();
    assert!(newest.contains("222222"));
}

#[tokio::test]
async fn unknown_or_malformed_outbox_ids_are_not_found() {
    let app = with_outbox_viewer().await;
    let browser = app.browser();
    for path in [
        "/outbox/1234567890123-nothing",
        "/outbox/..%2Fidp.db",
        "/outbox/..%2F..%2Fkeys%2Fkek.key",
        "/outbox/.1234567890123-partial",
        "/outbox/not-an-id",
    ] {
        assert_eq!(browser.get(path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn the_outbox_pages_do_not_exist_with_the_smtp_transport() {
    let sink = SmtpSink::start().await;
    // Even asked for: the check of the start-up refuses it, the router does not mount it.
    let app = app_mailing_to(&sink, |c| c.mail.outbox_viewer = true).await;
    assert!(app.state.mailer.outbox().is_none());
    let browser = app.browser();
    assert_eq!(browser.get("/outbox").await.status(), 404);
    assert_eq!(
        browser.get("/outbox/1234567890123-abcdefgh").await.status(),
        404
    );
}

#[test]
fn the_debug_form_of_the_configuration_hides_the_smtp_password() {
    let mut config = Config::default();
    config.mail.transport = MailTransport::Smtp;
    config.mail.smtp_username = Some("idp".into());
    config.mail.smtp_password = Some("mot-de-passe-smtp-tres-secret".into());
    let debug = format!("{config:?}");
    assert!(!debug.contains("mot-de-passe-smtp-tres-secret"), "{debug}");
    assert_shows(&debug, "smtp_password: Some(\"<redacted>\")");
    let pretty = format!("{config:#?}");
    assert!(!pretty.contains("mot-de-passe-smtp-tres-secret"));
}

#[tokio::test]
async fn the_outbox_is_not_shown_to_a_browser_on_another_machine_nor_through_a_proxy() {
    let app = with_outbox_viewer().await;
    let message = alices_code();
    app.state.mailer.send(&message).await.unwrap();
    assert_eq!(outbox_status(&app, [203, 0, 113, 7], None).await, 404);
    assert_eq!(outbox_status(&app, [127, 0, 0, 1], None).await, 200);
    // A proxy on this machine makes every browser look local: its headers give it away,
    // trusted or not.
    for header in ["x-forwarded-for", "forwarded", "x-real-ip", "via"] {
        assert_eq!(
            outbox_status(&app, [127, 0, 0, 1], Some((header, "for=203.0.113.7"))).await,
            404,
            "{header}"
        );
    }
    let proxied = TestApp::spawn_with(|c| {
        c.mail.outbox_viewer = true;
        c.proxy.trusted = vec![TrustedNet::try_from("127.0.0.1".to_owned()).unwrap()];
    })
    .await;
    assert_eq!(
        outbox_status(
            &proxied,
            [127, 0, 0, 1],
            Some(("x-forwarded-for", "127.0.0.1"))
        )
        .await,
        404
    );
}

#[tokio::test]
async fn the_outbox_exists_only_when_asked_for() {
    // The test configuration is the embedded default: outbox transport, localhost issuer.
    let app = TestApp::spawn().await;
    assert!(app.state.mailer.outbox().is_some());
    assert_eq!(outbox_status(&app, [127, 0, 0, 1], None).await, 404);
    // Asked for with an issuer the network reaches: refused at start-up, and not mounted by a
    // state built without the start-up's checks.
    let public = TestApp::spawn_with(|c| {
        c.mail.outbox_viewer = true;
        c.issuer = "https://connect.example.fr".into();
    })
    .await;
    assert!(matches!(
        public.state.config.validate(),
        Err(ConfigError::Checks(p))
            if p.0 == [Problem::OutboxViewerWithPublicIssuer { issuer: "https://connect.example.fr".into() }]
    ));
    assert_eq!(outbox_status(&public, [127, 0, 0, 1], None).await, 404);
}

/// A provider whose outbox viewer is on, as the demo asks.
async fn with_outbox_viewer() -> TestApp {
    TestApp::spawn_with(|c| c.mail.outbox_viewer = true).await
}

/// The status of `GET /outbox` from `from`, through the router's whole middleware, with an
/// optional extra header.
async fn outbox_status(app: &TestApp, from: [u8; 4], header: Option<(&'static str, &str)>) -> u16 {
    use axum::{body::Body, extract::ConnectInfo, http::Request};
    use tower::ServiceExt;

    let mut request = Request::get("/outbox").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((from, 40000))));
    if let Some((name, value)) = header {
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    idp::router(app.state.clone())
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The sign-up code 764906 for Alice.
fn alices_code() -> messages::Outgoing {
    messages::signup_code(
        "https://connect.example",
        &alice(),
        "764906",
        "jeton-du-lien",
    )
    .unwrap()
}
