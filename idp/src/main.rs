//! `idp`: parses the command line, loads the configuration, sets up logging, and hands over to
//! the library.

use clap::Parser;
use idp::{
    cli::{Cli, Command},
    config::{Config, LogFormat},
};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Both rustls back-ends end up in the tree (sqlx, redis): pick one for the process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    // The check reports an invalid configuration instead of stopping at it.
    if let Command::Config(cmd) = &cli.command {
        return idp::cli::config::run(cmd, cli.config.as_deref());
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("erreur : {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let filter =
        EnvFilter::try_from_env("IDP_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // The server logs JSON for collectors; one-off commands talk to a person on stderr.
    if config.log_format == LogFormat::Json && matches!(cli.command, Command::Serve) {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(false)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    match idp::cli::run(cli, config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("erreur : {e}");
            std::process::ExitCode::from(2)
        }
    }
}
