-- Second factor: TOTP (RFC 6238) secrets and single-use recovery codes.

CREATE TABLE user_totp (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret BYTEA NOT NULL,                    -- AES-256-GCM(nonce || ciphertext) under the KEK, user id as associated data
    last_step BIGINT NOT NULL,               -- last accepted time step: a code is accepted once
    created_at BIGINT NOT NULL
);

CREATE TABLE totp_recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,                 -- SHA-256 of a random code (high entropy: no slow hash needed)
    PRIMARY KEY (user_id, code_hash)
);
