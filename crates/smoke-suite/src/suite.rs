//! The suite: which checks run, in which order, against which URLs.

use crate::checks;
use crate::http::Http;
use crate::report::{CheckResult, Recorder, Report};
use futures::future::LocalBoxFuture;
use std::time::Duration;

/// Where the deployment under test answers.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// A base URL routed like the chart's Ingress: `/api` todo-api, `/mcp` todo-mcp, `/` web.
    pub base_url: String,
    /// Each service's own base URL, for `/livez`, `/readyz` and `/health`: the Ingress routes
    /// those paths to todo-web only. Without one, that service's probe check is skipped (its
    /// route check still reaches it through the base URL). The web's default is the base URL.
    pub api_url: Option<String>,
    pub mcp_url: Option<String>,
    pub web_url: Option<String>,
    /// False for a deployment without todo-web: its checks are skipped, not failed.
    pub expect_web: bool,
    /// Bound on each HTTP request.
    pub request_timeout: Duration,
    /// Bound on each check.
    pub check_timeout: Duration,
    /// How long the API may take to answer again after `restart`.
    pub restart_wait: Duration,
}

impl SuiteConfig {
    /// Defaults for a base URL: todo-web expected, 15 s per request, 60 s per check, 3 min
    /// for the API to come back after a restart.
    pub fn new(base_url: impl Into<String>) -> SuiteConfig {
        SuiteConfig {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_url: None,
            mcp_url: None,
            web_url: None,
            expect_web: true,
            request_timeout: Duration::from_secs(15),
            check_timeout: Duration::from_secs(60),
            restart_wait: Duration::from_secs(180),
        }
    }
}

/// Restarts part of the deployment (the api and database pods, or local processes) and says
/// what it did. Run by the `restart` check between writing data and reading it back.
pub type Restart<'a> = Box<dyn FnOnce() -> LocalBoxFuture<'a, anyhow::Result<String>> + 'a>;

/// The check names, in order (for callers that assert on particular checks).
pub mod names {
    pub const HEALTH_API: &str = "health todo-api";
    pub const HEALTH_MCP: &str = "health todo-mcp";
    pub const HEALTH_WEB: &str = "health todo-web";
    pub const ROUTE_API: &str = "route /api -> todo-api";
    pub const ROUTE_MCP: &str = "route /mcp -> todo-mcp";
    pub const ROUTE_WEB: &str = "route / -> todo-web";
    pub const REGISTER: &str = "register";
    pub const LOGIN: &str = "login";
    pub const TASK_CREATE: &str = "task create";
    pub const TASK_LIST: &str = "task list";
    pub const TASK_UPDATE: &str = "task update";
    pub const TASK_COMPLETE: &str = "task complete";
    pub const TASK_DELETE: &str = "task delete";
    pub const CHAT_ADD: &str = "chat \"add ...\"";
    pub const MCP_LIST: &str = "mcp tools/list";
    pub const MCP_CALL: &str = "mcp tools/call";
    pub const ISOLATION: &str = "user isolation";
    pub const RESTART: &str = "restart keeps data";
    pub const CLEAN_UP: &str = "clean up";
}

/// Runs every check against `config`, calling `on_result` as each one finishes. With
/// `restart`, finishes with the restart check; without, it is skipped.
pub async fn run(
    config: &SuiteConfig,
    restart: Option<Restart<'_>>,
    on_result: impl FnMut(&CheckResult),
) -> Report {
    use names::*;
    let mut r = Recorder::new(config.check_timeout, on_result);
    let http = match Http::new(config.request_timeout) {
        Ok(http) => http,
        Err(e) => {
            r.check::<()>("http client", async { Err(e) }).await;
            return r.finish();
        }
    };
    let http = &http;
    let base = config.base_url.trim_end_matches('/');

    for (name, service, url, flag) in [
        (HEALTH_API, "todo-api", &config.api_url, "--api-url"),
        (HEALTH_MCP, "todo-mcp", &config.mcp_url, "--mcp-url"),
    ] {
        match url {
            Some(url) => r.check(name, checks::probes(http, service, url)).await,
            None => {
                r.skip(
                    name,
                    &format!("not run: the Ingress does not route {service}'s probes; give {flag} (its route check still reaches it)"),
                );
                None
            }
        };
    }
    let no_web = "not run: the deployment has no todo-web";
    if config.expect_web {
        let url = config.web_url.as_deref().unwrap_or(base);
        r.check(HEALTH_WEB, checks::probes(http, "todo-web", url))
            .await;
    } else {
        r.skip(HEALTH_WEB, no_web);
    }
    r.check(ROUTE_API, checks::route_api(http, base)).await;
    r.check(ROUTE_MCP, checks::route_mcp(http, base)).await;
    if config.expect_web {
        r.check(ROUTE_WEB, checks::route_web(http, base)).await;
    } else {
        r.skip(ROUTE_WEB, no_web);
    }

    let alice = r.check(REGISTER, checks::register(http, base, "a")).await;
    let alice = alice.as_ref();
    r.check_with(LOGIN, alice, REGISTER, |s| checks::login(http, base, s))
        .await;
    let task = r
        .check_with(TASK_CREATE, alice, REGISTER, |s| {
            checks::create_task(http, base, s)
        })
        .await;
    let with_task = alice.zip(task.as_ref());
    for (name, step) in [
        (TASK_LIST, Step::List),
        (TASK_UPDATE, Step::Update),
        (TASK_COMPLETE, Step::Complete),
        (TASK_DELETE, Step::Delete),
    ] {
        r.check_with(name, with_task, TASK_CREATE, |(s, t)| async move {
            match step {
                Step::List => checks::list_tasks(http, base, s, t).await,
                Step::Update => checks::update_task(http, base, s, t).await,
                Step::Complete => checks::complete_task(http, base, s, t).await,
                Step::Delete => checks::delete_task(http, base, s, t).await,
            }
        })
        .await;
    }
    r.check_with(CHAT_ADD, alice, REGISTER, |s| {
        checks::chat_add(http, base, s)
    })
    .await;
    r.check_with(MCP_LIST, alice, REGISTER, |s| {
        checks::mcp_tools_list(http, base, s)
    })
    .await;
    r.check_with(MCP_CALL, alice, REGISTER, |s| {
        checks::mcp_tools_call(http, base, s)
    })
    .await;
    r.check_with(ISOLATION, alice, REGISTER, |s| {
        checks::isolation(http, base, s)
    })
    .await;
    match restart {
        None => r.skip(RESTART, "not run: needs --restart (a cluster, or --dev)"),
        Some(restart) => {
            let within = config.restart_wait + config.check_timeout;
            match alice {
                Some(s) => {
                    r.check_within(
                        RESTART,
                        within,
                        checks::restart(http, base, s, restart(), config.restart_wait),
                    )
                    .await;
                }
                None => r.skip(RESTART, "not run: needs register, which did not pass"),
            }
        }
    }
    // Last, after the restart check has read the data back.
    r.check_with(CLEAN_UP, alice, REGISTER, |s| {
        checks::clean_up(http, base, s)
    })
    .await;
    r.finish()
}

#[derive(Clone, Copy)]
enum Step {
    List,
    Update,
    Complete,
    Delete,
}
