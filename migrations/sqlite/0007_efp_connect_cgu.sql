-- EFP Connect's own conditions générales d'utilisation (the provider's, distinct from each
-- service's CGU in service_documents): versioned texts, the highest version is current, and
-- who accepted which version when. A person whose latest acceptance is older than the
-- current version is asked again at their next login (accounts::cgu).
-- Paragraphs are separated by blank lines; `## ` starts a heading.
CREATE TABLE cgu_versions (
    version BIGINT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at BIGINT NOT NULL
);

CREATE TABLE cgu_acceptances (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    version BIGINT NOT NULL REFERENCES cgu_versions(version),
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, version)
);

INSERT INTO cgu_versions (version, title, body, published_at) VALUES
    (1, 'Conditions générales d''utilisation d''EFP Connect',
'## Article 1 – Objet

Les présentes conditions générales d''utilisation (CGU) encadrent l''utilisation d''EFP Connect, le service d''authentification mis à disposition par la Délégation générale à l''emploi et à la formation professionnelle (DGEFP) du ministère du Travail et de l''Emploi.

EFP Connect permet à une personne de disposer d''un compte unique pour accéder aux services numériques du ministère qui y sont raccordés (par exemple CERES). Chacun de ces services a ses propres conditions générales d''utilisation, qui s''ajoutent aux présentes.

## Article 2 – Acceptation des conditions

La création d''un compte EFP Connect vaut acceptation sans réserve des présentes CGU. La version acceptée et sa date sont enregistrées et consultables à tout moment depuis la page « Mon compte ».

Lorsqu''une nouvelle version est publiée, son acceptation est demandée à la connexion suivante. Tant qu''elle n''est pas acceptée, la connexion aux services numériques n''est pas possible.

## Article 3 – Compte EFP Connect

Le compte est strictement personnel : il est rattaché à une adresse e-mail professionnelle nominative, dont la personne a prouvé qu''elle la reçoit. L''utilisation d''une adresse e-mail partagée (accueil, contact, secrétariat…) est interdite.

L''utilisateur s''engage à fournir des informations exactes (civilité, nom, prénom, organisation) et à les tenir à jour depuis la page « Mon compte ». Il peut à tout moment demander la suppression de son compte depuis cette même page.

## Article 4 – Données à caractère personnel

Les données collectées (adresse e-mail, civilité, nom, prénom, poste occupé, organisation, dates de connexion) sont traitées par la DGEFP, responsable de traitement, pour l''authentification des utilisateurs et la gestion de leurs accès aux services numériques, sur le fondement de l''exécution d''une mission d''intérêt public (article 6.1.e du règlement général sur la protection des données).

Seules les données nécessaires sont transmises au service numérique auquel l''utilisateur se connecte. Elles ne sont ni vendues ni cédées. Les données du compte sont conservées tant que le compte existe, puis supprimées ; les traces techniques de sécurité sont conservées un an au plus.

Conformément au règlement (UE) 2016/679 et à la loi n° 78-17 du 6 janvier 1978 modifiée, l''utilisateur dispose d''un droit d''accès, de rectification, d''effacement et de limitation du traitement de ses données, qu''il exerce auprès du délégué à la protection des données du ministère. Il peut introduire une réclamation auprès de la Commission nationale de l''informatique et des libertés (CNIL).

## Article 5 – Sécurité et identifiants

L''utilisateur choisit un mot de passe robuste, qu''il garde secret et n''utilise pour aucun autre service. Il ne communique jamais ses identifiants, y compris à un collègue ou à une personne se présentant comme un agent du ministère : aucun agent ne les lui demandera.

Toute utilisation anormale de son compte ou tout soupçon de divulgation de ses identifiants doit conduire l''utilisateur à modifier sans délai son mot de passe et à en informer l''assistance du service numérique concerné.

## Article 6 – Responsabilités

L''utilisateur est responsable de l''usage qui est fait de son compte et des actions effectuées après son authentification. Il s''engage à n''utiliser EFP Connect que dans le cadre de ses missions professionnelles et conformément à la législation en vigueur.

La DGEFP met en œuvre les moyens nécessaires pour assurer la disponibilité et la sécurité d''EFP Connect, sans pouvoir garantir l''absence d''interruption, notamment pour maintenance. En cas de manquement aux présentes CGU, elle peut suspendre ou supprimer le compte concerné.

## Article 7 – Évolution des conditions générales d''utilisation

La DGEFP peut modifier les présentes CGU, notamment pour tenir compte de l''évolution d''EFP Connect ou de la réglementation. Chaque nouvelle version est datée, publiée sur EFP Connect et soumise à l''acceptation de l''utilisateur lors de sa connexion suivante ; elle remplace alors la précédente.

Les présentes CGU sont soumises au droit français.', 1796083200);
