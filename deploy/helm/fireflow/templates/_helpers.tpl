{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "fireflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: "fireflow" for a release named fireflow. */}}
{{- define "fireflow.fullname" -}}
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

{{- define "fireflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fireflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fireflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The API pods, as the Service, PDB and NetworkPolicy select them (not the migration Job's). */}}
{{- define "fireflow.serverSelectorLabels" -}}
{{ include "fireflow.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "fireflow.labels" -}}
helm.sh/chart: {{ include "fireflow.chart" . }}
{{ include "fireflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "fireflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fireflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fireflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "fireflow.sqlite" -}}
{{- if eq .Values.database.driver "sqlite" }}true{{ end }}
{{- end }}

{{/* The Secret the pods read: the user's, or the chart's own. */}}
{{- define "fireflow.secretName" -}}
{{- default (include "fireflow.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
Refuse combinations that cannot work, at render time rather than as a
crash-looping pod.
*/}}
{{- define "fireflow.validate" -}}
{{- if and (include "fireflow.sqlite" .) .Values.autoscaling.enabled }}
{{- fail "autoscaling.enabled needs database.driver=postgres: SQLite runs a single replica" }}
{{- end }}
{{- if and (eq .Values.database.driver "postgres") (not .Values.database.postgres.url) (not .Values.existingSecret) }}
{{- fail "database.driver=postgres needs database.postgres.url or an existingSecret with FIREFLOW_DATABASE_URL" }}
{{- end }}
{{- end }}

{{/*
The JWT secret: the value given, else the one already stored in the
release's Secret, else a new random one, so that upgrades keep tokens valid.
*/}}
{{- define "fireflow.jwtSecret" -}}
{{- if .Values.jwt.secret }}
{{- .Values.jwt.secret }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "fireflow.fullname" .) }}
{{- if and $existing $existing.data (hasKey $existing.data "FIREFLOW_JWT_SECRET") }}
{{- index $existing.data "FIREFLOW_JWT_SECRET" | b64dec }}
{{- else }}
{{- randAlphaNum 48 }}
{{- end }}
{{- end }}
{{- end }}

{{/* The data of the chart's Secret, shared with the migration hook's. */}}
{{- define "fireflow.secretData" -}}
{{- if not .Values.jwt.jwksUrl }}
FIREFLOW_JWT_SECRET: {{ include "fireflow.jwtSecret" . | b64enc | quote }}
{{- end }}
{{- if eq .Values.database.driver "postgres" }}
FIREFLOW_DATABASE_URL: {{ .Values.database.postgres.url | b64enc | quote }}
{{- end }}
{{- end }}

{{/* Environment read from the Secret (the chart's or the existing one). */}}
{{- define "fireflow.secretEnv" -}}
{{- $secret := .secret }}
{{- with .root }}
{{- if not .Values.jwt.jwksUrl }}
- name: FIREFLOW_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: FIREFLOW_JWT_SECRET
{{- end }}
{{- if eq .Values.database.driver "postgres" }}
- name: FIREFLOW_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: FIREFLOW_DATABASE_URL
{{- end }}
{{- end }}
{{- end }}

{{/* Settings that are not secret, as a ConfigMap's data. */}}
{{- define "fireflow.configData" -}}
FIREFLOW_ENV: production
FIREFLOW_ADDR: ":8080"
FIREFLOW_METRICS_ADDR: {{ printf ":%d" (int .Values.service.metricsPort) | quote }}
FIREFLOW_LOG_LEVEL: {{ .Values.config.logLevel | quote }}
FIREFLOW_DRAIN_DELAY: {{ .Values.config.drainDelay | quote }}
FIREFLOW_SHUTDOWN_TIMEOUT: {{ .Values.config.shutdownTimeout | quote }}
{{- if include "fireflow.sqlite" . }}
FIREFLOW_DATABASE_URL: {{ printf "sqlite:%s" .Values.database.sqlite.path | quote }}
{{- end }}
{{- with .Values.jwt.jwksUrl }}
FIREFLOW_JWT_JWKS_URL: {{ . | quote }}
{{- end }}
{{- with .Values.jwt.issuer }}
FIREFLOW_JWT_ISSUER: {{ . | quote }}
{{- end }}
{{- with .Values.jwt.audience }}
FIREFLOW_JWT_AUDIENCE: {{ . | quote }}
{{- end }}
{{- with .Values.config.otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- end }}

{{/* The container's security context and resources, shared by every container. */}}
{{- define "fireflow.containerCommon" -}}
image: {{ include "fireflow.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
resources:
  {{- toYaml .Values.resources | nindent 2 }}
{{- end }}
