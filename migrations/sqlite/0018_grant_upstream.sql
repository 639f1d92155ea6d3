-- « AGENT DU MINISTÈRE » (issue 14): the upstream provider the grant's login came through
-- (NULL: a local login). Agent status is a login's (docs/accounts.md « Agent status »): the
-- tokens issued under the grant, refreshes included, say `ministry_agent` as that login was.
ALTER TABLE grants ADD COLUMN upstream TEXT;
