#!/usr/bin/env bash
# scripts/xr/harness.sh: vrtherapy's own OpenXR runtime for the `xr` test tier and the xr bench.
#
# Monado's simulated headset needs no GPU and no headset, but Debian bookworm has no Monado:
# the harness keeps a Debian trixie root file system (debootstrap) with monado-service, Mesa's
# software GL/EGL/Vulkan, Xvfb and a Python venv holding this project's dependencies, and runs
# the project's code inside it (the client needs trixie's glibc and OpenXR loader).
#
#   bash scripts/xr/harness.sh check                  are the prerequisites there? (exit 3 if not)
#   bash scripts/xr/harness.sh provision              build the root file system (once)
#   bash scripts/xr/harness.sh run [--xvfb] [--project DIR] -- CMD [ARG...]
#   bash scripts/xr/harness.sh teardown [--purge]     stop leftovers, unmount; --purge deletes all
#
# See scripts/xr/README.md for what `run` provides inside, the variables and the logs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STATE="$(realpath -m "${VRTHERAPY_XR_STATE:-/var/tmp/vrtherapy-xr}")"
SUITE="${VRTHERAPY_XR_SUITE:-trixie}"
ROOTFS="$STATE/rootfs"
STAMP="$ROOTFS/etc/vrtherapy-xr.stamp"
LOGS="$STATE/logs"
PIDS="$STATE/pids"
VENV=/opt/venv
PKG_LINKS=/opt/vrtherapy-packages   # mapped packages (pyproject package-dir) as symlinks
IPC=/tmp/xdg/monado_comp_ipc
INNER_PATH="$VENV/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
DEBS=(monado-service libopenxr1-monado libopenxr-loader1 python3 python3-venv ca-certificates
      libgl1 libegl1 libegl-mesa0 libglx-mesa0 libgl1-mesa-dri libopengl0 libgles2
      libvulkan1 mesa-vulkan-drivers xvfb xauth)
# Pip packages beyond the project's own dependencies: the OpenXR binding and the test runner.
PIP_BASE=(pyopenxr pytest)
# Dev-extra entries the xr tier does not use (pyedflib has no wheel for trixie's Python).
PIP_SKIP=" ruff mypy types-pyyaml pyedflib "
ORIG_ARGS=("$@")
FAIL_RC=1

say() { printf 'xr-harness: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit "$FAIL_RC"; }

# ------------------------------------------------------------------------------ prerequisites
missing_prerequisites() {  # one line per missing thing
  [ "$(id -u)" = 0 ] || echo "root (chroot and mount need it)"
  local tool
  for tool in chroot mount umount flock; do
    command -v "$tool" >/dev/null || echo "the '$tool' command"
  done
  if ! is_provisioned && ! command -v debootstrap >/dev/null; then
    echo "debootstrap (apt-get install debootstrap), to build $ROOTFS"
  fi
  return 0
}

cmd_check() {
  local missing
  missing="$(missing_prerequisites)"
  if [ -n "$missing" ]; then
    printf 'missing: %s\n' "$missing" >&2
    exit 3
  fi
  echo "ok: state in $STATE ($(is_provisioned && echo provisioned || echo 'not provisioned yet'))"
}

require_root() {
  [ "$(id -u)" = 0 ] || fail "must run as root (chroot and mount need it)"
  [ "$STATE" != / ] || fail "VRTHERAPY_XR_STATE must not be /"
}

# ------------------------------------------------------------------------------ what to install
project_requirements() {  # "PIP SPECS|PACKAGE-DIR LINKS" from pyproject.toml
  python3 - "$REPO/pyproject.toml" "$PIP_SKIP" <<'PY'
import re, sys, tomllib
with open(sys.argv[1], "rb") as f:
    data = tomllib.load(f)
project = data["project"]
skip = sys.argv[2].split()
specs = [s for s in project["dependencies"] + project["optional-dependencies"]["dev"]
         if re.split(r"[<>=!~ \[;]", s, maxsplit=1)[0].lower() not in skip]
links = data.get("tool", {}).get("setuptools", {}).get("package-dir", {})
print(" ".join(specs) + "|" + " ".join(f"{k}={v}" for k, v in sorted(links.items())))
PY
}

wanted_stamp() {
  printf 'vrtherapy-xr 1\nsuite %s\ndebs %s\nbase %s\nproject %s\n' \
    "$SUITE" "${DEBS[*]}" "${PIP_BASE[*]}" "$REQUIREMENTS"
}

is_provisioned() {
  [ -f "$STAMP" ] && [ -x "$ROOTFS$VENV/bin/python" ] && [ "$(cat "$STAMP")" = "$(wanted_stamp)" ]
}

# ------------------------------------------------------------------------------ mounts
mounted_below() {  # mount points at or below $1, deepest first
  awk -v top="$1" '{ p = $5; gsub(/\\040/, " ", p)
    if (p == top || index(p, top "/") == 1) print p }' /proc/self/mountinfo | sort -ru
}

unmount_below() {
  local round point
  for round in 1 2 3 4; do
    [ -n "$(mounted_below "$1")" ] || return 0
    while IFS= read -r point; do
      umount "$point" 2>/dev/null || umount --lazy "$point" 2>/dev/null || true
    done < <(mounted_below "$1")
  done
  [ -z "$(mounted_below "$1")" ] || say "warning: still mounted: $(mounted_below "$1" | tr '\n' ' ')"
}

bind_into() {  # bind_into HOST_DIR INNER_DIR [ro]
  mkdir -p "$ROOTFS$2"
  mount --rbind "$1" "$ROOTFS$2"
  mount --make-rslave "$ROOTFS$2"   # never propagate an unmount back to the host
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$ROOTFS$2"; fi
}

mount_system() {
  mountpoint -q "$ROOTFS/proc" || mount -t proc proc "$ROOTFS/proc"
  mountpoint -q "$ROOTFS/sys" || bind_into /sys /sys
  mountpoint -q "$ROOTFS/dev" || bind_into /dev /dev
}

# Re-run this script in a private mount namespace: its mounts vanish with it, even on SIGKILL.
private_namespace() {
  [ -z "${VRTHERAPY_XR_IN_NS:-}" ] || return 0
  if [ -z "${VRTHERAPY_XR_NO_UNSHARE:-}" ] && unshare --mount --propagation private true 2>/dev/null
  then
    VRTHERAPY_XR_IN_NS=1 exec unshare --mount --propagation private -- \
      bash "$HERE/harness.sh" "${ORIG_ARGS[@]}"
  fi
  say "note: no private mount namespace; unmounting on exit (or run teardown after a kill)"
}

lock_state() {  # one provision or run at a time per state dir; fd 8 stays open until exit
  mkdir -p "$STATE" "$LOGS" "$PIDS"
  exec 8>"$STATE/lock"
  if ! flock -n 8; then
    say "waiting for $STATE/lock (another provision or run of this harness)"
    flock -w "${VRTHERAPY_XR_LOCK_WAIT:-900}" 8 || fail "still locked after ${VRTHERAPY_XR_LOCK_WAIT:-900} s"
  fi
}

inside() {  # inside VAR=VALUE... -- CMD...: CMD in the root file system with a clean environment
  local env=(HOME=/root LANG=C.UTF-8 PATH="$INNER_PATH")
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  chroot "$ROOTFS" /usr/bin/env -i "${env[@]}" "$@"
}

# ------------------------------------------------------------------------------ provision
logged() {  # run quietly into the provisioning log; on failure show its end
  echo "\$ $*" >>"$LOGS/provision.log"
  "$@" >>"$LOGS/provision.log" 2>&1 8>&- \
    || { tail -n 30 "$LOGS/provision.log" >&2; fail "failed: $* (log: $LOGS/provision.log)"; }
}

host_mirror() {
  local codename uri
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  uri="$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null |
    awk -v c="$codename" '$1 == c && $2 !~ /security/ { print $2; exit }')"
  echo "${VRTHERAPY_XR_MIRROR:-${uri:-http://deb.debian.org/debian/}}"
}

bootstrap() {
  command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
  local partial="$STATE/rootfs.partial" mirror
  mirror="$(host_mirror)"
  unmount_below "$partial"
  rm -rf --one-file-system "$partial"
  say "debootstrap $SUITE from $mirror (about a minute)"
  logged debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$partial" "$mirror"
  mv "$partial" "$ROOTFS"
}

configure_rootfs() {  # apt behaviour, network and TLS settings copied from the host
  cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
  if [ -d /usr/local/share/ca-certificates ]; then   # a TLS-inspecting proxy's CA, if any
    cp -rL /usr/local/share/ca-certificates/. "$ROOTFS/usr/local/share/ca-certificates/"
  fi
  {
    echo 'APT::Install-Recommends "false";'
    echo 'Acquire::Retries "3";'
    apt-config dump 2>/dev/null | grep -iE '^Acquire::(http|https)::Proxy ' || true
  } >"$ROOTFS/etc/apt/apt.conf.d/80vrtherapy-xr"
  printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
    'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/locale/*' \
    >"$ROOTFS/etc/dpkg/dpkg.cfg.d/80vrtherapy-xr"
  printf '#!/bin/sh\n# no services start inside the harness at install time\nexit 101\n' \
    >"$ROOTFS/usr/sbin/policy-rc.d"
  chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
}

install_packages() {
  local cert=/etc/ssl/certs/ca-certificates.crt pair v
  local env=(DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
    PIP_CERT="$cert" REQUESTS_CA_BUNDLE="$cert")
  for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL; do
    case "${!v:-}" in "" | file:* | /*) ;; *) env+=("$v=${!v}") ;; esac  # host paths mean nothing inside
  done
  local specs links   # split without globbing ("pkg[extra]" stays one word)
  read -ra specs <<<"${REQUIREMENTS%%|*}"
  read -ra links <<<"${REQUIREMENTS#*|}"
  say "apt: ${DEBS[*]}"
  logged inside "${env[@]}" -- update-ca-certificates
  logged inside "${env[@]}" -- apt-get update
  logged inside "${env[@]}" -- apt-get install -y "${DEBS[@]}"
  logged inside "${env[@]}" -- apt-get clean
  say "pip: ${PIP_BASE[*]} ${specs[*]}"
  [ -x "$ROOTFS$VENV/bin/python" ] || logged inside "${env[@]}" -- python3 -m venv "$VENV"
  logged inside "${env[@]}" -- "$VENV/bin/pip" install "${PIP_BASE[@]}" "${specs[@]}"
  inside -- "$VENV/bin/pip" freeze >"$LOGS/pip-freeze.txt" 8>&-
  rm -rf "$ROOTFS$PKG_LINKS" && mkdir -p "$ROOTFS$PKG_LINKS"
  for pair in "${links[@]}"; do ln -s "/project/${pair#*=}" "$ROOTFS$PKG_LINKS/${pair%%=*}"; done
  printf '#!/bin/sh\nexec %s/bin/python -m engine.cli "$@"\n' "$VENV" >"$ROOTFS$VENV/bin/vrtherapy"
  chmod 755 "$ROOTFS$VENV/bin/vrtherapy"
}

cmd_provision() {
  require_root
  if is_provisioned; then say "provisioned already: $ROOTFS"; return 0; fi
  private_namespace
  lock_state
  if is_provisioned; then say "provisioned already: $ROOTFS"; return 0; fi
  trap 'unmount_below "$STATE"' EXIT
  local started=$SECONDS
  : >"$LOGS/provision.log"
  [ -d "$ROOTFS" ] || bootstrap
  [ -x "$ROOTFS/usr/bin/apt-get" ] || fail "$ROOTFS is incomplete; run: bash $0 teardown --purge"
  configure_rootfs
  mount_system
  install_packages
  logged inside -- "$VENV/bin/python" -c 'import xr, OpenGL, numpy, pylsl'
  [ -f "$ROOTFS/usr/share/openxr/1/openxr_monado.json" ] || fail "Monado's OpenXR manifest is missing"
  wanted_stamp >"$STAMP"
  unmount_below "$STATE"
  say "provisioned in $((SECONDS - started)) s: $ROOTFS ($(du -sh --one-file-system "$ROOTFS" | cut -f1))"
}

# ------------------------------------------------------------------------------ run
stop_pid() {  # TERM, up to 5 s, then KILL; by recorded PID only
  local pid="$1" tick
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for tick in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

await() {  # await TEST-COMMAND PID NAME LOG: poll until TEST-COMMAND succeeds, PID alive
  local limit=$((${VRTHERAPY_XR_START_WAIT:-30} * 10)) tick
  for tick in $(seq "$limit"); do
    eval "$1" && return 0
    kill -0 "$2" 2>/dev/null || { tail -n 20 "$4" >&2; fail "$3 exited while starting (log: $4)"; }
    sleep 0.1
  done
  tail -n 20 "$4" >&2
  fail "$3 not ready after ${VRTHERAPY_XR_START_WAIT:-30} s (log: $4)"
}

passed_env() {  # host variables handed to the service and the command
  local v
  for v in $(compgen -e); do
    case "$v" in
      XRT_* | OXR_* | U_PACING_* | SIMULATED_* | PYTEST_* | PYOPENGL_* | VRTHERAPY_* | HYPOTHESIS_* | CI | TERM | TZ)
        [[ "$v" == VRTHERAPY_XR_* ]] || printf '%s\n' "$v=${!v}" ;;
    esac
  done
}

MONADO_PID="" XVFB_PID="" CMD_PID=""
end_run() {
  set +e
  stop_pid "$CMD_PID"
  stop_pid "$MONADO_PID"
  stop_pid "$XVFB_PID"
  rm -f "$PIDS"/*.pid
  unmount_below "$ROOTFS"
}

start_xvfb() {  # sets DISPLAY_NUMBER; Xvfb picks a free display and writes it to fd 3 when ready
  local number_file="$STATE/xvfb.display"
  rm -f "$number_file"
  "${BASE[@]}" Xvfb -displayfd 3 -screen 0 "${VRTHERAPY_XR_SCREEN:-1920x1080x24}" -nolisten tcp \
    3>"$number_file" >"$LOGS/xvfb.log" 2>&1 </dev/null 8>&- &
  XVFB_PID=$!
  echo "$XVFB_PID" >"$PIDS/xvfb.pid"
  await "grep -qE '^[0-9]+$' '$number_file'" "$XVFB_PID" Xvfb "$LOGS/xvfb.log"
  DISPLAY_NUMBER="$(cat "$number_file")"
}

cmd_run() {
  FAIL_RC=125   # the harness failed, not the command
  local project="$REPO" mode="${XR_COMPOSITOR:-null}"
  while [ $# -gt 0 ]; do
    case "$1" in
      --xvfb) mode=xvfb; shift ;;
      --null) mode=null; shift ;;
      --project) [ $# -ge 2 ] || fail "--project needs a directory"; project="$2"; shift 2 ;;
      --) shift; break ;;
      *) fail "run: unknown option '$1' (usage: run [--xvfb|--null] [--project DIR] -- CMD...)" ;;
    esac
  done
  [ $# -gt 0 ] || fail "run: no command given (usage: run [--xvfb] [--project DIR] -- CMD...)"
  [ -d "$project" ] || fail "run: project directory not found: $project"
  project="$(cd "$project" && pwd)"
  case "$mode" in null | xvfb) ;; *) fail "XR_COMPOSITOR must be null or xvfb, not '$mode'" ;; esac
  require_root
  is_provisioned || bash "$HERE/harness.sh" provision || fail "provisioning failed"
  private_namespace
  lock_state
  trap end_run EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP

  mount_system
  mount -t tmpfs -o mode=1777 vrtherapy-xr-tmp "$ROOTFS/tmp"   # a clean /tmp every run
  install -d -m 700 "$ROOTFS/tmp/xdg"
  bind_into "$project" /project
  BASE=(chroot "$ROOTFS" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH="$INNER_PATH"
        XDG_RUNTIME_DIR=/tmp/xdg)
  # the children get SIGTERM if this script dies, even by SIGKILL
  if command -v setpriv >/dev/null; then BASE=(setpriv --pdeathsig TERM "${BASE[@]}"); fi
  mapfile -t PASS < <(passed_env)
  local service=(SIMULATED_ENABLE=1 XRT_NO_STDIN=1)
  local client=(VIRTUAL_ENV="$VENV" XR_RUNTIME_JSON=/usr/share/openxr/1/openxr_monado.json
    XR_HARNESS=monado XR_COMPOSITOR="$mode" XRT_LOG=warning PYTHONDONTWRITEBYTECODE=1
    PYTHONPATH="/project:$PKG_LINKS")
  if [ "$mode" = xvfb ]; then
    start_xvfb
    service+=(DISPLAY=":$DISPLAY_NUMBER" XRT_COMPOSITOR_FORCE_XCB=1
      XRT_COMPOSITOR_DEFAULT_FRAMERATE="${XR_FPS:-90}")
    client+=(DISPLAY=":$DISPLAY_NUMBER")
  else
    service+=(XRT_COMPOSITOR_NULL=1)
  fi
  "${BASE[@]}" "${service[@]}" "${PASS[@]}" monado-service >"$LOGS/monado.log" 2>&1 </dev/null 8>&- &
  MONADO_PID=$!
  echo "$MONADO_PID" >"$PIDS/monado.pid"
  await "[ -S '$ROOTFS$IPC' ]" "$MONADO_PID" monado-service "$LOGS/monado.log"
  say "Monado ready ($mode compositor); running: $*"

  # in the background, so that a signal reaches the traps at once
  "${BASE[@]}" "${client[@]}" "${PASS[@]}" /bin/sh -c 'cd /project && exec "$@"' run "$@" 8>&- &
  CMD_PID=$!
  echo "$CMD_PID" >"$PIDS/command.pid"
  local rc=0
  wait "$CMD_PID" || rc=$?
  CMD_PID=""
  kill -0 "$MONADO_PID" 2>/dev/null \
    || { say "warning: monado-service ended during the run:"; tail -n 20 "$LOGS/monado.log" >&2; }
  exit "$rc"
}

# ------------------------------------------------------------------------------ teardown
cmd_teardown() {
  local purge="" file pid tick entry
  case "${1:-}" in --purge) purge=1 ;; "") ;; *) fail "usage: teardown [--purge]" ;; esac
  require_root
  [ -d "$STATE" ] || { say "nothing to tear down: $STATE does not exist"; return 0; }
  exec 8>>"$STATE/lock"
  flock -n 8 || fail "a provision or run holds $STATE/lock; let it finish first"
  for file in "$PIDS"/*.pid; do
    [ -f "$file" ] || continue
    pid="$(cat "$file")"
    # only a process whose root is our file system: a recycled PID is someone else's
    if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$ROOTFS" ]; then
      say "stopping leftover $(basename "$file" .pid) (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for tick in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
  done
  unmount_below "$STATE"
  [ -z "$(mounted_below "$STATE")" ] || fail "still mounted below $STATE"
  [ -n "$purge" ] || { say "nothing mounted below $STATE"; return 0; }
  for entry in "$STATE"/* "$STATE"/.[!.]*; do   # delete only a directory laid out by this script
    [ -e "$entry" ] || continue
    case "${entry##*/}" in
      rootfs | rootfs.partial | logs | pids | lock | xvfb.display) ;;
      *) fail "$STATE holds '${entry##*/}', which this harness did not make; not deleting it" ;;
    esac
  done
  rm -rf --one-file-system "$STATE"
  say "deleted $STATE"
}

# ------------------------------------------------------------------------------ main
REQUIREMENTS="$(project_requirements)" || fail "cannot read $REPO/pyproject.toml (needs python3 >= 3.11)"
command="${1:-}"
[ $# -eq 0 ] || shift
case "$command" in
  check) cmd_check ;;
  provision) cmd_provision ;;
  run) cmd_run "$@" ;;
  teardown) cmd_teardown "$@" ;;
  *) fail "usage: bash scripts/xr/harness.sh check | provision | run [--xvfb] [--project DIR] -- CMD... | teardown [--purge]" ;;
esac
