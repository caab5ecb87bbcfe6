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
    pub chat: ChatConfig,
}

/// Where the chat agent's tools and (optionally) its language model are.
#[derive(Debug, Clone, Default)]
pub struct ChatConfig {
    /// `MCP_URL`, the full endpoint, e.g. `http://todo-mcp:8080/mcp`. Without it chat answers 503.
    pub mcp_url: Option<String>,
    pub mcp_timeout: Duration,
    /// The LLM engine is used when `LLM_BASE_URL` and `LLM_MODEL` are both set; otherwise the
    /// built-in engine answers (no key needed).
    pub llm_base_url: Option<String>,
    pub llm_model: Option<String>,
    pub llm_api_key: Option<String>,
    pub llm_timeout: Duration,
    pub history_messages: i64,
    pub history_chars: usize,
}

impl ChatConfig {
    pub fn from_env(env: &Env) -> Result<ChatConfig, ConfigError> {
        Ok(ChatConfig {
            mcp_url: env.optional("MCP_URL"),
            mcp_timeout: Duration::from_secs(env.parse_or(
                "MCP_TIMEOUT_SECONDS",
                10,
                "a number of seconds",
            )?),
            llm_base_url: env.optional("LLM_BASE_URL"),
            llm_model: env.optional("LLM_MODEL"),
            llm_api_key: env.optional("LLM_API_KEY"),
            llm_timeout: Duration::from_secs(env.parse_or(
                "LLM_TIMEOUT_SECONDS",
                30,
                "a number of seconds",
            )?),
            history_messages: env.parse_or("CHAT_HISTORY_MESSAGES", 20, "a whole number")?,
            history_chars: env.parse_or("CHAT_HISTORY_CHARS", 8000, "a whole number")?,
        })
    }
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
            chat: ChatConfig::from_env(env)?,
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
