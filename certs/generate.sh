#!/usr/bin/env bash
# Regenerates the development PKI in certs/dev: a CA and two leaf certificates signed by it.
# DEVELOPMENT ONLY: these keys are public (they are in the repository). Never use them in production.
#   ./certs/generate.sh            make whatever is missing
#   ./certs/generate.sh --force    make everything again
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p dev
force=${1:-}
password=dev-password

if [ "$force" = "--force" ]; then rm -f dev/*; fi

if [ ! -f dev/ca.crt ]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -days 3650 -nodes \
    -keyout dev/ca.key -out dev/ca.crt -subj "/CN=AseGateway Development CA/O=AseGateway" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

# leaf NAME CN SAN...: an EC P-256 key (fast handshakes, small records; every TLS 1.2+ client supports it),
# 825 days (the longest validity Apple platforms accept for a TLS server certificate).
leaf() {
  local name=$1 cn=$2; shift 2
  local sans
  sans=$(printf '%s,' "$@"); sans=${sans%,}
  [ -f "dev/$name.crt" ] && return
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "dev/$name.key" -out "dev/$name.csr" -subj "/CN=$cn/O=AseGateway development" 2>/dev/null
  openssl x509 -req -in "dev/$name.csr" -CA dev/ca.crt -CAkey dev/ca.key -CAcreateserial -days 825 -sha256 \
    -out "dev/$name.crt" -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' "$sans") 2>/dev/null
  openssl pkcs12 -export -in "dev/$name.crt" -inkey "dev/$name.key" -certfile dev/ca.crt -name "$name" \
    -out "dev/$name.pfx" -passout "pass:$password" -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg SHA256
  rm -f "dev/$name.csr"
}

# Wildcards directly under a top-level name (*.localhost) are refused by OpenSSL and .NET host matching, so the
# quickstart apps are named explicitly.
leaf localhost localhost DNS:localhost DNS:hello.localhost DNS:api.localhost DNS:*.localhost IP:127.0.0.1 IP:::1
leaf contoso contoso.com DNS:contoso.com DNS:*.contoso.com

rm -f dev/ca.srl
openssl verify -CAfile dev/ca.crt dev/localhost.crt dev/contoso.crt
