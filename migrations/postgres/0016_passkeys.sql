-- Passkeys (issue 14, accounts/passkeys): WebAuthn credentials, several per account, each named
-- by its owner. A second factor after the password, or a login of their own (docs/accounts.md,
-- « Clés d'accès »).
CREATE TABLE user_passkeys (
    id TEXT PRIMARY KEY NOT NULL,            -- random, what the removal form names
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,      -- the authenticator's credential id, base64url: one account only
    name TEXT NOT NULL,                      -- chosen by the person (« Téléphone », « Clé USB »)
    passkey TEXT NOT NULL,                   -- webauthn-rs Passkey as JSON: public key, counter, flags
    sign_count BIGINT NOT NULL,              -- the authenticator's signature counter, last accepted
    backup_eligible BIGINT NOT NULL,         -- 1: the credential may be synchronised (cloud keychain)
    backup_state BIGINT NOT NULL,            -- 1: it is backed up now
    created_at BIGINT NOT NULL,
    last_used_at BIGINT                      -- last login or step-up with it; NULL: never used
);
CREATE INDEX user_passkeys_user ON user_passkeys (user_id);
