-- Second-factor policies (issue 14): a client, or a service, can require a second factor for
-- every login to it (docs/accounts.md, « Second-factor policies »).
ALTER TABLE clients ADD COLUMN require_mfa BIGINT NOT NULL DEFAULT 0;
ALTER TABLE services ADD COLUMN require_mfa BIGINT NOT NULL DEFAULT 0;
