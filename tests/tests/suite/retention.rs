//! The janitor (`idp::retention`): with the clock moved on, what has expired goes and what is
//! still of use stays, in batches; `--dry-run` removes nothing; `idp serve` runs it on its own.

use std::time::Duration;

use idp::retention;
use idp_tests::*;

const DAY: i64 = 86_400;

/// Rows of `table`.
async fn rows(app: &TestApp, table: &str) -> i64 {
    app.count(&format!("SELECT count(*) FROM {table} WHERE $1 = $1"), "x")
        .await
}

/// An audit event at `at`.
async fn event_at(app: &TestApp, at: i64, action: &str) {
    idp::audit::record_alone(
        &app.state.db,
        at,
        "test",
        action,
        "t",
        serde_json::json!({}),
    )
    .await
    .expect("event");
}

#[tokio::test]
async fn with_the_clock_moved_what_expired_goes_in_batches_and_the_rest_stays() {
    let app = TestApp::spawn_with(|c| c.retention.batch_size = 2).await;
    app.user("alice@example.fr").await;
    let rp = app.client("rp").await;
    let now = idp::store::now();
    // Two logins: grants with refresh tokens (refresh_token_ttl_seconds), and audit events.
    for _ in 0..2 {
        let out = app.authorized(&rp, "alice@example.fr").await;
        let code = query_of(&out)["code"].clone();
        assert_eq!(exchange_code(&app, &rp, &code, &[]).await.status(), 200);
    }
    for age in [400, 380, 370] {
        event_at(&app, now - age * DAY, "old.event").await;
    }
    let events = rows(&app, "audit_events").await;
    assert!(events > 5);
    let config = (*app.state.config).clone();

    // Today: the three events older than a year, nothing else.
    let dry = retention::purge(&app.state.db, &config, now, true, "test")
        .await
        .expect("dry run");
    assert!(dry.tables.contains(&("audit_events", 3)), "{dry:?}");
    assert_eq!(
        rows(&app, "audit_events").await,
        events,
        "a dry run removes nothing"
    );
    let purged = retention::purge(&app.state.db, &config, now, false, "test")
        .await
        .expect("purge");
    assert!(purged.tables.contains(&("audit_events", 3)), "{purged:?}");
    assert!(
        purged.tables.contains(&("grants", 0)),
        "live grants stay: {purged:?}"
    );
    assert_eq!(rows(&app, "grants").await, 2);
    assert_eq!(rows(&app, "refresh_tokens").await, 2);

    // Past the refresh tokens' life and a year on: they, their grants and the old history go.
    let later = now + i64::try_from(config.tokens.refresh_token_ttl_seconds).unwrap() + 400 * DAY;
    let purged = retention::purge(&app.state.db, &config, later, false, "test")
        .await
        .expect("purge");
    assert!(purged.tables.contains(&("refresh_tokens", 2)), "{purged:?}");
    assert!(purged.tables.contains(&("grants", 2)), "{purged:?}");
    assert_eq!(rows(&app, "grants").await, 0);
    // The run itself is recorded, after the purge (so it stays; the first run's record, now
    // more than a year old, went with the rest).
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = $1",
            "retention.purged"
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action <> $1",
            "retention.purged"
        )
        .await,
        0,
        "every older event went, two at a time"
    );
    // The account stays: an account is not history.
    assert_eq!(rows(&app, "users").await, 1);
}

#[tokio::test]
async fn idp_purge_says_what_would_go_and_serve_runs_it_on_its_own() {
    let app = TestApp::spawn().await;
    let now = idp::store::now();
    event_at(&app, now - 500 * DAY, "old.event").await;
    let (status, out, err) = app.cli(&["purge", "--dry-run"]).await;
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("audit_events") && out.contains("1 ligne(s) à supprimer"),
        "{out}"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = $1",
            "old.event"
        )
        .await,
        1
    );

    // A node with the janitor on removes it by itself.
    let node = app
        .another_node_with(|c| c.retention.interval_seconds = 1)
        .await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            node.count(
                "SELECT count(*) FROM audit_events WHERE action = $1",
                "old.event",
            )
            .await
                == 0
        })
        .await,
        "the scheduled run removed the old event"
    );
    assert!(node.metrics().await.contains("idp_purged_rows_total"));
}
