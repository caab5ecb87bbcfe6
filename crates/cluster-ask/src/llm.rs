//! An OpenAI-compatible Chat Completions client with tool calling (OpenAI, Groq, Ollama,
//! vLLM...), configured by the same `LLM_BASE_URL`, `LLM_MODEL` and `LLM_API_KEY` settings as
//! the chat (read by [`cluster_doctor::LlmConfig`], never printed with the key).

use std::time::Duration;

use anyhow::Context as _;
pub use cluster_doctor::LlmConfig;
use serde_json::{Value, json};

/// How to configure a model, for the message shown without one.
pub const HOW_TO_CONFIGURE: &str = "set LLM_BASE_URL (e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1 for Ollama) \
and LLM_MODEL, plus LLM_API_KEY if the endpoint needs one: the chat's LLM settings (README, Settings)";

/// The settings from the environment (through `var`), or `None` when they are not set.
pub fn config_from(var: impl Fn(&str) -> Option<String>) -> Option<LlmConfig> {
    LlmConfig::from_vars(var).ok()
}

pub struct Llm {
    http: reqwest::Client,
    config: LlmConfig,
}

impl Llm {
    pub fn new(config: LlmConfig, timeout: Duration) -> anyhow::Result<Llm> {
        cluster_client::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("creating the HTTP client for the LLM")?;
        Ok(Llm { http, config })
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// One completion: the assistant message (`content` and/or `tool_calls`).
    pub async fn complete(&self, messages: &[Value], tools: &[Value]) -> anyhow::Result<Value> {
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let mut request = self.http.post(&url).json(&json!({
            "model": self.config.model,
            "temperature": 0,
            "messages": messages,
            "tools": tools,
            "tool_choice": "auto",
        }));
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.with_context(|| {
            format!("calling {url} (check LLM_BASE_URL and that the endpoint is up)")
        })?;
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
        match answer.pointer("/choices/0/message") {
            Some(message) if message.is_object() => Ok(message.clone()),
            _ => anyhow::bail!(
                "{url} answered without choices[0].message; is it an OpenAI-compatible endpoint?"
            ),
        }
    }
}
