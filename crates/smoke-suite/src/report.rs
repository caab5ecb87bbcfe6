//! Results of the checks: the pass/fail table and the exit code.

use std::fmt::Write as _;
use std::future::Future;
use std::time::{Duration, Instant};

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// Not run: it needs something an earlier check failed to make, or the deployment has no
    /// such part (no todo-web, no direct probe URL). Never a pass, never a failure by itself.
    Skip,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Outcome::Pass => "32",
            Outcome::Fail => "31",
            Outcome::Skip => "33",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub name: String,
    pub outcome: Outcome,
    pub duration: Duration,
    /// What was seen (pass), what was expected and what came back (fail), or why not run.
    pub detail: String,
}

/// Every check's result, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub results: Vec<CheckResult>,
    pub elapsed: Duration,
}

const NAME_WIDTH: usize = 26;
/// Longer details are cut in the table and printed whole below it.
const DETAIL_WIDTH: usize = 110;

impl Report {
    /// True when nothing failed and at least one check passed (an empty run proves nothing).
    pub fn passed(&self) -> bool {
        let (pass, fail, _) = self.counts();
        fail == 0 && pass > 0
    }

    /// The process exit code: 0 when [`Report::passed`], else 1.
    pub fn exit_code(&self) -> i32 {
        if self.passed() { 0 } else { 1 }
    }

    /// (passed, failed, skipped).
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |o| self.results.iter().filter(|r| r.outcome == o).count();
        (
            count(Outcome::Pass),
            count(Outcome::Fail),
            count(Outcome::Skip),
        )
    }

    pub fn outcome_of(&self, name: &str) -> Option<Outcome> {
        self.results
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.outcome)
    }

    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.results.iter().filter(|r| r.outcome == Outcome::Fail)
    }

    pub fn header() -> String {
        format!(
            "{:<NAME_WIDTH$}  {:<6}  {:>8}  DETAIL",
            "CHECK", "RESULT", "TIME"
        )
    }

    /// One table row; `colour` adds ANSI colours to the result (for a terminal).
    pub fn row(result: &CheckResult, colour: bool) -> String {
        let label = result.outcome.label();
        let shown = if colour {
            format!("\x1b[{}m{label}\x1b[0m  ", result.outcome.colour())
        } else {
            format!("{label:<6}")
        };
        let time = if result.outcome == Outcome::Skip {
            "-".to_owned()
        } else {
            format_duration(result.duration)
        };
        format!(
            "{:<NAME_WIDTH$}  {shown}  {time:>8}  {}",
            result.name,
            one_line(&result.detail, DETAIL_WIDTH)
        )
    }

    pub fn summary(&self) -> String {
        let (pass, fail, skip) = self.counts();
        let verdict = if self.passed() {
            "smoke passed"
        } else {
            "smoke FAILED"
        };
        format!(
            "{verdict}: {pass} passed, {fail} failed, {skip} skipped in {}",
            format_duration(self.elapsed)
        )
    }

    /// Failed checks whose detail did not fit in the table, in full.
    pub fn failure_details(&self) -> String {
        let mut out = String::new();
        for failure in self.failures() {
            if one_line(&failure.detail, DETAIL_WIDTH) != failure.detail {
                let _ = writeln!(out, "--- {}:\n{}", failure.name, failure.detail);
            }
        }
        out
    }

    /// The whole table: header, rows, summary, then long failure details.
    pub fn table(&self, colour: bool) -> String {
        let mut out = Report::header();
        out.push('\n');
        for result in &self.results {
            out.push_str(&Report::row(result, colour));
            out.push('\n');
        }
        out.push_str(&self.summary());
        out.push('\n');
        out.push_str(&self.failure_details());
        out
    }
}

fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The detail on one line, cut to `width` characters with an ellipsis.
fn one_line(detail: &str, width: usize) -> String {
    let flat: String = detail.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width {
        flat
    } else {
        let cut: String = flat.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// A check's success: the value later checks need, and what was seen.
pub type Checked<T> = anyhow::Result<(T, String)>;

/// Runs checks one after another, timing each and reporting each result as it comes.
pub struct Recorder<'a> {
    report: Report,
    started: Instant,
    timeout: Duration,
    on_result: Box<dyn FnMut(&CheckResult) + 'a>,
}

impl<'a> Recorder<'a> {
    /// `timeout` bounds every check (a hung service is a failure, not a hang).
    pub fn new(timeout: Duration, on_result: impl FnMut(&CheckResult) + 'a) -> Recorder<'a> {
        Recorder {
            report: Report::default(),
            started: Instant::now(),
            timeout,
            on_result: Box::new(on_result),
        }
    }

    /// Runs one check; its value when it passed.
    pub async fn check<T>(
        &mut self,
        name: &str,
        check: impl Future<Output = Checked<T>>,
    ) -> Option<T> {
        let timeout = self.timeout;
        self.check_within(name, timeout, check).await
    }

    /// [`Recorder::check`] with its own time limit.
    pub async fn check_within<T>(
        &mut self,
        name: &str,
        timeout: Duration,
        check: impl Future<Output = Checked<T>>,
    ) -> Option<T> {
        let started = Instant::now();
        let (outcome, detail, value) = match tokio::time::timeout(timeout, check).await {
            Ok(Ok((value, detail))) => (Outcome::Pass, detail, Some(value)),
            Ok(Err(error)) => (Outcome::Fail, format!("{error:#}"), None),
            Err(_) => (
                Outcome::Fail,
                format!(
                    "no result within {}: a service is hanging",
                    format_duration(timeout)
                ),
                None,
            ),
        };
        self.push(CheckResult {
            name: name.to_owned(),
            outcome,
            duration: started.elapsed(),
            detail,
        });
        value
    }

    /// Runs a check that needs `dep` (an earlier check's value); without it, records a skip
    /// naming the check that did not deliver.
    pub async fn check_with<D, T, F, Fut>(
        &mut self,
        name: &str,
        dep: Option<D>,
        needs: &str,
        check: F,
    ) -> Option<T>
    where
        F: FnOnce(D) -> Fut,
        Fut: Future<Output = Checked<T>>,
    {
        match dep {
            Some(dep) => self.check(name, check(dep)).await,
            None => {
                self.skip(name, &format!("not run: needs {needs}, which did not pass"));
                None
            }
        }
    }

    pub fn skip(&mut self, name: &str, reason: &str) {
        self.push(CheckResult {
            name: name.to_owned(),
            outcome: Outcome::Skip,
            duration: Duration::ZERO,
            detail: reason.to_owned(),
        });
    }

    fn push(&mut self, result: CheckResult) {
        (self.on_result)(&result);
        self.report.results.push(result);
    }

    pub fn finish(mut self) -> Report {
        self.report.elapsed = self.started.elapsed();
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, outcome: Outcome, detail: &str) -> CheckResult {
        CheckResult {
            name: name.into(),
            outcome,
            duration: Duration::from_millis(12),
            detail: detail.into(),
        }
    }

    #[test]
    fn exit_code_is_one_on_any_failure_or_when_nothing_passed() {
        let mut report = Report::default();
        assert_eq!(report.exit_code(), 1, "an empty run proves nothing");
        report.results.push(result("a", Outcome::Pass, "ok"));
        report.results.push(result("b", Outcome::Skip, "no web"));
        assert_eq!((report.passed(), report.exit_code()), (true, 0));
        report
            .results
            .push(result("c", Outcome::Fail, "expected 200, got 502"));
        assert_eq!((report.passed(), report.exit_code()), (false, 1));
        assert_eq!(report.counts(), (1, 1, 1));
        assert_eq!(report.outcome_of("c"), Some(Outcome::Fail));
        let skipped_only = Report {
            results: vec![result("a", Outcome::Skip, "x")],
            elapsed: Duration::ZERO,
        };
        assert_eq!(skipped_only.exit_code(), 1);
    }

    #[test]
    fn the_table_has_one_aligned_row_per_check_and_long_failures_in_full() {
        let long = format!("POST /api/chat: expected 200, got 500: {}", "x".repeat(200));
        let report = Report {
            results: vec![
                result("register", Outcome::Pass, "created smoke-1@example.com"),
                result("chat add", Outcome::Fail, &long),
                result("restart", Outcome::Skip, "not run: needs --restart"),
            ],
            elapsed: Duration::from_millis(2500),
        };
        let table = report.table(false);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("CHECK"), "{table}");
        assert_eq!(
            lines[1],
            format!(
                "{:<26}  PASS       12 ms  created smoke-1@example.com",
                "register"
            )
        );
        assert!(lines[2].starts_with(&format!(
            "{:<26}  FAIL       12 ms  POST /api/chat",
            "chat add"
        )));
        assert!(
            lines[2].ends_with('…') && lines[2].chars().count() < 160,
            "{}",
            lines[2]
        );
        assert!(
            lines[3].contains("SKIP") && lines[3].contains("        -  not run"),
            "{}",
            lines[3]
        );
        assert_eq!(
            lines[4],
            "smoke FAILED: 1 passed, 1 failed, 1 skipped in 2.5 s"
        );
        assert_eq!(lines[5], "--- chat add:");
        assert_eq!(lines[6], long);
        let coloured = report.table(true);
        assert!(coloured.contains("\x1b[31mFAIL\x1b[0m"));
    }

    #[tokio::test]
    async fn the_recorder_times_checks_fails_hung_ones_and_skips_dependents() {
        let mut streamed = Vec::new();
        let mut recorder = Recorder::new(Duration::from_millis(200), |r: &CheckResult| {
            streamed.push(r.name.clone())
        });
        let token: Option<String> = recorder
            .check("register", async {
                Ok(("t0k3n".to_owned(), "made a user".to_owned()))
            })
            .await;
        assert_eq!(token.as_deref(), Some("t0k3n"));
        let missing: Option<u32> = recorder
            .check("task create", async {
                Err(anyhow::anyhow!("expected 201, got 500"))
            })
            .await;
        let hung: Option<()> = recorder
            .check("hangs", async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(((), String::new()))
            })
            .await;
        assert!(missing.is_none() && hung.is_none());
        let dependent: Option<()> = recorder
            .check_with("task update", missing, "task create", |_| async {
                Ok(((), "x".into()))
            })
            .await;
        assert!(dependent.is_none());
        let report = recorder.finish();
        assert_eq!(
            streamed,
            ["register", "task create", "hangs", "task update"]
        );
        let outcomes: Vec<Outcome> = report.results.iter().map(|r| r.outcome).collect();
        assert_eq!(
            outcomes,
            [Outcome::Pass, Outcome::Fail, Outcome::Fail, Outcome::Skip]
        );
        assert_eq!(report.results[1].detail, "expected 201, got 500");
        assert!(
            report.results[2]
                .detail
                .starts_with("no result within 200 ms")
        );
        assert!(report.results[2].duration >= Duration::from_millis(200));
        assert_eq!(
            report.results[3].detail,
            "not run: needs task create, which did not pass"
        );
        assert_eq!(report.exit_code(), 1);
    }
}
