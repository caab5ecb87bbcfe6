//! A small W3C WebDriver client over reqwest: just what the browser test uses (sessions,
//! navigation, elements, keys, scripts, alerts, screenshots), talking to a chromedriver
//! process this module starts and stops.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The W3C key for the element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// WebDriver's code for the Enter key.
pub const ENTER: &str = "\u{E007}";

/// A running chromedriver.
pub struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits until it accepts sessions.
    pub async fn start(chromedriver: &Path) -> Result<Driver> {
        let port = local_stack::free_port()?;
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", chromedriver.display()))?;
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
        };
        let started = Instant::now();
        loop {
            if let Ok(r) = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                return Ok(driver);
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("chromedriver did not become ready on port {port} within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new headless Chromium session with a fresh profile in `profile_dir`.
    pub async fn session(
        &self,
        chromium: &Path,
        profile_dir: &Path,
        width: u32,
        height: u32,
    ) -> Result<Session> {
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-quic".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--lang=en-US".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile_dir.display()),
        ];
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": chromium.display().to_string(), "args": args },
                    "unhandledPromptBehavior": "ignore",
                }
            }
        });
        let v = call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}/session", self.base),
            Some(caps),
        )
        .await
        .context(
            "creating a Chromium session (is chromium installed? `bash .ci/install/40-browser.sh`)",
        )?;
        let id = v["sessionId"]
            .as_str()
            .context("no sessionId in the new-session answer")?;
        Ok(Session {
            http: self.http.clone(),
            base: format!("{}/session/{id}", self.base),
        })
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value> {
    let mut req = http.request(method.clone(), url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = r.status();
    let v: Value = r
        .json()
        .await
        .with_context(|| format!("{method} {url}: answer is not JSON"))?;
    if !status.is_success() {
        bail!(
            "WebDriver {method} {}: {} ({})",
            url.rsplit_once("/session/").map(|(_, p)| p).unwrap_or(url),
            v["value"]["error"].as_str().unwrap_or("error"),
            v["value"]["message"]
                .as_str()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        );
    }
    Ok(v["value"].clone())
}

/// One browser session.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

/// An element in the current page.
pub struct Element {
    id: String,
}

impl Session {
    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}{path}", self.base),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Result<Value> {
        call(
            &self.http,
            reqwest::Method::GET,
            &format!("{}{path}", self.base),
            None,
        )
        .await
    }

    /// The page's cookies as a `Cookie` header value (HttpOnly ones included: WebDriver
    /// sees them, scripts do not).
    pub async fn cookie_header(&self) -> Result<String> {
        let v = self.get("/cookie").await?;
        let pairs: Vec<String> = v
            .as_array()
            .context("the cookie list is not an array")?
            .iter()
            .filter_map(|c| Some(format!("{}={}", c["name"].as_str()?, c["value"].as_str()?)))
            .collect();
        Ok(pairs.join("; "))
    }

    /// Makes `prefers-color-scheme` match `dark` (or the system's again with `false`),
    /// through chromedriver's DevTools passthrough.
    pub async fn dark_mode(&self, dark: bool) -> Result<()> {
        let features = if dark {
            json!([{ "name": "prefers-color-scheme", "value": "dark" }])
        } else {
            json!([])
        };
        self.post(
            "/goog/cdp/execute",
            json!({ "cmd": "Emulation.setEmulatedMedia", "params": { "features": features } }),
        )
        .await
        .context("switching the colour scheme (Emulation.setEmulatedMedia)")
        .map(|_| ())
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url })).await.map(|_| ())
    }

    pub async fn refresh(&self) -> Result<()> {
        self.post("/refresh", json!({})).await.map(|_| ())
    }

    pub async fn url(&self) -> Result<String> {
        Ok(self
            .get("/url")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn source(&self) -> Result<String> {
        Ok(self
            .get("/source")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn set_window(&self, width: u32, height: u32) -> Result<()> {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await
            .map(|_| ())
    }

    pub async fn find(&self, css: &str) -> Result<Element> {
        let v = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await
            .with_context(|| format!("finding {css:?}"))?;
        Ok(Element {
            id: v[ELEMENT]
                .as_str()
                .with_context(|| format!("finding {css:?}: no element reference in {v}"))?
                .to_owned(),
        })
    }

    pub async fn click(&self, css: &str) -> Result<()> {
        let e = self.find(css).await?;
        self.post(&format!("/element/{}/click", e.id), json!({}))
            .await
            .with_context(|| format!("clicking {css:?}"))
            .map(|_| ())
    }

    /// Clears a field and types `text` into it.
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let e = self.find(css).await?;
        self.post(&format!("/element/{}/clear", e.id), json!({}))
            .await?;
        self.post(&format!("/element/{}/value", e.id), json!({ "text": text }))
            .await
            .with_context(|| format!("typing into {css:?}"))
            .map(|_| ())
    }

    pub async fn text(&self, css: &str) -> Result<String> {
        let e = self.find(css).await?;
        Ok(self
            .get(&format!("/element/{}/text", e.id))
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Value) -> Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
            .with_context(|| format!("running script {script:?}"))
    }

    /// Polls `script` (which must return true/false) until true, or fails after `timeout`
    /// saying what it was waiting for.
    pub async fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            if self.js(script, json!([])).await?.as_bool() == Some(true) {
                return Ok(());
            }
            if started.elapsed() > timeout {
                bail!("timed out after {timeout:?} waiting for: {what}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A PNG of the viewport, or of one element.
    pub async fn screenshot(&self, element_css: Option<&str>, to: &Path) -> Result<PathBuf> {
        let v = match element_css {
            Some(css) => {
                let e = self.find(css).await?;
                self.get(&format!("/element/{}/screenshot", e.id)).await?
            }
            None => self.get("/screenshot").await?,
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().context("screenshot is not a string")?)
            .context("screenshot is not base64")?;
        if !png.starts_with(b"\x89PNG") {
            bail!("screenshot is not a PNG");
        }
        std::fs::write(to, &png).with_context(|| format!("writing {}", to.display()))?;
        Ok(to.to_owned())
    }

    pub async fn quit(&self) {
        let _ = call(&self.http, reqwest::Method::DELETE, &self.base, None).await;
    }
}
