#!/usr/bin/env bash
# What the test suite needs beyond `npm ci`, checked in a few seconds before any test runs:
#
#   - RabbitMQ listening on 127.0.0.1:5672, and a `rabbitmqctl` that can talk to it (the fault tests
#     kick connections and read queues with it);
#   - the vhost `asgi` where guest has every permission: created here with rabbitmqctl when it is
#     missing (CHANNEL_LAYER_TEST_VHOST names another vhost, to try this step without touching the
#     one the tests use);
#   - chromium (the chat's browser test; CHROMIUM overrides /usr/bin/chromium);
#   - Debian's python3 with aiormq and msgpack (the Django interop peer; PYTHON overrides
#     /usr/bin/python3);
#   - openssl (the TLS tests make their certificates with it; OPENSSL overrides it);
#   - Redis on 127.0.0.1:6379 and `redis-server` (the Redis tests start servers of their own for
#     restarts and TLS): started here as a daemon when the binary is there and nothing listens;
#   - the same python3 with channels_redis and cryptography (the Redis interop tests run Django's
#     channels_redis itself).
#
# Decision: a missing piece fails the run instead of skipping the tests that need it, so that a
# green `npm test` always means every test ran. What the script can provide itself it provides:
# the vhost always; the Debian packages only when it is allowed to install (running as root, with
# apt-get, and CI=true or CHANNEL_LAYER_INSTALL_PREREQUISITES=1). Anything still missing is one line
# each on stderr naming the command that provides it, and the exit status is 1.
# CHANNEL_LAYER_SKIP_PREREQUISITES=1 skips the whole check (for a run of a few test files).
set -uo pipefail

if [ "${CHANNEL_LAYER_SKIP_PREREQUISITES:-}" = "1" ]; then exit 0; fi

vhost="${CHANNEL_LAYER_TEST_VHOST:-asgi}"
ctl="${RABBITMQCTL:-rabbitmqctl}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
python="${PYTHON:-/usr/bin/python3}"
openssl="${OPENSSL:-openssl}"

missing=()
packages=()

say() { echo "prerequisites: $*" >&2; }

may_install() {
  [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 &&
    { [ "${CI:-}" = "true" ] || [ "${CHANNEL_LAYER_INSTALL_PREREQUISITES:-}" = "1" ]; }
}

# RabbitMQ on 127.0.0.1:5672.
if ! node -e '
  const socket = require("node:net").connect(5672, "127.0.0.1")
  socket.setTimeout(3000, () => process.exit(1))
  socket.on("connect", () => process.exit(0))
  socket.on("error", () => process.exit(1))
' 2>/dev/null; then
  missing+=("RabbitMQ is not listening on 127.0.0.1:5672: apt-get install -y rabbitmq-server && service rabbitmq-server start")
fi

# rabbitmqctl, and the vhost.
if [ ${#missing[@]} -eq 0 ]; then
  if ! vhosts="$("$ctl" -q list_vhosts name 2>&1)"; then
    missing+=("cannot run $ctl (${vhosts%%$'\n'*}): the tests need it; run them as root or as a user in the rabbitmq group, or set RABBITMQCTL")
  elif ! grep -qx -- "$vhost" <<<"$vhosts"; then
    if out="$("$ctl" -q add_vhost "$vhost" 2>&1)" &&
      out="$("$ctl" -q set_permissions -p "$vhost" guest '.*' '.*' '.*' 2>&1)"; then
      say "created the vhost $vhost (guest has every permission on it)"
    else
      missing+=("cannot create the vhost $vhost (${out%%$'\n'*}): rabbitmqctl add_vhost $vhost && rabbitmqctl set_permissions -p $vhost guest '.*' '.*' '.*'")
    fi
  fi
fi

listening() {
  node -e '
    const socket = require("node:net").connect(Number(process.argv[1]), "127.0.0.1")
    socket.setTimeout(3000, () => process.exit(1))
    socket.on("connect", () => process.exit(0))
    socket.on("error", () => process.exit(1))
  ' "$1" 2>/dev/null
}

# The Debian packages.
need_chromium=0 need_python=0 need_openssl=0 need_redis=0 need_redis_python=0
command -v redis-server >/dev/null 2>&1 || { need_redis=1; packages+=(redis-server); }
if ! "$python" -c 'import channels_redis.core, cryptography' >/dev/null 2>&1; then
  need_redis_python=1
  packages+=(python3-channels-redis python3-cryptography)
fi
[ -x "$chromium" ] || { need_chromium=1; packages+=(chromium); }
if ! "$python" -c 'import aiormq, msgpack' >/dev/null 2>&1; then
  need_python=1
  packages+=(python3-aiormq python3-msgpack)
fi
command -v "$openssl" >/dev/null 2>&1 || { need_openssl=1; packages+=(openssl); }

if [ ${#packages[@]} -gt 0 ] && may_install; then
  say "installing ${packages[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
    # Check again from scratch: what apt-get installed must now import or run.
    need_chromium=0 need_python=0 need_openssl=0 need_redis=0 need_redis_python=0
    [ -x "$chromium" ] || need_chromium=1
    "$python" -c 'import aiormq, msgpack' >/dev/null 2>&1 || need_python=1
    command -v "$openssl" >/dev/null 2>&1 || need_openssl=1
    command -v redis-server >/dev/null 2>&1 || need_redis=1
    "$python" -c 'import channels_redis.core, cryptography' >/dev/null 2>&1 || need_redis_python=1
  else
    say "apt-get install ${packages[*]} failed"
  fi
fi

[ $need_chromium = 1 ] &&
  missing+=("no chromium at $chromium (the chat's browser test): apt-get install -y chromium, or set CHROMIUM")
[ $need_python = 1 ] &&
  missing+=("$python cannot import aiormq and msgpack (the Django interop test): apt-get install -y python3-aiormq python3-msgpack, or set PYTHON")
[ $need_openssl = 1 ] &&
  missing+=("no $openssl (the TLS tests): apt-get install -y openssl, or set OPENSSL")
[ $need_redis_python = 1 ] &&
  missing+=("$python cannot import channels_redis and cryptography (the Redis interop tests): apt-get install -y python3-channels-redis python3-cryptography, or set PYTHON")

# Redis on 127.0.0.1:6379: started here when the server is installed and nothing listens.
if [ $need_redis = 1 ]; then
  missing+=("no redis-server (the Redis tests): apt-get install -y redis-server")
elif ! listening 6379; then
  if redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null 2>&1 &&
    for _ in $(seq 1 50); do listening 6379 && break; sleep 0.1; done && listening 6379; then
    say "started redis-server on 127.0.0.1:6379"
  else
    missing+=("Redis is not listening on 127.0.0.1:6379 and redis-server --daemonize yes did not start it: service redis-server start")
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  for line in "${missing[@]}"; do say "$line"; done
  if [ ${#packages[@]} -gt 0 ] && ! may_install; then
    say "as root, CHANNEL_LAYER_INSTALL_PREREQUISITES=1 npm test installs the Debian packages itself"
  fi
  exit 1
fi
exit 0
