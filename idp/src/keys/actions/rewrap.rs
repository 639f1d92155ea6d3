//! Re-seal everything stored under a key-encryption key under the current one (`idp keys
//! rewrap`): the private signing keys, the TOTP secrets and the derivation root, each opened
//! with the current KEK or a previous one and sealed again, with `kek.rewrapped` audited, in one
//! transaction. A row no configured KEK opens refuses the whole change: nothing is half re-sealed.
//! Once it has run, the previous KEKs can leave the configuration (docs/operations.md, « Changing
//! the key-encryption key »).

use super::super::{
    kek::Kek,
    store::{self, Rewrapped, RootError},
};
use crate::{action::Event, store::Db};

/// Re-seals under `kek`'s current key; `actor` is who asked (`cli`). What was re-sealed.
pub async fn rewrap(db: &Db, kek: &Kek, now: i64, actor: &str) -> Result<Rewrapped, RootError> {
    let mut tx = db.begin().await?;
    let done = store::rewrap_in(&mut tx, kek).await?;
    let details = serde_json::to_value(done).unwrap_or_default();
    Event::new(actor, "kek.rewrapped", "signing_keys")
        .with(details)
        .record_in(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(done)
}
