"""Property-based fuzzing of the config loader: any bytes give a model or one clean error.

Every mutated seed protocol or patient profile must either load or raise a
:class:`~engine.errors.VrTherapyError` whose every line starts with ``path:`` or
``path:line:`` (never another exception, never a pydantic dump). The counts are printed
(run with ``VRTHERAPY_FUZZ_EXAMPLES=5000`` for a long run).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from protocol_fuzz import PREFIX, byte_mutations, fuzz_settings, yaml_mutations

from engine.errors import VrTherapyError
from engine.protocol import load_protocol
from engine.twin_profiles import load_patient


def assert_clean(path: Path, message: str) -> None:
    """Every line of ``message`` starts with ``path:`` (or is the '... and N more' line)."""
    lines = message.splitlines()
    assert lines, "empty error message"
    for line in lines:
        if line.startswith("... and "):
            continue
        match = PREFIX.match(line)
        assert match is not None and match.group("path") == str(path), line
    assert "pydantic" not in message and "https://" not in message, message


def load_any(seed: Path, path: Path) -> object:
    """Load ``path`` the way its seed is loaded (protocol or patient profile)."""
    if seed.parent.name == "patients":
        return load_patient(str(path))
    return load_protocol(path)


def fuzz(tmp_path: Path, seed: Path, data: bytes, counts: Counter[str]) -> None:
    path = tmp_path / ("fuzzed-" + seed.name)
    path.write_bytes(data)
    start = time.perf_counter()
    try:
        load_any(seed, path)
    except VrTherapyError as exc:
        assert_clean(path, str(exc))
        counts["clean rejections"] += 1
    else:
        counts["loaded"] += 1
    counts["inputs"] += 1
    counts["slowest ms"] = max(counts["slowest ms"], round((time.perf_counter() - start) * 1e3))


def report(name: str, counts: Counter[str], capsys: object) -> None:
    with capsys.disabled():  # type: ignore[attr-defined]
        figures = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"\n{name}: {figures}, tracebacks 0")


def test_fuzzed_bytes_load_or_fail_cleanly(tmp_path: Path, capsys: object) -> None:
    counts: Counter[str] = Counter()

    @fuzz_settings(300)
    @given(byte_mutations())
    def run(case: tuple[Path, bytes]) -> None:
        fuzz(tmp_path, *case, counts)

    run()
    assert counts["inputs"] >= 1 and counts["clean rejections"] >= 1
    report("byte mutations", counts, capsys)


def test_fuzzed_yaml_structure_loads_or_fails_cleanly(tmp_path: Path, capsys: object) -> None:
    counts: Counter[str] = Counter()

    @fuzz_settings(300)
    @given(yaml_mutations())
    def run(case: tuple[Path, bytes]) -> None:
        fuzz(tmp_path, *case, counts)

    run()
    assert counts["inputs"] >= 1 and counts["clean rejections"] >= 1
    report("YAML mutations", counts, capsys)


@fuzz_settings(200)
@given(st.binary(max_size=400))
def test_random_bytes_fail_cleanly(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.yaml"
        path.write_bytes(data)
        try:
            load_protocol(path)
        except VrTherapyError as exc:
            assert_clean(path, str(exc))
