#!/usr/bin/env bash
# Calls the defrag REST API with curl: telemetry, a SEDA audit, an orbit map, usage, and a call without a key.
#
#   DEFRAG_API_KEY=sk_live_... bash docs/examples/curl.sh
#
# DEFRAG_URL is the public listener, http://127.0.0.1:8080 by default.
set -euo pipefail

url="${DEFRAG_URL:-http://127.0.0.1:8080}"
key="${DEFRAG_API_KEY:?set DEFRAG_API_KEY to an API key, e.g. from: .venv/bin/defrag keys create --account acct_demo --tier pro}"

echo "== GET /v1/telemetry/vectors (Los Angeles, 1990-01-15 14:30 local time)"
# --include shows the RateLimit headers. --fail-with-body exits non-zero on an
# HTTP error but still prints the JSON error body.
curl --silent --show-error --include --fail-with-body \
  -H "Authorization: Bearer $key" \
  "$url/v1/telemetry/vectors?date=1990-01-15&time=14:30&lat=34.05&lon=-118.24"
echo

echo "== POST /v1/seda/audit (a calm journal text, en-US)"
# The key needs the pro or enterprise tier; a free key gets 403.
curl --silent --show-error --fail-with-body \
  -H "Authorization: Bearer $key" \
  -H "Content-Type: application/json" \
  --data '{"journal_text": "A quiet week: long walks, early nights and lunch with an old friend.", "locale": "en-US", "context": "horoscope"}' \
  "$url/v1/seda/audit"
echo

echo "== POST /v1/orbit/map (a parent and a child, the child's birth time unknown; costs 1 call)"
curl --silent --show-error --fail-with-body \
  -H "Authorization: Bearer $key" \
  -H "Content-Type: application/json" \
  --data '{"people": [
    {"name": "Ana", "role": "parent", "birth_data": {"date": "1980-03-02", "time": "08:15", "lat": 51.5, "lon": -0.12}},
    {"name": "Ben", "role": "child", "birth_data": {"date": "2012-07-19", "lat": 51.5, "lon": -0.12}}]}' \
  "$url/v1/orbit/map"
echo

echo "== GET /v1/usage"
curl --silent --show-error --fail-with-body \
  -H "Authorization: Bearer $key" \
  "$url/v1/usage"
echo

echo "== GET /v1/usage without a key (expect 401 API_KEY_MISSING)"
# No --fail here: the 401 is the expected response. --write-out appends the
# status on a line of its own so the script can check it.
response="$(curl --silent --show-error --write-out '\n%{http_code}' "$url/v1/usage")"
status="${response##*$'\n'}"
echo "${response%$'\n'*}"
echo "HTTP status $status"
if [[ "$status" != 401 ]]; then
  echo "curl.sh: expected HTTP status 401 for a call without a key, got $status" >&2
  exit 1
fi
