-- Account administration (issue 16). A disabled account cannot log in and gets no token
-- (who disabled it and why is in the audit trail; the reason is kept here for support).
-- Sessions that started before `sessions_not_before` are void on every node: an operator
-- ended them, or disabled the account. `last_login_at`: the last successful login, for
-- support and `idp users list --inactive-since`.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE users ADD COLUMN disabled_reason TEXT;
ALTER TABLE users ADD COLUMN sessions_not_before BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_login_at BIGINT;
CREATE INDEX audit_events_target ON audit_events (target, at);
CREATE INDEX audit_events_actor ON audit_events (actor, at);
