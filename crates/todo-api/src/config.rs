//! todo-api's configuration, from the environment only.

use service_kit::config::LogFormat;
use service_kit::{ConfigError, Env, TrustedProxies};
use std::time::Duration;
use todo_store::ThrottlePolicy;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub jwt_secret: String,
    pub port: u16,
    pub log_format: LogFormat,
    /// How long access tokens stay valid (`TOKEN_TTL_SECONDS`, default 15 minutes; clients
    /// renew them with their refresh token, whose lifetime is [`refresh_ttl`]).
    pub token_ttl: Duration,
    /// Login attempts allowed per client per minute (`LOGIN_ATTEMPTS_PER_MINUTE`, default 10).
    pub login_attempts_per_minute: u32,
    /// Who the client is, and the limits on register and login ([`AuthLimits`]).
    pub auth: AuthLimits,
    pub db_max_connections: u32,
    /// How long in-flight requests may run after SIGTERM (`SHUTDOWN_GRACE_SECONDS`, default 20).
    pub shutdown_grace: Duration,
    pub chat: ChatConfig,
}

/// Where the chat agent's tools and (optionally) its language model are, and how long each
/// part of a turn may take. The timeouts nest: todo-web's `API_CHAT_TIMEOUT_SECONDS` >
/// `CHAT_TURN_TIMEOUT_SECONDS` (a whole turn) > `MCP_TIMEOUT_SECONDS` and `LLM_TIMEOUT_SECONDS`
/// (one call), so the innermost gives up first and every outer layer sees why.
#[derive(Debug, Clone)]
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
    /// `CHAT_TURN_TIMEOUT_SECONDS`: the budget of one whole turn (default 45).
    pub turn_timeout: Duration,
}

/// The defaults of [`ChatConfig::from_env`] (no MCP, built-in engine).
impl Default for ChatConfig {
    fn default() -> ChatConfig {
        ChatConfig {
            mcp_url: None,
            mcp_timeout: Duration::from_secs(10),
            llm_base_url: None,
            llm_model: None,
            llm_api_key: None,
            llm_timeout: Duration::from_secs(30),
            history_messages: 20,
            history_chars: 8000,
            turn_timeout: todo_chat::DEFAULT_TURN_BUDGET,
        }
    }
}

impl ChatConfig {
    pub fn from_env(env: &Env) -> Result<ChatConfig, ConfigError> {
        let seconds = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            let s = env.parse_or(name, default, "a whole number of seconds, at least 1")?;
            if s == 0 {
                return Err(ConfigError {
                    variable: name.to_owned(),
                    message: "got 0, expected a whole number of seconds, at least 1".into(),
                });
            }
            Ok(Duration::from_secs(s))
        };
        let config = ChatConfig {
            mcp_url: env.optional("MCP_URL"),
            mcp_timeout: seconds("MCP_TIMEOUT_SECONDS", 10)?,
            llm_base_url: env.optional("LLM_BASE_URL"),
            llm_model: env.optional("LLM_MODEL"),
            llm_api_key: env.optional("LLM_API_KEY"),
            llm_timeout: seconds("LLM_TIMEOUT_SECONDS", 30)?,
            history_messages: env.parse_or("CHAT_HISTORY_MESSAGES", 20, "a whole number")?,
            history_chars: env.parse_or("CHAT_HISTORY_CHARS", 8000, "a whole number")?,
            turn_timeout: seconds(
                "CHAT_TURN_TIMEOUT_SECONDS",
                todo_chat::DEFAULT_TURN_BUDGET.as_secs(),
            )?,
        };
        config.check_nesting()?;
        Ok(config)
    }

    /// A turn must outlast each call it makes, or the turn's budget would cut a call that
    /// was still allowed to run and the user would get "too long" instead of the real cause.
    pub fn check_nesting(&self) -> Result<(), ConfigError> {
        let turn = self.turn_timeout.as_secs();
        for (name, call) in [
            ("MCP_TIMEOUT_SECONDS", self.mcp_timeout.as_secs()),
            ("LLM_TIMEOUT_SECONDS", self.llm_timeout.as_secs()),
        ] {
            if turn <= call {
                return Err(ConfigError {
                    variable: "CHAT_TURN_TIMEOUT_SECONDS".into(),
                    message: format!(
                        "is {turn} s but {name} is {call} s: a whole chat turn must be allowed longer than one call; \
                         set CHAT_TURN_TIMEOUT_SECONDS above {call} (or lower {name}), and keep todo-web's \
                         API_CHAT_TIMEOUT_SECONDS above CHAT_TURN_TIMEOUT_SECONDS"
                    ),
                });
            }
        }
        Ok(())
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        refresh_ttl(env)?;
        crate::oauth::Settings::from_env(env, env.optional("MCP_URL").as_deref())?;
        Ok(Config {
            database_url: database_url(env)?,
            jwt_secret: env.jwt_secret()?,
            port: env.port()?,
            log_format: env.log_format()?,
            token_ttl: token_ttl(env)?,
            login_attempts_per_minute: env.parse_or(
                "LOGIN_ATTEMPTS_PER_MINUTE",
                10,
                "a whole number",
            )?,
            auth: AuthLimits::from_env(env)?,
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

/// The limits around register and login, and which proxies may name the client.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthLimits {
    /// `TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` is believed (default none: the TCP
    /// peer is the client).
    pub trusted_proxies: TrustedProxies,
    /// `REGISTER_ATTEMPTS_PER_MINUTE`: registrations per client address per minute (default 10).
    pub register_attempts_per_minute: u32,
    /// `LOGIN_FREE_FAILURES`, `LOGIN_BACKOFF_BASE_SECONDS`, `LOGIN_BACKOFF_MAX_SECONDS`,
    /// `LOGIN_FAILURE_WINDOW_SECONDS`: failed logins per account (shared by all replicas)
    /// before the account waits 2 s, doubling up to 900 s; failures older than 3600 s are
    /// forgotten (defaults 5, 2, 900, 3600).
    pub login_throttle: ThrottlePolicy,
    /// `PASSWORD_HASH_CONCURRENCY`, `PASSWORD_HASH_QUEUE`, `PASSWORD_HASH_WAIT_SECONDS`.
    pub hashing: HashLimits,
    /// `PASSWORD_MIN_SCORE`: the zxcvbn score (0-4) a new password needs (default 3, "safely
    /// unguessable"; each step is about 100x more guesses).
    pub password_min_score: u8,
}

/// The default of `TOKEN_TTL_SECONDS`: short, because an access token is only checked for
/// revocation by the services that look it up, and a leaked one should not be good for long.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// The default of `REFRESH_TOKEN_TTL_SECONDS`.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(14 * 24 * 3600);

/// `REFRESH_TOKEN_TTL_SECONDS`: how long a refresh token stays valid unused (default 14 days).
/// Each refresh issues a new one, so a session in use lasts. Not a [`Config`] field, so the
/// struct literals in tests need none: [`Config::from_env`] checks it (a bad value stops
/// start-up) and [`crate::state::AppState::new`] reads it from the process environment.
pub fn refresh_ttl(env: &Env) -> Result<Duration, ConfigError> {
    let secs = env.parse_or(
        "REFRESH_TOKEN_TTL_SECONDS",
        DEFAULT_REFRESH_TTL.as_secs(),
        "a whole number of seconds, at least 1",
    )?;
    if secs == 0 {
        return Err(ConfigError {
            variable: "REFRESH_TOKEN_TTL_SECONDS".into(),
            message: "got 0, expected a whole number of seconds, at least 1".into(),
        });
    }
    Ok(Duration::from_secs(secs))
}

fn token_ttl(env: &Env) -> Result<Duration, ConfigError> {
    let secs = env.parse_or(
        "TOKEN_TTL_SECONDS",
        DEFAULT_TOKEN_TTL.as_secs(),
        "a whole number of seconds, at least 1",
    )?;
    if secs == 0 {
        return Err(ConfigError {
            variable: "TOKEN_TTL_SECONDS".into(),
            message: "got 0, expected a whole number of seconds, at least 1".into(),
        });
    }
    Ok(Duration::from_secs(secs))
}

/// argon2 work at once, and how many requests may wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// Hashes computed at once (default 2). Registrations may use all but one of them, so a
    /// login always finds one.
    pub concurrency: usize,
    /// Requests that may wait for a hash, per kind (login, register); more get 503 (default 8).
    pub queue: usize,
    /// The longest a request waits for a hash before 503 (default 5 s).
    pub max_wait: Duration,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits {
            concurrency: 2,
            queue: 8,
            max_wait: Duration::from_secs(5),
        }
    }
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            trusted_proxies: TrustedProxies::none(),
            register_attempts_per_minute: 10,
            login_throttle: ThrottlePolicy::default(),
            hashing: HashLimits::default(),
            password_min_score: 3,
        }
    }
}

impl AuthLimits {
    pub fn from_env(env: &Env) -> Result<AuthLimits, ConfigError> {
        let d = AuthLimits::default();
        let secs = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(env.parse_or(
                name,
                default.as_secs(),
                "a whole number of seconds",
            )?))
        };
        let at_least_one = |name: &str, value: u64| -> Result<(), ConfigError> {
            if value == 0 {
                return Err(ConfigError {
                    variable: name.to_owned(),
                    message: "got 0, expected a whole number, at least 1".into(),
                });
            }
            Ok(())
        };
        let register_attempts_per_minute = env.parse_or(
            "REGISTER_ATTEMPTS_PER_MINUTE",
            d.register_attempts_per_minute,
            "a whole number",
        )?;
        let free_failures = env.parse_or(
            "LOGIN_FREE_FAILURES",
            d.login_throttle.free_failures,
            "a whole number",
        )?;
        at_least_one("LOGIN_FREE_FAILURES", u64::from(free_failures))?;
        let concurrency = env.parse_or(
            "PASSWORD_HASH_CONCURRENCY",
            d.hashing.concurrency,
            "a whole number",
        )?;
        at_least_one("PASSWORD_HASH_CONCURRENCY", concurrency as u64)?;
        let password_min_score: u8 =
            env.parse_or("PASSWORD_MIN_SCORE", d.password_min_score, "0 to 4")?;
        if password_min_score > 4 {
            return Err(ConfigError {
                variable: "PASSWORD_MIN_SCORE".into(),
                message: format!("got {password_min_score}, expected 0 to 4"),
            });
        }
        Ok(AuthLimits {
            trusted_proxies: TrustedProxies::from_env(env)?,
            register_attempts_per_minute,
            login_throttle: ThrottlePolicy {
                free_failures,
                base: secs("LOGIN_BACKOFF_BASE_SECONDS", d.login_throttle.base)?,
                max: secs("LOGIN_BACKOFF_MAX_SECONDS", d.login_throttle.max)?,
                window: secs("LOGIN_FAILURE_WINDOW_SECONDS", d.login_throttle.window)?,
            },
            hashing: HashLimits {
                concurrency,
                queue: env.parse_or("PASSWORD_HASH_QUEUE", d.hashing.queue, "a whole number")?,
                max_wait: secs("PASSWORD_HASH_WAIT_SECONDS", d.hashing.max_wait)?,
            },
            password_min_score,
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
        assert_eq!(ok.map(|c| c.token_ttl).ok(), Some(DEFAULT_TOKEN_TTL));
        assert_eq!(
            refresh_ttl(&Env::from_pairs([])).ok(),
            Some(DEFAULT_REFRESH_TTL)
        );
        for (name, value) in [
            ("REFRESH_TOKEN_TTL_SECONDS", "0"),
            ("REFRESH_TOKEN_TTL_SECONDS", "soon"),
        ] {
            let err = Config::from_env(&Env::from_pairs([
                ("DATABASE_URL", "postgres://h/db"),
                ("JWT_SECRET", secret.as_str()),
                (name, value),
            ]))
            .unwrap_err();
            assert_eq!(err.variable, name, "{value}");
        }
        let err = Config::from_env(&Env::from_pairs([
            ("DATABASE_URL", "postgres://h/db"),
            ("JWT_SECRET", secret.as_str()),
            ("TOKEN_TTL_SECONDS", "0"),
        ]))
        .unwrap_err();
        assert_eq!(err.variable, "TOKEN_TTL_SECONDS");
    }

    #[test]
    fn chat_timeouts_must_nest() {
        let secret = "x".repeat(32);
        let with = |pairs: &[(&str, &str)]| {
            let mut all = vec![
                ("DATABASE_URL", "postgres://h/db"),
                ("JWT_SECRET", secret.as_str()),
            ];
            all.extend_from_slice(pairs);
            Config::from_env(&Env::from_pairs(all))
        };
        let ok = with(&[]).map(|c| c.chat).ok();
        assert_eq!(
            ok.map(|c| (c.turn_timeout, c.mcp_timeout, c.llm_timeout)),
            Some((
                Duration::from_secs(45),
                Duration::from_secs(10),
                Duration::from_secs(30)
            ))
        );
        let err = with(&[("LLM_TIMEOUT_SECONDS", "60")])
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err.variable, "CHAT_TURN_TIMEOUT_SECONDS");
        assert!(
            err.message.contains("LLM_TIMEOUT_SECONDS is 60 s") && err.message.contains("above 60"),
            "{err}"
        );
        let err = with(&[
            ("CHAT_TURN_TIMEOUT_SECONDS", "10"),
            ("LLM_TIMEOUT_SECONDS", "5"),
        ])
        .map(|_| ())
        .unwrap_err();
        assert!(err.message.contains("MCP_TIMEOUT_SECONDS is 10 s"), "{err}");
        assert!(
            with(&[
                ("CHAT_TURN_TIMEOUT_SECONDS", "61"),
                ("LLM_TIMEOUT_SECONDS", "60")
            ])
            .is_ok()
        );
        assert_eq!(
            with(&[("MCP_TIMEOUT_SECONDS", "0")])
                .map(|_| ())
                .unwrap_err()
                .variable,
            "MCP_TIMEOUT_SECONDS"
        );
    }

    #[test]
    fn auth_limits_default_sanely_and_name_bad_settings() {
        let d = AuthLimits::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(d, AuthLimits::default());
        assert!(d.trusted_proxies.is_empty());
        let set = AuthLimits::from_env(&Env::from_pairs([
            ("TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
            ("REGISTER_ATTEMPTS_PER_MINUTE", "3"),
            ("LOGIN_BACKOFF_BASE_SECONDS", "7"),
        ]))
        .unwrap();
        assert!(set.trusted_proxies.trusts([10, 1, 1, 1].into()));
        assert_eq!(set.register_attempts_per_minute, 3);
        assert_eq!(set.login_throttle.base, Duration::from_secs(7));
        for (name, value) in [
            ("TRUSTED_PROXIES", "ingress"),
            ("PASSWORD_MIN_SCORE", "5"),
            ("PASSWORD_HASH_CONCURRENCY", "0"),
            ("LOGIN_FREE_FAILURES", "0"),
            ("PASSWORD_HASH_QUEUE", "-1"),
        ] {
            let err = AuthLimits::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(err.variable, name, "{value}");
        }
    }
}
