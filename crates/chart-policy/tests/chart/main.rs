//! Tests of the helm/todo chart with real helm (Helm 4 and Helm 3), in one test binary so
//! that k8s-openapi is linked once. Missing tools fail the tests with the installer to run.

mod backup_job;
mod live;
mod manifests;
mod network_policies;
mod new_rules_catch_breakage;
mod notes;
mod operator_defaults;
mod policy;
mod rules_catch_breakage;
mod schema;
mod secrets_across_upgrades;
mod tools;
mod upgrades;
