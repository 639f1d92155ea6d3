-- Client hardening (issue 15): PKCE required unless a client is registered without it; the
-- clients whose tokens a client may introspect; relying parties trusted to forward the
-- person's own address to the activation API (docs/interop.md, docs/api.md).
ALTER TABLE clients ADD COLUMN require_pkce BIGINT NOT NULL DEFAULT 1;
ALTER TABLE clients ADD COLUMN introspects TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN forwards_end_user_ip BIGINT NOT NULL DEFAULT 0;
