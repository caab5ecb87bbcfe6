//! todo-web's configuration, from the environment only.

use service_kit::config::LogFormat;
use service_kit::{ConfigError, Env};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// The API's base URL, e.g. `http://todo-api:8080` (no trailing slash).
    pub api_url: String,
    pub port: u16,
    pub log_format: LogFormat,
    /// `COOKIE_SECURE=true` marks cookies Secure always; otherwise only requests that came over
    /// https (`X-Forwarded-Proto: https` from the ingress) get Secure cookies.
    pub cookie_secure: bool,
    /// How long one call to the API may take before the page says the API is unavailable
    /// (`API_TIMEOUT_SECONDS`, default 10; chat turns may call an LLM, so not too short).
    pub api_timeout: Duration,
    /// How long one chat turn may take (`API_CHAT_TIMEOUT_SECONDS`, default 60): longer than
    /// todo-api's `CHAT_TURN_TIMEOUT_SECONDS`, so the API answers (with its stored reply)
    /// before this service gives up.
    pub api_chat_timeout: Duration,
    /// How long in-flight requests may run after SIGTERM (`SHUTDOWN_GRACE_SECONDS`, default 20).
    pub shutdown_grace: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        let api_url = env.required(
            "API_URL",
            "set it to todo-api's base URL, e.g. http://todo-api:8080",
        )?;
        if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
            return Err(ConfigError {
                variable: "API_URL".into(),
                message: format!(
                    "got {api_url:?}, expected an http:// or https:// URL such as http://todo-api:8080"
                ),
            });
        }
        let cookie_secure = match env.optional("COOKIE_SECURE").as_deref() {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
            Some(other) => {
                return Err(ConfigError {
                    variable: "COOKIE_SECURE".into(),
                    message: format!("got {other:?}, expected true or false"),
                });
            }
        };
        let api_chat_timeout = env.parse_or(
            "API_CHAT_TIMEOUT_SECONDS",
            crate::api::DEFAULT_CHAT_TIMEOUT.as_secs(),
            "a whole number of seconds",
        )?;
        // todo-api's turn budget: read here only to check the nesting (the chart sets both).
        let turn_budget = env.parse_or(
            "CHAT_TURN_TIMEOUT_SECONDS",
            45u64,
            "a whole number of seconds (todo-api's chat turn budget)",
        )?;
        if api_chat_timeout <= turn_budget {
            return Err(ConfigError {
                variable: "API_CHAT_TIMEOUT_SECONDS".into(),
                message: format!(
                    "is {api_chat_timeout} s but todo-api's CHAT_TURN_TIMEOUT_SECONDS is {turn_budget} s: set API_CHAT_TIMEOUT_SECONDS above {turn_budget} so the API answers a slow turn before todo-web gives up"
                ),
            });
        }
        Ok(Config {
            api_chat_timeout: Duration::from_secs(api_chat_timeout),
            api_url: api_url.trim_end_matches('/').to_owned(),
            port: env.port()?,
            log_format: env.log_format()?,
            cookie_secure,
            api_timeout: Duration::from_secs(env.parse_or(
                "API_TIMEOUT_SECONDS",
                10,
                "a number of seconds",
            )?),
            shutdown_grace: Duration::from_secs(env.parse_or(
                "SHUTDOWN_GRACE_SECONDS",
                20,
                "a number of seconds",
            )?),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn api_url_is_required_and_checked() {
        assert_eq!(
            Config::from_env(&Env::default()).unwrap_err().variable,
            "API_URL"
        );
        let err = Config::from_env(&Env::from_pairs([("API_URL", "todo-api:8080")])).unwrap_err();
        assert!(err.message.contains("http://"), "{err}");
        let ok =
            Config::from_env(&Env::from_pairs([("API_URL", "http://todo-api:8080/")])).unwrap();
        assert_eq!(ok.api_url, "http://todo-api:8080");
        assert!(!ok.cookie_secure);
        assert_eq!(ok.port, 8080);
        assert_eq!(ok.api_chat_timeout, Duration::from_secs(60));
    }

    #[test]
    fn the_chat_timeout_outlasts_the_apis_turn_budget() {
        let with = |pairs: &[(&str, &str)]| {
            let mut all = vec![("API_URL", "http://a")];
            all.extend_from_slice(pairs);
            Config::from_env(&Env::from_pairs(all))
        };
        let err = with(&[("API_CHAT_TIMEOUT_SECONDS", "30")]).unwrap_err();
        assert_eq!(err.variable, "API_CHAT_TIMEOUT_SECONDS");
        assert!(err.message.contains("above 45"), "{err}");
        let err = with(&[("CHAT_TURN_TIMEOUT_SECONDS", "90")]).unwrap_err();
        assert!(err.message.contains("above 90"), "{err}");
        assert!(
            with(&[
                ("CHAT_TURN_TIMEOUT_SECONDS", "90"),
                ("API_CHAT_TIMEOUT_SECONDS", "100")
            ])
            .is_ok()
        );
    }

    #[test]
    fn cookie_secure_is_a_bool() {
        let with = |v| {
            Config::from_env(&Env::from_pairs([
                ("API_URL", "http://a"),
                ("COOKIE_SECURE", v),
            ]))
        };
        assert!(with("true").unwrap().cookie_secure);
        assert!(!with("false").unwrap().cookie_secure);
        assert_eq!(with("yes").unwrap_err().variable, "COOKIE_SECURE");
    }
}
