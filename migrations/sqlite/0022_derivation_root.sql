-- Secrets the provider keeps sealed under the key-encryption key, by name. One for now:
-- `derivation-root`, from which the keys of other purposes are derived (activation-code
-- hashes, CSRF, anti-robot) so they survive a change of KEK (docs/operations.md, « Changing
-- the key-encryption key »). Recorded at the first start of this version: the current KEK's
-- own bytes, which is what those keys were derived from until then.
CREATE TABLE sealed_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    sealed BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
