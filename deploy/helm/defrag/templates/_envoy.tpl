{{/*
The Envoy configuration: files/envoy/envoy.yaml.tmpl, the template that
`make run` renders with defrag/envoyconf.py, with the same ${name}
placeholders filled here.

Differences from `make run`, all in placeholder values: listeners on
0.0.0.0 (the admin port stays on 127.0.0.1), each gRPC service found by the
DNS name of its headless Service (STRICT_DNS) instead of STATIC addresses,
the descriptor set at envoy.descriptorPath, and an optional TLS transport
socket. The Lua source, the limits, the lists of services and Envoy's own
gRPC error replies come from files that defrag/envoyconf.py writes into
files/envoy/ (edge_schema.lua, edge_constants.json), so both renderings
share them.
*/}}

{{/* Where the pod mounts the configuration and the TLS Secret. */}}
{{- define "defrag.envoyConfigDir" -}}/etc/defrag/envoy{{- end -}}
{{- define "defrag.envoyTlsDir" -}}/etc/defrag/tls{{- end -}}

{{/* One lb_endpoints entry, in the form of envoyconf.endpoints_yaml. Call with (dict "host" "..." "port" 50061). */}}
{{- define "defrag.envoyEndpoint" -}}
{{- printf "        - endpoint: { address: { socket_address: { address: %s, port_value: %d } } }" .host (int .port) -}}
{{- end -}}

{{/*
TLS for the public listener: the certificate comes through a file-based
SDS resource (tls-sds.yaml in the ConfigMap) that watches the mounted
Secret's directory, so Envoy reloads a renewed certificate without a restart.
*/}}
{{- define "defrag.envoyTransportSocket" -}}
{{- if .Values.envoy.tls.enabled }}
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            alpn_protocols: ["h2", "http/1.1"]
            tls_params:
              tls_minimum_protocol_version: TLSv1_2
            tls_certificate_sds_secret_configs:
            - name: public_tls
              sds_config:
                resource_api_version: V3
                path_config_source:
                  path: {{ include "defrag.envoyConfigDir" . }}/tls-sds.yaml
                  watched_directory: { path: {{ include "defrag.envoyConfigDir" . }} }
{{- end -}}
{{- end -}}

{{/* The SDS resource that tls-sds.yaml holds: the certificate and key of the mounted kubernetes.io/tls Secret. */}}
{{- define "defrag.envoyTlsSds" -}}
resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: public_tls
  tls_certificate:
    certificate_chain: { filename: {{ include "defrag.envoyTlsDir" . }}/tls.crt }
    private_key: { filename: {{ include "defrag.envoyTlsDir" . }}/tls.key }
    # Kubernetes swaps a Secret volume's files through a symlink in this
    # directory, and a move there makes Envoy read both files again.
    watched_directory: { path: {{ include "defrag.envoyTlsDir" . }} }
{{- end -}}

{{/* The rendered envoy.yaml. */}}
{{- define "defrag.envoyConfig" -}}
{{- $envoy := .Values.envoy -}}
{{- $constants := .Files.Get "files/envoy/edge_constants.json" | fromJson -}}
{{- $placeholders := dict
  "node_id" (include "defrag.componentName" (dict "root" . "component" "envoy"))
  "max_connections" (printf "%d" (int $envoy.maxConnections))
  "max_heap_bytes" (printf "%d" (mul (int $envoy.maxHeapMiB) 1048576))
  "listen_host" "0.0.0.0"
  "listen_port" (printf "%d" (int $envoy.ports.public))
  "admin_host" "127.0.0.1"
  "admin_port" (printf "%d" (int $envoy.ports.admin))
  "stats_host" "0.0.0.0"
  "stats_port" (printf "%d" (int $envoy.ports.stats))
  "authz_timeout" $constants.authz_timeout
  "upstream_timeout" $constants.upstream_timeout
  "max_request_bytes" (printf "%d" (int $constants.max_request_bytes))
  "descriptor_path" $envoy.descriptorPath
  "transcoded_services" (toJson $constants.transcoded_services)
  "ignored_query_parameters" (toJson $constants.ignored_query_parameters)
  "public_transport_socket" (include "defrag.envoyTransportSocket" . | trimPrefix "\n")
-}}
{{- range $component := list "gateway" "telemetry" "seda" "orbit" "billing" }}
{{- $host := include "defrag.serviceHost" (dict "root" $ "component" $component) }}
{{- $_ := set $placeholders (printf "%s_discovery" $component) "STRICT_DNS" }}
{{- $_ := set $placeholders (printf "%s_endpoints" $component) (include "defrag.envoyEndpoint" (dict "host" $host "port" (index $.Values $component).ports.grpc)) }}
{{- end }}
{{- range $name, $value := $constants.grpc_local_replies }}
{{- $_ := set $placeholders $name $value }}
{{- end }}
{{- $config := .Files.Get "files/envoy/envoy.yaml.tmpl" -}}
{{- range $name, $value := $placeholders }}
{{- $config = replace (printf "${%s}" $name) $value $config }}
{{- end }}
{{- /* The Lua source goes in last, so that nothing in it is taken for a placeholder. */ -}}
{{- $left := without (regexFindAll "\\$\\{[a-z_]+\\}" $config -1 | uniq) "${strict_json_source}" -}}
{{- if $left -}}
{{- fail (printf "files/envoy/envoy.yaml.tmpl has placeholders that templates/_envoy.tpl does not fill: %s. Add them to defrag.envoyConfig" (join ", " $left)) -}}
{{- end -}}
{{- $lua := printf "%s%s" (.Files.Get "files/envoy/edge_schema.lua") (.Files.Get "files/envoy/strict_json.lua") -}}
{{- /* A JSON string is also a YAML double-quoted scalar, as in envoyconf.render. */ -}}
{{- replace "${strict_json_source}" (toJson $lua) $config -}}
{{- end -}}
