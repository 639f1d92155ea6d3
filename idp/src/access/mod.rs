//! Access to the ministry's services: services (démarches) and their roles, habilitations,
//! the Responsable des accès right, activation codes. The claims of the `habilitations` scope
//! are read here; the OIDC layer only decides when to release them.

pub mod actions;
pub mod activation;
pub mod agent;
pub mod api;
pub mod claims;
pub mod codes;
pub mod dates;
pub mod habilitations;
pub mod invitations;
pub mod invite;
pub mod manage;
pub mod manager;
pub mod managers;
pub mod mine;
pub mod notices;
pub mod pages;
pub mod people;
pub mod refusal;
pub mod request;
pub mod requests;
pub mod rules;
pub mod services;

pub use codes::ActivationCode;
pub use dates::EndDate;

/// The access pages and the access JSON API.
pub fn routes() -> axum::Router<crate::AppState> {
    use axum::routing::{delete, get, post};
    axum::Router::new()
        .route(mine::PATH, get(mine::show))
        .route("/api/v1/activation", post(api::redeem))
        .route("/api/v1/notifications", get(api::notifications))
        .route("/api/v1/establishments/{siret}", get(api::establishment))
        .route("/api/v1/codes", get(api::list).post(api::issue))
        .route("/api/v1/codes/{id}", delete(api::revoke))
        .route("/acces/{service}/gestion", get(manage::users::users))
        .route(
            "/acces/{service}/gestion/demandes",
            get(manage::requests::requests),
        )
        .route(
            "/acces/{service}/gestion/inviter",
            get(invite::steps::show_email).post(invite::steps::submit_email),
        )
        .route(
            "/acces/{service}/gestion/inviter/type",
            get(invite::steps::show_type).post(invite::steps::submit_type),
        )
        .route(
            "/acces/{service}/gestion/inviter/identite",
            get(invite::steps::show_identity).post(invite::steps::submit_identity),
        )
        .route(
            "/acces/{service}/gestion/inviter/organisation",
            get(invite::organization::show_organization)
                .post(invite::organization::submit_organization),
        )
        .route(
            "/acces/{service}/gestion/inviter/habilitations",
            get(invite::habilitations::show_habilitations)
                .post(invite::habilitations::add_habilitation),
        )
        .route(
            "/acces/{service}/gestion/inviter/habilitations/retirer",
            post(invite::habilitations::drop_habilitation),
        )
        .route(
            "/acces/{service}/gestion/inviter/terminer",
            post(invite::finish::finish),
        )
        .route(
            "/acces/{service}/gestion/invitations",
            get(invite::tab::list),
        )
        .route(
            "/acces/{service}/gestion/invitations/{id}/relancer",
            post(invite::tab::resend),
        )
        .route(
            "/acces/{service}/gestion/utilisateurs/{id}",
            get(manage::person::user),
        )
        .route(
            "/acces/{service}/gestion/utilisateurs/{id}/habilitations",
            post(manage::person::add),
        )
        .route(
            "/acces/{service}/gestion/utilisateurs/{id}/responsable",
            post(manage::person::designate),
        )
        .route(
            "/acces/{service}/gestion/utilisateurs/{id}/responsable/retirer",
            post(manage::person::withdraw),
        )
        .route(
            "/acces/{service}/gestion/habilitations/{id}/retirer",
            post(manage::person::remove),
        )
        .route(
            "/acces/{service}/gestion/habilitations/{id}/date-fin",
            post(manage::person::change_end_date),
        )
        .route("/agent", get(agent::show))
        .route("/agent/codes", post(agent::issue))
        .route("/agent/codes/{id}/revoquer", post(agent::revoke))
        .route("/acces/{service}", get(activation::show))
        .route("/acces/{service}/activation", post(activation::redeem))
        .route(
            "/acces/{service}/charte",
            get(activation::show_charte).post(activation::accept_charte),
        )
        .route(
            "/acces/{service}/mes-acces",
            get(activation::show_self).post(activation::assign_self),
        )
        .route(
            "/acces/{service}/demande",
            get(request::ask::show).post(request::ask::submit),
        )
        .route(
            "/acces/{service}/demande/envoyee",
            get(request::sent::show_sent),
        )
        .route(
            "/acces/{service}/demande/relance",
            post(request::sent::resend),
        )
        .route(
            "/acces/{service}/demandes/{id}",
            get(request::decide::show_request).post(request::decide::decide),
        )
}
