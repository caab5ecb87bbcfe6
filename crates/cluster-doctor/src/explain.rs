//! `doctor --explain`: asks an OpenAI-compatible Chat Completions endpoint to explain the
//! findings in plain language.

use std::fmt;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::finding::{Finding, render_findings};

/// Where the LLM is. The key is never printed (`Debug` redacts it).
#[derive(Clone)]
pub struct LlmConfig {
    /// Base URL up to the API version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl LlmConfig {
    /// Reads `LLM_BASE_URL`, `LLM_MODEL` and (optional) `LLM_API_KEY` through `var`
    /// (`std::env::var` in the program, a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<LlmConfig> {
        let base_url = var("LLM_BASE_URL").filter(|v| !v.is_empty());
        let model = var("LLM_MODEL").filter(|v| !v.is_empty());
        match (base_url, model) {
            (Some(base_url), Some(model)) => Ok(LlmConfig {
                base_url,
                model,
                api_key: var("LLM_API_KEY").filter(|v| !v.is_empty()),
            }),
            _ => anyhow::bail!(
                "--explain needs an OpenAI-compatible endpoint: set LLM_BASE_URL (e.g. https://api.openai.com/v1), \
                 LLM_MODEL and, if the endpoint needs one, LLM_API_KEY"
            ),
        }
    }

    fn completions_url(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }
}

const SYSTEM_PROMPT: &str = "You are a Kubernetes expert helping a developer whose todo-chatbot deployment \
(todo-api, todo-mcp, todo-web and PostgreSQL, installed with Helm, often on minikube) has problems. \
Explain the findings below in plain language: the likely root cause first, how the findings relate, \
and the commands to run to fix it, in order. Be brief.";

/// The Chat Completions request body for these findings (what `explain` sends).
pub fn request_body(findings: &[Finding], model: &str) -> Value {
    json!({
        "model": model,
        "temperature": 0.2,
        "messages": [
            { "role": "system", "content": SYSTEM_PROMPT },
            { "role": "user", "content": render_findings(findings) },
        ],
    })
}

/// Sends the findings and returns the model's explanation.
pub async fn explain(findings: &[Finding], config: &LlmConfig) -> anyhow::Result<String> {
    cluster_client::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .context("creating the HTTP client")?;
    let url = config.completions_url();
    let mut request = client
        .post(&url)
        .json(&request_body(findings, &config.model));
    if let Some(key) = &config.api_key {
        request = request.bearer_auth(key);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    if !status.is_success() {
        let excerpt: String = body.chars().take(300).collect();
        anyhow::bail!(
            "{url} answered {status}: {excerpt} (check LLM_BASE_URL, LLM_MODEL and LLM_API_KEY)"
        );
    }
    let answer: Value =
        serde_json::from_str(&body).with_context(|| format!("{url} did not answer JSON"))?;
    answer
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_string)
        .with_context(|| format!("{url} answered without choices[0].message.content"))
}
