//! The private keys' encryption at rest.

use super::*;

/// The start of every PKCS#8 v1 DER private key: SEQUENCE with a two-byte length, then the
/// version INTEGER 0.
fn starts_like_pkcs8(bytes: &[u8]) -> bool {
    bytes.len() > 7 && bytes[0] == 0x30 && bytes[1] == 0x82 && bytes[4..7] == [0x02, 0x01, 0x00]
}

/// Whether `der` reads as a P-256 PKCS#8 key.
fn is_p256_pkcs8(der: &[u8]) -> bool {
    aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        der,
    )
    .is_ok()
}

#[tokio::test]
async fn private_keys_are_stored_encrypted() {
    let app = TestApp::spawn().await;
    let rows = idp::keys::store::all_keys(&app.state.db)
        .await
        .expect("keys");
    assert_eq!(rows.len(), 2);
    for row in rows {
        let (kid, alg, stored) = (row.kid, row.alg, row.private_key);

        // The control: what the KEK opens is the PKCS#8 key, which the checks below recognise.
        let plain = app
            .state
            .kek
            .open(&kid, &stored)
            .expect("opens under the KEK");
        if alg == "RS256" {
            assert!(starts_like_pkcs8(&plain));
            assert!(aws_lc_rs::rsa::KeyPair::from_pkcs8(&plain).is_ok());
        } else {
            assert!(is_p256_pkcs8(&plain));
        }

        // What is stored is not.
        assert!(
            !starts_like_pkcs8(&stored),
            "{alg} key {kid} stored in the clear"
        );
        assert!(aws_lc_rs::rsa::KeyPair::from_pkcs8(&stored).is_err());
        assert!(!is_p256_pkcs8(&stored));
        assert!(
            !stored.windows(32).any(|w| w == &plain[plain.len() - 32..]),
            "no part of the key in the clear"
        );
        assert_ne!(stored.len(), plain.len());
    }
}

#[tokio::test]
async fn a_provider_with_another_kek_refuses_to_start_on_the_same_database() {
    let app = TestApp::spawn().await;
    let before = serde_json::to_value(keys_at(&app.state.db, real_now()).await).expect("json");

    let mut config = (*app.state.config).clone();
    let other = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    assert_ne!(config.keys.kek.as_deref(), Some(other.as_str()));
    config.keys.kek = Some(other);
    let opened = AppState::open(config).await;
    assert!(
        matches!(
            &opened,
            // The derivation root is the first thing it opens; the keys would refuse alike.
            Err(StartError::Root(RootError::Kek(KekError::Decrypt)))
                | Err(StartError::Keys(RotationError::Kek(KekError::Decrypt)))
        ),
        "{:?}",
        opened.as_ref().err()
    );

    // Nothing was created or changed, and the running node still signs.
    let after = serde_json::to_value(keys_at(&app.state.db, real_now()).await).expect("json");
    assert_eq!(before, after);
    app.state
        .reload_keys()
        .await
        .expect("the right KEK still loads");
}
