#!/usr/bin/env bash
# `make demo`: the whole pipeline on the bundled sample connector with the embedded
# defaults of ./b2release.toml (local folder store, generated dev keys, no CDN).
set -euo pipefail
cd "$(dirname "$0")/.."
B2=".venv/bin/b2release"

# The sample connector is built with Mono's xbuild, its NUnit tests run with nunit-console,
# and it is signed with osslsigncode.
need=()
command -v xbuild >/dev/null 2>&1 || command -v msbuild >/dev/null 2>&1 || need+=(mono-devel mono-utils)
command -v nunit-console >/dev/null 2>&1 || command -v nunit3-console >/dev/null 2>&1 || need+=(nunit-console)
command -v osslsigncode >/dev/null 2>&1 || need+=(osslsigncode)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "demo: installing ${need[*]} (apt-get)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
    else
        if command -v apt-get >/dev/null 2>&1; then cmd="sudo apt-get install -y ${need[*]}"
        elif command -v brew >/dev/null 2>&1; then cmd="brew install mono osslsigncode (and NUnit's console runner, see docs/test.md)"
        elif command -v dnf >/dev/null 2>&1; then cmd="sudo dnf install -y mono-devel osslsigncode (and NUnit's console runner, see docs/test.md)"
        else cmd="install Mono (xbuild), NUnit's console runner and osslsigncode, see docs/build.md, docs/test.md and docs/signing.md"; fi
        echo "demo: the sample connector needs ${need[*]}. Install with:" >&2
        echo "    $cmd" >&2
        echo "then run 'make demo' again." >&2
        exit 1
    fi
fi

# The demo starts from an empty work dir and local store (both git-ignored and owned by
# the demo): version 1.0.0 is immutable once uploaded, and a rebuild after a new commit
# has a different manifest (commit id, timestamps), which upload would rightly refuse.
rm -rf dist dist-1.1.0 releases

# Development keys, once (git-ignored keys/).
[ -f keys/release-signing.key ] || "$B2" keys generate --out keys

# build -> test -> compat -> scan -> sign -> package -> upload -> purge, as configured in b2release.toml.
"$B2" release --version 1.0.0

# What an auditor does: offline, with the public key and the code-signing certificate only.
"$B2" verify dist --public-key keys/release-signing.pub --ca keys/codesign.crt

# A second version through a canary channel, a gradual rollout, and a rollback.
echo
echo "== 1.1.0: canary, pilot rollout to acme, everyone, then a rollback to 1.0.0"
"$B2" -q --work-dir dist-1.1.0 release --version 1.1.0 --to package
"$B2" -q --work-dir dist-1.1.0 upload --channel canary
"$B2" promote --from canary --to stable --tenant acme
"$B2" promote --from canary --to stable
"$B2" rollback --channel stable --to 1.0.0 --reason "demo: 1.1.0 withdrawn"
echo "tenant acme's stable pointer now:"
cat releases/tenant-acme/enventa-connector/channels/stable.json

# The same release on Azure Blob Storage (Azurite), with a tenant grant used and revoked.
if [ ! -x .tools/node_modules/.bin/azurite-blob ] && command -v npm >/dev/null 2>&1; then
    echo "demo: installing Azurite (the Azure Blob emulator) with npm into .tools/; the first time takes a minute or two" >&2
    make --no-print-directory tools >/dev/null 2>&1 || echo "demo: could not install Azurite with npm" >&2
fi
bash scripts/demo-grant.sh

echo
echo "demo done:"
echo "  build output     dist/build/ (signed Enventa.Connector.dll, Enventa.Connector.Cli.exe)"
echo "  release files    dist/enventa-connector-1.0.0.zip, manifest.json(.sig), SHA256SUMS, sbom.cdx.json,"
echo "                   enventa-connector-1.0.0.intoto.jsonl (signed build provenance)"
echo "  public API       dist/api/*.api.txt, dist/release-notes.md (compat)"
echo "  test results     dist/test-results/junit.xml (and nunit-console's own XML beside it)"
echo "  scan results     dist/scan-report.json, dist/scan.sarif"
if [ -d releases ]; then
    echo "  local store      releases/ (one folder per tenant container; stable rolled back to 1.0.0)"
fi
