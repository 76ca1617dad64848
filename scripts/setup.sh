#!/usr/bin/env bash
# setup.sh installs what keytrail needs on a fresh Debian/Ubuntu machine.
# It is idempotent and returns in well under a second when everything is present.
#
#   scripts/setup.sh chdb      libchdb.so (embedded ClickHouse) into $KEYTRAIL_CACHE
#   scripts/setup.sh server    Debian's clickhouse-server (server-path tests)
#   scripts/setup.sh cluster   Debian's clickhouse-server and zookeeper (the cluster test)
#   scripts/setup.sh browser   Debian's chromium (the console's browser test, driven by chromedp)
#   scripts/setup.sh test      everything the test suite needs (chdb, server, zookeeper, alertmanager, poppler, chromium)
#
# Environment:
#   KEYTRAIL_CACHE   cache directory (default ~/.cache/keytrail)
set -euo pipefail

CHDB_VERSION=26.5.3
CHDB_PKG="@chdb/lib-linux-x64-gnu@${CHDB_VERSION}"
CACHE="${KEYTRAIL_CACHE:-$HOME/.cache/keytrail}"
LIBDIR="$CACHE/chdb-${CHDB_VERSION}"

log() { printf 'setup: %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then echo sudo; else
      log "need root to install Debian packages (run as root or install sudo)"; exit 1; fi
  fi
}

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local SUDO; SUDO="$(need_root)"
  if [ $apt_updated -eq 0 ]; then
    log "apt-get update"
    $SUDO apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_chdb() {
  if [ -s "$LIBDIR/libchdb.so" ] && [ -f "$LIBDIR/.verified" ]; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || apt_install npm
  mkdir -p "$CACHE"
  local tmp; tmp="$(mktemp -d "$CACHE/.dl.XXXXXX")"
  trap 'rm -rf "$tmp"' RETURN
  log "fetching $CHDB_PKG (about 170 MB) into $LIBDIR"
  local want
  want="$(cd "$tmp" && npm view "$CHDB_PKG" dist.integrity 2>/dev/null)"
  (cd "$tmp" && npm pack --silent "$CHDB_PKG" >/dev/null)
  local tgz; tgz="$(ls "$tmp"/*.tgz)"
  if [ -n "$want" ]; then
    local got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
    if [ "$got" != "$want" ]; then
      log "integrity mismatch for $CHDB_PKG: got $got want $want"; exit 1
    fi
  else
    log "warning: could not read the registry's integrity for $CHDB_PKG; checking the library instead"
  fi
  tar -xzf "$tgz" -C "$tmp" package/libchdb.so
  # A real shared object exporting the chDB C API store/chdb binds.
  if ! head -c 4 "$tmp/package/libchdb.so" | grep -q $'\x7fELF'; then
    log "libchdb.so from $CHDB_PKG is not an ELF file"; exit 1
  fi
  mkdir -p "$LIBDIR"
  mv "$tmp/package/libchdb.so" "$LIBDIR/libchdb.so"
  sha256sum "$LIBDIR/libchdb.so" | cut -d' ' -f1 > "$LIBDIR/.verified"
  log "libchdb.so ready: $LIBDIR/libchdb.so"
}

# store/chdb loads $CHDB_LIB_PATH, else libchdb.so on the linker path, else
# /usr/local/lib/libchdb.so. The Makefile sets the variable; the link lets a
# plain `go test` or a copied binary find it.
link_chdb() {
  local target=/usr/local/lib/libchdb.so
  [ -e "$target" ] && return 0
  if [ -w /usr/local/lib ]; then ln -s "$LIBDIR/libchdb.so" "$target" && log "linked $target"; fi
}

setup_server() {
  command -v clickhouse-server >/dev/null 2>&1 && return 0
  apt_install clickhouse-server
  # The package starts a system service on some hosts; tests run their own private instance.
  if command -v service >/dev/null 2>&1; then service clickhouse-server stop >/dev/null 2>&1 || true; fi
}

# The cluster test runs its own ZooKeeper (and clickhouse-servers) on free
# loopback ports; the package's system service is not used.
setup_zookeeper() {
  [ -f /usr/share/java/zookeeper.jar ] && return 0
  apt_install zookeeper
  if command -v service >/dev/null 2>&1; then service zookeeper stop >/dev/null 2>&1 || true; fi
}

# The console's browser test drives headless Chromium; with
# KEYTRAIL_REQUIRE_ENGINES=1 a missing browser fails the test.
setup_browser() {
  command -v chromium >/dev/null 2>&1 && return 0
  apt_install chromium fonts-dejavu-core
}

case "${1:-test}" in
  chdb) setup_chdb; link_chdb ;;
  server) setup_server ;;
  cluster) setup_server; setup_zookeeper ;;
  browser) setup_browser ;;
  test)
    setup_chdb
    link_chdb
    setup_server
    setup_zookeeper
    apt_install prometheus-alertmanager poppler-utils
    setup_browser
    ;;
  libpath) echo "$LIBDIR/libchdb.so" ;;
  *) log "unknown target $1 (chdb|server|cluster|browser|test|libpath)"; exit 2 ;;
esac
