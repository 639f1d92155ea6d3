-- « AGENT DU MINISTÈRE »: an account linked to an upstream OpenID provider's subject. The link
-- is the pair (issuer, sub), never the e-mail: an address changes hands, a subject does not.
CREATE TABLE upstream_links (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX upstream_links_user ON upstream_links (user_id);
