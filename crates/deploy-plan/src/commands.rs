//! The commands behind `cargo xtask deploy` and `cargo xtask teardown`: gather facts, build
//! the plan, print it (`--dry-run`) or run it.

use crate::deploy::{DeployOptions, Environment, deploy_plan, gather_deploy_facts};
use crate::plan::Phase;
use crate::runner::Runner;
use crate::teardown::{TeardownOptions, gather_teardown_facts, teardown_plan};

/// `cargo xtask deploy`. With `dry_run`, prints the plan (even when preflight would fail) and
/// changes nothing.
pub async fn deploy(
    options: &DeployOptions,
    env: &Environment,
    dry_run: bool,
) -> anyhow::Result<()> {
    options.validate()?;
    let started = std::time::Instant::now();
    let facts = gather_deploy_facts(options, env, false)?;
    let plan = deploy_plan(options, &facts);
    if dry_run {
        print!("{}", plan.render());
        return Ok(());
    }
    let total = plan.steps.len();
    // Steps up to the image build run on the facts found now...
    let split = plan
        .steps
        .iter()
        .position(|s| s.phase > Phase::BuildImages)
        .unwrap_or(total);
    let mut runner = Runner::new(env.clone());
    runner.run(&plan.steps[..split], 1, total).await?;
    // ...the rest on what the build produced and what the cluster has now. Only the image facts
    // are refreshed, so the steps already run keep their numbers.
    let after = gather_deploy_facts(options, env, true)?;
    let refreshed = crate::deploy::DeployFacts {
        manifest: after.manifest,
        present: after.present,
        // The cluster runs now (minikube was started before the build): ask its nodes.
        node_architectures: after.node_architectures,
        ..facts
    };
    anyhow::ensure!(
        refreshed.manifest.is_some(),
        "the image build finished but left no manifest ({}): run the build step by hand to see why",
        options.manifest_location(&refreshed.preflight).0
    );
    let plan = deploy_plan(options, &refreshed);
    let rest = &plan.steps[split.min(plan.steps.len())..];
    runner.run(rest, split + 1, split + rest.len()).await?;
    eprintln!(
        "Deployed release {} to namespace {} in {:.1}s.",
        options.release,
        options.namespace,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo xtask teardown`.
pub async fn teardown(
    options: &TeardownOptions,
    env: &Environment,
    dry_run: bool,
) -> anyhow::Result<()> {
    let facts = gather_teardown_facts(options, env);
    let plan = teardown_plan(options, &facts);
    if dry_run {
        print!("{}", plan.render());
        return Ok(());
    }
    let total = plan.steps.len();
    Runner::new(env.clone()).run(&plan.steps, 1, total).await?;
    eprintln!(
        "Torn down release {} (namespace {}).",
        options.release, options.namespace
    );
    Ok(())
}
