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
The prefix is cut to 46 characters, so that the Redis StatefulSet's name
("-redis") stays within 52 (its pods' controller-revision-hash label adds
11 characters and must fit in 63), and the longest Service name
("-gateway-admin") within 63.
*/}}
{{- define "defrag.componentName" -}}
{{- printf "%s-%s" (include "defrag.namePrefix" .root) .component -}}
{{- end -}}

{{/*
The fullname cut to the length that every component name allows. Fails
when it cannot start a Service name: Kubernetes requires Service names to
be DNS-1035 labels, which start with a lowercase letter.
*/}}
{{- define "defrag.namePrefix" -}}
{{- $prefix := include "defrag.fullname" . | trunc 46 | trimSuffix "-" -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $prefix) -}}
{{- fail (printf "the resource names would start with %q, but Kubernetes Service names must start with a lowercase letter and contain only lowercase letters, digits and '-' (DNS-1035): install under a release name that starts with a letter, or set fullnameOverride" $prefix) -}}
{{- end -}}
{{- $prefix -}}
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
{{- if contains "@" $redis.external.url }}
{{- /* values.schema.json lets such a URL through so that this message, unlike a schema error, does not print the password. */}}
{{- fail "redis.external.url contains user information (a user name or password); put the whole URL in a Secret and set redis.external.existingSecret, which keeps it out of the values and the rendered objects" }}
{{- end }}
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

{{/*
Checks the Redis values against the services' start-up checks
(defrag/platform/redis_client.py), which would otherwise exit with status 2.
*/}}
{{- define "defrag.checkRedis" -}}
{{- $redis := .Values.redis -}}
{{- if and $redis.external.cluster (eq $redis.mode "internal") -}}
{{- fail "redis.external.cluster is true, but redis.mode is internal, and the chart's own Redis is one server, not a Redis Cluster: set redis.external.cluster to false, or set redis.mode to external with the URL of a cluster node" -}}
{{- end -}}
{{- if and (eq $redis.mode "external") $redis.external.cluster (regexMatch "/0*[1-9][0-9]*$" $redis.external.url) -}}
{{- fail (printf "redis.external.url ends in database number %s, but a Redis Cluster has database 0 only (redis.external.cluster is true): end the URL in /0 or leave the database number out" (regexFind "[0-9]+$" $redis.external.url)) -}}
{{- end -}}
{{- end -}}

{{/*
Parses a Kubernetes quantity (500m, 2, 1.5Gi, 1e3) and returns its value in
base units (cores or bytes) as a decimal string, for comparisons with float64.
*/}}
{{- define "defrag.quantityValue" -}}
{{- $text := toString . -}}
{{- $grammar := "^([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+|[a-zA-Z]*)$" -}}
{{- if not (regexMatch $grammar $text) -}}
{{- fail (printf "%q is not a Kubernetes quantity: use a number with an optional unit, such as 500m, 2 or 256Mi" $text) -}}
{{- end -}}
{{- $number := float64 (regexReplaceAll $grammar $text "${1}") -}}
{{- $suffix := regexReplaceAll $grammar $text "${2}" -}}
{{- $factors := dict "" 1.0 "n" 1e-9 "u" 1e-6 "m" 1e-3 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- if regexMatch "^[eE]" $suffix -}}
{{- $exponent := int (trimPrefix "+" (substr 1 -1 $suffix)) -}}
{{- range until (int (ternary $exponent (sub 0 $exponent) (ge $exponent 0))) -}}
{{- $number = ternary (mulf $number 10) (divf $number 10) (ge $exponent 0) -}}
{{- end -}}
{{- else if hasKey $factors $suffix -}}
{{- $number = mulf $number (index $factors $suffix) -}}
{{- else -}}
{{- fail (printf "%q has the unknown unit %q: use one of m, k, M, G, T, Ki, Mi, Gi, Ti" $text $suffix) -}}
{{- end -}}
{{- $number -}}
{{- end -}}

{{/*
Fails when a request is above its limit, which the API server rejects.
Call with (dict "path" "gateway.resources" "resources" .Values.gateway.resources).
*/}}
{{- define "defrag.checkResources" -}}
{{- $requests := .resources.requests | default dict -}}
{{- $limits := .resources.limits | default dict -}}
{{- range $name := list "cpu" "memory" "ephemeral-storage" -}}
{{- if and (hasKey $requests $name) (hasKey $limits $name) -}}
{{- $request := index $requests $name -}}
{{- $limit := index $limits $name -}}
{{- if gt (float64 (include "defrag.quantityValue" $request)) (float64 (include "defrag.quantityValue" $limit)) -}}
{{- fail (printf "%s.requests.%s (%v) is above %s.limits.%s (%v), which Kubernetes rejects: lower the request or raise the limit" $.path $name $request $.path $name $limit) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The container's env list: the chart's entries, then the operator's
extraEnv. Fails on an extraEnv name that the chart sets or that extraEnv
lists twice, because Kubernetes keeps the last of two entries of one name
without a warning. Call with (dict "component" "gateway" "env" TEXT
"extraEnv" LIST), where TEXT is the chart's entries as a YAML list.
*/}}
{{- define "defrag.containerEnv" -}}
{{- $taken := dict -}}
{{- range (fromYamlArray .env) -}}
{{- $_ := set $taken .name "the chart" -}}
{{- end -}}
{{- range .extraEnv -}}
{{- if hasKey $taken .name -}}
{{- fail (printf "%s.extraEnv sets %s, which %s already sets: remove it from extraEnv (the chart's values.yaml has a setting for each variable the chart sets)" $.component .name (index $taken .name)) -}}
{{- end -}}
{{- $_ := set $taken .name (printf "an earlier entry of %s.extraEnv" $.component) -}}
{{- end -}}
{{- .env | trim }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end -}}
{{- end -}}

{{/*
Pod annotations: the scrape annotations, then podAnnotations over them,
then the configuration checksum (when given) over both, as one map with
unique keys. Call with (dict "root" $ "values" .Values.gateway "port" 9111
"path" "/metrics" "checksum" "...").
*/}}
{{- define "defrag.podAnnotations" -}}
{{- $annotations := include "defrag.scrapeAnnotations" (dict "root" .root "port" .port "path" .path) | fromYaml | default dict -}}
{{- $annotations = mergeOverwrite $annotations (deepCopy (.values.podAnnotations | default dict)) -}}
{{- with .checksum -}}
{{- $_ := set $annotations "checksum/config" . -}}
{{- end -}}
{{- with $annotations -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{/* Pod annotations for Prometheus's annotation-based discovery. Call with (dict "root" $ "port" 9111 "path" "/metrics"). */}}
{{- define "defrag.scrapeAnnotations" -}}
{{- if .root.Values.monitoring.scrapeAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | int | toString | quote }}
prometheus.io/path: {{ .path | quote }}
{{- end }}
{{- end -}}
