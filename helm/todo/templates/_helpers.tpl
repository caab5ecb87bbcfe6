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
Checksum of everything the Secret is made from, for the pods' checksum/secret annotation.
It hashes the inputs, not the rendered Secret: generated values are random under `helm
template` and would make the plain manifests in k8s/ differ on every render, while on a
cluster they are looked up and never change.
*/}}
{{- define "todo.secretChecksum" -}}
{{- $inputs := dict "database" .Values.database "jwt" .Values.jwt "llm" .Values.llm "postgresql" (include "todo.postgresql.enabled" .) "auth" .Values.postgresql.auth "url" (include "todo.postgresql.url" (dict "root" . "password" "")) }}
{{- toJson $inputs | sha256sum }}
{{- end }}

{{/*
Pod and container security settings. The service images run as 65532 ("nonroot") and write
nothing outside /tmp (an emptyDir).
*/}}
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
Environment shared by every service container: PORT, RUST_LOG, LOG_FORMAT from the ConfigMap.
*/}}
{{- define "todo.env.common" -}}
{{ include "todo.env.config" (dict "root" . "key" "PORT") }}
{{ include "todo.env.config" (dict "root" . "key" "RUST_LOG") }}
{{ include "todo.env.config" (dict "root" . "key" "LOG_FORMAT") }}
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
{{- if .Values.ingress.enabled }}
{{- $hosts = append $hosts .Values.ingress.host }}
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
{{- end }}

{{/*
Ingress from the ingress controller's pods.
*/}}
{{- define "todo.networkPolicy.fromIngressController" -}}
- namespaceSelector:
    {{- toYaml .Values.networkPolicy.ingressController.namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml .Values.networkPolicy.ingressController.podSelector | nindent 4 }}
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
