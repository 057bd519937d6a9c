{{/*
Pieces shared by the components' Deployments: security contexts, the
writable /tmp, the Python environment, the shutdown sequence, the
HorizontalPodAutoscaler, the PodDisruptionBudget and the headless Service.
*/}}

{{/* Pod-level security context of every defrag pod. */}}
{{- define "defrag.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
fsGroup: {{ .Values.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context: non-root, read-only root filesystem, no capabilities. Call with the uid. */}}
{{- define "defrag.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment of every Python process: the writable /tmp, logs and the listeners' address. */}}
{{- define "defrag.pythonEnv" -}}
- name: TMPDIR
  value: /tmp
- name: PYTHONDONTWRITEBYTECODE
  value: "1"
- name: PYTHONUNBUFFERED
  value: "1"
- name: NUMBA_CACHE_DIR
  value: /tmp/numba
- name: DEFRAG_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: DEFRAG_BIND_HOST
  value: 0.0.0.0
{{- end -}}

{{/* A soft spread of one component's pods across nodes. Call with (dict "root" $ "component" "gateway"). */}}
{{- define "defrag.topologySpread" -}}
{{- if .root.Values.spreadPodsAcrossNodes }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "defrag.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}

{{/* nodeSelector, tolerations and affinity from a component's values. */}}
{{- define "defrag.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Checks one gRPC service's shutdown settings. After SIGTERM a service
reports NOT_SERVING for drainSeconds, then gives calls in flight 10 s
(run_until_signal in defrag/platform/server.py), and the gateway's admin
API 5 s more. The kubelet kills the pod at terminationGracePeriodSeconds.
*/}}
{{- define "defrag.checkServiceShutdown" -}}
{{- $shutdown := .values.shutdown -}}
{{- $needed := add $shutdown.preStopSleepSeconds $shutdown.drainSeconds 15 -}}
{{- if le (int $shutdown.terminationGracePeriodSeconds) (int $needed) -}}
{{- fail (printf "%s.shutdown.terminationGracePeriodSeconds is %d, but preStopSleepSeconds + drainSeconds + 15 s for calls in flight is %d: set it above %d" .component (int $shutdown.terminationGracePeriodSeconds) (int $needed) (int $needed)) -}}
{{- end -}}
{{- end -}}

{{/*
Deployment of one gRPC service. Call with a dict:
  root       the chart's root context
  component  gateway, telemetry, seda, orbit or billing
  values     the component's values
  command    the image's console script, such as defrag-gateway
  env        more environment entries, rendered as a YAML list
  ports      more container ports, a list of (dict "name" "admin" "port" 50050)
  volumes    more volumes, rendered as a YAML list (optional)
  mounts     more volume mounts, rendered as a YAML list (optional)
  checksum   a checksum of the pod's configuration (optional)
*/}}
{{- define "defrag.serviceDeployment" -}}
{{- $root := .root -}}
{{- $values := .values -}}
{{- $ref := dict "root" $root "component" .component -}}
{{- include "defrag.checkServiceShutdown" . -}}
{{- include "defrag.checkResources" (dict "path" (printf "%s.resources" .component) "resources" $values.resources) -}}
{{- $env := printf "%s\n- name: DEFRAG_DRAIN_SECONDS\n  value: %q\n%s" (include "defrag.pythonEnv" $root) (toString $values.shutdown.drainSeconds) (.env | trim) -}}
{{- $annotations := include "defrag.podAnnotations" (dict "root" $root "values" $values "port" $values.ports.metrics "path" "/metrics" "checksum" .checksum) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "defrag.componentName" $ref }}
  labels:
    {{- include "defrag.labels" $ref | nindent 4 }}
spec:
  {{- if not $values.autoscaling.enabled }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  # A new pod is ready before an old one stops, so a rollout never lowers capacity.
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "defrag.selectorLabels" $ref | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "defrag.labels" $ref | nindent 8 }}
      {{- with $annotations }}
      annotations:
        {{- . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "defrag.serviceAccountName" $root }}
      automountServiceAccountToken: false
      # Kubernetes would otherwise add variables such as <SERVICE>_PORT for
      # every Service in the namespace, next to the services' own settings.
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $values.shutdown.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "defrag.podSecurityContext" $root | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with include "defrag.topologySpread" $ref | trim }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- with include "defrag.scheduling" $values | trim }}
      {{- . | nindent 6 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "defrag.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: [{{ .command | quote }}]
          ports:
            - name: grpc
              containerPort: {{ $values.ports.grpc }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $values.ports.metrics }}
              protocol: TCP
            {{- range .ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
              protocol: TCP
            {{- end }}
          env:
            {{- include "defrag.containerEnv" (dict "component" .component "env" $env "extraEnv" $values.extraEnv) | nindent 12 }}
          # grpc.health.v1 on the service port, which opens once start-up
          # (the position engine's warm-up, for telemetry and orbit) is done.
          # Start-up may take 5 minutes on a slow node whose Numba cache must compile.
          startupProbe:
            grpc:
              port: {{ $values.ports.grpc }}
            periodSeconds: 2
            timeoutSeconds: 2
            failureThreshold: 150
          readinessProbe:
            grpc:
              port: {{ $values.ports.grpc }}
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 2
          livenessProbe:
            grpc:
              port: {{ $values.ports.grpc }}
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          {{- if gt (int $values.shutdown.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              sleep:
                seconds: {{ $values.shutdown.preStopSleepSeconds }}
          {{- end }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- include "defrag.containerSecurityContext" $root.Values.runAsUser | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .mounts }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $root.Values.tmpVolume.sizeLimit }}
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
{{- end -}}

{{/*
Headless Service of one component: its DNS name resolves to the ready
pods' addresses, so Envoy (STRICT_DNS) opens a connection to each pod and
balances calls across them, where a ClusterIP would pin each HTTP/2
connection to one pod. Call with (dict "root" $ "component" "gateway" "ports"
(list (dict "name" "grpc" "port" 50061))) and, for a second Service of the
same pods, "nameSuffix" "-metrics".
*/}}
{{- define "defrag.headlessService" -}}
{{- $ref := dict "root" .root "component" .component -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "defrag.componentName" $ref }}{{ .nameSuffix }}
  labels:
    {{- include "defrag.labels" $ref | nindent 4 }}
spec:
  clusterIP: None
  # Only ready pods are published, so a pod that is starting or stopping
  # gets no new connections.
  publishNotReadyAddresses: false
  selector:
    {{- include "defrag.selectorLabels" $ref | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
      {{- if eq .name "grpc" }}
      appProtocol: kubernetes.io/h2c
      {{- end }}
    {{- end }}
{{- end -}}

{{/* HorizontalPodAutoscaler on CPU for one component's Deployment. Call with (dict "root" $ "component" "gateway" "values" .Values.gateway). */}}
{{- define "defrag.autoscaler" -}}
{{- $ref := dict "root" .root "component" .component -}}
{{- if .values.autoscaling.enabled -}}
{{- if gt (int .values.autoscaling.minReplicas) (int .values.autoscaling.maxReplicas) -}}
{{- fail (printf "%s.autoscaling.minReplicas (%d) is above maxReplicas (%d): lower it or raise maxReplicas" .component (int .values.autoscaling.minReplicas) (int .values.autoscaling.maxReplicas)) -}}
{{- end }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "defrag.componentName" $ref }}
  labels:
    {{- include "defrag.labels" $ref | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "defrag.componentName" $ref }}
  minReplicas: {{ .values.autoscaling.minReplicas }}
  maxReplicas: {{ .values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .values.autoscaling.targetCPUUtilizationPercentage }}
{{- end -}}
{{- end -}}

{{/* PodDisruptionBudget of one component. Call with (dict "root" $ "component" "gateway" "values" .Values.gateway). */}}
{{- define "defrag.disruptionBudget" -}}
{{- $ref := dict "root" .root "component" .component -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "defrag.componentName" $ref }}
  labels:
    {{- include "defrag.labels" $ref | nindent 4 }}
spec:
  maxUnavailable: {{ .values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "defrag.selectorLabels" $ref | nindent 6 }}
{{- end -}}
