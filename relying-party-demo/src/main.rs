//! `relying-party-demo`: CERES (démonstration), configured from the environment (see
//! `relying_party_demo::Config`).

use relying_party_demo::{Config, serve};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // reqwest's rustls needs a process-wide crypto provider (see Cargo.toml): first thing.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(base_url = %config.base_url, "CERES (démonstration) démarrée");
    serve(config, listener).await?;
    Ok(())
}
