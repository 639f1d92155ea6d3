-- Verification of new browsers (issue 14, docs/accounts.md « Navigateurs reconnus »): the
-- browsers an account confirmed with an e-mailed code, each known by the SHA-256 of the random
-- token of its `__Host-idp_browser` cookie; and each person's choice to be asked.
CREATE TABLE known_browsers (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX known_browsers_user ON known_browsers (user_id);
ALTER TABLE users ADD COLUMN verify_new_browsers BIGINT NOT NULL DEFAULT 0;
