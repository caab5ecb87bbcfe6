//! Values the chart must refuse, and the message each refusal must carry.
//!
//! Schema errors are worded differently by Helm 4 (santhosh-tekuri/jsonschema) and Helm 3
//! (gojsonschema), so each case lists the fragments expected from each: the path of the
//! offending key and the reason. Contradictions the schema cannot express are refused by
//! `fail` in the templates (templates/validate.yaml), with the same text in both.

use anyhow::{Context, bail};

use crate::tools::{Helm, RenderRequest};

/// One set of bad values.
#[derive(Debug, Clone, Copy)]
pub struct BadValues {
    pub name: &'static str,
    /// `--set` assignments.
    pub set: &'static [&'static str],
    /// `--set-string` assignments.
    pub set_string: &'static [&'static str],
    /// Fragments Helm 4's error must contain.
    pub helm4: &'static [&'static str],
    /// Fragments Helm 3's error must contain.
    pub helm3: &'static [&'static str],
}

const SCHEMA: &str = "values don't meet the specifications of the schema";

/// Every case.
pub const CASES: &[BadValues] = &[
    BadValues {
        name: "unknown top-level key",
        set: &["replicas=3"],
        set_string: &[],
        helm4: &[SCHEMA, "additional properties 'replicas' not allowed"],
        helm3: &[SCHEMA, "Additional property replicas is not allowed"],
    },
    BadValues {
        name: "misspelt nested key",
        set: &["api.autoscaling.enable=true"],
        set_string: &[],
        helm4: &[
            SCHEMA,
            "at '/api/autoscaling': additional properties 'enable' not allowed",
        ],
        helm3: &[
            SCHEMA,
            "api.autoscaling: Additional property enable is not allowed",
        ],
    },
    BadValues {
        name: "wrong type: string for an integer",
        set: &["api.replicaCount=two"],
        set_string: &[],
        helm4: &[SCHEMA, "at '/api/replicaCount': got string, want integer"],
        helm3: &[
            SCHEMA,
            "api.replicaCount: Invalid type. Expected: integer, given: string",
        ],
    },
    BadValues {
        name: "wrong type: string for a boolean",
        set: &["networkPolicy.enabled=yes"],
        set_string: &[],
        helm4: &[
            SCHEMA,
            "at '/networkPolicy/enabled': got string, want boolean",
        ],
        helm3: &[
            SCHEMA,
            "networkPolicy.enabled: Invalid type. Expected: boolean, given: string",
        ],
    },
    BadValues {
        name: "wrong type: number for an image tag (use --set-string)",
        set: &["api.image.tag=123"],
        set_string: &[],
        helm4: &[SCHEMA, "at '/api/image/tag': got number, want string"],
        helm3: &[
            SCHEMA,
            "api.image.tag: Invalid type. Expected: string, given: integer",
        ],
    },
    BadValues {
        name: "bad enum: log format",
        set: &["logFormat=xml"],
        set_string: &[],
        helm4: &[
            SCHEMA,
            "at '/logFormat': value must be one of 'json', 'text'",
        ],
        helm3: &[
            SCHEMA,
            "logFormat must be one of the following: \"json\", \"text\"",
        ],
    },
    BadValues {
        name: "bad enum: pull policy",
        set: &["web.image.pullPolicy=Sometimes"],
        set_string: &[],
        helm4: &[
            SCHEMA,
            "at '/web/image/pullPolicy': value must be one of 'IfNotPresent', 'Always', 'Never'",
        ],
        helm3: &[
            SCHEMA,
            "web.image.pullPolicy must be one of the following: \"IfNotPresent\", \"Always\", \"Never\"",
        ],
    },
    BadValues {
        name: "latest tag",
        set: &[],
        set_string: &["api.image.tag=latest"],
        helm4: &[SCHEMA, "at '/api/image/tag'", "not latest"],
        helm3: &[SCHEMA, "api.image.tag", "not latest"],
    },
    BadValues {
        name: "latest tag for PostgreSQL",
        set: &[],
        set_string: &["postgresql.image.tag=latest"],
        helm4: &[SCHEMA, "at '/postgresql/image/tag'", "not latest"],
        helm3: &[SCHEMA, "postgresql.image.tag", "not latest"],
    },
    BadValues {
        name: "malformed digest",
        set: &[],
        set_string: &["mcp.image.digest=abc123"],
        helm4: &[
            SCHEMA,
            "at '/mcp/image/digest': 'abc123' does not match pattern",
        ],
        helm3: &[SCHEMA, "mcp.image.digest: Does not match pattern"],
    },
    BadValues {
        name: "resources without limits",
        set: &["api.resources.limits=null"],
        set_string: &[],
        helm4: &[SCHEMA, "at '/api/resources': missing property 'limits'"],
        helm3: &[SCHEMA, "api.resources: limits is required"],
    },
    BadValues {
        name: "port out of range",
        set: &["web.service.port=70000"],
        set_string: &[],
        helm4: &[
            SCHEMA,
            "at '/web/service/port': maximum: got 70,000, want 65,535",
        ],
        helm3: &[
            SCHEMA,
            "web.service.port: Must be less than or equal to 65535",
        ],
    },
    BadValues {
        name: "database user that is not a plain SQL identifier",
        set: &[],
        set_string: &["postgresql.auth.username=Robert;drop"],
        helm4: &[
            SCHEMA,
            "at '/postgresql/auth/username': 'Robert;drop' does not match pattern",
        ],
        helm3: &[SCHEMA, "postgresql.auth.username: Does not match pattern"],
    },
    BadValues {
        name: "both database.url and database.existingSecret",
        set: &[
            "database.url=postgres://u:p@db.example.com/todo",
            "database.existingSecret=todo-database",
        ],
        set_string: &[],
        helm4: &["database.url and database.existingSecret are both set"],
        helm3: &["database.url and database.existingSecret are both set"],
    },
    BadValues {
        name: "no database at all",
        set: &["postgresql.enabled=false"],
        set_string: &[],
        helm4: &["no database: set database.url or database.existingSecret"],
        helm3: &["no database: set database.url or database.existingSecret"],
    },
    BadValues {
        name: "TLS without a certificate Secret",
        set: &["ingress.tls.enabled=true"],
        set_string: &[],
        helm4: &["ingress.tls.secretName is empty"],
        helm3: &["ingress.tls.secretName is empty"],
    },
    BadValues {
        name: "preStop sleep longer than the grace period",
        set: &["api.preStopSleepSeconds=40"],
        set_string: &[],
        helm4: &[
            "api.preStopSleepSeconds (40) must be less than api.terminationGracePeriodSeconds (30)",
        ],
        helm3: &[
            "api.preStopSleepSeconds (40) must be less than api.terminationGracePeriodSeconds (30)",
        ],
    },
    BadValues {
        name: "autoscaling minimum above maximum",
        set: &[
            "web.autoscaling.minReplicas=5",
            "web.autoscaling.maxReplicas=3",
        ],
        set_string: &[],
        helm4: &["web.autoscaling.minReplicas (5) is greater than web.autoscaling.maxReplicas (3)"],
        helm3: &["web.autoscaling.minReplicas (5) is greater than web.autoscaling.maxReplicas (3)"],
    },
    BadValues {
        name: "database pools larger than the in-cluster PostgreSQL accepts",
        set: &["database.poolSize=10"],
        set_string: &[],
        helm4: &[
            "the services may open 140 database connections",
            "PostgreSQL accepts 97",
            "lower database.poolSize",
        ],
        helm3: &[
            "the services may open 140 database connections",
            "PostgreSQL accepts 97",
            "lower database.poolSize",
        ],
    },
    BadValues {
        name: "negative cpu quantity",
        set: &["api.resources.limits.cpu=-1"],
        set_string: &[],
        helm4: &[SCHEMA, "/api/resources/limits/cpu", "minimum"],
        helm3: &[
            SCHEMA,
            "api.resources.limits.cpu",
            "greater than or equal to 0",
        ],
    },
    BadValues {
        name: "negative quantity as a string",
        set: &[],
        set_string: &["postgresql.persistence.size=-8Gi"],
        helm4: &[
            SCHEMA,
            "/postgresql/persistence/size",
            "does not match pattern",
        ],
        helm3: &[
            SCHEMA,
            "postgresql.persistence.size",
            "Does not match pattern",
        ],
    },
    BadValues {
        name: "CIDR with an octet out of range",
        set: &["networkPolicy.llm.cidrs[0]=300.1.2.0/24"],
        set_string: &[],
        helm4: &[
            SCHEMA,
            "/networkPolicy/llm/cidrs/0",
            "does not match pattern",
        ],
        helm3: &[
            SCHEMA,
            "networkPolicy.llm.cidrs.0",
            "Does not match pattern",
        ],
    },
    BadValues {
        name: "trusted proxy CIDR with a prefix out of range",
        set: &["trustedProxies[0]=10.244.0.0/33"],
        set_string: &[],
        helm4: &[SCHEMA, "/trustedProxies/0", "does not match pattern"],
        helm3: &[SCHEMA, "trustedProxies.0", "Does not match pattern"],
    },
    BadValues {
        name: "service type LoadBalancer",
        set: &["web.service.type=LoadBalancer"],
        set_string: &[],
        helm4: &[
            SCHEMA,
            "/web/service/type",
            "value must be one of 'ClusterIP', 'NodePort'",
        ],
        helm3: &[SCHEMA, "web.service.type must be one of the following"],
    },
    BadValues {
        name: "PodDisruptionBudget that blocks drains: maxUnavailable 0",
        set: &["web.pdb.maxUnavailable=0"],
        set_string: &[],
        helm4: &[
            "web.pdb.maxUnavailable is 0",
            "node drains would block forever",
        ],
        helm3: &[
            "web.pdb.maxUnavailable is 0",
            "node drains would block forever",
        ],
    },
    BadValues {
        name: "PodDisruptionBudget that blocks drains: 0%",
        set: &[],
        set_string: &["mcp.pdb.maxUnavailable=0%"],
        helm4: &["mcp.pdb.maxUnavailable is 0%"],
        helm3: &["mcp.pdb.maxUnavailable is 0%"],
    },
    BadValues {
        name: "PodDisruptionBudget that blocks drains: minAvailable of every replica",
        set: &["mcp.pdb.minAvailable=2"],
        set_string: &[],
        helm4: &["mcp.pdb.minAvailable (2) leaves no pod of 2 evictable"],
        helm3: &["mcp.pdb.minAvailable (2) leaves no pod of 2 evictable"],
    },
    BadValues {
        name: "pod label that shadows a selector label",
        set: &[],
        set_string: &["api.podLabels.app\\.kubernetes\\.io/component=web"],
        helm4: &[
            "api.podLabels sets app.kubernetes.io/component, a label the chart's selectors use",
        ],
        helm3: &[
            "api.podLabels sets app.kubernetes.io/component, a label the chart's selectors use",
        ],
    },
    BadValues {
        name: "pod annotation that shadows the chart's checksum",
        set: &[],
        set_string: &["web.podAnnotations.checksum/secret=pinned"],
        helm4: &["web.podAnnotations sets checksum/secret"],
        helm3: &["web.podAnnotations sets checksum/secret"],
    },
    BadValues {
        name: "GitOps mode without the Secrets it needs",
        set: &["secrets.generate=false", "jwt.existingSecret=todo-jwt"],
        set_string: &[],
        helm4: &[
            "secrets.generate is false",
            "postgres-password would have to be generated",
            "postgresql.auth.existingSecret",
        ],
        helm3: &[
            "secrets.generate is false",
            "postgres-password would have to be generated",
            "postgresql.auth.existingSecret",
        ],
    },
    BadValues {
        name: "HTTPRoute without a parent Gateway",
        set: &["gateway.enabled=true"],
        set_string: &[],
        helm4: &["gateway.parentRefs is empty"],
        helm3: &["gateway.parentRefs is empty"],
    },
    BadValues {
        name: "chat turn budget below the LLM call timeout",
        set: &["chat.turnTimeoutSeconds=20"],
        set_string: &[],
        helm4: &["chat.turnTimeoutSeconds (20) must exceed todo-api's LLM_TIMEOUT_SECONDS (30)"],
        helm3: &["chat.turnTimeoutSeconds (20) must exceed todo-api's LLM_TIMEOUT_SECONDS (30)"],
    },
    BadValues {
        name: "NodeLocal DNS address that is not an address",
        set: &[],
        set_string: &["networkPolicy.dns.nodeLocalAddresses[0]=dns.local"],
        helm4: &[
            SCHEMA,
            "/networkPolicy/dns/nodeLocalAddresses/0",
            "does not match pattern",
        ],
        helm3: &[
            SCHEMA,
            "networkPolicy.dns.nodeLocalAddresses.0",
            "Does not match pattern",
        ],
    },
    BadValues {
        name: "pool size zero",
        set: &["database.poolSize=0"],
        set_string: &[],
        helm4: &[SCHEMA, "/database/poolSize", "minimum"],
        helm3: &[
            SCHEMA,
            "database.poolSize",
            "Must be greater than or equal to 1",
        ],
    },
];

impl BadValues {
    pub fn request(&self) -> RenderRequest {
        let mut request = RenderRequest::new();
        for assignment in self.set {
            request = request.set(*assignment);
        }
        for assignment in self.set_string {
            request = request.set_string(*assignment);
        }
        request
    }

    /// Renders with `helm` and checks the values are refused with the expected message.
    /// Returns helm's message.
    pub fn check(&self, helm: &Helm) -> anyhow::Result<String> {
        let message = helm
            .template_failure(&self.request())
            .with_context(|| format!("bad values \"{}\"", self.name))?;
        let wanted = if helm.major == 3 {
            self.helm3
        } else {
            self.helm4
        };
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|fragment| !message.contains(fragment))
            .collect();
        if !missing.is_empty() {
            bail!(
                "bad values \"{}\" ({}): helm {} refused them, but its message lacks {missing:?}:\n{}",
                self.name,
                self.request().describe(),
                helm.version,
                message.trim()
            );
        }
        Ok(message)
    }
}
