# Sourced by compare.sh, ab.sh and crs-compare.sh: the gateway's configuration for the targets ase-bare and ase-full,
# the backend's environment, the request body files, free loopback ports and the background JIT's CPU.
# Reads BACKEND_PORT, BACKEND2_PORT, CERT_DIR, HOST_HEADER, WORK, API_KEY and ACCESS_LOG (0 or 1) from the caller.

PERF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# perf_backend_env: the environment of the one backend process every target forwards to. It serves BACKEND_PORT and
# BACKEND2_PORT when set (ase-full's two worker instances) with inline socket completions. Two processes sharing the 2 cores,
# or one whose thread pool wakes and spins for each request, cost the machine more per request with some proxies in
# front than with others; see perf/AseGateway.PerfBackend/Program.cs and docs/performance-log.md "The backend".
perf_backend_env() { echo "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 PORT=$BACKEND_PORT${BACKEND2_PORT:+,$BACKEND2_PORT}"; }

# post_body_files BYTES [CHUNKED [MIXED]]: WORK/body.bin (BYTES of "a", h2load's -d) and WORK/post.lua (wrk's -s: a POST of
# that body), for --post-bytes in compare.sh and ab.sh alike. With CHUNKED 1 (--chunked) wrk sends the body as one
# chunk and no Content-Length, as a .NET client's PostAsJsonAsync or any streamed upload does; h2load has no such
# framing (HTTP/2 sends a length with -d), so its requests stay sized.
post_body_files() {
  head -c "$1" /dev/zero | tr '\0' 'a' > "$WORK/body.bin"
  if [ "${3:-0}" -gt 0 ]; then
    # --mixed N: one request in N (counted per wrk thread, so every connection meets one) is the POST, the others GETs,
    # as an API client's pooled connections carry an occasional upload among their reads.
    printf 'local f = io.open("%s", "rb")\nlocal data = f:read("*a")\nf:close()\nlocal n, post, get = 0\nrequest = function()\n  n = n + 1\n  if n %% %d == 0 then\n    if not post then\n      local headers = {}\n      for k, v in pairs(wrk.headers) do headers[k] = v end\n      headers["Content-Type"] = "application/octet-stream"\n      post = wrk.format("POST", nil, headers, data)\n    end\n    return post\n  end\n  get = get or wrk.format("GET", nil, nil, nil)\n  return get\nend\n' "$WORK/body.bin" "$3" > "$WORK/post.lua"
  elif [ "${2:-0}" = 1 ]; then
    # The head from wrk.format without a body (so without Content-Length), then the chunked body after it.
    printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/octet-stream"\nwrk.headers["Transfer-Encoding"] = "chunked"\nlocal f = io.open("%s", "rb")\nlocal data = f:read("*a")\nf:close()\nlocal raw\nrequest = function()\n  raw = raw or (wrk.format(nil, nil, nil, nil) .. string.format("%%x\\r\\n", #data) .. data .. "\\r\\n0\\r\\n\\r\\n")\n  return raw\nend\n' "$WORK/body.bin" > "$WORK/post.lua"
  else
    printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/octet-stream"\nlocal f = io.open("%s", "rb")\nwrk.body = f:read("*a")\nf:close()\n' "$WORK/body.bin" > "$WORK/post.lua"
  fi
}

# BROWSER_HEADERS: what Chrome sends with a page request besides the request line and Host (--browser-headers in
# compare.sh and ab.sh): 860 bytes in 14 fields, cookies and client hints among them, against wrk's and h2load's
# bare requests. Every proxy parses, checks and forwards them; the WAF and the access log read them too.
BROWSER_HEADERS=(
  "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
  "Accept-Language: en-US,en;q=0.9,de;q=0.8"
  "Accept-Encoding: gzip, deflate, br, zstd"
  "Referer: https://bench.perf.test/products/list?page=2&sort=price&category=outdoor"
  "Cookie: session=3f9c2a7e5b1d4c8fa0e6b2d9c7a4f1e8; theme=dark; consent=analytics%3Dfalse%26ads%3Dfalse; _ga=GA1.1.1234567890.1733222222; _ga_X1Y2Z3=GS1.1.1733222222.3.1.1733223333.0.0.0"
  "sec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\""
  "sec-ch-ua-mobile: ?0"
  "sec-ch-ua-platform: \"Windows\""
  "Sec-Fetch-Dest: document"
  "Sec-Fetch-Mode: navigate"
  "Sec-Fetch-Site: same-origin"
  "Sec-Fetch-User: ?1"
  "Upgrade-Insecure-Requests: 1"
)

# header_args [0|1]: the -H arguments of BROWSER_HEADERS, one per field, when its argument is 1 (else none).
header_args() {
  [ "${1:-0}" = 1 ] || return 0
  local field
  for field in "${BROWSER_HEADERS[@]}"; do printf '%s\0%s\0' -H "$field"; done
}

# jit_thread_ticks PID...: "TID TICKS" (user+system) for each thread of these processes that runs tiered compilation's
# background JIT (".NET Tiered Com": every recompilation of a hot method after its first compile), then a line "jit".
# Read from /proc, so reading it costs the processes nothing. compare.sh and ab.sh warm up until it is nearly idle.
jit_thread_ticks() {
  local pid task line
  for pid in "$@"; do
    for task in /proc/"$pid"/task/*; do
      [ "$(cat "$task/comm" 2>/dev/null)" = ".NET Tiered Com" ] || continue
      line="$(cat "$task/stat" 2>/dev/null)" || continue
      # shellcheck disable=SC2086 # the fields after the command name, split on purpose
      set -- ${line##*) }
      echo "${task##*/} $((${12} + ${13}))"
    done
  done
  echo "jit"
}

# jit_percent BEFORE AFTER CPU_TICKS: the background JIT's ticks between two jit_thread_ticks readings as a share of
# CPU_TICKS, in % with two decimals (a thread that is new counts whole; one that exited idle in between, after 4 s
# without work, is missed).
jit_percent() {
  awk -v t="$3" 'NR == FNR { if (NF == 2) seen[$1] = $2; next } NF == 2 { sum += $2 - (($1 in seen) ? seen[$1] : 0) }
    END { printf "%.2f", (t > 0 ? sum / t * 100 : 0) }' <(echo "$1") <(echo "$2")
}

# free_port: a loopback port nobody listens on, below the kernel's ephemeral range (a port that is some outgoing
# connection's local port cannot be bound either), and not handed out before in this run. The ports handed out are
# kept in a file of WORK, not a variable: each caller runs it as $(free_port), in a subshell whose variables are lost.
free_port() {
  local port low
  low="$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2> /dev/null || echo 32768)"
  while :; do
    port=$((10000 + RANDOM % (low - 10000)))
    grep -qx "$port" "$WORK/ports-taken" 2> /dev/null && continue
    # Nobody answers on it (a connect fails at once on loopback): free enough for a child started right away.
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      echo "$port" >> "$WORK/ports-taken"
      echo "$port"
      return
    fi
  done
}

api_key_sha256() { printf %s "$API_KEY" | sha256sum | cut -d' ' -f1; }

# gateway_config NAME HTTP_PORT HTTPS_PORT MGMT_PORT FEATURES(bare|full) [EXTRA_APP] [WAF_MARK] [H2C_PORT]
gateway_config() {
  local http="$2" https="$3" mgmt="$4" features="$5" extra_app="${6:-}" mark="${7:-0}" h2c="${8:-}"
  local nsg="" waf="" access="" observability="" workers instances=1 affinity=false extra=""
  workers="{ \"address\": \"http://127.0.0.1:$BACKEND_PORT\" }"
  if [ "$features" = full ]; then
    instances=2 affinity=true
    workers="$workers, { \"address\": \"http://127.0.0.1:$BACKEND2_PORT\" }"
    nsg='"networkSecurityGroup": {
      "serviceTags": { "WafSubnet": [ "10.0.1.0/24" ], "Partners": [ "192.0.2.0/24", "198.18.0.0/15" ] },
      "securityRules": [
        { "name": "DenyScanners", "priority": 100, "access": "Deny", "protocol": "*", "sourceAddressPrefixes": [ "198.51.100.0/24", "203.0.113.0/24" ], "destinationPortRange": "*" },
        { "name": "AllowWaf", "priority": 110, "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "WafSubnet", "destinationPortRange": "*" },
        { "name": "AllowPartners", "priority": 120, "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "Partners", "destinationPortRange": "*" },
        { "name": "AllowLoopback", "priority": 200, "access": "Allow", "protocol": "Tcp", "sourceAddressPrefixes": [ "127.0.0.0/8", "::1/128" ], "destinationPortRange": "*" },
        { "name": "DenyInternet", "priority": 4000, "access": "Deny", "protocol": "*", "sourceAddressPrefix": "Internet", "destinationPortRange": "*" } ] },'
    access='"accessRestrictions": { "rules": [
        { "name": "scanners", "priority": 100, "action": "Deny", "ipAddress": "198.51.100.0/24,203.0.113.128/25" },
        { "name": "office", "priority": 200, "action": "Allow", "ipAddress": "10.20.0.0/16,10.21.0.0/16,172.16.5.0/24" },
        { "name": "frontDoor", "priority": 300, "action": "Allow", "serviceTag": "Partners", "headers": { "X-Azure-FDID": [ "5b4f9a4e-3a0d-4c5e-9f3c-1a2b3c4d5e6f" ] } },
        { "name": "loopback", "priority": 400, "action": "Allow", "ipAddress": "127.0.0.0/8,::1/128" } ] },
      "wafPolicy": "edge",'
    # The policy is perf/waf-policy.json, which WafEvaluationBenchmarks evaluates too; MARK makes each reload's
    # policy differ from the one before (compare.sh's reload scenario).
    # A --post-bytes body over the policy's default limit (128 KB, as on Azure) would be refused with 413 while the
    # peers forward it: the limit is raised to fit, as a user sending such bodies would set it (past its 2048 KB
    # maximum, enforcement is turned off, as on Azure).
    local limits="" kb=$(( (${POST_BYTES:-0} + 1023) / 1024 ))
    if [ "$kb" -gt 2048 ]; then
      limits=', "requestBodyEnforcement": false'
    elif [ "$kb" -gt 128 ]; then
      limits=", \"maxRequestBodySizeInKb\": $kb"
    fi
    waf="\"wafPolicies\": [ $(sed -e "s/evilbot-MARK/evilbot-$mark/" -e "s/\"mode\": \"Prevention\" }/\"mode\": \"Prevention\"$limits }/" "$PERF_DIR/waf-policy.json") ],"
  fi
  if [ "$features" = full ] && [ "${ACCESS_LOG:-0}" = 1 ]; then
    # The issue's full feature set is NSG rules, access restrictions, a WAF policy and two instances with affinity and
    # health checks, against nginx and HAProxy that log nothing: an equal configuration logs nothing either. With
    # --access-log (ACCESS_LOG=1) ase-full also writes W3C lines to a file in the work folder, what every request's
    # log line costs. Not named *.log, so that the clean-up does not copy its tens of MB into the results with the
    # process logs.
    observability="\"observability\": { \"accessLog\": { \"enabled\": true, \"format\": \"W3C\", \"path\": \"$WORK/$1-access.w3c\", \"maxFileSizeInMb\": 50, \"retainedFiles\": 2 } },"
  fi
  # h2c (HTTP/2 prior knowledge, its own port as in plain YARP): tells HTTP/2's cost from TLS's.
  local h2c_listener=""
  [ -n "$h2c" ] && h2c_listener=",
      { \"name\": \"h2c\", \"address\": \"127.0.0.1\", \"port\": $h2c, \"protocol\": \"Http2\" }"
  if [ -n "$extra_app" ]; then
    extra=", { \"name\": \"$extra_app\", \"plan\": \"bench-plan\", \"hostNames\": [ \"$extra_app.perf.test\" ], \"healthCheckPath\": \"/healthz\" }"
  fi
  cat <<EOF
{
  "name": "perf-$1",
  "dnsSuffix": "perf.internal",
  "frontEnd": {
    "listeners": [
      { "name": "http", "address": "127.0.0.1", "port": $http, "protocol": "Http" },
      { "name": "https", "address": "127.0.0.1", "port": $https, "protocol": "Https" }$h2c_listener ],
    "tls": { "certificates": [ { "path": "$CERT_DIR/localhost.pfx", "passwordEnvironmentVariable": "ASE_CERT_PASSWORD" } ] },
    "limits": { "maxConnectionsPerClient": 10000 }
  },
  $nsg
  $waf
  $observability
  "healthCheck": { "intervalSeconds": 5, "timeoutSeconds": 2, "maxPingFailures": 2, "maxUnhealthyPercent": 50 },
  "workerPools": [ { "name": "WP1", "workerSize": "Small", "workerCount": $instances, "workers": [ $workers ] } ],
  "plans": [ { "name": "bench-plan", "workerPool": "WP1", "instanceCount": $instances } ],
  "apps": [
    { "name": "bench", "plan": "bench-plan", "hostNames": [ "$HOST_HEADER" ], "healthCheckPath": "/healthz",
      $access
      "clientAffinityEnabled": $affinity }$extra ],
  "management": { "address": "127.0.0.1", "port": $mgmt, "apiKeys": [ { "name": "perf", "sha256": "$(api_key_sha256)" } ] }
}
EOF
}
