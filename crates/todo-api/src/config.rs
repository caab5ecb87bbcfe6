//! todo-api's configuration, from the environment only.

use service_kit::config::LogFormat;
use service_kit::{ConfigError, Env};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub jwt_secret: String,
    pub port: u16,
    pub log_format: LogFormat,
    /// How long issued tokens stay valid (`TOKEN_TTL_SECONDS`, default one day).
    pub token_ttl: Duration,
    /// Login attempts allowed per client per minute (`LOGIN_ATTEMPTS_PER_MINUTE`, default 10).
    pub login_attempts_per_minute: u32,
    pub db_max_connections: u32,
    /// How long in-flight requests may run after SIGTERM (`SHUTDOWN_GRACE_SECONDS`, default 20).
    pub shutdown_grace: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        Ok(Config {
            database_url: database_url(env)?,
            jwt_secret: env.jwt_secret()?,
            port: env.port()?,
            log_format: env.log_format()?,
            token_ttl: Duration::from_secs(env.parse_or(
                "TOKEN_TTL_SECONDS",
                86_400,
                "a number of seconds",
            )?),
            login_attempts_per_minute: env.parse_or(
                "LOGIN_ATTEMPTS_PER_MINUTE",
                10,
                "a whole number",
            )?,
            db_max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 10, "a whole number")?,
            shutdown_grace: Duration::from_secs(env.parse_or(
                "SHUTDOWN_GRACE_SECONDS",
                20,
                "a number of seconds",
            )?),
        })
    }
}

pub fn database_url(env: &Env) -> Result<String, ConfigError> {
    env.required(
        "DATABASE_URL",
        "set it to postgres://USER:PASSWORD@HOST:5432/DB",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_start_without_required_settings() {
        let err = Config::from_env(&Env::from_pairs([("JWT_SECRET", "x".repeat(32).as_str())]))
            .unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
        let err = Config::from_env(&Env::from_pairs([
            ("DATABASE_URL", "postgres://h/db"),
            ("JWT_SECRET", "short"),
        ]))
        .unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
        let secret = "x".repeat(32);
        let ok = Config::from_env(&Env::from_pairs([
            ("DATABASE_URL", "postgres://h/db"),
            ("JWT_SECRET", secret.as_str()),
        ]));
        assert!(ok.is_ok());
    }
}
