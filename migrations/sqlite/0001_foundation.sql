-- Foundation: accounts, OIDC clients, consents, signing keys, grants and tokens, audit trail.
-- Timestamps are seconds since the Unix epoch (BIGINT) on both engines.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,            -- also the OIDC `sub`: opaque, stable
    email TEXT NOT NULL UNIQUE,              -- lower-cased
    email_verified BIGINT NOT NULL DEFAULT 0,
    password_hash TEXT,                      -- argon2id PHC string; NULL until a password is set
    given_name TEXT NOT NULL DEFAULT '',
    family_name TEXT NOT NULL DEFAULT '',
    gender TEXT,
    job TEXT,
    siret TEXT,
    organization_label TEXT,
    is_agent BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT,                        -- SHA-256 of a 256-bit random secret
    auth_method TEXT NOT NULL,               -- client_secret_basic | client_secret_post | private_key_jwt | none
    redirect_uris TEXT NOT NULL,             -- JSON array of exact URIs
    post_logout_redirect_uris TEXT NOT NULL, -- JSON array of exact URIs
    grant_types TEXT NOT NULL,               -- JSON array
    scopes TEXT NOT NULL,                    -- JSON array: scopes this client may obtain
    id_token_alg TEXT NOT NULL,              -- RS256 | ES256
    jwks TEXT,                               -- JSON Web Key Set for private_key_jwt
    skip_consent BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE consents (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,                    -- space-separated
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL,                       -- RS256 | ES256
    public_jwk TEXT NOT NULL,
    private_key BLOB NOT NULL,               -- AES-256-GCM(nonce || ciphertext) of the PKCS#8 DER
    created_at BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,            -- published from created_at, signs from here
    retired_at BIGINT,                       -- stops signing here
    remove_at BIGINT,                        -- leaves the JWKS here
    revoked_at BIGINT                        -- compromised: gone at once
);

CREATE TABLE grants (
    id TEXT PRIMARY KEY NOT NULL,            -- a refresh-token family
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    claims TEXT,                             -- the `claims` request parameter, JSON
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,                       -- JSON array
    sid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_user ON grants(user_id);
CREATE INDEX grants_sid ON grants(sid);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,    -- SHA-256, base64url
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT                           -- rotated: a second use revokes the family
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);

CREATE TABLE access_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT REFERENCES grants(id) ON DELETE CASCADE, -- NULL for client_credentials
    client_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX access_tokens_grant ON access_tokens(grant_id);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,                     -- user id, client id, `cli` or `system`
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events(at);
