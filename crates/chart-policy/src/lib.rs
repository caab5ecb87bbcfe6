//! Checks of the `helm/todo` chart, run with the real `helm` binaries.
//!
//! - [`tools`]: find every installed Helm major (`helm`, `helm4`, `helm3`), `kubectl` and `kubernetes-validate` (on `PATH`
//!   or in `<repo>/.tools/bin`, where `.ci/install/` puts them) and render the chart.
//! - [`scenarios`]: the value sets the chart is checked with (values.yaml, values-dev.yaml,
//!   values-prod.yaml and variants), and their effective merged values.
//! - [`objects`]: `helm template` output parsed into typed k8s-openapi objects.
//! - [`expectations`]: what a render must contain for its values.
//! - [`policy`]: rules every rendered object must follow (probes, resources, security,
//!   images, secrets, selectors, ports, ingress backends, scaling), as violations.
//! - [`netpol`]: evaluates the NetworkPolicies between the components and outside peers and
//!   compares every open path with the documented ones.
//! - [`httproute`]: the Gateway API HTTPRoute typed from its documented v1 fields, and its
//!   shape rules (kubernetes-validate has no Gateway API schemas).
//! - [`checkov`]: checkov over renders and `k8s/`, with the reviewed skips of
//!   `checkov-skips.txt`.
//! - [`bad_values`]: values the schema or the templates must reject, with their messages.
//! - [`monitoring`]: the optional ServiceMonitors, PrometheusRule (checked by `promtool`),
//!   Grafana dashboard and Prometheus NetworkPolicy.
//! - [`manifests`]: the split of a render into the plain manifests under `k8s/`.

pub mod bad_values;
pub mod checkov;
pub mod expectations;
pub mod httproute;
pub mod manifests;
pub mod monitoring;
pub mod netpol;
pub mod objects;
pub mod policy;
pub mod scenarios;
pub mod tools;
