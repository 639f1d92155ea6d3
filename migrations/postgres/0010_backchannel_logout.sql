-- OpenID Connect Back-Channel Logout 1.0: where a client wants to be told that a session it
-- logged into has ended, and the logout tokens waiting to be delivered there.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required BIGINT NOT NULL DEFAULT 0;

-- One row per (ended session, client) until delivered or given up. A node claims a row by
-- moving `claimed_until` into the future (a conditional UPDATE), so two nodes never post the
-- same token at once; a node that dies mid-delivery frees its rows when the claim lapses.
-- The token is signed at each attempt (fresh iat and exp) under the same `jti`.
CREATE TABLE logout_deliveries (
    jti TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    sub TEXT NOT NULL,
    sid TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX logout_deliveries_due ON logout_deliveries(next_attempt_at);
