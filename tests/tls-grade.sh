#!/usr/bin/env bash
# Grades the gateway's HTTPS listener with testssl.sh (Debian package): fails on any HIGH or CRITICAL finding
# except those about the development PKI itself (its chain is not publicly trusted, it has no CRL/OCSP).
# Usage: tests/tls-grade.sh   (after a build; installs testssl.sh when it is missing)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
gateway="$root/src/AseGateway/bin/Debug/net10.0/AseGateway.dll"
[ -f "$gateway" ] || { echo "tls-grade: build the solution first ($gateway is missing)"; exit 1; }

if ! command -v testssl >/dev/null 2>&1; then
  echo "tls-grade: installing testssl.sh"
  (apt-get update -qq && apt-get install -y -qq testssl.sh >/dev/null) || { echo "tls-grade: FAILED: testssl.sh could not be installed"; exit 1; }
fi

work=$(mktemp -d)
trap 'if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || shuf -i 20000-40000 -n 1; }
https=$(free_port); mgmt=$(free_port)
cat > "$work/ase.json" <<JSON
{
  "name": "tls-grade", "dnsSuffix": "localhost",
  "frontEnd": {
    "listeners": [ { "name": "https", "address": "127.0.0.1", "port": $https, "protocol": "Https" } ],
    "tls": { "certificates": [ { "path": "$root/certs/dev/localhost.pfx", "passwordEnvironmentVariable": "TLS_GRADE_PFX_PASSWORD" } ] }
  },
  "workerPools": [ { "name": "WP1", "workerCount": 1 } ],
  "plans": [ { "name": "p", "workerPool": "WP1", "instanceCount": 1 } ],
  "apps": [ { "name": "hello", "plan": "p", "healthCheckPath": "/healthz", "hsts": { "maxAgeSeconds": 31536000 },
              "run": { "command": "dotnet", "args": [ "$root/src/AseGateway/bin/Debug/net10.0/AseGateway.SampleApp.dll" ] } } ],
  "management": { "address": "127.0.0.1", "port": $mgmt }
}
JSON

TLS_GRADE_PFX_PASSWORD=dev-password dotnet "$gateway" --config "$work/ase.json" > "$work/gateway.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$mgmt/healthz" >/dev/null 2>&1 && break
  sleep 0.3
done
curl -sf "http://127.0.0.1:$mgmt/healthz" >/dev/null 2>&1 || { echo "tls-grade: FAILED: the gateway did not start"; cat "$work/gateway.log"; exit 1; }

timeout 600 testssl --quiet --color 0 --warnings off --csvfile "$work/result.csv" --ip 127.0.0.1 "https://localhost:$https" > "$work/testssl.txt" 2>&1
# "id","fqdn/ip","port","severity","finding",...: HIGH/CRITICAL rows not about the dev certificate.
problems=$(awk -F'","' '($4 == "HIGH" || $4 == "CRITICAL") && $1 !~ /^"cert_/ { print $1 "\": " $5 }' "$work/result.csv")
accepted=$(awk -F'","' '($4 == "HIGH" || $4 == "CRITICAL") && $1 ~ /^"cert_/ { printf "%s ", substr($1, 2) }' "$work/result.csv")
grep -E "^ (SSLv2|SSLv3|TLS 1(\.[0-3])?) |ALPN|Obsolete CBC" "$work/testssl.txt"
echo "tls-grade: development-PKI findings accepted: ${accepted:-none}"
checked=$(awk -F'","' 'NR > 1 { n++ } END { print n + 0 }' "$work/result.csv")
row() { [ -n "${ASEGATEWAY_RELIABILITY_REPORT:-}" ] && echo "$1  TLS (testssl.sh): $2" >> "$ASEGATEWAY_RELIABILITY_REPORT"; return 0; }
if [ -n "$problems" ]; then
  row FAIL "$checked findings checked; HIGH/CRITICAL: $(echo "$problems" | wc -l)"
  echo "tls-grade: FAILED:"; echo "$problems"; exit 1
fi
accepted=${accepted% }
row PASS "$checked findings checked, no HIGH or CRITICAL apart from the development PKI (${accepted:-none})"
echo "tls-grade: no HIGH or CRITICAL finding"
