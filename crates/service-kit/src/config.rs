//! Configuration comes from the environment only (twelve-factor; ConfigMaps and Secrets in
//! Kubernetes). Errors name the variable and say what a valid value looks like.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// A configuration problem, with the variable it concerns and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configuration error in {}: {}",
            self.variable, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// A snapshot of environment variables; tests build one from a list instead of mutating the
/// process environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// The value when set and not blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str, hint: &str) -> Result<String, ConfigError> {
        self.optional(name).ok_or_else(|| ConfigError {
            variable: name.to_owned(),
            message: format!("is required but not set; {hint}"),
        })
    }

    pub fn parse_or<T: FromStr>(
        &self,
        name: &str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| ConfigError {
                variable: name.to_owned(),
                message: format!("got {raw:?}, expected {expected}"),
            }),
        }
    }

    /// The listening port (`PORT`, default 8080).
    pub fn port(&self) -> Result<u16, ConfigError> {
        self.parse_or("PORT", 8080, "a TCP port number such as 8080")
    }

    /// The JWT signing secret: required, at least 32 bytes (HS256 needs a key as long as its hash).
    pub fn jwt_secret(&self) -> Result<String, ConfigError> {
        let secret = self.required(
            "JWT_SECRET",
            "set it to a random string of at least 32 bytes, e.g. `openssl rand -hex 32`",
        )?;
        if secret.len() < 32 {
            return Err(ConfigError {
                variable: "JWT_SECRET".into(),
                message: format!(
                    "is {} bytes long; it must be at least 32 bytes (e.g. `openssl rand -hex 32`)",
                    secret.len()
                ),
            });
        }
        Ok(secret)
    }

    /// `LOG_FORMAT`: json (default, for log collectors) or text (for people).
    pub fn log_format(&self) -> Result<LogFormat, ConfigError> {
        match self.optional("LOG_FORMAT").as_deref() {
            None | Some("json") => Ok(LogFormat::Json),
            Some("text") => Ok(LogFormat::Text),
            Some(other) => Err(ConfigError {
                variable: "LOG_FORMAT".into(),
                message: format!("got {other:?}, expected json or text"),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_variables_name_themselves() {
        let env = Env::from_pairs([("JWT_SECRET", "  ")]);
        let err = env.jwt_secret().unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
        assert!(err.to_string().contains("is required"), "{err}");
    }

    #[test]
    fn short_jwt_secret_is_refused() {
        let env = Env::from_pairs([("JWT_SECRET", "short")]);
        let err = env.jwt_secret().unwrap_err();
        assert!(err.message.contains("at least 32 bytes"), "{err}");
        let ok = Env::from_pairs([("JWT_SECRET", "0123456789abcdef0123456789abcdef")]);
        assert_eq!(
            ok.jwt_secret().as_deref(),
            Ok("0123456789abcdef0123456789abcdef")
        );
    }

    #[test]
    fn port_and_log_format_parse_with_clear_errors() {
        assert_eq!(Env::default().port(), Ok(8080));
        let err = Env::from_pairs([("PORT", "http")]).port().unwrap_err();
        assert!(err.message.contains("\"http\""), "{err}");
        assert_eq!(
            Env::from_pairs([("LOG_FORMAT", "text")]).log_format(),
            Ok(LogFormat::Text)
        );
        assert!(
            Env::from_pairs([("LOG_FORMAT", "xml")])
                .log_format()
                .is_err()
        );
    }
}
