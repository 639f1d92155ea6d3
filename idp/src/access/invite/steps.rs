//! Steps 1 to 3 of the wizard: the e-mail, the type of account, the identity.

use super::*;

// ---- Step 1: the e-mail ----

/// `GET /acces/{service}/gestion/inviter`: step 1 (`?nouveau` starts over).
pub async fn show_email(
    page: Page,
    m: Manager,
    UrlQuery(q): UrlQuery<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let mut w = open_or_return!(page, m, Step::Email);
    if q.contains_key("nouveau") {
        w = Wizard::default();
        save(&page, &m, &w).await?;
    }
    let view = InvitePage {
        email: w.email.clone().unwrap_or_default(),
        ..InvitePage::at(&m, Step::Email)
    };
    show_page(&page, &m, &w, Step::Email, view).await
}

/// Fields of step 1.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EmailForm {
    csrf: String,
    email: String,
}

/// `POST /acces/{service}/gestion/inviter`: an existing account goes to step 5.
pub async fn submit_email(
    page: Page,
    m: Manager,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Result<Response, PageError> {
    let mut w = open_or_return!(page, m, Step::Email);
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let view = InvitePage {
                email: form.email.clone(),
                ..InvitePage::at(&m, Step::Email)
            }
            .with_error("email", e.to_string());
            return show_page(&page, &m, &w, Step::Email, view).await;
        }
    };
    if w.email.as_deref() != Some(email.as_str()) {
        // Another person: nothing typed for the previous one applies.
        w = Wizard {
            email: Some(email.as_str().to_owned()),
            ..Wizard::default()
        };
    }
    let by = UserId::from_stored(m.user.id.clone());
    w.existing = look_up_invitee::look_up_invitee(
        &page.db,
        &page.ephemeral,
        &page.clock,
        &by,
        &m.service,
        &email,
    )
    .await
    .map_err(|refused| PageError::refused(&refused))?
    .map(|id| id.as_str().to_owned());
    save_and_continue(&page, &m, &w).await
}

// ---- Step 2: the type of account ----

/// `GET /acces/{service}/gestion/inviter/type`.
pub async fn show_type(page: Page, m: Manager) -> Result<Response, PageError> {
    let w = open_or_return!(page, m, Step::Type);
    let view = InvitePage::at(&m, Step::Type);
    show_page(&page, &m, &w, Step::Type, view).await
}

/// Fields of step 2.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TypeForm {
    csrf: String,
    type_compte: String,
}

/// `POST /acces/{service}/gestion/inviter/type`.
pub async fn submit_type(
    page: Page,
    m: Manager,
    CsrfForm(form): CsrfForm<TypeForm>,
) -> Result<Response, PageError> {
    let mut w = open_or_return!(page, m, Step::Type);
    if form.type_compte != "professionnel" {
        let view = InvitePage::at(&m, Step::Type)
            .with_error("type_compte", "Veuillez choisir le type de compte.");
        return show_page(&page, &m, &w, Step::Type, view).await;
    }
    w.account_type = Some(form.type_compte);
    save_and_continue(&page, &m, &w).await
}

// ---- Step 3: the identity ----

/// `GET /acces/{service}/gestion/inviter/identite`.
pub async fn show_identity(page: Page, m: Manager) -> Result<Response, PageError> {
    let w = open_or_return!(page, m, Step::Identity);
    let view = InvitePage {
        gender: w.gender.clone().unwrap_or_default(),
        family_name: w.family_name.clone().unwrap_or_default(),
        given_name: w.given_name.clone().unwrap_or_default(),
        ..InvitePage::at(&m, Step::Identity)
    };
    show_page(&page, &m, &w, Step::Identity, view).await
}

/// Fields of step 3: those of the sign-up's identity step.
pub use crate::accounts::signup::identity::IdentityForm;

/// `POST /acces/{service}/gestion/inviter/identite`: the sign-up's rules.
pub async fn submit_identity(
    page: Page,
    m: Manager,
    CsrfForm(form): CsrfForm<IdentityForm>,
) -> Result<Response, PageError> {
    let mut w = open_or_return!(page, m, Step::Identity);
    match parse_identity(&form.civilite, &form.nom, &form.prenom) {
        Ok(identity) => {
            w.gender = Some(identity.gender.to_owned());
            w.family_name = Some(identity.family_name);
            w.given_name = Some(identity.given_name);
            save_and_continue(&page, &m, &w).await
        }
        Err((field, message)) => {
            // The sign-up speaks to the person; here the manager speaks of someone else.
            let message = message
                .replace("votre civilité", "la civilité de l'utilisateur")
                .replace("votre nom", "le nom de l'utilisateur")
                .replace("votre prénom", "le prénom de l'utilisateur");
            let view = InvitePage {
                gender: gender_of(&form.civilite).unwrap_or_default().into(),
                family_name: form.nom.clone(),
                given_name: form.prenom.clone(),
                ..InvitePage::at(&m, Step::Identity)
            }
            .with_error(field, message);
            show_page(&page, &m, &w, Step::Identity, view).await
        }
    }
}

with_csrf!(EmailForm, TypeForm);
