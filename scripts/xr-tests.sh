#!/usr/bin/env bash
# scripts/xr-tests.sh — run the `xr` test tier against a real OpenXR runtime (Monado).
#
# Usage: bash scripts/xr-tests.sh [PYTEST ARGS...]
#        XR_COMPOSITOR=xvfb bash scripts/xr-tests.sh     # 90 Hz compositor on Xvfb (GLX path)
#
# Uses the shared harness in $XR_SCRIPTS (default: <repo>/../shared/xr). Needs root (chroot,
# mounts); re-runs itself with `sudo -n` when not root. Provisions the Monado chroot once
# (setup-monado.sh: about 1-3 min the first time, then a no-op), then runs
# `python -m pytest -m xr` inside it via xr-run.sh (null compositor, 20 Hz, by default).
# The chroot venv gets the project's runtime dependencies at setup (read from pyproject.toml,
# beyond the harness's own list); the project is imported from /project (PYTHONPATH), not
# installed, so nothing is built or written into the tree.
# Exit status: pytest's (0 ok); "no tests collected" (5) counts as failure. Harness missing:
# 0 with a message, or 1 when CI=true so that CI cannot skip the tier silently.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
XR_SCRIPTS="${XR_SCRIPTS:-$REPO/../shared/xr}"

if [ ! -f "$XR_SCRIPTS/xr-run.sh" ] || [ ! -f "$XR_SCRIPTS/setup-monado.sh" ]; then
  echo "xr-tests: the xr tier needs the Monado harness in ../shared/xr (or set XR_SCRIPTS); not found at $XR_SCRIPTS" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n --preserve-env=CI,XR_SCRIPTS,XR_ROOT,XR_COMPOSITOR,XR_FPS,XR_PIP_EXTRA \
      bash "$0" "$@"
  fi
  echo "xr-tests: the Monado harness needs root (chroot, mount); run as root or with sudo" >&2
  exit 1
fi

# Project dependencies the harness venv lacks (it already has pyopenxr pyopengl numpy pygame
# pyyaml pylsl pytest). Changing this list re-provisions the venv once (pip, seconds).
deps_from_pyproject() {
  python3 - "$REPO/pyproject.toml" <<'PY'
import re, sys, tomllib
have = {"pyopenxr", "pyopengl", "numpy", "pygame", "pyyaml", "pylsl", "pytest"}
# dev tools and test-only readers the xr tier does not use (pyedflib has no wheel for the
# chroot's Python and would need a compiler)
tools = {"ruff", "mypy", "types-pyyaml", "pyedflib"}
with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)["project"]
deps = project["dependencies"] + project["optional-dependencies"]["dev"]
names = [re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower() for d in deps]
print(" ".join(n for n in names if n not in have | tools))
PY
}
if [ -z "${XR_PIP_EXTRA+set}" ]; then
  XR_PIP_EXTRA="$(deps_from_pyproject 2>/dev/null || echo "scipy pydantic pyxdf")"
fi
export XR_PIP_EXTRA

t0=$(date +%s.%N)
bash "$XR_SCRIPTS/setup-monado.sh"
t1=$(date +%s.%N)
rc=0
# The project runs from /project without being installed; its two mapped packages
# (pyproject: vrtherapy_seeds = seeds/, vrtherapy_benchmarks = benchmarks/) get symlinks
# in a folder of the chroot's /tmp that goes on PYTHONPATH too.
bash "$XR_SCRIPTS/xr-run.sh" --project "$REPO" -- sh -c '
  mkdir -p /tmp/vrtherapy-path &&
  ln -sfn /project/seeds /tmp/vrtherapy-path/vrtherapy_seeds &&
  ln -sfn /project/benchmarks /tmp/vrtherapy-path/vrtherapy_benchmarks &&
  PYTHONPATH=/project:/tmp/vrtherapy-path PYTHONDONTWRITEBYTECODE=1 \
    exec python -m pytest -m xr -p no:cacheprovider -q "$@"' xr-tests "$@" || rc=$?
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" \
  'BEGIN { printf "xr-tests: setup %.1f s, xr tier %.1f s\n", b - a, c - b }' >&2
if [ "$rc" = 5 ]; then
  echo "xr-tests: pytest collected no xr tests (exit 5); treating as failure" >&2
  exit 1
fi
exit "$rc"
