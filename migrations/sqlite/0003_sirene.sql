-- The local SIRENE register: establishments (SIRET) of companies (SIREN), filled by
-- `idp sirene import` from INSEE's StockEtablissement file and by the INSEE API adapter.
-- Booleans are 0/1 integers on both engines.

CREATE TABLE establishments (
    siret TEXT PRIMARY KEY NOT NULL,         -- 14 digits, checked (Luhn, La Poste exception)
    siren TEXT NOT NULL,                     -- its first nine digits
    name TEXT NOT NULL,                      -- raison sociale, else dénomination usuelle, else enseigne
    name_search TEXT NOT NULL,               -- `name` lower-cased, accents and punctuation removed
    address TEXT NOT NULL DEFAULT '',        -- "12 RUE DES LILAS"
    postcode TEXT NOT NULL DEFAULT '',
    commune TEXT NOT NULL DEFAULT '',
    active BIGINT NOT NULL DEFAULT 1,        -- 1: A (actif), 0: F (fermé)
    head_office BIGINT NOT NULL DEFAULT 0,   -- 1: siège of its company
    updated_at BIGINT NOT NULL
);

CREATE INDEX establishments_siren ON establishments (siren);
-- Prefix search is a range on this index: name_search >= 'afpa' AND name_search < 'afpa~';
-- with siret, a broad prefix is read in (name, SIRET) order without sorting.
CREATE INDEX establishments_name_search ON establishments (name_search, siret);
