-- Services (démarches), their roles and documents, habilitations, Responsables des accès,
-- activation codes, access requests and invitations. Dates of end (`end_date`) are calendar
-- dates 'YYYY-MM-DD' in France's time zone, inclusive; other times are seconds since the epoch.

CREATE TABLE services (
    code TEXT PRIMARY KEY NOT NULL,          -- 'ceres': stable, in URLs and claims
    label TEXT NOT NULL,                     -- 'CERES'
    description TEXT NOT NULL DEFAULT '',
    home_url TEXT,                           -- where « Terminer » leads back to
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE service_roles (
    service_code TEXT NOT NULL REFERENCES services(code) ON DELETE CASCADE,
    code TEXT NOT NULL,                      -- 'centre_agree': the `role` claim
    label TEXT NOT NULL,                     -- 'Centre agréé': the `role_label` claim
    description TEXT NOT NULL DEFAULT '',
    position BIGINT NOT NULL DEFAULT 0,      -- order in lists
    PRIMARY KEY (service_code, code)
);

-- The OIDC clients of a service: they see that service's habilitations only.
CREATE TABLE service_clients (
    client_id TEXT PRIMARY KEY NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    service_code TEXT NOT NULL REFERENCES services(code) ON DELETE CASCADE,
    requires_habilitation BIGINT NOT NULL DEFAULT 0
);

-- CGU and « Charte du responsable des accès », versioned; the highest version is current.
CREATE TABLE service_documents (
    service_code TEXT NOT NULL REFERENCES services(code) ON DELETE CASCADE,
    kind TEXT NOT NULL,                      -- 'cgu' | 'charte'
    version BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,                      -- plain text, paragraphs separated by blank lines
    published_at BIGINT NOT NULL,
    PRIMARY KEY (service_code, kind, version)
);

CREATE TABLE document_acceptances (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    service_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    version BIGINT NOT NULL,
    siret TEXT NOT NULL DEFAULT '',          -- the establishment the charte was accepted for
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, service_code, kind, version, siret)
);

CREATE TABLE habilitations (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    service_code TEXT NOT NULL REFERENCES services(code) ON DELETE CASCADE,
    siret TEXT NOT NULL,
    role_code TEXT NOT NULL,
    end_date TEXT,                           -- last day it counts; NULL: no end
    granted_by TEXT,                         -- user id of who granted it; NULL for codes and operators
    granted_how TEXT NOT NULL,               -- activation_code | request | invitation | self | operator
    granted_at BIGINT NOT NULL,
    UNIQUE (user_id, service_code, siret, role_code)
);
CREATE INDEX habilitations_establishment ON habilitations(service_code, siret);

-- The Responsable des accès right, per user, service and establishment.
CREATE TABLE access_managers (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    service_code TEXT NOT NULL REFERENCES services(code) ON DELETE CASCADE,
    siret TEXT NOT NULL,
    granted_by TEXT,                         -- user id for a delegation; NULL for a code
    granted_how TEXT NOT NULL,               -- activation_code | delegation | operator
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, service_code, siret)
);
CREATE INDEX access_managers_establishment ON access_managers(service_code, siret);

CREATE TABLE activation_codes (
    id TEXT PRIMARY KEY NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,          -- HMAC-SHA-256 of the normalised code: never in clear
    service_code TEXT NOT NULL REFERENCES services(code) ON DELETE CASCADE,
    siret TEXT NOT NULL,
    issued_by TEXT NOT NULL,                 -- user id, client id or 'cli'
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,                       -- revoked, or replaced by a newer code
    redeemed_at BIGINT,
    redeemed_by TEXT                         -- user id
);
CREATE INDEX activation_codes_establishment ON activation_codes(service_code, siret);

CREATE TABLE access_requests (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    service_code TEXT NOT NULL REFERENCES services(code) ON DELETE CASCADE,
    siret TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,                    -- pending | accepted | refused
    created_at BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,                 -- last e-mail to the managers (« Relancer » after 30 days)
    handled_by TEXT,
    handled_at BIGINT
);
CREATE INDEX access_requests_establishment ON access_requests(service_code, siret, status);
CREATE INDEX access_requests_user ON access_requests(user_id);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, -- the account (created if new)
    service_code TEXT NOT NULL REFERENCES services(code) ON DELETE CASCADE,
    siret TEXT NOT NULL,
    roles TEXT NOT NULL,                     -- JSON [{"role": "...", "end_date": "YYYY-MM-DD" | null}]
    invited_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,              -- 1 day after sent_at; « Relancer » sends again
    accepted_at BIGINT
);
CREATE INDEX invitations_establishment ON invitations(service_code, siret);

-- CERES, the first service, with its two roles and first documents.
INSERT INTO services (code, label, description, home_url, created_at, updated_at) VALUES
    ('ceres', 'CERES', 'Gestion des titres professionnels : sessions d''examen des centres agréés', NULL, 0, 0);
INSERT INTO service_roles (service_code, code, label, description, position) VALUES
    ('ceres', 'centre_agree', 'Centre agréé', 'Centres de formation agréés : organisation des sessions d''examen', 1),
    ('ceres', 'gestionnaire_centres', 'Gestionnaire CENTRES', 'Gestion des comptes CENTRES', 2);
INSERT INTO service_documents (service_code, kind, version, title, body, published_at) VALUES
    ('ceres', 'cgu', 1, 'Conditions générales d''utilisation du service numérique CERES',
     'Le service numérique CERES permet aux centres agréés de gérer les sessions d''examen des titres professionnels du ministère chargé de l''emploi.

L''utilisateur s''engage à n''utiliser le service que pour les besoins de son établissement, à garder confidentiels ses identifiants et à signaler sans délai toute utilisation frauduleuse de son compte.

Les données saisies sont traitées par le ministère du Travail pour l''instruction des titres professionnels. Vous disposez d''un droit d''accès et de rectification auprès du ministère.', 0),
    ('ceres', 'charte', 1, 'Charte du responsable des accès',
     'En devenant responsable des accès de votre établissement pour le service numérique CERES, vous êtes chargé d''attribuer, de modifier et de retirer les habilitations de vos collègues.

Vous vous engagez à n''accorder d''habilitation qu''aux personnes qui en ont besoin pour leur fonction, à fixer une date de fin lorsque la mission est temporaire, et à retirer sans délai les habilitations des personnes qui quittent l''établissement ou changent de fonction.

Vous vous engagez à traiter les demandes d''accès qui vous sont adressées et à désigner un autre responsable des accès avant de quitter vos fonctions.

Toute action que vous effectuez est enregistrée avec votre identité et sa date.', 0);
