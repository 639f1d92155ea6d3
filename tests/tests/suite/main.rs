//! The integration tests: one binary, one module per journey or protocol area, all on the
//! shared harness (`idp_tests`).

mod access;
mod access_agent;
mod access_atomicity;
mod access_codes;
mod access_invitations;
mod access_manage;
mod access_pages;
mod access_requests;
mod account;
mod admin;
mod anti_robot;
mod backchannel_logout;
mod browser;
mod browsers;
mod cgu;
mod client_auth;
mod cluster;
mod help;
mod interop;
mod keys_rotation;
mod mail;
mod metrics;
mod oidc_conformance;
mod pages;
mod passkeys;
mod password_reset;
mod proxy;
mod relying_party;
mod revocation;
mod signup;
mod sirene;
mod smoke;
mod totp;
mod upstream;
