//! The provider behind a real reverse proxy (Debian's nginx): the client address that the
//! rate limits count is the one the trusted proxy forwards, and forwarding headers that a
//! client writes itself change nothing.

use std::net::IpAddr;

use idp::config::TrustedNet;
use idp_tests::{Browser, TestApp, proxy::Nginx};

/// Failed logins allowed per client address in these tests.
const PER_IP: u64 = 3;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// One failed login from `browser` (a new address each time, so that only the per-address
/// limit can refuse), with an extra header: its status, 401 or 429.
async fn failed_login(browser: &Browser, n: usize, header: Option<(&str, &str)>) -> u16 {
    let page = browser.get("/connexion").await.text().await.unwrap();
    let csrf = idp_tests::csrf_of(&page);
    let email = format!("personne{n}@centre-formation.fr");
    let form = [
        ("csrf", csrf.as_str()),
        ("email", email.as_str()),
        ("password", "pas-le-bon-mot-de-passe"),
    ];
    let mut request = browser.client.post(browser.url("/connexion")).form(&form);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn behind_nginx_each_client_has_its_own_limit_and_forged_forwarding_headers_are_ignored() {
    let app = TestApp::spawn_with(|c| {
        c.proxy.trusted = vec![TrustedNet::try_from("127.0.0.1".to_owned()).unwrap()];
        c.limits.login_per_ip = PER_IP;
    })
    .await;
    let nginx = Nginx::start(app.addr).await;
    let alice = Browser::from_address(&nginx.base, Some(ip("127.0.0.2")));
    let bob = Browser::from_address(&nginx.base, Some(ip("127.0.0.3")));

    // Alice spends her attempts through the proxy, which connects from 127.0.0.1.
    let mut n = 0;
    for _ in 0..PER_IP {
        n += 1;
        assert_eq!(
            failed_login(&alice, n, None).await,
            401,
            "{}",
            nginx.error_log()
        );
    }
    n += 1;
    assert_eq!(failed_login(&alice, n, None).await, 429);

    // Bob, through the same proxy from another address, is counted apart.
    n += 1;
    assert_eq!(failed_login(&bob, n, None).await, 401);

    // Alice cannot escape her limit by naming another address: nginx appends hers to her
    // `X-Forwarded-For`, and removes the `Forwarded` a client sends.
    for header in [
        ("x-forwarded-for", "198.51.100.1"),
        ("x-forwarded-for", "127.0.0.1"),
        ("forwarded", "for=198.51.100.2"),
        ("x-real-ip", "198.51.100.3"),
    ] {
        n += 1;
        assert_eq!(
            failed_login(&alice, n, Some(header)).await,
            429,
            "{header:?}"
        );
    }

    // A client on 127.0.0.4 talking to the provider directly is no trusted proxy: its
    // `X-Forwarded-For` is ignored. Naming Alice's address does not borrow her exhausted
    // limit, and naming a new address at each attempt does not buy new attempts: every one is
    // counted under 127.0.0.4.
    let direct = Browser::from_address(&app.base, Some(ip("127.0.0.4")));
    n += 1;
    assert_eq!(
        failed_login(&direct, n, Some(("x-forwarded-for", "127.0.0.2"))).await,
        401
    );
    for i in 1..PER_IP {
        n += 1;
        let forged = format!("198.51.100.{}", 10 + i);
        assert_eq!(
            failed_login(&direct, n, Some(("x-forwarded-for", &forged))).await,
            401
        );
    }
    n += 1;
    assert_eq!(
        failed_login(&direct, n, Some(("x-forwarded-for", "198.51.100.99"))).await,
        429
    );

    // Through all of it Bob kept his own count.
    n += 1;
    assert_eq!(failed_login(&bob, n, None).await, 401);
}
