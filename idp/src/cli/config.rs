//! `idp config check`: what the provider would run with, before it runs.

use std::{path::Path, process::ExitCode};

use clap::Subcommand;

use crate::{
    config::{Config, ConfigError},
    config_check,
};

/// `idp config …`.
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Prints the effective configuration (defaults, file, `IDP_*` variables) with its secrets
    /// masked, then its warnings and its errors; exits with status 2 when there is an error.
    Check,
}

/// Runs `cmd` on the configuration read from `file` and the environment. Unlike the other
/// commands it starts from a configuration that may be invalid, to report every problem.
pub fn run(cmd: &ConfigCommand, file: Option<&Path>) -> ExitCode {
    if passes(cmd, file) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// [`run`]: whether the configuration has no error.
pub fn passes(cmd: &ConfigCommand, file: Option<&Path>) -> bool {
    match cmd {
        ConfigCommand::Check => check(file),
    }
}

fn check(file: Option<&Path>) -> bool {
    let config = match Config::read(file) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("erreur : {e}");
            return false;
        }
    };
    print!("{}", config_check::redacted(&config));
    let warnings = config_check::warnings(&config);
    println!();
    if warnings.is_empty() {
        println!("# avertissements : aucun");
    } else {
        println!("# avertissements : {}", warnings.len());
        for warning in &warnings {
            println!("#   {warning}");
        }
    }
    let errors: Vec<String> = match config.validate() {
        Ok(()) => Vec::new(),
        Err(ConfigError::Checks(problems)) => problems.0.iter().map(ToString::to_string).collect(),
        // The early checks of `Config::validate` stop at their first problem, before the
        // bounds and contradictions of `Problems::of`.
        Err(first) => std::iter::once(first.to_string())
            .chain(
                crate::config::Problems::of(&config)
                    .0
                    .iter()
                    .map(ToString::to_string),
            )
            .collect(),
    };
    if errors.is_empty() {
        println!("# erreurs : aucune");
        true
    } else {
        println!("# erreurs : {}", errors.len());
        for error in &errors {
            println!("#   {error}");
            eprintln!("erreur : {error}");
        }
        false
    }
}
