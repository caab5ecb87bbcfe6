{{/*
Expand the name of the chart.
*/}}
{{- define "todo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "todo.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of a component's resources: "<fullname>-<component>" (todo-api, todo-postgresql, ...).
At most 52 characters: a StatefulSet adds "-<10 character hash>" to its name in the
controller-revision-hash label, whose value may not exceed 63 characters.
Call with (dict "root" $ "component" "api").
*/}}
{{- define "todo.componentName" -}}
{{- $suffix := printf "-%s" .component }}
{{- $prefix := include "todo.fullname" .root | trunc (int (sub 52 (len $suffix))) | trimSuffix "-" }}
{{- printf "%s%s" $prefix $suffix }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "todo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "todo.labels" -}}
helm.sh/chart: {{ include "todo.chart" . }}
{{ include "todo.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/part-of: todo-chatbot
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "todo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels and selector labels of one component. Call with (dict "root" $ "component" "api").
*/}}
{{- define "todo.componentLabels" -}}
{{ include "todo.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Labels of a pod template that must not change with the chart or app version: the StatefulSet's
pod template carries these, so a chart bump does not restart the single database (the
version labels stay on the StatefulSet object itself).
*/}}
{{- define "todo.stablePodLabels" -}}
{{ include "todo.componentSelectorLabels" . }}
app.kubernetes.io/part-of: todo-chatbot
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{- define "todo.componentSelectorLabels" -}}
{{ include "todo.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Name of a component's ServiceAccount. Call with (dict "root" $ "component" "api").
*/}}
{{- define "todo.serviceAccountName" -}}
{{- $sa := (index .root.Values .component).serviceAccount }}
{{- if $sa.create }}
{{- default (include "todo.componentName" .) $sa.name }}
{{- else }}
{{- default "default" $sa.name }}
{{- end }}
{{- end }}

{{/*
Image reference "<registry>/<repository>:<tag>[@<digest>]". The tag defaults to the chart's
appVersion. Call with (dict "root" $ "image" <component>.image "registry" <prefix or "">).
*/}}
{{- define "todo.image" -}}
{{- $repository := .image.repository }}
{{- if .registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .registry) .image.repository }}
{{- end }}
{{- $ref := printf "%s:%s" $repository (.image.tag | default .root.Chart.AppVersion) }}
{{- if .image.digest }}
{{- $ref = printf "%s@%s" $ref .image.digest }}
{{- end }}
{{- $ref }}
{{- end }}

{{/*
Image of a service component (api, mcp, web). Call with (dict "root" $ "component" "api").
*/}}
{{- define "todo.serviceImage" -}}
{{- include "todo.image" (dict "root" .root "image" (index .root.Values .component).image "registry" .root.Values.image.registry) }}
{{- end }}

{{/*
The routes of the Ingress and the HTTPRoute, as a JSON list of [path prefix, component].
*/}}
{{- define "todo.routes" -}}
{{- /* OAuth for MCP hosts (MCP Authorization 2025-11-25): RFC 9728 metadata to mcp; RFC 8414
metadata, OpenID discovery and /oauth/... to api. Same list as chart-policy's ROUTES. */ -}}
{{- list (list "/api" "api") (list "/mcp" "mcp") (list "/.well-known/oauth-protected-resource" "mcp") (list "/.well-known/oauth-authorization-server" "api") (list "/.well-known/openid-configuration" "api") (list "/oauth" "api") (list "/" "web") | toJson }}
{{- end }}

{{/*
The port every service container listens on (PORT). Fixed: the images declare it.
*/}}
{{- define "todo.containerPort" -}}
8080
{{- end }}

{{/*
"true" when an external database is configured (database.url or database.existingSecret).
*/}}
{{- define "todo.externalDatabase" -}}
{{- if or .Values.database.url .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{/*
"true" when the in-cluster PostgreSQL is rendered.
*/}}
{{- define "todo.postgresql.enabled" -}}
{{- if and .Values.postgresql.enabled (not (include "todo.externalDatabase" .)) }}true{{ end }}
{{- end }}

{{/*
Names of the chart's ConfigMap and Secret.
*/}}
{{- define "todo.configMapName" -}}
{{- printf "%s-config" (include "todo.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{- define "todo.secretName" -}}
{{- printf "%s-secrets" (include "todo.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
Secret and key holding the PostgreSQL password of the in-cluster database.
*/}}
{{- define "todo.postgresql.passwordSecretName" -}}
{{- .Values.postgresql.auth.existingSecret | default (include "todo.secretName" .) }}
{{- end }}

{{- define "todo.postgresql.passwordSecretKey" -}}
{{- if .Values.postgresql.auth.existingSecret }}
{{- .Values.postgresql.auth.existingSecretKey }}
{{- else -}}
postgres-password
{{- end }}
{{- end }}

{{/*
DATABASE_URL of the in-cluster PostgreSQL for a given password. Call with
(dict "root" $ "password" "..."). The password is alphanumeric when generated, and must be
URL-safe when it comes from postgresql.auth.existingSecret.
*/}}
{{- define "todo.postgresql.url" -}}
{{- $pg := .root.Values.postgresql }}
{{- printf "postgres://%s:%s@%s:%d/%s?sslmode=disable" $pg.auth.username .password (include "todo.componentName" (dict "root" .root "component" "postgresql")) (int $pg.service.port) $pg.auth.database }}
{{- end }}

{{/*
"true" when a Kubernetes API answered `lookup` during this render (helm install/upgrade,
`helm template --dry-run=server`); empty under plain `helm template`, ArgoCD and other GitOps
renderers, where `lookup` returns nothing. Listing ConfigMaps of the release namespace
returns a (possibly empty) list object from any API server, so an empty answer can only mean
"no cluster". The chart never renders random values without a cluster.
*/}}
{{- define "todo.clusterReachable" -}}
{{- if (lookup "v1" "ConfigMap" .Release.Namespace "") }}true{{ end }}
{{- end }}

{{/*
Whether some secret value would have to be generated: the JWT secret (no jwt.existingSecret)
or the in-cluster database password (no postgresql.auth.existingSecret, no external database).
*/}}
{{- define "todo.secretsToGenerate" -}}
{{- $keys := list }}
{{- if not .Values.jwt.existingSecret }}{{ $keys = append $keys "jwt-secret" }}{{ end }}
{{- if and (include "todo.postgresql.enabled" .) (not .Values.postgresql.auth.existingSecret) }}{{ $keys = append $keys "postgres-password" }}{{ end }}
{{- join "," $keys }}
{{- end }}

{{/*
The data (base64 values) of the chart's Secret as JSON, computed once per render and cached
in .Values, because secret.yaml renders it and every pod template hashes it: two calls would
otherwise generate two different random values on a first install.
- values given in values (database.url): always;
- generated values (JWT secret, in-cluster database password): only when a cluster answers
  `lookup`; then the live Secret's values are kept and only missing keys are generated.
  Without a cluster, nothing random is rendered: when something would have to be generated,
  the whole Secret is left out (an operator or a secret manager creates it, see README), so
  repeated renders are byte-identical and a GitOps sync never rotates credentials.
*/}}
{{- define "todo.secretData" -}}
{{- if not (hasKey .Values "__todoSecretData") }}
{{- $name := include "todo.secretName" . }}
{{- $toGenerate := include "todo.secretsToGenerate" . }}
{{- $data := dict }}
{{- if or (not $toGenerate) (include "todo.clusterReachable" .) }}
{{- $live := (lookup "v1" "Secret" .Release.Namespace $name) | default dict }}
{{- $previous := $live.data | default dict }}
{{- if not .Values.jwt.existingSecret }}
{{- $_ := set $data "jwt-secret" (index $previous "jwt-secret" | default (randAlphaNum 48 | b64enc)) }}
{{- end }}
{{- if .Values.database.url }}
{{- $_ := set $data "database-url" (.Values.database.url | b64enc) }}
{{- else if and (include "todo.postgresql.enabled" .) (not .Values.postgresql.auth.existingSecret) }}
{{- $password := index $previous "postgres-password" | default (randAlphaNum 24 | b64enc) }}
{{- $_ := set $data "postgres-password" $password }}
{{- $_ := set $data "database-url" (include "todo.postgresql.url" (dict "root" . "password" (b64dec $password)) | b64enc) }}
{{- end }}
{{- end }}
{{- $_ := set .Values "__todoSecretData" (toJson $data) }}
{{- end }}
{{- index .Values "__todoSecretData" }}
{{- end }}

{{/*
checksum/secret of the pods: the contents of the chart's Secret where the chart renders them
(a changed database.url or a regenerated key rolls the pods; an upgrade that keeps the looked-up
values does not), plus the names of the Secrets the operator provides (their contents are not
known to the chart: after rotating one, `kubectl rollout restart` the deployments).
*/}}
{{- define "todo.secretChecksum" -}}
{{- $refs := dict "database" .Values.database.existingSecret "jwt" .Values.jwt.existingSecret "llm" .Values.llm.existingSecret "postgresql" .Values.postgresql.auth.existingSecret }}
{{- printf "%s%s" (include "todo.secretData" .) (toJson $refs) | sha256sum }}
{{- end }}

{{/*
Pod and container security settings. The service images run as 65532 ("nonroot") and write
nothing outside /tmp (an emptyDir).
*/}}
{{/*
Pod and container security contexts: the chart's restricted defaults, overridden key by key
by <component>.podSecurityContext / containerSecurityContext (e.g. OpenShift, which assigns
its own uids: set runAsUser, runAsGroup and fsGroup to null). Call with
(dict "uid" 65532 "override" <map>) and (dict "override" <map>).
*/}}
{{- define "todo.podSecurityContextMerged" -}}
{{- $base := include "todo.podSecurityContext" . | fromYaml }}
{{- $merged := mergeOverwrite $base (deepCopy (.override | default dict)) }}
{{- range $key, $value := $merged }}{{ if kindIs "invalid" $value }}{{ $_ := unset $merged $key }}{{ end }}{{ end }}
{{- toYaml $merged }}
{{- end }}

{{- define "todo.containerSecurityContextMerged" -}}
{{- $base := include "todo.containerSecurityContext" . | fromYaml }}
{{- $merged := mergeOverwrite $base (deepCopy (.override | default dict)) }}
{{- range $key, $value := $merged }}{{ if kindIs "invalid" $value }}{{ $_ := unset $merged $key }}{{ end }}{{ end }}
{{- toYaml $merged }}
{{- end }}

{{- define "todo.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "todo.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Environment shared by every service container: PORT, RUST_LOG, LOG_FORMAT and the OTEL_*
settings from the ConfigMap.
*/}}
{{- define "todo.env.common" -}}
{{ include "todo.env.config" (dict "root" . "key" "PORT") }}
{{ include "todo.env.config" (dict "root" . "key" "RUST_LOG") }}
{{ include "todo.env.config" (dict "root" . "key" "LOG_FORMAT") }}
{{ include "todo.env.config" (dict "root" . "key" "OTEL_EXPORTER_OTLP_ENDPOINT") }}
{{ include "todo.env.config" (dict "root" . "key" "OTEL_TRACES_SAMPLER") }}
{{ include "todo.env.config" (dict "root" . "key" "OTEL_TRACES_SAMPLER_ARG") }}
{{- end }}

{{/*
One variable from the ConfigMap. Call with (dict "root" $ "key" "API_URL").
*/}}
{{- define "todo.env.config" -}}
- name: {{ .key }}
  valueFrom:
    configMapKeyRef:
      name: {{ include "todo.configMapName" .root }}
      key: {{ .key }}
{{- end }}

{{/*
DATABASE_URL, always from a Secret:
- external database: database.existingSecret, or the chart's Secret (from database.url);
- in-cluster with a generated password: the chart's Secret, which builds the URL from it;
- in-cluster with postgresql.auth.existingSecret: the URL is assembled by the kubelet from
  the password variable ($(DATABASE_PASSWORD) expansion), so no URL with a password is
  ever stored anywhere but in the Secret the operator created.
*/}}
{{- define "todo.env.database" -}}
{{- if .Values.database.existingSecret -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.existingSecretKey }}
{{- else if or .Values.database.url (not .Values.postgresql.auth.existingSecret) -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "todo.secretName" . }}
      key: database-url
{{- else -}}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.auth.existingSecret }}
      key: {{ .Values.postgresql.auth.existingSecretKey }}
- name: DATABASE_URL
  value: {{ include "todo.postgresql.url" (dict "root" . "password" "$(DATABASE_PASSWORD)") | quote }}
{{- end }}
{{- end }}

{{/*
JWT_SECRET from jwt.existingSecret or the chart's Secret.
*/}}
{{- define "todo.env.jwt" -}}
- name: JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.jwt.existingSecret | default (include "todo.secretName" .) }}
      key: {{ ternary .Values.jwt.existingSecretKey "jwt-secret" (ne .Values.jwt.existingSecret "") }}
{{- end }}

{{/*
Environment of each service container (contracts of the services).
*/}}
{{- define "todo.env.api" -}}
{{ include "todo.env.common" . }}
{{ include "todo.env.config" (dict "root" . "key" "MCP_URL") }}
{{ include "todo.env.config" (dict "root" . "key" "LLM_BASE_URL") }}
{{ include "todo.env.config" (dict "root" . "key" "LLM_MODEL") }}
{{ include "todo.env.config" (dict "root" . "key" "DATABASE_MAX_CONNECTIONS") }}
{{- if .Values.chat.turnTimeoutSeconds }}
{{ include "todo.env.config" (dict "root" . "key" "CHAT_TURN_TIMEOUT_SECONDS") }}
{{- end }}
{{ include "todo.env.database" . }}
{{ include "todo.env.jwt" . }}
{{- if .Values.llm.existingSecret }}
- name: LLM_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.llm.existingSecret }}
      key: {{ .Values.llm.existingSecretKey }}
{{- end }}
{{- end }}

{{- define "todo.env.mcp" -}}
{{ include "todo.env.common" . }}
{{ include "todo.env.config" (dict "root" . "key" "DATABASE_MAX_CONNECTIONS") }}
{{ include "todo.env.config" (dict "root" . "key" "MCP_ALLOWED_HOSTS") }}
{{ include "todo.env.config" (dict "root" . "key" "MCP_ALLOWED_ORIGINS") }}
{{ include "todo.env.database" . }}
{{ include "todo.env.jwt" . }}
{{- end }}

{{- define "todo.env.web" -}}
{{ include "todo.env.common" . }}
{{ include "todo.env.config" (dict "root" . "key" "API_URL") }}
{{ include "todo.env.config" (dict "root" . "key" "COOKIE_SECURE") }}
{{- if .Values.chat.turnTimeoutSeconds }}
{{ include "todo.env.config" (dict "root" . "key" "CHAT_TURN_TIMEOUT_SECONDS") }}
{{ include "todo.env.config" (dict "root" . "key" "API_CHAT_TIMEOUT_SECONDS") }}
{{- end }}
{{- end }}

{{/*
MCP_ALLOWED_HOSTS of todo-mcp (comma-separated): the Host values /mcp is reached by.
- the Ingress host (the ingress controller passes the client's Host through);
- the Service's in-cluster names, short to fully qualified, with and without the Service
  port (todo-api's MCP_URL is "http://<fullname>-mcp:<port>/mcp");
- loopback, for `kubectl port-forward` (a rebinding page cannot make a browser send these);
- mcp.extraAllowedHosts.
*/}}
{{- define "todo.mcp.allowedHosts" -}}
{{- $service := include "todo.componentName" (dict "root" . "component" "mcp") }}
{{- $port := int .Values.mcp.service.port }}
{{- $namespace := .Release.Namespace }}
{{- $hosts := list }}
{{- if or .Values.ingress.enabled .Values.gateway.enabled }}
{{- $hosts = concat $hosts (list .Values.ingress.host) .Values.ingress.extraHosts }}
{{- end }}
{{- if .Values.gateway.enabled }}
{{- $hosts = concat $hosts .Values.gateway.hostnames }}
{{- end }}
{{- range $name := list $service (printf "%s.%s" $service $namespace) (printf "%s.%s.svc" $service $namespace) (printf "%s.%s.svc.cluster.local" $service $namespace) }}
{{- $hosts = append $hosts $name }}
{{- $hosts = append $hosts (printf "%s:%d" $name $port) }}
{{- end }}
{{- $hosts = concat $hosts (list "localhost" "127.0.0.1" "[::1]") .Values.mcp.extraAllowedHosts }}
{{- join "," (uniq $hosts) }}
{{- end }}

{{/*
Egress to the cluster DNS (UDP and TCP 53).
*/}}
{{- define "todo.networkPolicy.dnsEgress" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- with .Values.networkPolicy.dns.nodeLocalAddresses }}
# NodeLocal DNSCache: pods resolve through a link-local address on their node (hostNetwork,
# so no pod selector matches it).
- to:
    {{- range . }}
    - ipBlock:
        cidr: {{ ternary . (printf "%s/32" .) (contains "/" .) }}
    {{- end }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end }}
{{- end }}

{{/*
Ingress from the ingress controller's pods.
*/}}
{{- define "todo.networkPolicy.fromIngressController" -}}
{{- if .Values.ingress.enabled }}
- namespaceSelector:
    {{- toYaml .Values.networkPolicy.ingressController.namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml .Values.networkPolicy.ingressController.podSelector | nindent 4 }}
{{- end }}
{{- if .Values.gateway.enabled }}
- namespaceSelector:
    {{- toYaml .Values.networkPolicy.gateway.namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml .Values.networkPolicy.gateway.podSelector | nindent 4 }}
{{- end }}
{{- with .Values.networkPolicy.extraIngressPeers }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
A peer: the pods of one component of this release. Call with (dict "root" $ "component" "api").
*/}}
{{- define "todo.networkPolicy.component" -}}
- podSelector:
    matchLabels:
      {{- include "todo.componentSelectorLabels" . | nindent 6 }}
{{- end }}

{{/*
ipBlock peers for a list of CIDRs with common exceptions. Call with (dict "cidrs" .. "except" ..).
*/}}
{{- define "todo.networkPolicy.ipBlocks" -}}
{{- $except := .except }}
{{- range $cidr := .cidrs }}
- ipBlock:
    cidr: {{ $cidr }}
    {{- with $except }}
    except:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end }}
{{- end }}

{{/*
Checks across values that the schema cannot express. Included by templates/validate.yaml.
*/}}
{{- define "todo.validate" -}}
{{- if and .Values.database.url .Values.database.existingSecret }}
{{- fail "database.url and database.existingSecret are both set: set only one (prefer database.existingSecret)" }}
{{- end }}
{{- if and (not .Values.postgresql.enabled) (not (include "todo.externalDatabase" .)) }}
{{- fail "no database: set database.url or database.existingSecret for an external database, or postgresql.enabled=true" }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.ingress.tls.enabled (not .Values.ingress.tls.secretName) }}
{{- fail "ingress.tls.enabled is true but ingress.tls.secretName is empty: name the kubernetes.io/tls Secret" }}
{{- end }}
{{- range $component := list "api" "mcp" "web" }}
{{- $values := index $.Values $component }}
{{- if ge (int $values.preStopSleepSeconds) (int $values.terminationGracePeriodSeconds) }}
{{- fail (printf "%s.preStopSleepSeconds (%d) must be less than %s.terminationGracePeriodSeconds (%d), or the pod is killed before it can drain" $component (int $values.preStopSleepSeconds) $component (int $values.terminationGracePeriodSeconds)) }}
{{- end }}
{{- if gt (int $values.autoscaling.minReplicas) (int $values.autoscaling.maxReplicas) }}
{{- fail (printf "%s.autoscaling.minReplicas (%d) is greater than %s.autoscaling.maxReplicas (%d)" $component (int $values.autoscaling.minReplicas) $component (int $values.autoscaling.maxReplicas)) }}
{{- end }}
{{- end }}
{{- range $component := list "api" "mcp" "web" "postgresql" }}
{{- $values := index $.Values $component }}
{{- range $key := list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" }}
{{- if hasKey ($values.podLabels | default dict) $key }}
{{- fail (printf "%s.podLabels sets %s, a label the chart's selectors use: remove it (pods with another value would fall out of their Service, PodDisruptionBudget and NetworkPolicies)" $component $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $component := list "api" "mcp" "web" }}
{{- range $key := list "checksum/config" "checksum/secret" }}
{{- if hasKey ((index $.Values $component).podAnnotations | default dict) $key }}
{{- fail (printf "%s.podAnnotations sets %s, which the chart computes so that pods roll when their configuration changes: remove it (to force a restart, use `kubectl rollout restart`)" $component $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $component := list "api" "mcp" "web" }}
{{- $values := index $.Values $component }}
{{- if $values.pdb.enabled }}
{{- $replicas := int (ternary $values.autoscaling.minReplicas $values.replicaCount $values.autoscaling.enabled) }}
{{- if not (kindIs "invalid" $values.pdb.minAvailable) }}
{{- $min := toString $values.pdb.minAvailable }}
{{- if or (eq $min "100%") (and (not (hasSuffix "%" $min)) (ge (int $min) $replicas)) }}
{{- fail (printf "%s.pdb.minAvailable (%s) leaves no pod of %d evictable, so a node drain would block forever: lower it, or set it to null and use %s.pdb.maxUnavailable (1)" $component $min $replicas $component) }}
{{- end }}
{{- else }}
{{- $max := toString $values.pdb.maxUnavailable }}
{{- if or (eq $max "0") (eq $max "0%") }}
{{- fail (printf "%s.pdb.maxUnavailable is %s: no pod could ever be evicted and node drains would block forever; use 1 (or a percentage above 0), or set %s.pdb.enabled=false" $component $max $component) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (not .Values.secrets.generate) (include "todo.secretsToGenerate" .) }}
{{- fail (printf "secrets.generate is false (the GitOps mode: the chart renders no random values), but %s would have to be generated: set jwt.existingSecret and, for the in-cluster database, postgresql.auth.existingSecret to Secrets you manage (e.g. sealed-secrets or External Secrets)" (include "todo.secretsToGenerate" .)) }}
{{- end }}
{{- if and .Values.gateway.enabled (not .Values.gateway.parentRefs) }}
{{- fail "gateway.enabled is true but gateway.parentRefs is empty: name the Gateway the HTTPRoute attaches to, e.g. [{name: shared-gateway, namespace: gateway-system}]" }}
{{- end }}
{{- with .Values.chat.turnTimeoutSeconds }}
{{- if le (int .) 30 }}
{{- fail (printf "chat.turnTimeoutSeconds (%d) must exceed todo-api's LLM_TIMEOUT_SECONDS (30) and MCP_TIMEOUT_SECONDS (10): a turn must outlast each call it makes" (int .)) }}
{{- end }}
{{- end }}
{{- include "todo.validateUpgrade" . }}
{{- if include "todo.postgresql.enabled" . }}
{{- /* Every pool at full scale-out, plus the rollout's surge pod (maxSurge 1) per service,
must fit max_connections minus the 3 superuser slots, or pods fail to connect exactly when
load is highest. */}}
{{- $pods := 0 }}
{{- range $component := list "api" "mcp" }}
{{- $values := index $.Values $component }}
{{- $pods = add $pods 1 (ternary $values.autoscaling.maxReplicas $values.replicaCount $values.autoscaling.enabled) }}
{{- end }}
{{- $needed := mul $pods .Values.database.poolSize }}
{{- $available := sub .Values.postgresql.maxConnections 3 }}
{{- if gt (int $needed) (int $available) }}
{{- fail (printf "the services may open %d database connections (%d api and mcp pods at full scale-out, counting one rollout surge pod each, x database.poolSize %d) but the in-cluster PostgreSQL accepts %d (postgresql.maxConnections %d minus 3 reserved): lower database.poolSize or the replica counts, or raise postgresql.maxConnections" (int $needed) (int $pods) (int .Values.database.poolSize) (int $available) (int .Values.postgresql.maxConnections)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Upgrade checks against the live objects (only where `lookup` works: helm install/upgrade;
under `helm template`/GitOps the same rules are documented on the values instead).
- postgresql.persistence.size / storageClass: a StatefulSet's volumeClaimTemplates are
  immutable, so `helm upgrade` would fail half way;
- postgresql.auth.username / database: only used when an empty volume is initialised;
- back to the in-cluster database on a kept volume whose password is gone.
*/}}
{{/*
A storage quantity in bytes (as a float), so "1Gi" and the API server's canonical form of
"1024Mi" compare equal. Call with the quantity.
*/}}
{{- define "todo.quantityBytes" -}}
{{- $text := toString . }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $text }}
{{- $suffix := trimPrefix $number $text }}
{{- $factors := dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "Pi" 1125899906842624 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "P" 1000000000000000 }}
{{- mulf (float64 $number) (float64 (index $factors $suffix | default 0)) }}
{{- end }}

{{- define "todo.validateUpgrade" -}}
{{- if include "todo.postgresql.enabled" . }}
{{- $pg := .Values.postgresql }}
{{- $name := include "todo.componentName" (dict "root" . "component" "postgresql") }}
{{- $pvc := printf "data-%s-0" $name }}
{{- $sts := lookup "apps/v1" "StatefulSet" .Release.Namespace $name }}
{{- if $sts }}
{{- range $template := $sts.spec.volumeClaimTemplates | default list }}
{{- if eq $template.metadata.name "data" }}
{{- $size := toString $template.spec.resources.requests.storage }}
{{- if ne (include "todo.quantityBytes" $size) (include "todo.quantityBytes" $pg.persistence.size) }}
{{- fail (printf "postgresql.persistence.size changed from %s to %s, but a StatefulSet's volume template cannot change. Keep %s, or grow the volume itself: `kubectl -n %s patch pvc %s -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"%s\"}}}}'` (needs a StorageClass with allowVolumeExpansion), then `kubectl -n %s delete statefulset %s --cascade=orphan` and upgrade again" $size (toString $pg.persistence.size) $size $.Release.Namespace $pvc (toString $pg.persistence.size) $.Release.Namespace $name) }}
{{- end }}
{{- $class := $template.spec.storageClassName | default "" }}
{{- if ne $class $pg.persistence.storageClass }}
{{- fail (printf "postgresql.persistence.storageClass changed from %q to %q, but a StatefulSet's volume template cannot change and the data cannot move by itself. Keep %q, or migrate: back up (pg_dump, see postgresql.backup), uninstall, delete PVC %s, install with the new class and restore" $class $pg.persistence.storageClass $class $pvc) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $container := $sts.spec.template.spec.containers | default list }}
{{- range $env := $container.env | default list }}
{{- if and (eq $env.name "POSTGRES_USER") (ne (toString $env.value) $pg.auth.username) }}
{{- fail (printf "postgresql.auth.username changed from %q to %q, but it only applies when the database is first created: the existing data belongs to %q. Set it back, or create the role yourself (psql: CREATE ROLE ... LOGIN; ALTER DATABASE ... OWNER TO ...) and migrate the data" (toString $env.value) $pg.auth.username (toString $env.value)) }}
{{- end }}
{{- if and (eq $env.name "POSTGRES_DB") (ne (toString $env.value) $pg.auth.database) }}
{{- fail (printf "postgresql.auth.database changed from %q to %q, but it only applies when the database is first created: the existing volume holds %q. Set it back, or create the new database yourself and move the data (pg_dump/pg_restore)" (toString $env.value) $pg.auth.database (toString $env.value)) }}
{{- end }}
{{- end }}
{{- end }}
{{- else if and (lookup "v1" "PersistentVolumeClaim" .Release.Namespace $pvc) (not $pg.auth.existingSecret) }}
{{- $live := (lookup "v1" "Secret" .Release.Namespace (include "todo.secretName" .)) | default dict }}
{{- if not (hasKey ($live.data | default dict) "postgres-password") }}
{{- fail (printf "PersistentVolumeClaim %s holds the data of an earlier in-cluster database, but Secret %s has no postgres-password any more, so a new password would be generated that the data does not accept. Put the old password back (key postgres-password) or name a Secret holding it in postgresql.auth.existingSecret; or delete the PVC to start empty (its data is lost)" $pvc (include "todo.secretName" .)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
