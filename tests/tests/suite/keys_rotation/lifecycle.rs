//! The lifecycle with explicit times: rotation, retirement, revocation, the scheduler.

use super::*;

/// A new provider, a time `t0` just ahead, and its one active RS256 key then.
async fn with_rs256_signer() -> (TestApp, i64, String) {
    let app = TestApp::spawn().await;
    let t0 = real_now() + 10;
    let signer = only(&app.state.db, SigningAlg::RS256, KeyState::Active, t0).await;
    (app, t0, signer)
}

/// A token signed by the RS256 signer of `at`.
async fn rs256_token(app: &TestApp, at: i64) -> String {
    load(&app.state.db, &app.state.kek, at)
        .await
        .expect("load")
        .signer(SigningAlg::RS256)
        .expect("RS256 signer")
        .sign("JWT", &probe_claims(app))
}

/// At `at`, the keys loaded sign `alg` with `kid`.
async fn assert_signs(app: &TestApp, at: i64, alg: SigningAlg, kid: &str) {
    let (_, signer) = loaded(app, at, alg).await;
    assert_eq!(signer.as_deref(), Some(kid), "{alg:?} signer at {at}");
}

/// At `at`, each key of `states` is in its state and published, and `signer` signs RS256.
async fn assert_published(app: &TestApp, at: i64, states: [(&String, KeyState); 2], signer: &str) {
    let (kids, signs) = loaded(app, at, SigningAlg::RS256).await;
    for (kid, state) in states {
        assert_eq!(
            state_at(&app.state.db, kid, at).await,
            state,
            "{kid} at {at}"
        );
        assert!(kids.contains(kid), "{kid} published at {at}: {kids:?}");
    }
    assert_eq!(signs.as_deref(), Some(signer), "RS256 signer at {at}");
}

/// At `at`, `token` is refused: its key is unknown.
async fn assert_unknown_key(app: &TestApp, at: i64, token: &str) {
    let set = load(&app.state.db, &app.state.kek, at).await.expect("load");
    assert!(matches!(
        set.verify::<Value>(token, &app.issuer, true),
        Err(VerifyError::UnknownKey)
    ));
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs_then_signs_while_the_old_one_retires_then_the_old_one_leaves_the_jwks()
 {
    let (app, t0, old) = with_rs256_signer().await;
    let db = &app.state.db;
    let es256 = only(db, SigningAlg::ES256, KeyState::Active, t0).await;
    let (_, signer) = loaded(&app, t0, SigningAlg::RS256).await;
    assert_eq!(signer.as_deref(), Some(old.as_str()));
    let old_token = rs256_token(&app, t0).await;

    let new = start_rotation(&app, SigningAlg::RS256, t0).await;
    assert_eq!(new.activates_at, t0 + PREPUBLICATION);

    // Pre-publication: the new key is in the JWKS, the old one still signs.
    for at in [t0, t0 + PREPUBLICATION - 1] {
        let states = [(&new.kid, KeyState::Pending), (&old, KeyState::Active)];
        assert_published(&app, at, states, &old).await;
    }

    // From activates_at the new key signs; the old one retires but stays published, and tokens
    // it signed still verify.
    let switch = new.activates_at;
    for at in [switch, switch + RETENTION - 1] {
        let states = [(&new.kid, KeyState::Active), (&old, KeyState::Retiring)];
        assert_published(&app, at, states, &new.kid).await;
        let set = load(db, &app.state.kek, at).await.expect("load");
        set.verify::<Value>(&old_token, &app.issuer, true)
            .expect("a token of the retiring key verifies");
    }
    let info = key_at(db, &old, switch).await;
    assert_eq!(info.retired_at, Some(switch));
    assert_eq!(info.remove_at, Some(switch + RETENTION));

    // After the retention period the old key is gone and its tokens are refused.
    let gone = switch + RETENTION;
    assert_eq!(state_at(db, &old, gone).await, KeyState::Removed);
    let (kids, signer) = loaded(&app, gone, SigningAlg::RS256).await;
    assert!(!kids.contains(&old), "{kids:?}");
    assert!(kids.contains(&new.kid));
    assert_eq!(signer.as_deref(), Some(new.kid.as_str()));
    assert_unknown_key(&app, gone, &old_token).await;

    // The other algorithm was not touched.
    assert_eq!(state_at(db, &es256, gone).await, KeyState::Active);
    assert_signs(&app, gone, SigningAlg::ES256, &es256).await;
}

#[tokio::test]
async fn retiring_the_only_signer_is_refused_and_changes_nothing() {
    let (app, t0, signer) = with_rs256_signer().await;
    let db = &app.state.db;
    let before = serde_json::to_value(keys_at(db, t0).await).expect("serialises");

    let refused = retire(db, &policy(0), &signer, t0, "test").await;
    assert!(
        matches!(&refused, Err(RotationError::LastSigner(kid, "RS256")) if *kid == signer),
        "{refused:?}"
    );
    assert!(
        refused
            .expect_err("refused")
            .to_string()
            .contains("idp keys rotate"),
        "the message tells what to do"
    );

    let after = serde_json::to_value(keys_at(db, t0).await).expect("serialises");
    assert_eq!(before, after);
    assert_signs(&app, t0, SigningAlg::RS256, &signer).await;
}

#[tokio::test]
async fn retiring_a_signer_hands_over_to_its_pending_successor_at_once() {
    let (app, t0, old) = with_rs256_signer().await;
    let db = &app.state.db;
    let new = start_rotation(&app, SigningAlg::RS256, t0).await;

    let t1 = t0 + 10;
    retire(db, &policy(0), &old, t1, "test")
        .await
        .expect("a successor exists");
    assert_eq!(state_at(db, &new.kid, t1).await, KeyState::Active);
    assert_eq!(state_at(db, &old, t1).await, KeyState::Retiring);
    assert_eq!(key_at(db, &old, t1).await.remove_at, Some(t1 + RETENTION));
    let (kids, signer) = loaded(&app, t1, SigningAlg::RS256).await;
    assert_eq!(signer.as_deref(), Some(new.kid.as_str()));
    assert!(kids.contains(&old), "still published for its tokens");
}

#[tokio::test]
async fn revoking_a_key_removes_it_at_once_and_makes_a_replacement_signer() {
    let (app, t0, old) = with_rs256_signer().await;
    let db = &app.state.db;
    let es256 = only(db, SigningAlg::ES256, KeyState::Active, t0).await;
    let old_token = rs256_token(&app, t0).await;

    let created = revoke(db, &app.state.kek, &policy(0), &old, t0, "test")
        .await
        .expect("revocation");
    assert_eq!(created.len(), 1, "one replacement: {created:?}");
    let replacement = &created[0];
    assert_eq!(key_at(db, replacement, t0).await.alg, "RS256");

    assert_eq!(state_at(db, &old, t0).await, KeyState::Revoked);
    assert_eq!(state_at(db, replacement, t0).await, KeyState::Active);
    let (kids, signer) = loaded(&app, t0, SigningAlg::RS256).await;
    assert!(!kids.contains(&old), "{kids:?}");
    assert!(kids.contains(replacement));
    assert_eq!(signer.as_deref(), Some(replacement.as_str()));
    assert_unknown_key(&app, t0, &old_token).await;
    // ES256 keeps its signer.
    assert_signs(&app, t0, SigningAlg::ES256, &es256).await;

    // Revoking twice is refused; revoking a key that does not sign makes no replacement.
    assert!(matches!(
        revoke(db, &app.state.kek, &policy(0), &old, t0, "test").await,
        Err(RotationError::WrongState {
            state: KeyState::Revoked,
            ..
        })
    ));
    let pending = start_rotation(&app, SigningAlg::ES256, t0).await;
    let created = revoke(db, &app.state.kek, &policy(0), &pending.kid, t0, "test")
        .await
        .expect("revocation");
    assert!(created.is_empty(), "{created:?}");
    assert_signs(&app, t0, SigningAlg::ES256, &es256).await;
    assert!(matches!(
        revoke(db, &app.state.kek, &policy(0), "no-such-kid", t0, "test").await,
        Err(RotationError::UnknownKey(_))
    ));
}

#[tokio::test]
async fn revoking_the_signer_during_a_rotation_promotes_the_pending_key_at_once() {
    let (app, t0, old) = with_rs256_signer().await;
    let db = &app.state.db;
    let pending = start_rotation(&app, SigningAlg::RS256, t0).await;
    let count = keys_at(db, t0).await.len();

    let t1 = t0 + 5;
    let created = revoke(db, &app.state.kek, &policy(0), &old, t1, "test")
        .await
        .expect("revocation");
    assert!(
        created.is_empty(),
        "the pending key takes over: {created:?}"
    );
    assert_eq!(keys_at(db, t1).await.len(), count);
    assert_eq!(state_at(db, &pending.kid, t1).await, KeyState::Active);
    assert_eq!(
        loaded(&app, t1, SigningAlg::RS256).await.1.as_deref(),
        Some(pending.kid.as_str())
    );
}

#[tokio::test]
async fn withdrawing_a_pending_key_leaves_the_current_signer_signing() {
    for withdraw in ["revoke", "retire"] {
        let (app, t0, current) = with_rs256_signer().await;
        let db = &app.state.db;
        let pending = start_rotation(&app, SigningAlg::RS256, t0).await;

        // The new key turns out to be unusable before it signs: it is withdrawn.
        let t1 = t0 + 10;
        match withdraw {
            "revoke" => {
                revoke(db, &app.state.kek, &policy(0), &pending.kid, t1, "test")
                    .await
                    .expect("revocation");
            }
            _ => retire(db, &policy(0), &pending.kid, t1, "test")
                .await
                .expect("retirement"),
        }

        // Past the time the withdrawn key would have taken over, RS256 still has a signer.
        for at in [
            t1,
            pending.activates_at,
            pending.activates_at + RETENTION + 1,
        ] {
            let (kids, signer) = loaded(&app, at, SigningAlg::RS256).await;
            assert_eq!(
                signer.as_deref(),
                Some(current.as_str()),
                "{withdraw}: signer at t0+{}",
                at - t0
            );
            assert!(kids.contains(&current), "{withdraw}: {kids:?}");
            assert_eq!(state_at(db, &current, at).await, KeyState::Active);
        }
        // And the next rotation works as usual.
        let next = start_rotation(&app, SigningAlg::RS256, t1).await;
        let switch = next.activates_at;
        assert_eq!(
            loaded(&app, switch, SigningAlg::RS256).await.1.as_deref(),
            Some(next.kid.as_str())
        );
        assert_eq!(state_at(db, &current, switch).await, KeyState::Retiring);
    }
}

#[tokio::test]
async fn scheduled_rotation_rotates_only_keys_older_than_the_interval_and_not_while_one_is_pending()
{
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let kek = &app.state.kek;
    let interval: i64 = 1000;
    let p = policy(interval as u64);
    let first: Vec<KeyInfo> = keys_at(db, real_now()).await;
    assert_eq!(first.len(), 2, "{first:?}");
    let born = first.iter().map(|k| k.activates_at).max().expect("keys");

    // Younger than the interval: nothing to do.
    let none = scheduled_rotation(db, kek, &p, born + interval - 1)
        .await
        .expect("scheduler");
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(keys_at(db, born).await.len(), 2);

    // Never with a zero interval, however old the keys.
    let none = scheduled_rotation(db, kek, &policy(0), born + 100 * interval)
        .await
        .expect("scheduler");
    assert!(none.is_empty(), "{none:?}");

    // Due: one rotation per algorithm.
    let due = born + interval;
    let rotated = scheduled_rotation(db, kek, &p, due)
        .await
        .expect("scheduler");
    assert_eq!(rotated.len(), 2, "{rotated:?}");
    for alg in SigningAlg::ALL {
        let pending = only(db, alg, KeyState::Pending, due).await;
        assert!(rotated.contains(&pending));
    }

    // A rotation is pending: the scheduler waits.
    let again = scheduled_rotation(db, kek, &p, due + 1)
        .await
        .expect("scheduler");
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(keys_at(db, due).await.len(), 4);

    // Once the new keys sign, they are young again: nothing until they are old.
    let switched = due + PREPUBLICATION;
    let none = scheduled_rotation(db, kek, &p, switched + 1)
        .await
        .expect("scheduler");
    assert!(none.is_empty(), "{none:?}");
    let later = scheduled_rotation(db, kek, &p, switched + interval)
        .await
        .expect("scheduler");
    assert_eq!(later.len(), 2, "{later:?}");
    assert_eq!(keys_at(db, due).await.len(), 6);
}

#[tokio::test]
async fn rotating_twice_while_a_rotation_is_pending_is_refused() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let kek = &app.state.kek;
    let t0 = real_now() + 10;
    let pending = rotate(db, kek, &policy(0), SigningAlg::RS256, t0, "test")
        .await
        .expect("first rotation");
    let count = keys_at(db, t0).await.len();

    let refused = rotate(db, kek, &policy(0), SigningAlg::RS256, t0 + 1, "test").await;
    assert!(
        matches!(&refused, Err(RotationError::WrongState { kid, state: KeyState::Pending }) if *kid == pending.kid),
        "{refused:?}"
    );
    assert_eq!(keys_at(db, t0).await.len(), count, "no key created");
    assert_eq!(
        state_at(db, &pending.kid, t0 + 1).await,
        KeyState::Pending,
        "the pending rotation is untouched"
    );

    // The other algorithm rotates independently, and once the pending key signs a new
    // rotation may start.
    rotate(db, kek, &policy(0), SigningAlg::ES256, t0 + 1, "test")
        .await
        .expect("ES256 rotation");
    rotate(
        db,
        kek,
        &policy(0),
        SigningAlg::RS256,
        pending.activates_at + 1,
        "test",
    )
    .await
    .expect("the next rotation, once the previous one completed");
}

#[tokio::test]
async fn ensuring_signers_twice_creates_nothing_more() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let t0 = real_now() + 10;
    let created = ensure_signers(db, &app.state.kek, &policy(0), t0)
        .await
        .expect("ensure");
    assert!(
        created.is_empty(),
        "the provider made its keys at start: {created:?}"
    );
    let keys = keys_at(db, t0).await;
    for alg in SigningAlg::ALL {
        only(db, alg, KeyState::Active, t0).await;
    }
    assert_eq!(keys.len(), 2);
}
