#!/usr/bin/env bash
# Two builds of the gateway side by side: what one change buys, in CPU per request and requests per second.
#
#   perf/ab.sh BASE [HEAD]     BASE and HEAD are git commits (HEAD: the working tree as it is, by default)
#   options: --rounds N (6)  --seconds S (5)  --protocols "h1 h2tls" (also h2c; tls: a TLS handshake per request;
#                                                h10: HTTP/1.0 kept alive, from ApacheBench's ab -k)  --features full|bare (full)
#            --path PATH (/; the backend answers /bytes/N with N bytes)  --post-bytes N (POST an N-byte body)
#            --chunked (with --post-bytes: that body chunked, without Content-Length, over HTTP/1.1)
#            --mixed N (with --post-bytes, HTTP/1.1 only: one request in N is that POST, the others GETs)
#            --browser-headers (a browser's 14 request header fields with every request, as compare.sh's)
#            --access-log          ase-full's configuration with its W3C access log to a file (compare.sh's --access-log)
#            --aot                 both gateways published as Native AOT (as compare.sh's ase-full-aot) instead of the JIT build
#            --a-env "K=V"  --b-env "K=V"   extra environment for the BASE (A) or HEAD (B) gateway only, e.g. to
#                                           measure a runtime setting against the same build: perf/ab.sh HEAD HEAD --b-env ...
#            --a-jq FILTER  --b-jq FILTER   a jq filter applied to that gateway's configuration, e.g. what a feature
#                                           costs: perf/ab.sh HEAD HEAD --access-log --b-jq 'del(.observability)'
#
# Builds both in Release (BASE in a temporary git worktree), starts the backend (one process, two ports) and the two
# gateways with the same configuration as compare.sh's ase-full (or ase-bare), all on loopback as children of this
# script, and after a discarded warm-up (until both JITs are nearly idle) drives them in rounds of four runs, ABBA in
# odd rounds and BAAB in even ones: on a shared 2-core machine the first and the second run of a pair have measured up
# to 13% apart, and a drift within a round hits both alike. Per round the ratio B/A of CPU per request (the gateway
# process's utime+stime from /proc over the runs, divided by the requests served) and of requests per second; at the
# end their medians and in how many rounds B was lower. Ratios, not absolute figures, are what to compare: these
# machines are noisy.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) — a gateway that exited, say — ends the script too

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS=6 SECONDS_PER_RUN=5 PROTOCOLS="h1 h2tls" FEATURES=full REQUEST_PATH="/" POST_BYTES=0 CHUNKED=0 MIXED=0 BROWSER=0 ACCESS_LOG=0 AOT=0 A_ENV="" B_ENV="" A_JQ="." B_JQ="." BASE="" HEAD=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --seconds) SECONDS_PER_RUN="$2"; shift 2 ;;
    --protocols) PROTOCOLS="$2"; shift 2 ;;
    --features) FEATURES="$2"; shift 2 ;;
    --path) REQUEST_PATH="$2"; shift 2 ;;
    --post-bytes) POST_BYTES="$2"; shift 2 ;;
    --chunked) CHUNKED=1; shift ;;
    --mixed) MIXED="$2"; shift 2 ;;
    --browser-headers) BROWSER=1; shift ;;
    --access-log) ACCESS_LOG=1; shift ;;
    --aot) AOT=1; shift ;;
    --a-env) A_ENV="$2"; shift 2 ;;
    --b-env) B_ENV="$2"; shift 2 ;;
    --a-jq) A_JQ="$2"; shift 2 ;;
    --b-jq) B_JQ="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) if [ -z "$BASE" ]; then BASE="$1"; elif [ -z "$HEAD" ]; then HEAD="$1"; else echo "one or two commits" >&2; exit 2; fi; shift ;;
  esac
done
[ "$MIXED" = 0 ] || { [ "$POST_BYTES" -gt 0 ] && [ "$PROTOCOLS" = h1 ]; } || { echo "--mixed needs --post-bytes and --protocols h1 (h2load cannot mix requests)" >&2; exit 2; }
[ -n "$BASE" ] || { sed -n '2,25p' "$0"; exit 2; }
for tool in wrk h2load curl jq; do command -v "$tool" > /dev/null || { echo "$tool is missing: apt-get install -y wrk nghttp2-client curl jq" >&2; exit 1; }; done
case " $PROTOCOLS " in *" h10 "*) command -v ab > /dev/null || { echo "ab is missing: apt-get install -y apache2-utils" >&2; exit 1; } ;; esac

WORK="$(mktemp -d)"
CERT_DIR="$REPO/certs/dev" HOST_HEADER="bench.perf.test" API_KEY="ab-$RANDOM$RANDOM"
PIDS=() WORKTREES=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  for tree in "${WORKTREES[@]}"; do git -C "$REPO" worktree remove --force "$tree" > /dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
source "$REPO/perf/gateway-config.sh"
WRK_BODY=() H2LOAD_BODY=() AB_BODY=()
mapfile -d '' HEADER_ARGS < <(header_args "$BROWSER")
if [ "$POST_BYTES" -gt 0 ]; then
  post_body_files "$POST_BYTES" "$CHUNKED" "$MIXED"
  WRK_BODY=(-s "$WORK/post.lua") H2LOAD_BODY=(-d "$WORK/body.bin") AB_BODY=(-p "$WORK/body.bin" -T application/octet-stream)
fi

# build NAME COMMIT: sets BUILT to the gateway's command, from a worktree of COMMIT (or the working tree when empty):
# "dotnet <dll>", or with --aot the native binary.
build() {
  local tree="$REPO"
  if [ -n "$2" ]; then
    tree="$WORK/tree-$1"
    git -C "$REPO" worktree add --detach "$tree" "$2" > /dev/null 2>&1 || { echo "no such commit: $2" >&2; exit 1; }
    WORKTREES+=("$tree")
  fi
  if [ "$AOT" = 1 ]; then
    log "publishing $1 (${2:-working tree}) as Native AOT"
    local rid=linux-x64; case "$(uname -m)" in aarch64|arm64) rid=linux-arm64 ;; esac
    # Straight into WORK: a publish of the working tree during the runs cannot change what is measured.
    dotnet publish "$tree/src/AseGateway" -c Release -r "$rid" -p:PublishAot=true -o "$WORK/bin-$1" -nologo -v q -clp:NoSummary > "$WORK/build-$1.log" 2>&1 ||
      { cat "$WORK/build-$1.log" >&2; exit 1; }
    BUILT="$WORK/bin-$1/AseGateway"
    return
  fi
  log "building $1 (${2:-working tree}) in Release"
  dotnet build "$tree/src/AseGateway" -c Release -nologo -v q -clp:NoSummary > "$WORK/build-$1.log" 2>&1 || { cat "$WORK/build-$1.log" >&2; exit 1; }
  # Copied out, so that a build of the working tree during the runs cannot change what is measured.
  cp -r "$tree/src/AseGateway/bin/Release/net10.0" "$WORK/bin-$1"
  BUILT="dotnet $WORK/bin-$1/AseGateway.dll"
}
build A "$BASE"; A_CMD="$BUILT"
# The same commit twice (e.g. HEAD HEAD with --b-env): built once.
if [ -n "$HEAD" ] && [ "$(git -C "$REPO" rev-parse "$HEAD^{commit}" 2> /dev/null)" = "$(git -C "$REPO" rev-parse "$BASE^{commit}" 2> /dev/null)" ]; then
  B_CMD="$A_CMD"
else
  build B "$HEAD"; B_CMD="$BUILT"
fi
dotnet build "$REPO/perf/AseGateway.PerfBackend" -c Release -nologo -v q -clp:NoSummary > "$WORK/build-backend.log" 2>&1 || { cat "$WORK/build-backend.log" >&2; exit 1; }

BACKEND_DLL="$REPO/perf/AseGateway.PerfBackend/bin/Release/net10.0/AseGateway.PerfBackend.dll"
BACKEND_PORT="$(free_port)" BACKEND2_PORT="$(free_port)"
env $(perf_backend_env) dotnet "$BACKEND_DLL" > "$WORK/backend.log" 2>&1 & PIDS+=($!)

declare -A PID URL_h1 URL_h10 URL_h2c URL_h2tls URL_tls
for side in A B; do
  http="$(free_port)" https="$(free_port)" mgmt="$(free_port)" h2c="$(free_port)"
  filter="${side}_JQ"
  gateway_config "$side" "$http" "$https" "$mgmt" "$FEATURES" "" 0 "$h2c" | jq "${!filter}" > "$WORK/$side.json" ||
    { echo "the jq filter of $side failed: ${!filter}" >&2; exit 1; }
  cmd="${side}_CMD" extra="${side}_ENV"
  # shellcheck disable=SC2086 # the command is "dotnet <dll>" or one binary, paths without spaces (mktemp's)
  env ASE_CERT_PASSWORD=dev-password ${!extra} ${!cmd} --config "$WORK/$side.json" > "$WORK/$side.log" 2>&1 & PID[$side]=$!; PIDS+=($!)
  URL_h1[$side]="http://127.0.0.1:$http/" URL_h10[$side]="http://127.0.0.1:$http/" URL_h2c[$side]="http://127.0.0.1:$h2c/" URL_h2tls[$side]="https://127.0.0.1:$https/"
  URL_tls[$side]="${URL_h2tls[$side]}"
done
for side in A B; do
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST_HEADER" --max-time 2 "${URL_h1[$side]}")" = 200 ] && continue 2
    kill -0 "${PID[$side]}" 2> /dev/null || { cat "$WORK/$side.log" >&2; echo "gateway $side exited" >&2; exit 1; }
    sleep 0.1
  done
  cat "$WORK/$side.log" >&2; echo "gateway $side did not answer within 30 s" >&2; exit 1
done

CLK_TCK="$(getconf CLK_TCK)"
# ticks SIDE: the gateway's CPU so far; a gateway that has exited ends the comparison with the tail of its log.
ticks() {
  awk '{ print $14 + $15 }' "/proc/${PID[$1]}/stat" 2> /dev/null && return
  echo "gateway $1 exited; the end of its log:" >&2; tail -n 30 "$WORK/$1.log" >&2; exit 1
}
# run SIDE PROTOCOL SECONDS: prints "REQUESTS_PER_SECOND CPU_US_PER_REQUEST JIT_PERCENT" (the background JIT's share
# of the gateway's CPU over the run, read outside it: jit_thread_ticks in gateway-config.sh)
run() {
  local side="$1" protocol="$2" seconds="$3" before after requests rps jit_before jit_after
  local -n urls="URL_$protocol"
  jit_before="$(jit_thread_ticks "${PID[$side]}")"
  before="$(ticks "$side")"
  if [ "$protocol" = h1 ] || [ "$protocol" = tls ]; then
    # tls: HTTP/1.1 with "Connection: close", a full handshake per request (wrk does not resume sessions).
    local close=()
    [ "$protocol" = tls ] && close=(-H "Connection: close")
    wrk -t2 -c64 -d"${seconds}s" "${WRK_BODY[@]}" "${close[@]}" -H "Host: $HOST_HEADER" "${HEADER_ARGS[@]}" "${urls[$side]}${REQUEST_PATH#/}" > "$WORK/run.out" 2>&1 || true
    requests="$(awk '/requests in/ { print $1 }' "$WORK/run.out")"; rps="$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/run.out")"
  elif [ "$protocol" = h10 ]; then
    # ApacheBench: one thread, HTTP/1.0 with "Connection: Keep-Alive"; -n after -t, or -t caps it at 50,000 requests.
    ab -k -q -c 64 -t "$seconds" -n 100000000 "${AB_BODY[@]}" -H "Host: $HOST_HEADER" "${HEADER_ARGS[@]}" "${urls[$side]}${REQUEST_PATH#/}" > "$WORK/run.out" 2>&1 || true
    requests="$(awk '/^Complete requests:/ { print $3 }' "$WORK/run.out")"; rps="$(awk '/^Requests per second:/ { print $4 }' "$WORK/run.out")"
  else
    h2load -t2 -c16 -m8 -D "$seconds" "${H2LOAD_BODY[@]}" -H ":authority: $HOST_HEADER" "${HEADER_ARGS[@]}" "${urls[$side]}${REQUEST_PATH#/}" > "$WORK/run.out" 2>&1 || true
    requests="$(awk '/^requests:/ { gsub(",", ""); print $8 }' "$WORK/run.out")"; rps="$(awk '/^finished in/ { gsub(",", ""); print $4 }' "$WORK/run.out")"
  fi
  after="$(ticks "$side")"
  jit_after="$(jit_thread_ticks "${PID[$side]}")"
  awk -v t="$((after - before))" -v n="${requests:-0}" -v r="${rps:-0}" -v hz="$CLK_TCK" -v j="$(jit_percent "$jit_before" "$jit_after" "$((after - before))")" \
    'BEGIN { printf "%.0f %.2f %.1f", r, (n > 0 ? t * 1e6 / hz / n : 0), j }'
}

# warm_up: two discarded runs a side of each protocol, then passes over all of them, one run a side each (at most 8
# passes), until the background JIT took under 2% of each gateway's CPU in every run of a pass. Tiered compilation goes
# on recompiling for 15-30 s of load (longer over HTTP/2 + TLS), in bursts that land in one side's run and not the
# other's, and what one protocol's runs queue for it is compiled during the next protocol's: a round measured then
# reads the JIT, not the change.
warm_up() {
  local protocol side pass jit busy
  for protocol in $PROTOCOLS; do for side in A B A B; do run "$side" "$protocol" 4 > /dev/null; done; done
  for pass in $(seq 1 8); do
    busy=""
    for protocol in $PROTOCOLS; do
      for side in A B; do
        jit="$(run "$side" "$protocol" 4 | awk '{ print $3 }')"
        awk -v j="$jit" 'BEGIN { exit !(j >= 2) }' && busy+=" $protocol $side ${jit}%"
      done
    done
    if [ -z "$busy" ]; then log "warm-up: the JITs idle in pass $pass"; return; fi
  done
  log "warm-up: the JIT still took 2% or more of the gateway's CPU after 8 passes:$busy"
}

log "A: ${BASE}${A_ENV:+ ($A_ENV)}$( [ "$A_JQ" = . ] || echo " [jq $A_JQ]")   B: ${HEAD:-working tree}${B_ENV:+ ($B_ENV)}$( [ "$B_JQ" = . ] || echo " [jq $B_JQ]")   features: $FEATURES   request: $( [ "$MIXED" -gt 0 ] && echo "GET, and one in $MIXED a POST ($POST_BYTES bytes)" || { [ "$POST_BYTES" -gt 0 ] && echo "POST ($POST_BYTES bytes$( [ "$CHUNKED" = 1 ] && echo ", chunked over HTTP/1.1"))"; } || echo GET) $REQUEST_PATH$( [ "$BROWSER" = 1 ] && echo " with browser headers")$( [ "$AOT" = 1 ] && echo "   build: Native AOT")"
warm_up
for round in $(seq 1 "$ROUNDS"); do
  for protocol in $PROTOCOLS; do
    order="A B B A"; [ $((round % 2)) = 0 ] && order="B A A B"
    for side in $order; do
      result="$(run "$side" "$protocol" "$SECONDS_PER_RUN")"
      echo "$round $protocol $side $result" >> "$WORK/runs.txt"
      log "round $round  $protocol  $side  $(printf '%8.0f req/s  %7.2f µs/req  JIT %4.1f%%' $result)"
    done
  done
done

# Also without the background JIT's share of each run (its bursts land in one side's run and not the other's, after the
# warm-up too): a second median that tells a change from such a burst. The first one, all of the CPU, is the figure.
python3 - "$WORK/runs.txt" <<'PY'
import collections, statistics, sys
sums = collections.defaultdict(lambda: collections.defaultdict(lambda: [0.0, 0.0, 0, 0.0]))
for line in open(sys.argv[1]):
    round_, protocol, side, rps, us, jit = line.split()
    s = sums[(protocol, round_)][side]
    s[0] += float(rps); s[1] += float(us); s[2] += 1; s[3] += float(us) * (1 - float(jit) / 100)
for protocol in dict.fromkeys(k[0] for k in sums):
    rounds = [v for k, v in sums.items() if k[0] == protocol]
    cpu = [r["B"][1] / r["A"][1] - 1 for r in rounds]
    cpu_without_jit = [r["B"][3] / r["A"][3] - 1 for r in rounds]
    rps = [r["B"][0] / r["A"][0] - 1 for r in rounds]
    a = statistics.median(r["A"][1] / r["A"][2] for r in rounds)
    b = statistics.median(r["B"][1] / r["B"][2] for r in rounds)
    print(f"{protocol}: B vs A CPU per request {100 * statistics.median(cpu):+.1f}% (median of {len(cpu)} rounds; "
          f"B lower in {sum(c < 0 for c in cpu)}), req/s {100 * statistics.median(rps):+.1f}%; A {a:.2f} µs, B {b:.2f} µs; "
          f"without the background JIT {100 * statistics.median(cpu_without_jit):+.1f}% (B lower in {sum(c < 0 for c in cpu_without_jit)})")
PY
