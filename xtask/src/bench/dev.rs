//! `cargo xtask bench dev`: the time from `cargo xtask dev` starting the stack to every service
//! ready behind the router, with a warm build (the debug binaries are built first and not
//! timed). Runs `dev`'s own start path several times and prints min/median/max, split into the
//! throwaway PostgreSQL and the services. Target: under 3 s.

use super::ms;
use crate::dev::{DevOptions, build_services, start};
use anyhow::{Result, bail};
use std::time::Duration;
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {
    /// How many times to start and stop the stack.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Without todo-web.
    #[arg(long)]
    no_web: bool,
}

/// The target from issue 8: under 3 s with a warm build.
const TARGET: Duration = Duration::from_secs(3);

pub fn run(sh: &Shell, args: Args) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let binaries = build_services(sh, !args.no_web)?;
    let options = DevOptions {
        port: 0,
        database_url: None,
        web: binaries.web,
        logs: false,
    };
    let mut totals = Vec::new();
    let mut databases = Vec::new();
    crate::deploy::runtime()?.block_on(async {
        for run in 1..=args.runs {
            let dev = start(&binaries, &options).await?;
            let total = dev.ready_after;
            let database = dev.stack.database_started_after.unwrap_or_default();
            let services = if dev.stack.web.is_some() {
                "todo-api, todo-mcp, todo-web"
            } else {
                "todo-api, todo-mcp"
            };
            dev.stop().await?;
            println!(
                "run {run}: ready in {:7.1} ms (PostgreSQL initdb + start + database {:7.1} ms, then {services} {:7.1} ms)",
                ms(total),
                ms(database),
                ms(total.saturating_sub(database))
            );
            totals.push(total);
            databases.push(database);
        }
        anyhow::Ok(())
    })?;
    let (min, median, max) = spread(&mut totals);
    let (_, db_median, _) = spread(&mut databases);
    println!(
        "dev start to all services ready ({} runs): min {:.1} ms, median {:.1} ms, max {:.1} ms (median PostgreSQL part {:.1} ms); target < {} ms: {}",
        totals.len(),
        ms(min),
        ms(median),
        ms(max),
        ms(db_median),
        TARGET.as_millis(),
        if median < TARGET { "met" } else { "NOT met" }
    );
    Ok(())
}

/// (min, median, max); the median of an even count is the upper middle value.
fn spread(values: &mut [Duration]) -> (Duration, Duration, Duration) {
    values.sort();
    match (values.first(), values.get(values.len() / 2), values.last()) {
        (Some(min), Some(median), Some(max)) => (*min, *median, *max),
        _ => Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_runs() {
        let ms = Duration::from_millis;
        assert_eq!(
            spread(&mut [ms(30), ms(10), ms(20)]),
            (ms(10), ms(20), ms(30))
        );
        assert_eq!(spread(&mut []), Default::default());
    }
}
