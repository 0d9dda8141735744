#!/usr/bin/env bash
# build.sh: build Kvstore and package it.
#   ./build.sh version 1.0 [--out DIR] [--prebuilt]
#     → DIR/kvstore-1.0.tar.gz (DIR defaults to this folder). --prebuilt packages the existing
#       dist/ and build/Release/ without compiling again (the packaging test uses it so it does not
#       rewrite files other tests are running from).
# The tarball holds the compiled JS, the built native addon, production node_modules, bin/kvstore,
# kv_store.sh, test_all, sample configs, docs and README. Unpacked on a like machine (same OS and
# CPU, Node 20+, redis-server) it runs with no npm step: ./kv_store.sh start.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() { echo "usage: $0 version VERSION [--out DIR] [--prebuilt]" >&2; exit 2; }

[ "${1:-}" = version ] || usage
VERSION="${2:-}"
[ -n "$VERSION" ] || usage
[[ "$VERSION" =~ ^[0-9A-Za-z][0-9A-Za-z._-]*$ ]] || { echo "build.sh: version must be like 1.0 or 1.2.3-rc1 (got \"$VERSION\")" >&2; exit 2; }
shift 2
OUT="$ROOT"
PREBUILT=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="${2:?--out needs a directory}"; shift 2 ;;
    --prebuilt) PREBUILT=1; shift ;;
    *) usage ;;
  esac
done
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
NAME="kvstore-$VERSION"

cd "$ROOT"
command -v node >/dev/null || { echo "build.sh: node is required" >&2; exit 1; }
if [ ! -d node_modules ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi
if [ "$PREBUILT" = 1 ]; then
  [ -f dist/src/cli/main.js ] || { echo "build.sh: --prebuilt but dist/ is not built (npm run build)" >&2; exit 1; }
else
  echo "== compile TypeScript"
  npm run --silent build
  echo "== build the native addon"
  npm run --silent build:native >/dev/null
fi
[ -f build/Release/kvstore_native.node ] || { echo "build.sh: build/Release/kvstore_native.node was not built" >&2; exit 1; }

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
PKG="$STAGE/$NAME"
mkdir -p "$PKG/bin" "$PKG/build/Release" "$PKG/scripts" "$PKG/dist"

echo "== stage $NAME"
cp -R dist/src "$PKG/dist/src"
find "$PKG/dist" -name '*.map' -delete
cp build/Release/kvstore_native.node "$PKG/build/Release/"
cp bin/kvstore.js "$PKG/bin/kvstore"
chmod +x "$PKG/bin/kvstore"
cp kv_store.sh test_all README.md "$PKG/"
chmod +x "$PKG/kv_store.sh" "$PKG/test_all"
cp -R samples "$PKG/samples"
cp -R docs "$PKG/docs"
cp scripts/install-deps.sh "$PKG/scripts/"
[ -f LICENSE ] && cp LICENSE "$PKG/"

# package.json for the release: its version, no build scripts, no dev dependencies
node -e '
  const fs = require("fs");
  const [src, dst, version] = process.argv.slice(1);
  const p = JSON.parse(fs.readFileSync(src, "utf8"));
  p.version = version;
  p.bin = { kvstore: "bin/kvstore" };
  p.scripts = { start: "node bin/kvstore start -c samples/kvstore.yaml" };
  delete p.devDependencies;
  delete p.gypfile;
  delete p.ava;
  fs.writeFileSync(dst, JSON.stringify(p, null, 2) + "\n");
' package.json "$PKG/package.json" "$VERSION"
cp package-lock.json "$PKG/package-lock.json"

# production dependencies only, copied from the build's node_modules and pruned (no network)
cp -R node_modules "$PKG/node_modules"
(cd "$PKG" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null && find node_modules -type d -empty -delete)
rm -f "$PKG/package-lock.json"

# smoke test of the staged tree: it must run from there, with nothing else
(cd "$STAGE" && "$PKG/bin/kvstore" version >/dev/null && "$PKG/bin/kvstore" check-config "$PKG/samples/kvstore.yaml" >/dev/null) || {
  echo "build.sh: the staged package does not run" >&2
  exit 1
}

tar -C "$STAGE" -czf "$OUT/$NAME.tar.gz" "$NAME"
echo "== wrote $OUT/$NAME.tar.gz ($(du -h "$OUT/$NAME.tar.gz" | cut -f1))"
