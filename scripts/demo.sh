#!/usr/bin/env bash
# The demo: dev keys, then the stages that exist, on the bundled sample, with local defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
B2=".venv/bin/b2release"
mkdir -p keys
[ -f keys/release-signing.key ] || "$B2" keys generate --out keys
"$B2" --config examples/demo.toml package --input examples/prebuilt --version 1.0.0
"$B2" --config examples/demo.toml verify dist --public-key keys/release-signing.pub
echo "demo done: package, manifest, signature and SHA256SUMS in dist/"
