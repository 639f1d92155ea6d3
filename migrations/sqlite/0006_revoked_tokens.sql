-- Access tokens are no longer recorded one row each (the table grew with every token and was
-- never purged, and each issue and each check cost a round trip): a token is good when its
-- signature, expiry and client hold and neither its jti nor its grant is listed here. Rows
-- are only needed while a token they name can still be presented: `until` is that instant,
-- after which the key scheduler purges them.
CREATE TABLE revoked_tokens (
    key TEXT PRIMARY KEY NOT NULL,          -- `jti:<jti>` or `grant:<grant id>`
    until BIGINT NOT NULL
);

-- Revocations of the old table carry over; tokens issued before this migration carry no
-- grant id and are refused as user tokens anyway.
INSERT INTO revoked_tokens (key, until)
    SELECT 'jti:' || jti, expires_at FROM access_tokens WHERE revoked_at IS NOT NULL;

DROP TABLE access_tokens;
