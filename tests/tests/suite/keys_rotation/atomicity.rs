//! A key action whose audit event fails leaves the keys as they were (one transaction each).

use super::*;

/// A provider whose audit of `action` fails, its time, and its keys as `list` shows them then.
async fn with_failing_audit(action: &str) -> (TestApp, i64, Value) {
    let app = TestApp::spawn().await;
    let t0 = real_now() + 10;
    app.fail_audit_of(action).await;
    let keys = serde_json::to_value(keys_at(&app.state.db, t0).await).expect("serialises");
    (app, t0, keys)
}

/// The action failed on its audit event and the keys are as they were.
async fn failed_and_unchanged<T: std::fmt::Debug>(
    app: &TestApp,
    result: Result<T, RotationError>,
    at: i64,
    before: &Value,
) {
    assert!(matches!(result, Err(RotationError::Db(_))), "{result:?}");
    let after = serde_json::to_value(keys_at(&app.state.db, at).await).expect("serialises");
    assert_eq!(before, &after, "nothing of the action remains");
}

#[tokio::test]
async fn a_rotation_whose_audit_fails_creates_no_key_and_the_old_one_keeps_signing() {
    let (app, t0, before) = with_failing_audit("key.rotated").await;
    let signer = only(&app.state.db, SigningAlg::RS256, KeyState::Active, t0).await;
    let failed = rotate(
        &app.state.db,
        &app.state.kek,
        &policy(0),
        SigningAlg::RS256,
        t0,
        "t",
    )
    .await;
    failed_and_unchanged(&app, failed, t0, &before).await;
    let later = t0 + PREPUBLICATION + 1;
    assert_eq!(
        loaded(&app, later, SigningAlg::RS256).await.1.as_deref(),
        Some(signer.as_str()),
        "the old key still signs after the pre-publication period"
    );
}

#[tokio::test]
async fn a_revocation_whose_audit_fails_revokes_nothing_and_creates_no_replacement() {
    let (app, t0, before) = with_failing_audit("key.revoked").await;
    let signer = only(&app.state.db, SigningAlg::ES256, KeyState::Active, t0).await;
    let failed = revoke(&app.state.db, &app.state.kek, &policy(0), &signer, t0, "t").await;
    failed_and_unchanged(&app, failed, t0, &before).await;
    assert_eq!(
        loaded(&app, t0, SigningAlg::ES256).await.1.as_deref(),
        Some(signer.as_str())
    );
}

#[tokio::test]
async fn a_retirement_whose_audit_fails_hands_nothing_over() {
    let (app, t0, _) = with_failing_audit("key.retired").await;
    let db = &app.state.db;
    let signer = only(db, SigningAlg::RS256, KeyState::Active, t0).await;
    let pending = start_rotation(&app, SigningAlg::RS256, t0).await;
    let before = serde_json::to_value(keys_at(db, t0 + 1).await).expect("serialises");
    let failed = retire(db, &policy(0), &signer, t0 + 1, "t").await;
    failed_and_unchanged(&app, failed, t0 + 1, &before).await;
    assert_eq!(state_at(db, &pending.kid, t0 + 1).await, KeyState::Pending);
}
