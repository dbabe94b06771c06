#!/usr/bin/env bash
# OWASP CRS v4 at paranoia level 1 on AseGateway's .NET engine versus nginx + libmodsecurity3, side by side.
#
#   perf/crs-compare.sh            default run (about 4 minutes on 2 cores)
#   options: --rounds N (3)  --duration SECONDS (15)  --warmup SECONDS (5)  --connections N (32)  --no-build
#            --rules DIR (CRS v4 rules; default /work/shared/waf-corpora/crs-v4-rules)
#
# Both proxies sit in front of the same backend (perf/AseGateway.PerfBackend) with the same CRS v4 rules, engine On,
# request bodies inspected, PL1, anomaly scoring with blocking at the default inbound threshold (5):
#   nginx       libnginx-mod-http-modsecurity (Debian), modsecurity.conf with SecRuleEngine On and
#               SecRequestBodyAccess On (the recommended JSON/XML body processor rules), crs-setup.conf.example, rules/*.conf;
#               a worker per core, upstream keep-alive; audit log off.
#   AseGateway  a policy in Prevention with the managed rule set OWASP 4.x (rulesPath, paranoiaLevel 1).
# Both run as children of this script (nginx with a temporary config, never the system service).
#
# First every request of the mix is sent once to each: the clean ones must get 200 and the attacks 403 from both,
# else the script stops. Then wrk (fixed connections, one Lua script) replays the mix - a simple GET, a urlencoded
# form POST of ten fields, a 1 KB JSON POST, and one attack in every ten requests - against each target: a discarded
# warm-up, then rounds whose order alternates. Per target: requests/s, CPU µs per request of the proxy's process
# tree (utime+stime from /proc over the measured run / requests served), and the median of the per-round throughput
# ratios AseGateway / nginx.
set -euo pipefail
export LC_ALL=C DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS=3 DURATION=15 WARMUP=5 CONNECTIONS=32 THREADS=2 BUILD=1 RULES=/work/shared/waf-corpora/crs-v4-rules
HOST_HEADER="shop.perf.test"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --connections) CONNECTIONS="$2"; shift ;;
    --rules) RULES="$2"; shift ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

RULES="$(cd "$RULES" 2>/dev/null && pwd)" || die "CRS v4 rules not found (--rules DIR; default /work/shared/waf-corpora/crs-v4-rules)"
RULE_DIR="$RULES"; [ -d "$RULES/rules" ] && RULE_DIR="$RULES/rules"
ls "$RULE_DIR"/REQUEST-9*.conf >/dev/null 2>&1 || die "no REQUEST-9*.conf in $RULE_DIR: not a CRS v4 rules directory"
SETUP=""
for candidate in "$RULES/crs-setup.conf" "$RULE_DIR/crs-setup.conf" "$RULES/crs-setup.conf.example" "$RULE_DIR/crs-setup.conf.example"; do
  [ -f "$candidate" ] && { SETUP="$candidate"; break; }
done
[ -n "$SETUP" ] || die "no crs-setup.conf(.example) beside $RULE_DIR"

WORK="$(mktemp -d /tmp/crs-compare.XXXXXX)"
chmod 755 "$WORK" # nginx workers run as nobody when the script runs as root
CLK_TCK="$(getconf CLK_TCK)"
STARTED_PIDS=()
cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${STARTED_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------- tools, build
export PATH="$PATH:/usr/sbin"
MODULE=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null || ! command -v curl >/dev/null || [ ! -f "$MODULE" ]; then
  log "installing nginx, libnginx-mod-http-modsecurity, wrk, curl"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nginx libnginx-mod-http-modsecurity wrk curl >/dev/null
fi
if [ "$BUILD" = 1 ]; then
  log "building in Release"
  for project in src/AseGateway perf/AseGateway.PerfBackend; do
    dotnet build "$REPO/$project" -c Release -nologo -v q -clp:NoSummary > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "build of $project failed"; }
  done
fi

# ------------------------------------------------------------------------------------------------------ processes
# free_port, and the backend's environment as compare.sh runs it (inline socket completions).
source "$REPO/perf/gateway-config.sh"
start() { # start NAME COMMAND...: in the background, output in $WORK/NAME.log, sets STARTED_PID
  local name="$1"; shift
  "$@" > "$WORK/$name.log" 2>&1 &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
}
wait_http() { # wait_http URL: until it answers 200 (120 s: the gateway compiles CRS at start)
  for _ in $(seq 1 1200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST_HEADER" --max-time 2 "$1" 2>/dev/null)" = 200 ] && return 0
    sleep 0.1
  done
  die "$1 did not answer 200 within 120 s (logs in $WORK)"
}
cpu_ticks() { # user+system ticks of a process and its children (nginx workers); comm may hold spaces
  local pids
  pids="$1 $(cat /proc/"$1"/task/*/children 2>/dev/null)"
  for pid in $pids; do cat "/proc/$pid/stat" 2>/dev/null; done | sed 's/^.*) //' | awk '{ sum += $12 + $13 } END { print sum + 0 }'
}

BACKEND_PORT="$(free_port)"
start backend env $(perf_backend_env) dotnet "$REPO/perf/AseGateway.PerfBackend/bin/Release/net10.0/AseGateway.PerfBackend.dll"
BACKEND_PID=$STARTED_PID
wait_http "http://127.0.0.1:$BACKEND_PORT/"

# nginx + ModSecurity: modsecurity.conf as recommended upstream (engine On, bodies inspected), then CRS.
NGINX_PORT="$(free_port)"
mkdir -p "$WORK/nginx/tmp" "$WORK/modsec"
chmod 777 "$WORK/modsec"
{
  cat <<EOF
SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.'"
SecPcreMatchLimit 100000
SecPcreMatchLimitRecursion 100000
SecResponseBodyAccess Off
SecTmpDir $WORK/modsec
SecDataDir $WORK/modsec
SecAuditEngine Off
SecArgumentSeparator &
SecCookieFormat 0
SecStatusEngine Off
Include $SETUP
EOF
  for file in "$RULE_DIR"/*.conf; do echo "Include $file"; done
} > "$WORK/modsecurity.conf"
cat > "$WORK/nginx/nginx.conf" <<EOF
load_module $MODULE;
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx/tmp/body; proxy_temp_path $WORK/nginx/tmp/proxy; fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi; scgi_temp_path $WORK/nginx/tmp/scgi;
  client_body_buffer_size 128k;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport;
    modsecurity on;
    modsecurity_rules_file $WORK/modsecurity.conf;
    # Upstream keep-alive (HTTP/1.1, no Connection header) and the forwarding headers the gateway adds.
    location / {
      proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
EOF
nginx -t -c "$WORK/nginx/nginx.conf" > "$WORK/nginx-test.log" 2>&1 || { cat "$WORK/nginx-test.log" >&2; die "nginx rejects the ModSecurity/CRS configuration"; }
start nginx nginx -c "$WORK/nginx/nginx.conf"
NGINX_PID=$STARTED_PID

# AseGateway: the same rules as a managed rule set, Prevention, PL1.
GATEWAY_PORT="$(free_port)" MGMT_PORT="$(free_port)"
cat > "$WORK/gateway.json" <<EOF
{
  "name": "crs-compare",
  "dnsSuffix": "perf.internal",
  "frontEnd": { "listeners": [ { "name": "http", "address": "127.0.0.1", "port": $GATEWAY_PORT, "protocol": "Http" } ],
                "limits": { "maxConnectionsPerClient": 10000 } },
  "wafPolicies": [ { "name": "crs", "policySettings": { "mode": "Prevention" },
    "managedRules": { "managedRuleSets": [ { "ruleSetType": "OWASP", "ruleSetVersion": "4.x", "rulesPath": "$RULES", "paranoiaLevel": 1 } ] } } ],
  "defaultWafPolicy": "crs",
  "workerPools": [ { "name": "WP1", "workerSize": "Small", "workerCount": 1, "workers": [ { "address": "http://127.0.0.1:$BACKEND_PORT" } ] } ],
  "plans": [ { "name": "plan", "workerPool": "WP1", "instanceCount": 1 } ],
  "apps": [ { "name": "shop", "plan": "plan", "hostNames": [ "$HOST_HEADER" ] } ],
  "management": { "address": "127.0.0.1", "port": $MGMT_PORT }
}
EOF
start gateway dotnet "$REPO/src/AseGateway/bin/Release/net10.0/AseGateway.dll" --config "$WORK/gateway.json"
GATEWAY_PID=$STARTED_PID
wait_http "http://127.0.0.1:$NGINX_PORT/"
wait_http "http://127.0.0.1:$GATEWAY_PORT/"

# ---------------------------------------------------------------------------------------------------- request mix
UA="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"
ACCEPT="text/html,application/xhtml+xml,application/json"
COOKIE="session=3f2a9c; theme=dark"
FORM="first_name=Alice&last_name=Martin&email=alice%40contoso.com&phone=%2B33+6+12+34+56+78&street=12+rue+de+la+Paix&city=Paris&zip=75002&country=FR&newsletter=on&comment=Please+deliver+after+6pm%2C+thanks%21"
ITEMS=""
for i in 0 1 2 3 4 5; do
  ITEMS="$ITEMS${ITEMS:+,}{\"sku\":\"SKU-000$i\",\"name\":\"Trail running shoe model $i\",\"qty\":$((i % 3 + 1)),\"price\":$((60 + i)).90,\"tags\":[\"outdoor\",\"sale\"]}"
done
JSON="{\"order\":{\"id\":4711,\"currency\":\"EUR\",\"items\":[$ITEMS],\"shipping\":{\"name\":\"Alice Martin\",\"street\":\"12 rue de la Paix\",\"city\":\"Paris\",\"zip\":\"75002\",\"country\":\"FR\"},\"note\":\"Leave the parcel at the door, please.\"},\"customer\":{\"id\":\"c-20931\",\"email\":\"alice@contoso.com\"}}"
# name|method|path|content type|body|expected status
MIX=(
  "get|GET|/api/products?category=shoes&page=2&sort=price|||200"
  "form|POST|/account/address|application/x-www-form-urlencoded|$FORM|200"
  "json|POST|/api/orders|application/json|$JSON|200"
  "xss|GET|/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E|||403"
  "sqli|GET|/products?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--|||403"
  "lfi|GET|/download?file=../../../../etc/passwd|||403"
  "rce|POST|/api/ping|application/x-www-form-urlencoded|host=127.0.0.1%3Bcat%20/etc/passwd|403"
)

check_mix() { # every request once to a target: the status must be the expected one
  local url="$1" who="$2" entry name method path type body expected status failures=0
  for entry in "${MIX[@]}"; do
    IFS='|' read -r name method path type body expected <<< "$entry"
    if [ -n "$type" ]; then
      status="$(curl -s -o /dev/null -w '%{http_code}' -X "$method" -H "Host: $HOST_HEADER" -A "$UA" -H "Accept: $ACCEPT" -b "$COOKIE" -H "Content-Type: $type" --data-binary "$body" "$url$path")"
    else
      status="$(curl -s -o /dev/null -w '%{http_code}' -X "$method" -H "Host: $HOST_HEADER" -A "$UA" -H "Accept: $ACCEPT" -b "$COOKIE" "$url$path")"
    fi
    printf '  %-10s %-5s %-4s -> %s\n' "$who" "$name" "$method" "$status" >&2
    [ "$status" = "$expected" ] || { log "$who answered $status to '$name', expected $expected"; failures=1; }
  done
  return "$failures"
}
log "checking that both pass the clean requests (200) and block the attacks (403)"
MISMATCH=0
check_mix "http://127.0.0.1:$NGINX_PORT" nginx || MISMATCH=1
check_mix "http://127.0.0.1:$GATEWAY_PORT" asegateway || MISMATCH=1
[ "$MISMATCH" = 0 ] || die "the two WAFs do not give the expected verdicts: the comparison would not be of the same work"

# wrk replays the mix: clean shapes in turn, one attack in every ten requests.
lua_string() { local s="${1//\\/\\\\}"; s="${s//\"/\\\"}"; printf '"%s"' "$s"; }
{
  echo "local common = { [\"Host\"] = $(lua_string "$HOST_HEADER"), [\"User-Agent\"] = $(lua_string "$UA"), [\"Accept\"] = $(lua_string "$ACCEPT"), [\"Cookie\"] = $(lua_string "$COOKIE") }"
  echo "local function req(method, path, ctype, body)"
  echo "  local h = {} for k, v in pairs(common) do h[k] = v end"
  echo "  if ctype ~= \"\" then h[\"Content-Type\"] = ctype end"
  echo "  return wrk.format(method, path, h, body ~= \"\" and body or nil)"
  echo "end"
  echo "local clean, attacks = {}, {}"
  for entry in "${MIX[@]}"; do
    IFS='|' read -r name method path type body expected <<< "$entry"
    list=clean; [ "$expected" = 403 ] && list=attacks
    echo "table.insert($list, req($(lua_string "$method"), $(lua_string "$path"), $(lua_string "$type"), $(lua_string "$body")))"
  done
  cat <<'EOF'
local n = 0
request = function()
  n = n + 1
  if n % 10 == 0 then return attacks[(n / 10) % #attacks + 1] end
  return clean[n % #clean + 1]
end
EOF
} > "$WORK/mix.lua"

# ------------------------------------------------------------------------------------------------------- rounds
# run_wrk NAME URL PID SECONDS -> "rps cpu_us_per_request non2xx"
run_wrk() {
  local out="$WORK/wrk-$1.txt" before after requests seconds non2xx
  before="$(cpu_ticks "$3")"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${4}s" -s "$WORK/mix.lua" "$2" > "$out" 2>&1 || true
  after="$(cpu_ticks "$3")"
  requests="$(awk '/requests in/ { print $1 }' "$out")"
  seconds="$(awk '/requests in/ { sub(/s,$/, "", $4); print $4 }' "$out")"
  non2xx="$(awk '/Non-2xx/ { print $NF }' "$out")"
  [ -n "$requests" ] && [ "$requests" -gt 0 ] || { cat "$out" >&2; die "wrk against $1 served nothing"; }
  awk -v r="$requests" -v s="$seconds" -v t=$((after - before)) -v hz="$CLK_TCK" -v n="${non2xx:-0}" \
    'BEGIN { printf "%.0f %.1f %d %d\n", r / s, t / hz * 1e6 / r, n, r }'
}

log "warm-up: ${WARMUP}s each (discarded)"
run_wrk warmup-nginx "http://127.0.0.1:$NGINX_PORT" "$NGINX_PID" "$WARMUP" > /dev/null
run_wrk warmup-gateway "http://127.0.0.1:$GATEWAY_PORT" "$GATEWAY_PID" "$WARMUP" > /dev/null

declare -a RATIOS NGINX_RPS GATEWAY_RPS NGINX_CPU GATEWAY_CPU
printf '\n%-6s %-11s %10s %12s %10s %10s\n' round target "req/s" "CPU µs/req" "non-2xx" requests
for round in $(seq 1 "$ROUNDS"); do
  order="nginx gateway"; [ $((round % 2)) = 0 ] && order="gateway nginx"
  for target in $order; do
    if [ "$target" = nginx ]; then
      read -r rps cpu non2xx requests < <(run_wrk "nginx-$round" "http://127.0.0.1:$NGINX_PORT" "$NGINX_PID" "$DURATION")
      NGINX_RPS+=("$rps"); NGINX_CPU+=("$cpu")
    else
      read -r rps cpu non2xx requests < <(run_wrk "gateway-$round" "http://127.0.0.1:$GATEWAY_PORT" "$GATEWAY_PID" "$DURATION")
      GATEWAY_RPS+=("$rps"); GATEWAY_CPU+=("$cpu")
    fi
    printf '%-6s %-11s %10s %12s %10s %10s\n' "$round" "$target" "$rps" "$cpu" "$non2xx" "$requests"
  done
  RATIOS+=("$(awk -v a="${GATEWAY_RPS[-1]}" -v b="${NGINX_RPS[-1]}" 'BEGIN { printf "%.3f", a / b }')")
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '\nmedians over %d rounds of %ss, wrk -t%d -c%d, mix: GET / form POST / 1 KB JSON POST, 1 in 10 an attack (403)\n' "$ROUNDS" "$DURATION" "$THREADS" "$CONNECTIONS"
printf '%-34s %10s %12s\n' target "req/s" "CPU µs/req"
printf '%-34s %10s %12s\n' "nginx + libmodsecurity3 + CRS v4" "$(median "${NGINX_RPS[@]}")" "$(median "${NGINX_CPU[@]}")"
printf '%-34s %10s %12s\n' "AseGateway + .NET CRS v4" "$(median "${GATEWAY_RPS[@]}")" "$(median "${GATEWAY_CPU[@]}")"
printf 'throughput ratio AseGateway / nginx (median of per-round ratios): %s\n' "$(median "${RATIOS[@]}")"
