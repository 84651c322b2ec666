#!/usr/bin/env bash
# scripts/xr-tests.sh: the `xr` test tier, `pytest -m xr` against a real OpenXR runtime.
#
# Usage: bash scripts/xr-tests.sh [PYTEST ARGS...]
#        XR_COMPOSITOR=xvfb bash scripts/xr-tests.sh      # Monado's 90 Hz compositor on Xvfb
#
# Runs through the project's harness, scripts/xr/harness.sh (Monado's simulated headset in a
# Debian trixie root file system; see scripts/xr/README.md): provisions it the first time
# (a few minutes, needs root, debootstrap and the Debian and PyPI mirrors; later a stamp
# check), then runs the tier inside it on the working tree, which is imported, not installed.
# Not root: re-runs itself with `sudo -n` when that works.
# Exit status: pytest's; "no tests collected" (5) is a failure. When the tier cannot run here
# (not root, no debootstrap), it says so loudly and exits 0, except under CI=true, where that
# is a failure (1): CI never passes without the tier.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARNESS="$REPO/scripts/xr/harness.sh"

not_run() {
  echo "xr-tests: THE XR TIER DID NOT RUN: $*" >&2
  if [ "${CI:-}" = true ]; then
    echo "xr-tests: CI=true, so this is a failure" >&2
    exit 1
  fi
  echo "xr-tests: exit 0 outside CI; the other tiers' results stand alone" >&2
  exit 0
}

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n --preserve-env=CI,XR_COMPOSITOR,XR_FPS,VRTHERAPY_XR_STATE,VRTHERAPY_XR_MIRROR \
      bash "$0" "$@"
  fi
  not_run "it needs root for the harness's chroot and mounts (run as root, or give sudo)"
fi
if ! missing="$(bash "$HARNESS" check 2>&1 >/dev/null)"; then
  not_run "${missing:-the harness check failed}"
fi

t0=$(date +%s.%N)
bash "$HARNESS" provision
t1=$(date +%s.%N)
rc=0
bash "$HARNESS" run --project "$REPO" -- python -m pytest -m xr -p no:cacheprovider -q "$@" || rc=$?
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" \
  'BEGIN { printf "xr-tests: provisioning %.1f s, xr tier %.1f s\n", b - a, c - b }' >&2
if [ "$rc" = 5 ]; then
  echo "xr-tests: pytest collected no xr tests (exit 5): a failure" >&2
  exit 1
fi
exit "$rc"
