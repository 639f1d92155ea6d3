//! Guessing an account's password is bounded per account **and** client address, with
//! delays, under a ceiling per account (`accounts/guard.rs`, docs/accounts.md): nobody can lock
//! an owner out from another address, an unknown address behaves as a known one, and what
//! many addresses try together stops at the ceiling, recorded in the audit trail.

use idp_tests::*;

const ALICE: &str = "alice@centre.fr";
const NOBODY: &str = "personne@centre.fr";
const WRONG: &str = "Mauvais-mot-de-passe-1";

/// The status of a login of `email` with `password` from `ip` (a fresh browser), and its page.
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> (u16, String) {
    let r = app
        .browser_from(ip)
        .submit_login("/connexion", email, password)
        .await;
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn wrong_passwords_slow_down_their_address_only_and_alike_for_unknown_accounts() {
    let app = TestApp::spawn_with(|c| {
        c.limits.login_free_failures = 3;
        c.limits.login_delay_seconds = 40;
    })
    .await;
    app.user(ALICE).await;
    for email in [ALICE, NOBODY] {
        for _ in 0..3 {
            assert_eq!(login_from(&app, "127.0.0.2", email, WRONG).await.0, 401);
        }
        // The fourth try from there waits the first delay, the right password included.
        let (status, page) = login_from(&app, "127.0.0.2", email, PASSWORD).await;
        assert_eq!(status, 429, "{email}: {page}");
        assert!(
            ["dans 40 secondes", "dans 39 secondes"]
                .iter()
                .any(|wait| page.contains(wait)),
            "{page}"
        );
    }
    // The owner, from their own address, is not held back.
    assert_eq!(login_from(&app, "127.0.0.3", ALICE, PASSWORD).await.0, 303);
    assert_eq!(app.audit_count("account.guessing_ceiling").await, 0);
}

#[tokio::test]
async fn a_right_password_starts_the_count_of_its_address_again() {
    let app = TestApp::spawn_with(|c| c.limits.login_free_failures = 2).await;
    app.user(ALICE).await;
    assert_eq!(login_from(&app, "127.0.0.2", ALICE, WRONG).await.0, 401);
    assert_eq!(login_from(&app, "127.0.0.2", ALICE, PASSWORD).await.0, 303);
    // Without the new start, the second try would have made this one wait.
    assert_eq!(login_from(&app, "127.0.0.2", ALICE, WRONG).await.0, 401);
    assert_eq!(login_from(&app, "127.0.0.2", ALICE, WRONG).await.0, 401);
    assert_eq!(login_from(&app, "127.0.0.2", ALICE, WRONG).await.0, 429);
}

#[tokio::test]
async fn many_addresses_together_reach_the_accounts_ceiling_which_is_audited_once() {
    let app = TestApp::spawn_with(|c| c.limits.login_failures_per_account = 4).await;
    app.user(ALICE).await;
    for email in [ALICE, NOBODY] {
        for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"] {
            assert_eq!(
                login_from(&app, ip, email, WRONG).await.0,
                401,
                "{email} {ip}"
            );
        }
        // Every try on the account is refused now, from any address.
        let (status, page) = login_from(&app, "127.0.0.6", email, PASSWORD).await;
        assert_eq!(status, 429, "{email}: {page}");
        assert!(page.contains("Trop de tentatives"), "{page}");
    }
    assert_eq!(app.audit_count("account.guessing_ceiling").await, 2);
    let targets = app
        .strings("SELECT target FROM audit_events WHERE action = 'account.guessing_ceiling' ORDER BY target")
        .await;
    assert_eq!(targets, [ALICE, NOBODY]);
    // Another account is untouched.
    app.user("bob@centre.fr").await;
    assert_eq!(
        login_from(&app, "127.0.0.6", "bob@centre.fr", PASSWORD)
            .await
            .0,
        303
    );
}
