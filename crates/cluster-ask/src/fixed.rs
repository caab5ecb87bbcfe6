//! The forms `ask` understands without a model, and the requests it refuses outright.
//!
//! Pure functions over the request text, tested on fixtures (tests/fixtures/fixed_forms.txt).
//! Each form becomes the same typed tool call the model would make, so both paths share the
//! tools, the kubectl rendering and the confirmation.

use serde_json::{Value, json};

/// A request in one of the fixed forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intent {
    /// "scale api to 5", "scale backend to 5 replicas"
    Scale { workload: String, replicas: i32 },
    /// "restart web", "rollout restart web"
    Restart { workload: String },
    /// "logs api", "show the logs of api"
    Logs { workload: String },
    /// "status", "rollout status api"
    Status { workload: Option<String> },
    /// "events"
    Events,
    /// "doctor", "diagnose"
    Doctor,
}

impl Intent {
    /// The tool call this form stands for: (tool name, arguments).
    pub fn call(&self) -> (&'static str, Value) {
        match self {
            Intent::Scale { workload, replicas } => {
                ("scale", json!({"workload": workload, "replicas": replicas}))
            }
            Intent::Restart { workload } => ("rollout_restart", json!({"workload": workload})),
            Intent::Logs { workload } => ("logs", json!({"workload": workload})),
            Intent::Status { workload: Some(w) } => ("rollout_status", json!({"workload": w})),
            Intent::Status { workload: None } => ("rollout_status", json!({})),
            Intent::Events => ("events", json!({})),
            Intent::Doctor => ("doctor", json!({})),
        }
    }
}

/// What the parser made of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Intent(Intent),
    /// Refused before anything runs; the text says why and what to do instead.
    Refused(String),
    /// Not one of the fixed forms.
    Unknown,
}

/// The fixed forms, for the message shown when a request is not one of them.
pub const FORMS: &str = "\"scale api to 5\", \"restart web\", \"logs api\", \"status\", \"status api\", \"events\", \"doctor\" \
(workloads: api, web, mcp, postgres)";

const DELETE_WORDS: &[&str] = &[
    "delete", "remove", "rm", "drop", "destroy", "purge", "wipe", "erase",
];
const PROTECTED_WORDS: &[&str] = &[
    "pvc",
    "pvcs",
    "persistentvolumeclaim",
    "persistentvolumeclaims",
    "volume",
    "volumes",
    "claim",
    "claims",
    "secret",
    "secrets",
    "password",
    "passwords",
    "data",
];

/// Words that carry no meaning in the fixed forms.
const FILLER: &[&str] = &[
    "the",
    "a",
    "an",
    "of",
    "for",
    "from",
    "to",
    "show",
    "me",
    "get",
    "please",
    "can",
    "you",
    "service",
    "deployment",
    "pods",
    "pod",
    "replicas",
    "replica",
    "instances",
    "copies",
    "now",
];

fn words(request: &str) -> Vec<String> {
    request
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| {
            w.trim_matches(|c: char| "?!.:;\"'`()".contains(c))
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The refusal for a request to delete PersistentVolumeClaims or Secrets (they hold the
/// database and its password), whatever the phrasing; `None` for anything else.
pub fn refusal(request: &str) -> Option<String> {
    let words = words(request);
    let deletes = words.iter().any(|w| DELETE_WORDS.contains(&w.as_str()));
    let protected = words.iter().any(|w| {
        PROTECTED_WORDS.contains(&w.as_str())
            || w.starts_with("data-")
            || w.ends_with("-secret")
            || w.contains("postgresql-0")
    });
    (deletes && protected).then(|| {
        "refused: ask never deletes PersistentVolumeClaims or Secrets (they hold the database and its password). \
         `cargo xtask teardown --purge` deletes them on purpose, after saying what it removes."
            .to_string()
    })
}

/// Parses one of the fixed forms.
pub fn parse(request: &str) -> Parsed {
    if let Some(why) = refusal(request) {
        return Parsed::Refused(why);
    }
    let words: Vec<String> = words(request)
        .into_iter()
        .filter(|w| !FILLER.contains(&w.as_str()))
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let intent = match words.as_slice() {
        ["scale" | "resize", workload, n] | ["scale" | "resize", workload, "up" | "down", n] => {
            match n.parse::<i32>() {
                Ok(replicas) => Intent::Scale {
                    workload: workload.to_string(),
                    replicas,
                },
                Err(_) => return Parsed::Unknown,
            }
        }
        ["restart" | "bounce", workload] | ["rollout", "restart", workload] => Intent::Restart {
            workload: workload.to_string(),
        },
        ["logs" | "log", workload] | [workload, "logs" | "log"] => Intent::Logs {
            workload: workload.to_string(),
        },
        ["status"] | ["rollout", "status"] => Intent::Status { workload: None },
        ["status", workload] | ["rollout", "status", workload] | [workload, "status"] => {
            Intent::Status {
                workload: Some(workload.to_string()),
            }
        }
        ["events"] => Intent::Events,
        ["doctor"] | ["diagnose"] => Intent::Doctor,
        _ => return Parsed::Unknown,
    };
    Parsed::Intent(intent)
}
