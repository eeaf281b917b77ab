#!/usr/bin/env bash
# The pack test: what a user gets from the registry, checked before it gets there.
#
# Builds the five public packages, packs each with `npm pack` into a temporary directory, makes a
# scratch app outside the repository (mktemp -d), installs the tarballs there next to the LOWEST
# versions the peer ranges allow (effect, @effect/platform, @effect/platform-node, @effect/cli:
# other versions than the repository pins, from the npm registry), type-checks
# scripts/pack-test/program.ts against the shipped .d.ts with strict tsc (skipLibCheck off: our
# declarations are checked too), runs it with plain node on the in-memory layer, on RabbitMQ (two
# layer instances) and on ZeroMQ (dedicated, proxy in the process), and compares its output with
# the lines expected below. The README's quick start, copied out of README.md, is compiled and run
# the same way. Then the two bins, run from the app's node_modules/.bin.
#
# Needs RabbitMQ on 127.0.0.1:5672 (guest/guest): vhost `asgi`, created with rabbitmqctl when
# it is missing and rabbitmqctl is at hand; without rabbitmqctl the vhost "/". PACK_TEST_AMQP_URL
# overrides. PACK_TEST_KEEP=1 keeps the scratch directory. About a minute with a warm npm cache.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# The lowest versions the packages' peer ranges accept (see packages/*/package.json).
EFFECT=3.22.1
PLATFORM=0.97.1
PLATFORM_NODE=0.108.1
CLI=0.77.0
PRINTER=0.51.0
PACKAGES=(core rabbitmq redis zeromq cli)

log() { printf '\n== pack test: %s\n' "$*"; }
fail() { printf '\npack test FAILED: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/channel-layer-pack-test.XXXXXX")
if [ "${PACK_TEST_KEEP:-}" = 1 ]; then echo "scratch directory: $work"; else trap 'rm -rf "$work"' EXIT; fi
case "$work/" in "$root"/*) fail "the scratch directory $work is inside the repository" ;; esac

vhost_url() {
  if [ -n "${PACK_TEST_AMQP_URL:-}" ]; then echo "$PACK_TEST_AMQP_URL"; return; fi
  if command -v rabbitmqctl >/dev/null 2>&1 && rabbitmqctl -q list_vhosts >/dev/null 2>&1; then
    if ! rabbitmqctl -q list_vhosts | grep -qx asgi; then
      rabbitmqctl -q add_vhost asgi >&2 && rabbitmqctl -q set_permissions -p asgi guest '.*' '.*' '.*' >&2
    fi
    echo "amqp://guest:guest@127.0.0.1:5672/asgi"
  else
    echo "amqp://guest:guest@127.0.0.1:5672/%2F"
  fi
}
amqp_url=$(vhost_url)
redis_url="${REDIS_URL:-redis://127.0.0.1:6379/0}"

log "build and pack ${PACKAGES[*]}"
npm run -s build
mkdir -p "$work/tarballs" "$work/app"
for p in "${PACKAGES[@]}"; do
  (cd "packages/$p" && npm pack --silent --pack-destination "$work/tarballs" >/dev/null)
done
tarballs=("$work"/tarballs/*.tgz)
[ "${#tarballs[@]}" -eq "${#PACKAGES[@]}" ] || fail "expected ${#PACKAGES[@]} tarballs, got ${#tarballs[@]}"
for t in "${tarballs[@]}"; do
  listing=$(tar -tzf "$t")
  for f in package/LICENSE package/README.md package/CHANGELOG.md package/dist/index.js package/dist/index.d.ts; do
    grep -qx "$f" <<<"$listing" || fail "$(basename "$t") has no $f"
  done
  if grep -E '\.tsbuildinfo$|(^|/)test/' <<<"$listing"; then fail "$(basename "$t") ships build or test files"; fi
done

log "scratch app in $work/app: tarballs + effect $EFFECT, @effect/platform $PLATFORM, @effect/platform-node $PLATFORM_NODE, @effect/cli $CLI"
cp scripts/pack-test/package.json scripts/pack-test/tsconfig.json scripts/pack-test/program.ts "$work/app/"
# The README's quick start, as a user copies it.
awk '/^## Quick start/ { q = 1 } q && /^```ts$/ { f = 1; next } f && /^```$/ { exit } f { print }' README.md >"$work/app/quickstart.ts"
grep -q "InMemory.layer" "$work/app/quickstart.ts" || fail "no quick start found in README.md"
cd "$work/app"
npm install --no-audit --no-fund --loglevel=error \
  "${tarballs[@]}" \
  "effect@$EFFECT" "@effect/platform@$PLATFORM" "@effect/platform-node@$PLATFORM_NODE" "@effect/cli@$CLI" \
  "@effect/printer@$PRINTER" "@effect/printer-ansi@$PRINTER" \
  "typescript@$(node -p "require('$root/node_modules/typescript/package.json').version")" \
  "@types/node@$(node -p "require('$root/node_modules/@types/node/package.json').version")" \
  2>&1 | grep -v 'Unknown user config' || true

# One effect, the one installed above: a second copy would mean a package brought its own.
effects=$(find node_modules -path '*/effect/package.json' -not -path '*/effect/*/effect/package.json' | sort)
[ "$(wc -l <<<"$effects")" -eq 1 ] || fail "more than one effect installed: $effects"
[ "$(node -p 'require("./node_modules/effect/package.json").version')" = "$EFFECT" ] || fail "effect is not $EFFECT"
for p in "${PACKAGES[@]}"; do
  [ -e "node_modules/@channel-layer/$p/dist/index.js" ] || fail "@channel-layer/$p not installed from its tarball"
  [ ! -L "node_modules/@channel-layer/$p" ] || fail "@channel-layer/$p is a link, not an install"
done

log "tsc (strict, skipLibCheck off) against the shipped declarations"
npx tsc -p tsconfig.json

log "run on in-memory, RabbitMQ ($amqp_url), Redis ($redis_url) and ZeroMQ"
# Log lines (the proxy says where it listens) are not compared.
output=$(timeout 120 node out/program.js "$amqp_url" "$redis_url" | grep -v "^timestamp=") || fail "the program failed"
printf '%s\n' "$output"
expected='in-memory: direct.message "hi bob", chat.message "hello over in-memory" x2 (same: true), bigint 9223372036854775807, bytes 1,2,3, bad name InvalidChannelName, prefix kept true
rabbitmq: direct.message "hi bob", chat.message "hello over rabbitmq" x2 (same: true), bigint 9223372036854775807, bytes 1,2,3, bad name InvalidChannelName, prefix kept true
redis: direct.message "hi bob", chat.message "hello over redis" x2 (same: true), bigint 9223372036854775807, bytes 1,2,3, bad name InvalidChannelName, prefix kept true
zeromq: direct.message "hi bob", chat.message "hello over zeromq" x2 (same: true), bigint 9223372036854775807, bytes 1,2,3, bad name InvalidChannelName, prefix kept true
pack test program: done'
[ "$output" = "$expected" ] || { diff <(printf '%s\n' "$expected") <(printf '%s\n' "$output") || true; fail "the program's output is not the expected one"; }

log "the README's quick start"
quickstart=$(timeout 60 node out/quickstart.js) || fail "the quick start failed"
[ "$quickstart" = "hello, room" ] || fail "the quick start printed: $quickstart"
echo "$quickstart"

log "the bins"
selftest=$(timeout 60 npx --no-install channel-layer self-test --layer memory 2>&1)
grep -q "self-test passed" <<<"$selftest" || fail "channel-layer self-test: $selftest"
proxyhelp=$(timeout 60 npx --no-install channel-layer-zmq-proxy --help 2>&1)
grep -q -- "--pull" <<<"$proxyhelp" || fail "channel-layer-zmq-proxy --help: $proxyhelp"

printf '\npack test passed: %s packages packed, installed with effect %s, type-checked and run on 4 transports, the README quick start, 2 bins\n' "${#PACKAGES[@]}" "$EFFECT"
