#!/usr/bin/env bash
# AseGateway side by side with nginx, HAProxy and plain YARP on this machine, then NBomber-shaped load scenarios.
#
#   perf/compare.sh            default run (about 14 minutes on 2 cores; 17 with --aot)
#   perf/compare.sh --quick    3 to 4 minutes, for development (fewer, shorter rounds; numbers are rough)
#   options: --rounds N  --duration SECONDS  --warmup SECONDS  --warmup-runs N  --rates R1,R2,...  --scale-cycles N
#            --no-scenarios  --scenarios-only  --no-build  --out DIR (default perf/results/default or perf/results/quick)
#            --only REGEX         only the cases whose "target:protocol" matches, e.g. '^(ase-bare|yarp|nginx):h1$'
#            --path PATH          the path every throughput case requests (default /): the backend answers /bytes/N
#                                 with N bytes, e.g. --path /bytes/16384 for a 16 KiB response
#            --post-bytes N       POST an N-byte body instead of GET (wrk and h2load); with --path, to that path
#            --chunked            with --post-bytes, wrk sends that body as one chunk without Content-Length (as
#                                 PostAsJsonAsync does); h2load's requests keep their length
#            --browser-headers    send the 14 header fields (860 bytes) Chrome sends with a page request, cookies
#                                 among them, with every request (wrk and h2load): BROWSER_HEADERS in gateway-config.sh
#            --access-log         ase-full (and ase-full-aot) also write a W3C access log to a file; nginx and HAProxy
#                                 still log nothing, so the comparison is no longer of equal configurations
#            --gateway-env "K=V"  extra environment for the AseGateway processes only (e.g. DOTNET_gcServer=1), to
#                                 measure a runtime setting before putting it in the csproj
#            --handshakes         also HTTP/1.1 over TLS with a new connection per request (wrk, "Connection: close",
#                                 no session resumption): a full TLS handshake per request, protocol "tls". Implied when
#                                 --only selects a :tls case.
#            --aot                also the gateway published as Native AOT (targets ase-bare-aot, ase-full-aot, beside
#                                 the JIT-compiled ase-bare and ase-full); the build step publishes it (a few minutes
#                                 more). Implied when --only selects an -aot target.
#            --profile            also a `perf record -g` of each measured run (not the warm-ups), attributed to layers
#                                 by perf/profile-layers.py: profile-TARGET-PROTOCOL-rROUND.txt in the out folder. The
#                                 .NET processes then run with DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0
#                                 so that perf can name JIT-compiled code, and perf's sampling costs the measured
#                                 processes a little: take the profile's split, not its run's figures. E.g.
#                                 perf/compare.sh --profile --no-scenarios --rounds 1 --only '^ase-full:h1$'
#            --syscalls           also count, with `perf stat`, the system calls and context switches of each measured
#                                 run's proxy processes, per request: syscalls-TARGET-PROTOCOL-rROUND.txt in the out
#                                 folder and a line in the log. Counting tracepoints costs little, but take the
#                                 counts, not that run's figures. E.g. how many recv/send/epoll_wait calls a request
#                                 costs in AseGateway against nginx:
#                                 perf/compare.sh --syscalls --no-scenarios --rounds 1 --only '^(ase-full|nginx):h1$'
#
# What it does: installs what is missing (wrk, nghttp2-client, hey, nginx, haproxy, gnuplot-nox, jq, curl) from Debian
# packages; builds in Release; starts the backend (perf/AseGateway.PerfBackend: 13-byte plaintext; one process on two
# ports) and every target on loopback with free ports (among them "floor", HTTP/1.1 only: perf/AseGateway.ForwardingFloor,
# the gateway's event loops and worker connection pool behind a minimal HTTP/1.1 front, what forwarding on them costs
# without Kestrel's HTTP layer and the pipelines above it; "floor-context", when --only names it, the same with the
# heads through an HttpContext, header dictionaries and a chain of middleware), all as children of this script (nginx and HAProxy too, with
# configs in a temporary folder — never the system services); then drives every (target, protocol) case as a discarded
# warm-up (runs of --warmup seconds until CPU per request settles and, in .NET targets, the JIT is nearly idle, at most
# --warmup-runs) and then in rounds whose order
# rotates, so that drift on a shared machine hits every target alike and ratios are paired within a round.
# Protocols: HTTP/1.1 keep-alive (wrk, 64 connections), h2c and HTTP/2 over TLS
# (h2load) where the target speaks them; with --handshakes also "tls" (above), whose "requests" are connections.
#
# Per case: requests/s, p50/p99 latency, CPU µs per request of the proxy's processes (utime+stime from /proc over the
# measured run, divided by the requests it served), the backend's and the rest of the machine's (from /proc/stat: nearly
# all of it the load generator) CPU per request beside it, the machine's idle and stolen time, peak RSS (VmHWM) and RSS
# after the warm-up, and the medians over rounds of the per-round ratios to nginx and to plain YARP. The three CPU
# figures together give requests per second on a saturated machine: 2 cores / (proxy + backend + rest) µs.
#
# Scenarios (AseGateway with the full feature set unless said otherwise):
#   open model   a constant request rate (hey -q) at several rates: latency percentiles, every non-2xx and
#                every socket error (also for nginx and plain YARP, for reference);
#   reloads      100 configuration changes (apps added and removed, WAF rules edited) applied during load;
#   scale        a process-instance plan scaled out and in through the management API during load.
# The two operations scenarios must end with zero failed requests: otherwise the script exits 1.
#
# Output: a table on stdout; results.json, results.md, rps.png and the raw runs (runs.jsonl, logs) in the out folder.
set -euo pipefail
export LC_ALL=C DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The command as a reader repeats it: --out only says where the results go.
COMMAND_LINE="perf/compare.sh" skip_next=0
for arg in "$@"; do
  if [ "$skip_next" = 1 ]; then skip_next=0; continue; fi
  if [ "$arg" = --out ]; then skip_next=1; continue; fi
  COMMAND_LINE="$COMMAND_LINE $arg"
done
ONLY="" REQUEST_PATH="/" POST_BYTES=0 CHUNKED=0 BROWSER=0 ACCESS_LOG=0 GATEWAY_ENV="" AOT=0 HANDSHAKES=0 PROFILE=0 SYSCALLS=0 MODE=default ROUNDS=3 DURATION=9 WARMUP=3 WARMUP_RUNS=6 RATES="2000,5000,10000" SCALE_CYCLES=3 SCENARIOS=1 BUILD=1 OUT=""
OPEN_DURATION=10 RELOADS=100 RELOAD_LOAD_RPS=3000
WRK_CONNECTIONS=64 WRK_THREADS=2 H2_CONNECTIONS=16 H2_STREAMS=8 H2_THREADS=2
HOST_HEADER="bench.perf.test" API_KEY="perf-$RANDOM$RANDOM"

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ROUNDS=2 DURATION=3 WARMUP=2 WARMUP_RUNS=4 RATES="2000,6000" SCALE_CYCLES=1 OPEN_DURATION=4 ;;
    --rounds) ROUNDS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --warmup-runs) WARMUP_RUNS="$2"; shift ;;
    --rates) RATES="$2"; shift ;;
    --scale-cycles) SCALE_CYCLES="$2"; shift ;;
    --no-scenarios) SCENARIOS=0 ;;
    --scenarios-only) SCENARIOS=2 ;;
    --only) ONLY="$2"; shift ;;
    --path) REQUEST_PATH="$2"; shift ;;
    --post-bytes) POST_BYTES="$2"; shift ;;
    --chunked) CHUNKED=1 ;;
    --browser-headers) BROWSER=1 ;;
    --access-log) ACCESS_LOG=1 ;;
    --gateway-env) GATEWAY_ENV="$2"; shift ;;
    --aot) AOT=1 ;;
    --profile) PROFILE=1 ;;
    --syscalls) SYSCALLS=1 ;;
    --handshakes) HANDSHAKES=1 ;;
    --no-build) BUILD=0 ;;
    --out) OUT="$2"; shift ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { print; next } { exit }' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
# --only naming an AOT target asks for the AOT build too.
for protocol in h1 h2c h2tls tls; do
  [[ "ase-bare-aot:$protocol" =~ $ONLY || "ase-full-aot:$protocol" =~ $ONLY ]] && [ -n "$ONLY" ] && AOT=1
done
# --only naming a handshake case, of any target, asks for those cases too.
for target in ase-bare ase-full yarp nginx haproxy ase-bare-aot ase-full-aot; do
  [ -n "$ONLY" ] && [[ "$target:tls" =~ $ONLY ]] && HANDSHAKES=1
done
# perf names JIT-compiled code from /tmp/perf-PID.map, and only in anonymous memory: not in W^X's double mapping.
PROFILE_ENV=""
[ "$PROFILE" = 1 ] && PROFILE_ENV="DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0"
OUT="${OUT:-$REPO/perf/results/$MODE}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d /tmp/asegateway-perf.XXXXXX)"
chmod 755 "$WORK" # nginx workers run as nobody when the script runs as root
# The gateways' configuration files in a folder of their own, as /etc/asegateway would be: each gateway watches its
# file's folder, and WORK gets a line per request from h2load's --log-file.
CONFIG_DIR="$WORK/etc"
mkdir -p "$CONFIG_DIR"
RUNS="$OUT/runs.jsonl"
: > "$RUNS"
# Scenario results of an earlier run into the same folder must not be reported as this run's.
rm -f "$OUT"/scenario-*.json "$OUT/open-model.jsonl"
CLK_TCK="$(getconf CLK_TCK)"
REQUEST_LINE="GET $REQUEST_PATH"
[ "$POST_BYTES" -gt 0 ] && REQUEST_LINE="POST $REQUEST_PATH with a $POST_BYTES-byte body$( [ "$CHUNKED" = 1 ] && echo " (chunked over HTTP/1.1)")"
[ "$BROWSER" = 1 ] && REQUEST_LINE="$REQUEST_LINE with a browser's 14 request header fields (860 bytes)"
STARTED_PIDS=()
SCENARIO_FAILURES=0

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${STARTED_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${STARTED_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  cp "$WORK"/*.log "$OUT/" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------------- tools
ensure_tools() {
  local missing=() pair tools="wrk:wrk h2load:nghttp2-client hey:hey nginx:nginx haproxy:haproxy gnuplot:gnuplot-nox jq:jq curl:curl"
  [ "$PROFILE" = 1 ] && tools="$tools perf:linux-perf python3:python3"
  [ "$SYSCALLS" = 1 ] && tools="$tools perf:linux-perf"
  for pair in $tools; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Others may hold the dpkg lock (shared machines): wait for it rather than fail.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (global.json) is needed"
  export PATH="$PATH:/usr/sbin"
}

# ------------------------------------------------------------------------------------------------------ processes
# gateway_config, api_key_sha256 and free_port, shared with ab.sh (ase-bare's and ase-full's configuration).
source "$REPO/perf/gateway-config.sh"

# start NAME COMMAND...: runs it in the background, output in $WORK/NAME.log; sets STARTED_PID.
start() {
  local name="$1"; shift
  "$@" > "$WORK/$name.log" 2>&1 &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
}

# wait_http URL [HOST]: until it answers 200 (30 s).
wait_http() {
  local url="$1" host="${2:-$HOST_HEADER}"
  for _ in $(seq 1 300); do
    [ "$(curl -sk -o /dev/null -w '%{http_code}' -H "Host: $host" --max-time 2 "$url" 2>/dev/null)" = 200 ] && return 0
    sleep 0.1
  done
  die "$url did not answer 200 within 30 s"
}

# The process and all its descendants (nginx workers; process instances of the gateway).
tree_pids() {
  # /proc/PID/stat: "pid (comm) state ppid ...", comm may hold spaces: cut through the last ") ".
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
    { pid = $1; line = $0; sub(/^[0-9]+ \(.*\) /, "", line); split(line, f, " "); parent[pid] = f[2] }
    END { keep[root] = 1; changed = 1
          while (changed) { changed = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
          for (p in keep) print p }'
}

# CPU ticks used so far by the process tree: "USER+SYSTEM USER".
cpu_ticks() {
  local total=0 user=0 pid line rest
  for pid in $(tree_pids "$1"); do
    line="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
    rest="${line##*) }"
    set -- $rest
    total=$((total + ${12} + ${13}))
    user=$((user + ${12}))
  done
  echo "$total $user"
}

# The whole machine's CPU ticks so far (/proc/stat's first line): "BUSY IDLE STEAL". Busy is user, nice, system, irq
# and softirq; idle counts iowait; steal is time the hypervisor gave another guest while this one had work.
machine_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $5 + $6, $9; exit }' /proc/stat
}

# us_per_request TICKS REQUESTS: CPU ticks as microseconds per request (0 when nothing was served).
us_per_request() {
  awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (n > 0 ? t * 1e6 / hz / n : 0) }'
}

# --syscalls: what perf stat counts during a measured run. Every system call (raw_syscalls), then the ones a proxy's
# request path makes (the calls differ: nginx writev and recv, HAProxy sendto and recvfrom, .NET sendmsg and recv;
# recv is recvfrom in the kernel), waits and wake-ups, and the context switches they cost.
SYSCALL_EVENTS="raw_syscalls:sys_enter,context-switches"
for call in recvfrom recvmsg read readv sendmsg sendto write writev epoll_wait epoll_pwait epoll_ctl futex sched_yield getsockopt setsockopt accept4 close; do
  SYSCALL_EVENTS="$SYSCALL_EVENTS,syscalls:sys_enter_$call"
done

# syscalls_per_request CSV REQUESTS: perf stat's counts (-x,) as "N system calls/req, N context switches/req", then
# one line per event that occurred: count and count per request.
syscalls_per_request() {
  awk -F, -v n="$2" '
    $3 ~ /^(raw_syscalls:|syscalls:|context-switches)/ && $1 ~ /^[0-9]+$/ {
      name = $3; sub(/^syscalls:sys_enter_/, "", name); sub(/^raw_syscalls:sys_enter$/, "all system calls", name)
      count[name] = $1; order[++events] = name
    }
    END {
      if (!events || n <= 0) exit 1
      printf "%.2f system calls/req, %.2f context switches/req\n", count["all system calls"] / n, count["context-switches"] / n
      printf "%-18s %12s %10s   (%d requests)\n", "event", "count", "per req", n
      for (i = 1; i <= events; i++) if (count[order[i]] > 0) printf "%-18s %12d %10.3f\n", order[i], count[order[i]], count[order[i]] / n
    }' "$1"
}

# memory_kb ROOT FIELD: the sum of a /proc/PID/status field (VmRSS, VmHWM) over the process tree.
memory_kb() {
  local total=0 pid value
  for pid in $(tree_pids "$1"); do
    value="$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null)"
    total=$((total + ${value:-0}))
  done
  echo "$total"
}

# --------------------------------------------------------------------------------------------------------- builds
build() {
  [ "$BUILD" = 1 ] || return 0
  log "building in Release"
  local project
  for project in src/AseGateway perf/AseGateway.PerfBackend perf/AseGateway.PlainYarp perf/AseGateway.ForwardingFloor; do
    dotnet build "$REPO/$project" -c Release -nologo -v q -clp:NoSummary > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "build of $project failed"; }
  done
  if [ "$AOT" = 1 ]; then
    log "publishing the gateway as Native AOT ($AOT_RID)"
    dotnet publish "$REPO/src/AseGateway" -c Release -r "$AOT_RID" -p:PublishAot=true -o "$AOT_DIR" -nologo -v q -clp:NoSummary > "$WORK/build.log" 2>&1 \
      || { cat "$WORK/build.log" >&2; die "the Native AOT publish of src/AseGateway failed"; }
  fi
}
GATEWAY_DLL="$REPO/src/AseGateway/bin/Release/net10.0/AseGateway.dll"
case "$(uname -m)" in aarch64|arm64) AOT_RID=linux-arm64 ;; *) AOT_RID=linux-x64 ;; esac
AOT_DIR="$REPO/src/AseGateway/bin/Release/net10.0/$AOT_RID/publish-aot"
BACKEND_DLL="$REPO/perf/AseGateway.PerfBackend/bin/Release/net10.0/AseGateway.PerfBackend.dll"
YARP_DLL="$REPO/perf/AseGateway.PlainYarp/bin/Release/net10.0/AseGateway.PlainYarp.dll"
FLOOR_DLL="$REPO/perf/AseGateway.ForwardingFloor/bin/Release/net10.0/AseGateway.ForwardingFloor.dll"
CERT_DIR="$REPO/certs/dev"

# ------------------------------------------------------------------------------------------------------- targets
# Each target: TARGET_PID[name], and URL_<protocol>[name] for the protocols it speaks.
declare -A TARGET_PID URL_h1 URL_h2c URL_h2tls URL_tls

start_backends() {
  BACKEND_PORT="$(free_port)"; BACKEND2_PORT="$(free_port)"
  start backend env $(perf_backend_env) dotnet "$BACKEND_DLL"; TARGET_PID[backend]=$STARTED_PID
  wait_http "http://127.0.0.1:$BACKEND_PORT/"; wait_http "http://127.0.0.1:$BACKEND2_PORT/"
  URL_h1[backend]="http://127.0.0.1:$BACKEND_PORT/"
}

# --post-bytes: the body, as a file for h2load and inside a script for wrk.
[ "$POST_BYTES" -gt 0 ] && post_body_files "$POST_BYTES" "$CHUNKED"
mapfile -d '' HEADER_ARGS < <(header_args "$BROWSER")

# Every load generator connects from 127.0.0.1: the per-client connection cap (200 by default, an edge defence that
# nginx and HAProxy are not given here either) is raised so that the open model's 200+ connections are not refused.
declare -A MGMT_URL CONFIG_FILE
# gateway_command [aot]: sets GATEWAY_CMD to the JIT-compiled gateway's command, or with aot the Native AOT binary.
gateway_command() {
  GATEWAY_CMD=(dotnet "$GATEWAY_DLL")
  if [ "${1:-}" = aot ]; then
    [ -x "$AOT_DIR/AseGateway" ] || die "no Native AOT build at $AOT_DIR (run once without --no-build)"
    GATEWAY_CMD=("$AOT_DIR/AseGateway")
  fi
}

# start_gateway NAME FEATURES(bare|full) [aot]: the JIT-compiled gateway, or with aot the Native AOT one.
start_gateway() {
  local name="$1" features="$2" http https mgmt h2c
  gateway_command "${3:-}"
  http="$(free_port)"; https="$(free_port)"; mgmt="$(free_port)"; h2c="$(free_port)"
  CONFIG_FILE[$name]="$CONFIG_DIR/$name.json"
  gateway_config "$name" "$http" "$https" "$mgmt" "$features" "" 0 "$h2c" > "${CONFIG_FILE[$name]}"
  start "$name" env ASE_CERT_PASSWORD=dev-password $GATEWAY_ENV $PROFILE_ENV "${GATEWAY_CMD[@]}" --config "${CONFIG_FILE[$name]}"
  TARGET_PID[$name]=$STARTED_PID
  MGMT_URL[$name]="http://127.0.0.1:$mgmt"
  URL_h1[$name]="http://127.0.0.1:$http/"
  URL_h2c[$name]="http://127.0.0.1:$h2c/" URL_h2tls[$name]="https://127.0.0.1:$https/"
  wait_http "${URL_h1[$name]}"
}

start_yarp() {
  local http h2c tls
  http="$(free_port)"; h2c="$(free_port)"; tls="$(free_port)"
  start yarp env $PROFILE_ENV dotnet "$YARP_DLL" --backend "http://127.0.0.1:$BACKEND_PORT/" --port "$http" --h2c-port "$h2c" \
    --tls-port "$tls" --pfx "$CERT_DIR/localhost.pfx" --pfx-password dev-password
  TARGET_PID[yarp]=$STARTED_PID
  URL_h1[yarp]="http://127.0.0.1:$http/" URL_h2c[yarp]="http://127.0.0.1:$h2c/" URL_h2tls[yarp]="https://127.0.0.1:$tls/"
  wait_http "${URL_h1[yarp]}"
}

# start_floor NAME MODEL: the forwarding floor, HTTP/1.1 only (where the gateway's clear-text listeners run on the
# event loops); MODEL bytes, or http-context for target floor-context (only when --only names it).
start_floor() {
  local name="$1" http
  http="$(free_port)"
  start "$name" env $PROFILE_ENV dotnet "$FLOOR_DLL" --backend "http://127.0.0.1:$BACKEND_PORT/" --port "$http" --model "$2"
  TARGET_PID[$name]=$STARTED_PID
  URL_h1[$name]="http://127.0.0.1:$http/"
  wait_http "${URL_h1[$name]}"
}

# nginx the way a tuned reverse proxy is set up: upstream keep-alive, no access log, enough requests per connection
# for HTTP/2 (keepalive_requests also bounds HTTP/2 streams per connection since 1.19.7), the same forwarding
# headers the gateways add. A worker per core, as the gateways use every core.
start_nginx() {
  local dir="$WORK/nginx" http h2c tls
  http="$(free_port)"; h2c="$(free_port)"; tls="$(free_port)"
  mkdir -p "$dir/tmp"; chmod 755 "$dir"
  cat > "$dir/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  # Request bodies (--post-bytes) in memory, as a tuned proxy keeps them; the default 16 KiB buffer writes a larger
  # one to a temporary file first.
  client_body_buffer_size 1m;
  client_max_body_size 16m;
  client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy; fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 128; keepalive_requests 1000000; }
  # reuseport: a listening socket per worker, among which the kernel spreads the connections. With one shared socket a
  # worker could take more of the 16 HTTP/2 (or 64 HTTP/1.1) connections than the other and leave a core idle (12.1%
  # and 6.8% of the machine in two of nine runs; at most 3% with it).
  server {
    listen 127.0.0.1:$http reuseport;
    listen 127.0.0.1:$h2c http2 reuseport;
    listen 127.0.0.1:$tls ssl http2 reuseport;
    ssl_certificate $CERT_DIR/localhost.crt;
    ssl_certificate_key $CERT_DIR/localhost.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
EOF
  start nginx nginx -p "$dir" -c "$dir/nginx.conf"
  TARGET_PID[nginx]=$STARTED_PID
  URL_h1[nginx]="http://127.0.0.1:$http/" URL_h2c[nginx]="http://127.0.0.1:$h2c/" URL_h2tls[nginx]="https://127.0.0.1:$tls/"
  wait_http "${URL_h1[nginx]}"
}

# HAProxy likewise: server connections reused, no log section, X-Forwarded-For added; one process, a thread per core
# (its default). h2c is recognised on the plain bind by its connection preface.
start_haproxy() {
  local dir="$WORK/haproxy" http tls
  http="$(free_port)"; tls="$(free_port)"
  mkdir -p "$dir"
  cat "$CERT_DIR/localhost.crt" "$CERT_DIR/localhost.key" > "$dir/localhost.pem"
  cat > "$dir/haproxy.cfg" <<EOF
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  option forwardfor
  http-reuse always
frontend fe
  bind 127.0.0.1:$http
  bind 127.0.0.1:$tls ssl crt $dir/localhost.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2
  http-request set-header X-Forwarded-Proto https if { ssl_fc }
  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
  default_backend be
backend be
  server backend 127.0.0.1:$BACKEND_PORT
EOF
  start haproxy haproxy -db -f "$dir/haproxy.cfg"
  TARGET_PID[haproxy]=$STARTED_PID
  URL_h1[haproxy]="http://127.0.0.1:$http/" URL_h2c[haproxy]="http://127.0.0.1:$http/" URL_h2tls[haproxy]="https://127.0.0.1:$tls/"
  wait_http "${URL_h1[haproxy]}"
}

# ------------------------------------------------------------------------------------------------------ load runs
to_ms() { # wrk latency "1.23ms" / "850.00us" / "1.02s" -> milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

# percentiles LOGFILE -> "p50 p90 p99 p99.9 max count non2xx" in ms, from an h2load --log-file (status, µs per request)
percentiles() {
  local non2xx
  non2xx="$(awk '$2 < 200 || $2 > 299 { n++ } END { print n + 0 }' "$1")"
  awk '{ print $3 / 1000 }' "$1" | sort -n | awk -v bad="$non2xx" '
    function at(p,  i) { i = int(NR * p + 0.999999); return v[i < 1 ? 1 : i] }
    { v[NR] = $1 }
    END { if (NR == 0) print "0 0 0 0 0 0", bad; else printf "%.3f %.3f %.3f %.3f %.3f %d %d\n", at(0.5), at(0.9), at(0.99), at(0.999), v[NR], NR, bad }'
}

# load PROTOCOL URL SECONDS OUTFILE [RATE] -> "rps p50 p99 requests errors non2xx p90 p99.9|p95 max" (ms)
# HTTP/1.1 at full speed: wrk. HTTP/2: h2load. A constant rate (the open model, HTTP/1.1): hey.
load() {
  local protocol="$1" url="$2" seconds="$3" out="$4" rate="${5:-}"
  if [ "$protocol" = h1 ] || [ "$protocol" = tls ] && [ -z "$rate" ]; then
    local script=()
    [ "$POST_BYTES" -gt 0 ] && script=(-s "$WORK/post.lua")
    # tls: every request on a connection of its own, so a full handshake each (wrk does not resume sessions).
    [ "$protocol" = tls ] && script+=(-H "Connection: close")
    timeout $((seconds + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${seconds}s" --latency "${script[@]}" -H "Host: $HOST_HEADER" "${HEADER_ARGS[@]}" "$url" > "$out" 2>&1 || true
    local rps p50 p90 p99 requests sockerr non2xx
    rps="$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
    p50="$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")"
    p90="$(to_ms "$(awk '$1 == "90%" { print $2 }' "$out")")"
    p99="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
    requests="$(awk '/requests in/ { print $1 }' "$out")"
    sockerr="$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")"
    non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $5 }' "$out")"
    echo "${rps:-0} ${p50:-0} ${p99:-0} ${requests:-0} ${sockerr:-0} ${non2xx:-0} ${p90:-0} 0 0"
    return
  fi
  if [ -n "$rate" ]; then
    # Open model: many workers (at least 32, at most 50 requests/s each, so that a slow answer delays little of the
    # offered load), together sending RATE requests per second (h2load 1.52 ignores --rps in duration mode, so hey -q).
    # Latency to 0.1 ms; every status and every socket error is listed.
    local workers=$(( rate / 50 > 32 ? rate / 50 : 32 ))
    timeout $((seconds + 30)) hey -z "${seconds}s" -c "$workers" -q "$(awk -v r="$rate" -v w="$workers" 'BEGIN { printf "%.2f", r / w }')" -host "$HOST_HEADER" -disable-compression "$url" > "$out" 2>&1 || true
    awk '
      function ms(v) { return sprintf("%.1f", v * 1000) }
      /Requests\/sec:/ { rps = $2 }
      /Slowest:/ { max = $2 }
      $2 == "in" && $1 ~ /%$/ { p[$1] = $3 }
      /^Status code distribution:/ { section = "status"; next }
      /^Error distribution:/ { section = "error"; next }
      section != "" && /^ *\[/ { n = $1; gsub(/[\[\]]/, "", n); if (section == "status") { code = $1; gsub(/[\[\]]/, "", code); count = $2; total += count; if (code < 200 || code > 299) bad += count } else { errors += n; total += n } }
      END { printf "%.2f %s %s %d %d %d %s %s %s\n", rps, ms(p["50%"]), ms(p["99%"]), total, errors, bad, ms(p["90%"]), ms(p["95%"]), ms(max) }' "$out"
    return
  fi
  # HTTP/2 names the host in :authority; a second name in a host header is refused by nginx (400).
  local args=(-t "$H2_THREADS" -D "$seconds" --log-file="$out.requests" -H ":authority: $HOST_HEADER" -c "$H2_CONNECTIONS" -m "$H2_STREAMS")
  [ "$POST_BYTES" -gt 0 ] && args+=(-d "$WORK/body.bin")
  args+=("${HEADER_ARGS[@]}")
  timeout $((seconds + 30)) h2load "${args[@]}" "$url" > "$out" 2>&1 || true
  # "requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout": failed also counts
  # non-2xx answers, which the log counts; errored and timeout are the socket-level failures.
  local rps errored timeout
  rps="$(awk '/^finished in/ { gsub(",", ""); print $4 }' "$out")"
  read -r errored timeout < <(awk '/^requests:/ { gsub(",", ""); print $12, $14 }' "$out")
  set -- $(percentiles "$out.requests")
  echo "${rps:-0} $1 $3 $6 $(( ${errored:-0} + ${timeout:-0} )) $7 $2 $4 $5"
  rm -f "$out.requests"
}

tool_for() { [ "$1" = h1 ] || [ "$1" = tls ] && echo wrk || echo h2load; }

# warm_up TARGET PROTOCOL: discarded runs of $WARMUP seconds until CPU per request settles (two runs in a row within
# 5% of each other) and, in a JIT-compiled target, the background JIT took under 5% of the last run's CPU; at most
# $WARMUP_RUNS. A JIT-compiled process (AseGateway, plain YARP, the backend) keeps
# compiling its hot methods under load for 15-20 s — tiered compilation runs them instrumented for dynamic PGO first,
# and its background thread took 10-20% of the gateway's CPU over that time — so a fixed 4 s warm-up measured rounds
# 1 and 2 of the .NET targets before they settled (over HTTP/2 + TLS 40-44 µs per request, then 25-28 in round 3)
# while nginx, HAProxy and the AOT build were steady from the start. Two runs alike are not enough by themselves: a
# fresh gateway over HTTP/2 + TLS read 107 and then 102 µs per request, and 45 and 42 in the rounds after.
warm_up() {
  local target="$1" protocol="$2" previous="" current jit run
  for run in $(seq 1 "$WARMUP_RUNS"); do
    run_case 0 "$target" "$protocol" "$WARMUP" true
    # jit is "null" for a target without a JIT, which the gate reads as 0.
    read -r current jit < <(tail -n 1 "$RUNS" | jq -r '"\(.cpu_us) \(.jit_pct)"')
    if [ -n "$previous" ] && awk -v a="$previous" -v b="$current" -v j="${jit/null/0}" 'BEGIN { exit !(b <= a * 1.05 && b >= a * 0.95 && j < 5) }'; then
      return
    fi
    previous="$current"
  done
  log "  $target $protocol did not settle in $WARMUP_RUNS warm-up runs (last: $current µs/req$( [ "$jit" = null ] || echo ", JIT $jit% of its CPU"))"
}

# target_jit_ticks TARGET: jit_thread_ticks (gateway-config.sh) over the target's process tree; nothing for targets that
# JIT-compile nothing (nginx, HAProxy, the Native AOT build).
target_jit_ticks() {
  [[ "$1" =~ ^(nginx|haproxy)$|-aot$ ]] && return 0
  # shellcheck disable=SC2046 # one argument per process
  jit_thread_ticks $(tree_pids "${TARGET_PID[$1]}")
}

# run_case ROUND TARGET PROTOCOL SECONDS WARMUP(true|false)
run_case() {
  local round="$1" target="$2" protocol="$3" seconds="$4" warmup="$5" url pid before after result
  local -n urls="URL_$protocol"
  url="${urls[$target]}${REQUEST_PATH#/}"; pid="${TARGET_PID[$target]}"
  kill -0 "$pid" 2>/dev/null || die "$target (pid $pid) is not running; see $OUT/$target.log"
  local profile="" recorder=""
  if [ "$PROFILE" = 1 ] && [ "$warmup" = false ]; then
    profile="$OUT/profile-$target-$protocol-r$round"
    timeout $((seconds + 30)) perf record -q -F 999 -g -o "$profile.data" -p "$(tree_pids "$pid" | paste -sd, -)" -- sleep "$seconds" > "$WORK/perf-record.log" 2>&1 &
    recorder=$!
  fi
  local counts="" counter=""
  if [ "$SYSCALLS" = 1 ] && [ "$warmup" = false ]; then
    counts="$OUT/syscalls-$target-$protocol-r$round"
    timeout $((seconds + 30)) perf stat -x, -e "$SYSCALL_EVENTS" -o "$counts.csv" -p "$(tree_pids "$pid" | paste -sd, -)" -- sleep "$seconds" > "$WORK/perf-stat.log" 2>&1 &
    counter=$!
  fi
  # The backend's CPU too: a fixture that costs more behind one proxy than behind another moves the req/s ratios
  # (it did, before the backend ran inline in one process; docs/performance-log.md "The backend").
  local backend_pid="${TARGET_PID[backend]}" backend_before backend_after
  local jit_before jit_after jit_pct=null machine_before machine_after
  jit_before="$(target_jit_ticks "$target")"
  before="$(cpu_ticks "$pid")"; backend_before="$(cpu_ticks "$backend_pid")"; machine_before="$(machine_ticks)"
  result="$(load "$protocol" "$url" "$seconds" "$WORK/run-$target-$protocol.out")"
  after="$(cpu_ticks "$pid")"; backend_after="$(cpu_ticks "$backend_pid")"; machine_after="$(machine_ticks)"
  jit_after="$(target_jit_ticks "$target")"
  if [ -n "$recorder" ]; then
    wait "$recorder" || log "perf record of $target $protocol failed: $(tail -n 1 "$WORK/perf-record.log")"
    perf script -i "$profile.data" 2>/dev/null | python3 "$REPO/perf/profile-layers.py" > "$profile.txt" || log "no profile of $target $protocol"
  fi
  if [ -n "$counter" ]; then
    wait "$counter" || log "perf stat of $target $protocol failed: $(tail -n 1 "$WORK/perf-stat.log")"
    syscalls_per_request "$counts.csv" "$(set -- $result; echo "$4")" > "$counts.txt" || log "no system call counts of $target $protocol"
  fi
  set -- $result
  local rps="$1" p50="$2" p99="$3" requests="$4" errors="$5" non2xx="$6"
  local cpu_us user_us backend_us=null rss hwm
  # before/after: "total user" ticks. User time is the proxy's own code (and, for TLS, its crypto library); the rest
  # is the kernel's, mostly loopback TCP, which every proxy here pays alike. The backend's ticks are none of its own
  # when it is the target: it is the proxy then.
  local proxy_ticks=$((${after% *} - ${before% *})) backend_ticks=0
  cpu_us="$(us_per_request "$proxy_ticks" "$requests")"
  user_us="$(us_per_request "$((${after#* } - ${before#* }))" "$requests")"
  if [ "$target" != backend ]; then
    backend_ticks=$((${backend_after% *} - ${backend_before% *}))
    backend_us="$(us_per_request "$backend_ticks" "$requests")"
  fi
  # jit_pct: the background JIT's share of the run's CPU, in %; null for targets without a JIT.
  if [ -n "$jit_before" ]; then
    jit_pct="$(jit_percent "$jit_before" "$jit_after" "$proxy_ticks")"
  fi
  # rest_us: the machine's busy CPU per request beyond the proxy and the backend, nearly all of it the load generator
  # (whose cost per request depends on how the proxy's answers arrive); idle and steal in % of the machine's time.
  local rest_us idle_pct steal_pct
  read -r rest_us idle_pct steal_pct < <(awk -v b="$machine_before" -v a="$machine_after" -v proxy="$proxy_ticks" \
    -v backend="$backend_ticks" -v n="$requests" -v hz="$CLK_TCK" 'BEGIN {
      split(b, x, " "); split(a, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2]; steal = y[3] - x[3]; all = busy + idle + steal
      rest = busy - proxy - backend
      printf "%.2f %.1f %.1f\n", (n > 0 ? rest * 1e6 / hz / n : 0), (all > 0 ? 100 * idle / all : 0), (all > 0 ? 100 * steal / all : 0) }')
  rss="$(memory_kb "$pid" VmRSS)"; hwm="$(memory_kb "$pid" VmHWM)"
  printf '{"round":%s,"warmup":%s,"target":"%s","protocol":"%s","tool":"%s","seconds":%s,"rps":%s,"p50_ms":%s,"p99_ms":%s,"requests":%s,"errors":%s,"non2xx":%s,"cpu_us":%s,"cpu_user_us":%s,"backend_us":%s,"rest_us":%s,"idle_pct":%s,"steal_pct":%s,"jit_pct":%s,"rss_mb":%.1f,"hwm_mb":%.1f}\n' \
    "$round" "$warmup" "$target" "$protocol" "$(tool_for "$protocol")" "$seconds" "$rps" "$p50" "$p99" "$requests" "$errors" "$non2xx" "$cpu_us" "$user_us" "$backend_us" "$rest_us" "$idle_pct" "$steal_pct" "$jit_pct" \
    "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')" >> "$RUNS"
  log "$( [ "$warmup" = true ] && echo "warm-up" || echo "round $round")  $(printf '%-12s %-6s' "$target" "$protocol") $(printf '%9.0f rps  p50 %6s ms  p99 %7s ms  %6s µs/req  errors %s  rest %s µs/req  idle %s%%  steal %s%%' "$rps" "$p50" "$p99" "$cpu_us" "$((errors + non2xx))" "$rest_us" "$idle_pct" "$steal_pct")$( [ "$jit_pct" = null ] || echo "  jit $jit_pct% of CPU")"
  [ -z "$profile" ] || log "  profile: $profile.txt"
  [ -z "$counts" ] || log "  system calls: $(head -n 1 "$counts.txt") ($counts.txt)"
}

# ------------------------------------------------------------------------------------------------------ scenarios
# Load in 4-second chunks until a stop file appears, so an operation of unknown length runs entirely under load.
# Each chunk's result line goes to FILE.
background_load() {
  local url="$1" rate="$2" file="$3"
  : > "$file"
  rm -f "$file.stop"
  (
    chunk=0
    while [ ! -f "$file.stop" ]; do
      chunk=$((chunk + 1))
      load h1 "$url" 4 "$file-$chunk.out" "$rate" >> "$file"
    done
  ) &
  BACKGROUND_PID=$!
}

# Sets LOAD_SUMMARY to "requests errors non2xx worst-p99" over every chunk (not in a $(...): wait needs this shell).
stop_background_load() {
  touch "$1.stop"
  wait "$BACKGROUND_PID" || true
  LOAD_SUMMARY="$(awk '{ n += $4; e += $5; b += $6; if ($3 > p) p = $3 } END { printf "%d %d %d %.1f\n", n, e, b, p }' "$1")"
}

api() { curl -s --max-time 60 -H "Authorization: Bearer $API_KEY" "$@"; }

scenario_open_model() {
  local target rate result
  : > "$OUT/open-model.jsonl"
  for target in ase-full yarp nginx; do
    for rate in ${RATES//,/ }; do
      # hey's report (every status and error message) stays beside the results.
      result="$(load h1 "${URL_h1[$target]}json" "$OPEN_DURATION" "$OUT/open-$target-$rate.txt" "$rate")"
      set -- $result
      printf '{"target":"%s","rate":%s,"seconds":%s,"rps":%s,"p50_ms":%s,"p90_ms":%s,"p99_ms":%s,"p95_ms":%s,"max_ms":%s,"requests":%s,"errors":%s,"non2xx":%s}\n' \
        "$target" "$rate" "$OPEN_DURATION" "$1" "$2" "$7" "$3" "$8" "$9" "$4" "$5" "$6" >> "$OUT/open-model.jsonl"
      log "open model  $(printf '%-9s %6s/s' "$target" "$rate"): $(printf '%8.0f rps  p50 %s  p90 %s  p99 %s  p95 %s  max %s ms  non-2xx %s  socket errors %s' "$1" "$2" "$7" "$3" "$8" "$9" "$6" "$5")"
    done
  done
}

# 100 configuration changes under load: odd ones add a second app (new YARP route and cluster), even ones remove
# it; every one edits a WAF rule. Each is written as an editor's atomic rename, then applied through the API.
# scenario_reloads [NAME]: ase-full (or ase-full-aot, whose results go to scenario-reloads-aot.json).
scenario_reloads() {
  local name="${1:-ase-full}" suffix="" first last i extra outcome file
  file="${CONFIG_FILE[$name]}"; [ "$name" = ase-full-aot ] && suffix=-aot
  first="$(api "${MGMT_URL[$name]}/api/config/status" | jq -r .generation)"
  background_load "${URL_h1[$name]}" "$RELOAD_LOAD_RPS" "$WORK/reload-load$suffix"
  local started=$SECONDS
  local http https mgmt h2c
  http="${URL_h1[$name]##*:}"; http="${http%/}"; https="${URL_h2tls[$name]##*:}"; https="${https%/}"; mgmt="${MGMT_URL[$name]##*:}"
  h2c="${URL_h2c[$name]##*:}"; h2c="${h2c%/}"
  for i in $(seq 1 "$RELOADS"); do
    extra=""; [ $((i % 2)) = 1 ] && extra=extra
    gateway_config "$name" "$http" "$https" "$mgmt" full "$extra" "$i" "$h2c" > "$file.tmp"
    mv "$file.tmp" "$file"
    outcome="$(api -X POST "${MGMT_URL[$name]}/api/config/reload" | jq -r .outcome)"
    case "$outcome" in Applied|Unchanged) ;; *) log "reload $i: unexpected outcome '$outcome'"; SCENARIO_FAILURES=$((SCENARIO_FAILURES + 1)) ;; esac
    sleep 0.05
  done
  local took=$((SECONDS - started))
  stop_background_load "$WORK/reload-load$suffix"
  set -- $LOAD_SUMMARY
  last="$(api "${MGMT_URL[$name]}/api/config/status" | jq -r .generation)"
  local applied=$((last - first)) failed=$(($2 + $3))
  [ "$applied" -ge "$RELOADS" ] || { log "reloads: only $applied of $RELOADS changes were applied"; SCENARIO_FAILURES=$((SCENARIO_FAILURES + 1)); }
  [ "$failed" = 0 ] || SCENARIO_FAILURES=$((SCENARIO_FAILURES + 1))
  printf '{"scenario":"reloads","target":"%s","changes":%s,"generations_applied":%s,"seconds":%s,"rate":%s,"requests":%s,"socket_errors":%s,"non2xx":%s,"worst_chunk_p99_ms":%s,"failed_requests":%s}\n' \
    "$name" "$RELOADS" "$applied" "$took" "$RELOAD_LOAD_RPS" "$1" "$2" "$3" "$4" "$failed" > "$OUT/scenario-reloads$suffix.json"
  log "reloads ($name): $applied generations applied in ${took}s under $RELOAD_LOAD_RPS req/s; $1 requests, $failed failed (socket errors $2, non-2xx $3), worst p99 $4 ms"
}

# A plan of process instances (the perf backend started by the gateway) scaled 1 -> 3 -> 1 through the management API
# while load runs: new instances join after their first good health check, removed ones drain first.
# scenario_scale [aot]: the JIT-compiled gateway, or the Native AOT one (results in scenario-scale-aot.json).
scenario_scale() {
  local suffix=""
  [ "${1:-}" = aot ] && suffix=-aot
  gateway_command "${1:-}"
  local name="ase-scale$suffix" http https mgmt file="$CONFIG_DIR/ase-scale$suffix.json" cycle target state
  http="$(free_port)"; https="$(free_port)"; mgmt="$(free_port)"
  cat > "$file" <<EOF
{
  "name": "perf-scale",
  "frontEnd": { "listeners": [ { "name": "http", "address": "127.0.0.1", "port": $http, "protocol": "Http" } ], "limits": { "maxConnectionsPerClient": 10000 } },
  "healthCheck": { "intervalSeconds": 1, "timeoutSeconds": 2, "maxPingFailures": 2, "maxUnhealthyPercent": 50 },
  "workerPools": [ { "name": "WP1", "workerSize": "Small", "workerCount": 4 } ],
  "plans": [ { "name": "scale-plan", "workerPool": "WP1", "instanceCount": 1 } ],
  "apps": [ { "name": "bench", "plan": "scale-plan", "hostNames": [ "$HOST_HEADER" ], "healthCheckPath": "/healthz",
              "clientAffinityEnabled": false, "run": { "command": "dotnet", "args": [ "$BACKEND_DLL" ] } } ],
  "instances": { "drainTimeoutSeconds": 15, "stopTimeoutSeconds": 5 },
  "management": { "address": "127.0.0.1", "port": $mgmt, "apiKeys": [ { "name": "perf", "sha256": "$(api_key_sha256)" } ] }
}
EOF
  start "$name" env $GATEWAY_ENV "${GATEWAY_CMD[@]}" --config "$file"
  TARGET_PID[$name]=$STARTED_PID
  local base="http://127.0.0.1:$mgmt"
  wait_http "http://127.0.0.1:$http/"
  background_load "http://127.0.0.1:$http/" "$RELOAD_LOAD_RPS" "$WORK/scale-load$suffix"
  local started=$SECONDS operations=0
  for cycle in $(seq 1 "$SCALE_CYCLES"); do
    for target in 3 1; do
      sleep 1
      state="$(api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "{\"instanceCount\": $target}" "$base/api/plans/scale-plan/scale")"
      [ "$state" = 202 ] || { log "scale to $target answered $state"; SCENARIO_FAILURES=$((SCENARIO_FAILURES + 1)); continue; }
      for _ in $(seq 1 600); do
        state="$(api "$base/api/plans/scale-plan" | jq -r '"\(.scaling) \(.instancesReady)"')"
        [ "$state" = "false $target" ] && break
        sleep 0.1
      done
      [ "$state" = "false $target" ] || { log "scale to $target did not settle: $state"; SCENARIO_FAILURES=$((SCENARIO_FAILURES + 1)); }
      operations=$((operations + 1))
    done
  done
  sleep 1
  local took=$((SECONDS - started))
  stop_background_load "$WORK/scale-load$suffix"
  set -- $LOAD_SUMMARY
  local failed=$(($2 + $3))
  [ "$failed" = 0 ] || SCENARIO_FAILURES=$((SCENARIO_FAILURES + 1))
  printf '{"scenario":"scale","target":"%s","operations":%s,"seconds":%s,"rate":%s,"requests":%s,"socket_errors":%s,"non2xx":%s,"worst_chunk_p99_ms":%s,"failed_requests":%s}\n' \
    "$name" "$operations" "$took" "$RELOAD_LOAD_RPS" "$1" "$2" "$3" "$4" "$failed" > "$OUT/scenario-scale$suffix.json"
  log "scale ($name): $operations scale operations (1 -> 3 -> 1) in ${took}s under $RELOAD_LOAD_RPS req/s; $1 requests, $failed failed (socket errors $2, non-2xx $3), worst p99 $4 ms"
}

# -------------------------------------------------------------------------------------------------------- reports
report() {
  local machine cpu
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  jq -s --arg cpu "${cpu:-unknown}" --arg nproc "$(nproc)" --arg kernel "$(uname -r)" --arg command "$COMMAND_LINE" --arg request "$REQUEST_LINE" \
    --arg mode "$MODE" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --argjson rounds "$ROUNDS" --argjson duration "$DURATION" \
    --arg load "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS (HTTP/1.1); h2load -t$H2_THREADS -c$H2_CONNECTIONS -m$H2_STREAMS (HTTP/2)" \
    --slurpfile open <(cat "$OUT/open-model.jsonl" 2>/dev/null) \
    --slurpfile reloads <(cat "$OUT/scenario-reloads.json" 2>/dev/null) \
    --slurpfile scale <(cat "$OUT/scenario-scale.json" 2>/dev/null) \
    --slurpfile reloads_aot <(cat "$OUT/scenario-reloads-aot.json" 2>/dev/null) \
    --slurpfile scale_aot <(cat "$OUT/scenario-scale-aot.json" 2>/dev/null) '
    def median: map(select(. != null)) | sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    def r2: if . == null then null else (. * 100 | round) / 100 end;
    . as $all
    | ($all | map(select(.warmup | not))) as $measured
    | ($all | map(select(.warmup))) as $warm
    | def paired($peer): . as $g | [ $g[] | . as $run | ($measured[] | select(.round == $run.round and .protocol == $run.protocol and .target == $peer) | .rps) as $p | if $p > 0 then $run.rps / $p else null end ] | median | r2;
      def paired_cpu($peer): . as $g | [ $g[] | . as $run | ($measured[] | select(.round == $run.round and .protocol == $run.protocol and .target == $peer) | .cpu_us) as $p | if $p > 0 then $run.cpu_us / $p else null end ] | median | r2;
    {
      date: $date, commit: $commit, mode: $mode, command: $command,
      machine: { nproc: ($nproc | tonumber), cpu: $cpu, kernel: $kernel },
      rounds: $rounds, seconds_per_run: $duration, load: $load, request: $request,
      results: [ $measured | group_by([.protocol, .target])[] | . as $g | .[0] as $f | {
        target: $f.target, protocol: $f.protocol, tool: $f.tool, rounds: length,
        rps: (map(.rps) | median | round), p50_ms: (map(.p50_ms) | median | r2), p99_ms: (map(.p99_ms) | median | r2),
        cpu_us_per_request: (map(.cpu_us) | median | r2),
        cpu_user_us_per_request: (map(.cpu_user_us) | median | r2),
        backend_cpu_us_per_request: (map(.backend_us) | median | r2),
        rest_cpu_us_per_request: (map(.rest_us) | median | r2),
        idle_pct: (map(.idle_pct) | median | r2), steal_pct: (map(.steal_pct) | median | r2),
        jit_pct_of_cpu: (map(.jit_pct) | median | r2),
        peak_rss_mb: (map(.hwm_mb) | max | round),
        rss_after_warmup_mb: ([ $warm[] | select(.target == $f.target and .protocol == $f.protocol) | .rss_mb ] | last // null | if . then round else null end),
        errors: (map(.errors + .non2xx) | add),
        rps_vs_nginx: ($g | paired("nginx")), rps_vs_yarp: ($g | paired("yarp")),
        cpu_vs_nginx: ($g | paired_cpu("nginx"))
      } ],
      open_model: $open, reloads: ($reloads | first // null), scale: ($scale | first // null),
      reloads_aot: ($reloads_aot | first // null), scale_aot: ($scale_aot | first // null)
    }' "$RUNS" > "$OUT/results.json"

  jq -r '
    def n: if . == null then "–" else tostring end;
    def proto: {"h1": "HTTP/1.1", "h2c": "h2c", "h2tls": "HTTP/2 + TLS", "tls": "TLS handshake + HTTP/1.1"}[.] // .;
    "## Performance: \(.date) (\(.mode) run\(if (.command | test(" --aot( |$)")) then " with `--aot`" else "" end), commit \(.commit))",
    "",
    "Machine: \(.machine.nproc) cores (`nproc`), \(.machine.cpu), Linux \(.machine.kernel); generator, proxies and backend share it.",
    "Reproduce: `\(.command)` — \(.rounds) rounds of \(.seconds_per_run) s per case, order rotated each round, after discarded warm-up runs until CPU per request settles (and, in .NET targets, the background JIT nearly idle); \(.load); \(.request // "GET /") (the backend answers / with 13 bytes of plaintext, /bytes/N with N bytes).",
    "Ratios are medians over rounds of ratios paired within each round. CPU is the proxy processes'\'' user+system time per request; user is the part in their own code (the rest is the kernel'\''s, mostly loopback TCP); backend is the CPU per request of the backend behind it; rest is the rest of the machine'\''s busy time per request, nearly all of it the load generator. Requests per second follow from the three together.",
    "",
    "| Protocol | Target | Req/s | p50 ms | p99 ms | CPU µs/req | of it user | backend µs/req | rest µs/req | × nginx | × YARP | CPU × nginx | RSS after warm-up MB | Peak RSS MB | Errors |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    (.results | sort_by([(.protocol | {"h1": 0, "h2c": 1, "h2tls": 2, "tls": 3}[.]), -.rps])[] |
      "| \(.protocol | proto) | \(.target) | \(.rps) | \(.p50_ms | n) | \(.p99_ms | n) | \(.cpu_us_per_request | n) | \(.cpu_user_us_per_request | n) | \(.backend_cpu_us_per_request | n) | \(.rest_cpu_us_per_request | n) | \(.rps_vs_nginx | n) | \(.rps_vs_yarp | n) | \(.cpu_vs_nginx | n) | \(.rss_after_warmup_mb | n) | \(.peak_rss_mb | n) | \(.errors) |"),
    ([ .results[] | select(.jit_pct_of_cpu != null) ] as $jit | if ($jit | length) > 0 then "", "Tiered compilation'\''s background JIT in the measured runs of the .NET targets (median, % of each one'\''s CPU): \([ $jit | sort_by(.protocol, .target)[] | "\(.target) \(.protocol | proto) \(.jit_pct_of_cpu)%" ] | join(", "))." else empty end),
    ([ .results[] | select(.idle_pct != null) ] as $m | if ($m | length) > 0 then "", "The machine in the measured runs (median per case): idle \([ $m[] | .idle_pct ] | min)-\([ $m[] | .idle_pct ] | max)%, stolen by the hypervisor \([ $m[] | .steal_pct ] | min)-\([ $m[] | .steal_pct ] | max)%." else empty end),
    (if any(.results[]; .protocol == "tls") then "", "TLS handshake + HTTP/1.1: one request per connection (wrk, `Connection: close`, no session resumption), so req/s are connections per second and CPU µs/req is per connection, its full handshake included." else empty end),
    "",
    (if (.open_model | length) > 0 then
      "Open model (constant request rate, HTTP/1.1, hey -q with one connection per 50 req/s, at least 32; GET /json):",
      "",
      "| Target | Offered req/s | Achieved req/s | p50 ms | p90 ms | p95 ms | p99 ms | max ms | Non-2xx | Socket errors |",
      "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
      (.open_model[] | "| \(.target) | \(.rate) | \(.rps | round) | \(.p50_ms) | \(.p90_ms) | \(.p95_ms) | \(.p99_ms) | \(.max_ms) | \(.non2xx) | \(.errors) |"),
      "" else empty end),
    (.reloads, .reloads_aot | select(.) | "Reloads under load\(if .target == "ase-full-aot" then " (Native AOT)" else "" end): \(.generations_applied) configuration changes applied in \(.seconds) s at \(.rate) req/s — \(.requests) requests, **\(.failed_requests) failed** (socket errors \(.socket_errors), non-2xx \(.non2xx))."),
    (.scale, .scale_aot | select(.) | "Scale-out/in under load\(if .target == "ase-scale-aot" then " (Native AOT)" else "" end): \(.operations) plan scale operations (1 → 3 → 1 process instances) in \(.seconds) s at \(.rate) req/s — \(.requests) requests, **\(.failed_requests) failed** (socket errors \(.socket_errors), non-2xx \(.non2xx)).")
  ' "$OUT/results.json" > "$OUT/results.md"

  # Chart: median requests/s per target, one bar per protocol.
  jq -r '
    . as $root
    | (.results | map(.target) | unique)[] as $t
    | [$t] + ([ "h1", "h2c", "h2tls", "tls" ] | map(. as $p | ([ $root.results[] | select(.target == $t and .protocol == $p) | .rps ] | first // "-"))) | @tsv' "$OUT/results.json" > "$WORK/chart.tsv"
  [ -s "$WORK/chart.tsv" ] || return 0
  local handshakes_series=""
  [ "$HANDSHAKES" = 1 ] && handshakes_series=', "" using 5 title "TLS handshake + HTTP/1.1 (wrk, a connection each)"'
  gnuplot <<EOF
set terminal pngcairo size 1100,560 font "sans,10"
set output "$OUT/rps.png"
set title "Requests per second (median of $ROUNDS rounds), $REQUEST_LINE — $(nproc) cores, generator, proxy and backend on one machine"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set datafile missing "-"
set datafile separator "\t"
set ylabel "requests/s"
set yrange [0:*]
set grid ytics
set key top right
plot "$WORK/chart.tsv" using 2:xtic(1) title "HTTP/1.1 (wrk)", "" using 3 title "h2c (h2load)", "" using 4 title "HTTP/2 + TLS (h2load)"$handshakes_series
EOF
}

# ----------------------------------------------------------------------------------------------------------- main
ensure_tools
build
log "work folder $WORK; results in $OUT"
start_backends
start_gateway ase-bare bare
start_gateway ase-full full
if [ "$AOT" = 1 ]; then
  start_gateway ase-bare-aot bare aot
  start_gateway ase-full-aot full aot
fi
start_yarp
start_floor floor bytes
if [ -n "$ONLY" ] && [[ floor-context:h1 =~ $ONLY ]]; then
  start_floor floor-context http-context
fi
start_nginx
start_haproxy

# A protocol's cases run one after another, the Native AOT ones among them: the ratios to nginx and plain YARP pair
# runs a few slots apart, not a protocol block apart (they were appended at the end of the round until 2026-12-06).
AOT_TARGETS=()
[ "$AOT" = 1 ] && AOT_TARGETS=(ase-bare-aot ase-full-aot)
CASES=(backend:h1 ase-bare:h1 ase-full:h1)
for target in "${AOT_TARGETS[@]}"; do CASES+=("$target:h1"); done
CASES+=(floor:h1 yarp:h1 nginx:h1 haproxy:h1)
[ -n "${URL_h1[floor-context]:-}" ] && CASES+=(floor-context:h1)
PROTOCOLS=(h2c h2tls)
if [ "$HANDSHAKES" = 1 ]; then
  for target in "${!URL_h2tls[@]}"; do URL_tls[$target]="${URL_h2tls[$target]}"; done
  PROTOCOLS+=(tls)
fi
for protocol in "${PROTOCOLS[@]}"; do
  for target in ase-bare ase-full "${AOT_TARGETS[@]}" yarp nginx haproxy; do CASES+=("$target:$protocol"); done
done
# The floor forwards no request body: with --post-bytes it sits out.
selected=()
for case in "${CASES[@]}"; do
  [ -n "$ONLY" ] && ! [[ "$case" =~ $ONLY ]] && continue
  [ "$POST_BYTES" -gt 0 ] && [[ "$case" == floor*:h1 ]] && continue
  selected+=("$case")
done
CASES=("${selected[@]}")
[ "$SCENARIOS" = 2 ] && CASES=() ROUNDS=0
count=${#CASES[@]}
log "${count} cases; warm-up runs of ${WARMUP}s each until CPU per request settles (at most $WARMUP_RUNS), then $ROUNDS rounds of ${DURATION}s each"
for case in "${CASES[@]}"; do
  warm_up "${case%%:*}" "${case#*:}"
done
for round in $(seq 1 "$ROUNDS"); do
  offset=$(( (round - 1) * count / ROUNDS ))
  for i in $(seq 0 $((count - 1))); do
    case="${CASES[$(( (i + offset) % count ))]}"
    run_case "$round" "${case%%:*}" "${case#*:}" "$DURATION" false
  done
done

if [ "$SCENARIOS" != 0 ]; then
  scenario_open_model
  scenario_reloads
  scenario_scale
  if [ "$AOT" = 1 ]; then
    scenario_reloads ase-full-aot
    scenario_scale aot
  fi
fi

report
echo
cat "$OUT/results.md"
echo
echo "results: $OUT/results.json, $OUT/results.md, $OUT/rps.png"
if [ "$SCENARIO_FAILURES" -gt 0 ]; then
  log "FAILED: $SCENARIO_FAILURES scenario check(s) failed (requests failed during reloads or scaling, or an operation did not complete)"
  exit 1
fi
