{{/*
Names, labels and shared pieces of every component.

Components: envoy, gateway, telemetry, seda, orbit, billing, redis. Each
one's resources are named "<fullname>-<component>" and carry the label
app.kubernetes.io/component=<component>.
*/}}

{{- define "defrag.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>", or just the release name when it contains the chart name. */}}
{{- define "defrag.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Name of one component's resources. Call with (dict "root" $ "component" "gateway").
The prefix is cut so that the longest suffix ("-gateway-admin") fits in 63 characters.
*/}}
{{- define "defrag.componentName" -}}
{{- printf "%s-%s" (include "defrag.fullname" .root | trunc 49 | trimSuffix "-") .component -}}
{{- end -}}

{{/*
Labels of every resource of one component: defrag.selectorLabels plus the
chart and version labels. Call with (dict "root" $ "component" "gateway"),
as the monitoring templates do.
*/}}
{{- define "defrag.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "defrag.selectorLabels" . }}
app.kubernetes.io/part-of: defrag
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/*
Labels that select one component's pods: name, instance and component.
Call with (dict "root" $ "component" "gateway").
*/}}
{{- define "defrag.selectorLabels" -}}
app.kubernetes.io/name: {{ include "defrag.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Full DNS name of one component's Service. Call with (dict "root" $ "component" "gateway"). */}}
{{- define "defrag.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "defrag.componentName" .) .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{- define "defrag.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "defrag.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The defrag image reference: repository:tag, or repository@digest when a digest is set. */}}
{{- define "defrag.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
An environment variable from a Secret key. Call with (dict "env" "NAME" "ref"
.Values.secrets.x "optional" bool). Renders nothing for an optional
reference with an empty name.
*/}}
{{- define "defrag.secretEnv" -}}
{{- if .ref.name }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.name | quote }}
      key: {{ .ref.key | quote }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}
{{- end -}}

{{/*
REDIS_URL (and REDIS_CLUSTER) for a component that uses Redis. A URL that
comes from a Secret reaches the pod through secretKeyRef only.
*/}}
{{- define "defrag.redisEnv" -}}
{{- $redis := .Values.redis -}}
{{- if eq $redis.mode "internal" }}
{{- $host := printf "%s:%d/0" (include "defrag.serviceHost" (dict "root" . "component" "redis")) (int $redis.internal.port) }}
{{- if $redis.internal.passwordSecret.name }}
{{- /* Kubernetes expands $(REDIS_PASSWORD) in a later variable's value, so the password stays in the Secret. */}}
{{- include "defrag.secretEnv" (dict "env" "REDIS_PASSWORD" "ref" $redis.internal.passwordSecret) }}
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s" $host | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ printf "redis://%s" $host | quote }}
{{- end }}
{{- else if $redis.external.existingSecret.name }}
{{- include "defrag.secretEnv" (dict "env" "REDIS_URL" "ref" $redis.external.existingSecret) }}
{{- else if $redis.external.url }}
- name: REDIS_URL
  value: {{ $redis.external.url | quote }}
{{- else }}
{{- fail "redis.mode is external, so set redis.external.url, or redis.external.existingSecret for a URL with a password" }}
{{- end }}
{{- if and (eq $redis.mode "external") $redis.external.cluster }}
- name: REDIS_CLUSTER
  value: "true"
{{- end }}
{{- end -}}

{{/* Pod annotations for Prometheus's annotation-based discovery. Call with (dict "root" $ "port" 9111 "path" "/metrics"). */}}
{{- define "defrag.scrapeAnnotations" -}}
{{- if .root.Values.monitoring.scrapeAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | int | toString | quote }}
prometheus.io/path: {{ .path | quote }}
{{- end }}
{{- end -}}
