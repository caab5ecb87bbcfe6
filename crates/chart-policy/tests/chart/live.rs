//! Renders as `helm install`/`upgrade` would against a cluster: `helm template
//! --dry-run=server` with a kubeconfig for the shared fake API server (crates/fake-apiserver),
//! so the chart's `lookup`s query it. Test-only, so the fake server stays a dev-dependency.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use chart_policy::objects::Rendered;
use chart_policy::scenarios::Scenario;
use chart_policy::tools::{Helm, RenderRequest};
use fake_apiserver::FakeApiServer;

/// `server.render(helm, request)`: the render text of a server-side dry run against `server`.
pub trait RenderLive {
    fn render(&self, helm: &Helm, request: &RenderRequest) -> anyhow::Result<String>;
}

impl RenderLive for FakeApiServer {
    fn render(&self, helm: &Helm, request: &RenderRequest) -> anyhow::Result<String> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "chart-policy-kubeconfig-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let kubeconfig = self.write_kubeconfig(&dir, "fake", &request.namespace);
        let result = kubeconfig.and_then(|kubeconfig| {
            let mut request = request.clone();
            request.extra_args.extend([
                "--dry-run=server".to_string(),
                "--disable-openapi-validation".to_string(),
            ]);
            request
                .env
                .push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
            helm.template(&request)
        });
        // Best effort: a leftover kubeconfig in the temp dir holds nothing secret.
        let _ = std::fs::remove_dir_all(&dir);
        result
    }
}

/// `scenario.render(helm)`: the scenario rendered as `helm install` would (against an empty
/// fake API server, so the chart's `lookup`s run and generated secrets are rendered), parsed.
/// `Scenario::render_offline` is the `helm template`/GitOps render.
pub trait RenderScenario {
    fn render(&self, helm: &Helm) -> anyhow::Result<Rendered>;
}

impl RenderScenario for Scenario {
    fn render(&self, helm: &Helm) -> anyhow::Result<Rendered> {
        let server = FakeApiServer::start()?;
        let text = server.render(helm, &self.request())?;
        Rendered::parse(&text)
            .with_context(|| format!("parsing the render of scenario \"{}\"", self.name))
    }
}
