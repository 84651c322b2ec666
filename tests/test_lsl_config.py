"""LSL discovery is confined to this machine unless a config is named explicitly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from biosignals import lsl

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_config_is_machine_local() -> None:
    text = lsl.default_config_path().read_text()
    assert "ResolveScope = machine" in text
    assert "KnownPeers = {127.0.0.1}" in text
    assert "IPv6 = disable" in text


def test_tests_and_engine_use_the_shipped_config() -> None:
    assert os.environ["LSLAPICFG"] == str(lsl.default_config_path())


def _child(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )


def test_fresh_process_defaults_to_local_and_respects_override(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LSLAPICFG"}
    code = (
        "import os\nfrom biosignals.lsl import import_pylsl\n"
        "import_pylsl()\nprint(os.environ['LSLAPICFG'])"
    )
    assert _child(code, env).stdout.strip() == str(lsl.default_config_path())
    clinic = tmp_path / "clinic.cfg"
    clinic.write_text("[multicast]\nResolveScope = link\n")
    assert _child(code, {**env, "LSLAPICFG": str(clinic)}).stdout.strip() == str(clinic)


def test_cli_lsl_config_option_and_late_import_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LSLAPICFG"}
    clinic = tmp_path / "clinic.cfg"
    clinic.write_text("[multicast]\nResolveScope = link\n")
    code = (
        "import pylsl\n"
        "from biosignals import lsl\n"
        "from biosignals.errors import StreamError\n"
        "try:\n    lsl.configure()\nexcept StreamError as e:\n    print('refused:', e)\n"
    )
    r = _child(code, env)
    assert "refused: pylsl was imported before vrtherapy could point liblsl" in r.stdout
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "--lsl-config",
            str(tmp_path / "no.cfg"),
            "validate",
            "x.yaml",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "LSL config file" in r.stderr and "does not exist" in r.stderr
