-- A refresh token spent by a rotation names its successor (its hash and expiry), which links a
-- family's tokens in order. On PostgreSQL the rotation's one statement (a data-modifying WITH,
-- oidc::grants::rotate) inserts the successor itself; SQLite's migration adds a trigger that
-- does it there.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;
ALTER TABLE refresh_tokens ADD COLUMN successor_expires_at BIGINT;
