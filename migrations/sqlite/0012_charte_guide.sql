-- The « Charte du responsable des accès » as guide 002 (§3.2) prints it: Préambule and
-- Articles 1–8. Version 2 of CERES's charte; managers who accepted version 1 are asked again.
-- Paragraphs are separated by blank lines; `## ` starts a heading.
INSERT INTO service_documents (service_code, kind, version, title, body, published_at) VALUES
    ('ceres', 'charte', 2, 'Charte du responsable des accès',
'## Préambule

Les responsables des accès bénéficient de droits spécifiques et peuvent être amenés, de manière incidente, à avoir accès aux informations d''autres utilisateurs. C''est pourquoi ils doivent respecter des règles complémentaires à celles prévues par les Conditions Générales d''Utilisation (CGU) du service numérique.

## ARTICLE 1 – Objet

La présente charte a pour objet de définir de façon complémentaire aux CGU les principales prérogatives, les obligations, les engagements et la responsabilité des responsables des accès opérant pour le compte de leur structure.

La Charte a valeur contractuelle et est opposable aux responsables des accès dès leur acceptation par ces derniers.

## ARTICLE 2 – Acceptation et opposabilité

En vertu de sa désignation par sa structure, le responsable des accès ne pourra bénéficier des services qu''après avoir accepté la présente charte.

En cas de refus de la charte, le responsable des accès ne sera pas autorisé à accéder aux fonctionnalités propres à son rôle.

La charte demeure opposable au responsable des accès tant qu''il est désigné comme tel par sa structure, et il reste responsable de toute action effectuée durant cette période.

## ARTICLE 3 – Mise à jour de la Charte

Les dispositions de la charte peuvent être amendées à tout moment, sans préavis, notamment en fonction des modifications apportées au service numérique, de l''évolution de la législation ou pour tout autre motif jugé nécessaire par la Délégation générale à l''emploi et à la formation professionnelle (DGEFP).

Toute nouvelle version est soumise à l''acceptation du responsable des accès lors de sa connexion suivante : tant qu''il ne l''a pas acceptée, il ne peut plus exercer les fonctionnalités propres à son rôle.

## ARTICLE 4 – Prérogatives du responsable des accès

Le responsable des accès gère, pour le compte de sa structure et pour chaque établissement dont il a la charge, les habilitations des utilisateurs au service numérique : il attribue, modifie et retire les habilitations, fixe leur date de fin, invite de nouveaux utilisateurs et traite les demandes d''accès qui lui sont adressées.

Il peut désigner d''autres responsables des accès au sein de son établissement. Chacune de ses actions est enregistrée avec son identité et sa date.

## ARTICLE 5 – Obligations et engagements du responsable des accès

Le responsable des accès s''engage à :

- n''attribuer d''habilitation qu''aux personnes de sa structure qui en ont besoin pour l''exercice de leurs fonctions, et seulement le rôle nécessaire ;

- fixer une date de fin lorsque la mission de la personne est temporaire ;

- retirer sans délai les habilitations des personnes qui quittent la structure ou changent de fonctions, et vérifier régulièrement la liste des utilisateurs habilités ;

- traiter dans un délai raisonnable les demandes d''accès qui lui sont adressées ;

- préserver la confidentialité des informations relatives aux autres utilisateurs auxquelles il a accès, et ne les utiliser que pour la gestion des habilitations ;

- garder strictement personnels ses identifiants de connexion et signaler sans délai à l''assistance toute utilisation frauduleuse de son compte ;

- désigner un autre responsable des accès avant de quitter ses fonctions, afin que sa structure conserve la maîtrise de ses accès.

## ARTICLE 6 – Manquements

En cas de manquement à une ou plusieurs de ces obligations, la DGEFP se réserve le droit de suspendre l''accès et ou de supprimer le compte de l''utilisateur responsable. En fonction de la gravité du manquement constaté, la DGEFP pourra être amenée à déposer une plainte.

Il est donc essentiel de respecter scrupuleusement les dispositions de cette charte pour éviter de telles conséquences.

## ARTICLE 7 – Entrée en vigueur de la charte

La présente Charte entre en vigueur à compter de leur date de mise en ligne sur EFP Connect.

Toute nouvelle version de la Charte publiée sur EFP Connect et ayant fait l''objet d''une acceptation par le responsable des accès remplace la précédente.

## ARTICLE 8 – Droit applicable

La Charte est soumise au droit français.', 1796342400);
