#!/usr/bin/env bash
# Second half of `make demo`: the release from dist/ uploaded to Azure Blob Storage as
# emulated by Azurite (over https, with a throwaway certificate), a tenant grant printed
# and used, then revoked. Skipped with a message when Azurite is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
B2=".venv/bin/b2release"
AZURITE=".tools/node_modules/.bin/azurite-blob"
if [ ! -x "$AZURITE" ]; then
    echo "demo: Azurite not installed (make tools): skipping the Azure upload and grant part"
    exit 0
fi

tmp="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# A throwaway TLS certificate for 127.0.0.1: grants are https-only, even on an emulator.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
NODE_EXTRA_CA_CERTS="$tmp/cert.pem" "$AZURITE" --blobHost 127.0.0.1 --blobPort 0 --inMemoryPersistence \
    --skipApiVersionCheck --disableTelemetry --silent --cert "$tmp/cert.pem" --key "$tmp/key.pem" \
    >"$tmp/azurite.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "successfully listens on" "$tmp/azurite.log" && break; sleep 0.1; done
endpoint="$(grep -o "https://127.0.0.1:[0-9]*" "$tmp/azurite.log" | head -1 || true)"
[ -n "$endpoint" ] || { echo "demo: Azurite did not start"; cat "$tmp/azurite.log"; exit 1; }

# Azurite's well-known development account (public; a real account key would come from a vault).
key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=$endpoint/devstoreaccount1;"
export REQUESTS_CA_BUNDLE="$tmp/cert.pem"

echo
echo "== Azure Blob Storage (Azurite at $endpoint)"
"$B2" upload --store azure
url="$("$B2" grant --store azure --tenant acme --expires 1h)"
echo "grant for tenant acme (read-only, https-only, 1h, revocable):"
echo "    $url"
curl -fsS --cacert "$tmp/cert.pem" -o "$tmp/download.zip" "$url"
echo "download with the grant: $(sha256sum <"$tmp/download.zip" | cut -c1-16)... = dist/$(basename "${url%%\?*}")"
cmp "$tmp/download.zip" "dist/$(basename "${url%%\?*}")"
other="${url/tenant-acme/tenant-globex}"
echo "the same grant on tenant globex's container: HTTP $(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" "$other")"
"$B2" revoke --store azure --tenant acme
sleep 1
echo "after revoke: HTTP $(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" "$url")"
