-- A refresh token spent by a rotation names its successor (its hash and expiry), which links a
-- family's tokens in order. On SQLite the successor is inserted by this trigger, in the same
-- statement as the spending (oidc::grants::rotate): the rotation is atomic without
-- BEGIN … COMMIT, each of which is one more hop to sqlx's worker thread. Spending a token
-- otherwise (a family ended) names no successor and inserts nothing.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;
ALTER TABLE refresh_tokens ADD COLUMN successor_expires_at BIGINT;
CREATE TRIGGER refresh_tokens_successor AFTER UPDATE OF used_at ON refresh_tokens
WHEN OLD.used_at IS NULL AND NEW.successor_hash IS NOT NULL
BEGIN
    INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at)
    VALUES (NEW.successor_hash, NEW.grant_id, NEW.used_at, NEW.successor_expires_at);
END;
