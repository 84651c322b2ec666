"""The config loader on hostile files: every problem is one ``file:line:`` sentence.

Control characters, bytes that are not UTF-8, recursive aliases, deep nesting, alias
bombs, oversized files and duplicate keys each get a clear error instead of a
traceback, a hang or an exhausted memory; ordinary anchors and merge keys still work.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ProtocolError
from engine.protocol import load_protocol, resolve_seed
from engine.safeyaml import MAX_ALIASES, MAX_BYTES, MAX_DEPTH, MAX_VALUES, read_yaml
from engine.twin_profiles import load_patient

DEMO = resolve_seed("protocols", "heights-demo").read_text(encoding="utf-8")
ROOT = Path(__file__).resolve().parents[1]


def bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" file: each level aliases the one before ``width`` times."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def error(tmp_path: Path, data: bytes | str, name: str = "p.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    return message.removeprefix(f"{path}:")


@pytest.mark.parametrize(
    ("char", "name"),
    [("\f", "U+000C (form feed)"), ("\x00", "U+0000 (NUL)"), ("\x1b", "U+001B (escape)")],
)
def test_control_characters_are_named_with_line_and_column(
    tmp_path: Path, char: str, name: str
) -> None:
    text = DEMO.replace("scene: heights", f"scene: heig{char}hts")
    assert error(tmp_path, text).startswith(f"8:12: character {name} is not allowed in YAML")


def test_bytes_that_are_not_utf8_are_named(tmp_path: Path) -> None:
    data = DEMO.encode("utf-8").replace(b"title: Heights", b"title: H\xe9ights")
    assert error(tmp_path, data) == "7:9: byte 0xe9 is not UTF-8 text (save the file as UTF-8)"


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    assert error(tmp_path, "protocol: x\nloop: &l [*l]\n") == (
        "2: alias *l is inside its own anchor &l (an endless structure)"
    )
    assert "inside its own anchor &m" in error(tmp_path, "m: &m {a: [1, {b: *m}]}\n")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    deep = "x: " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert error(tmp_path, deep) == f"1: nested deeper than {MAX_DEPTH} levels (aliases expanded)"
    nested = "a: &a " + "[" * 20 + "1" + "]" * 20 + "\nb: &b " + "[" * 20 + "*a" + "]" * 20
    assert "nested deeper than" in error(tmp_path, nested + "\n")  # 40 levels via an alias


def test_alias_bomb_is_refused_before_anything_expands_it(tmp_path: Path) -> None:
    message = error(tmp_path, bomb())  # level 4 alone expands to 9**5 = 59049 values
    assert message.startswith(f"5: more than {MAX_VALUES} values, aliases expanded")


def test_alias_count_is_limited(tmp_path: Path) -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    assert error(tmp_path, text) == f"2: more than {MAX_ALIASES} aliases"


def test_too_many_values_are_refused(tmp_path: Path) -> None:
    text = "a: 1\nb:\n" + "  - 1\n" * MAX_VALUES
    assert error(tmp_path, text) == (  # 5 values before the first item, on line 3
        f"{MAX_VALUES - 2}: more than {MAX_VALUES} values, aliases expanded (a config file "
        "has a few hundred)"
    )


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    text = DEMO + "#" * MAX_BYTES
    assert error(tmp_path, text) == " file is larger than 1024 KiB; a config file is a few KB"


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    text = DEMO.replace("  on_signal_loss: lower", "  on_signal_loss: lower\n  max_heart_rate: 190")
    assert error(tmp_path, text) == "38: safety.max_heart_rate: duplicate key (first at line 35)"
    text = DEMO.replace("seed: 7 ", "seed: 7\nseed: 8 ")
    assert error(tmp_path, text) == "11: seed: duplicate key (first at line 10)"
    text = DEMO.replace("  heart: {type: ECG}", "  heart: {type: ECG, type: EDA}")
    assert error(tmp_path, text) == "13: streams.heart.type: duplicate key (first at line 13)"


def test_duplicate_keys_in_patient_profiles(tmp_path: Path) -> None:
    path = tmp_path / "patient.yaml"
    path.write_text("name: p\nresting_hr: 60\nresting_hr: 90\n")
    with pytest.raises(ProtocolError, match=r"patient.yaml:3: resting_hr: duplicate key \(first"):
        load_patient(str(path))


def test_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    text = DEMO.replace(
        "    - {intensity: 0.15, label: first-floor balcony}",
        "    - &step {intensity: 0.15, label: first-floor balcony}",
    ).replace(
        "  heart: {type: ECG}",
        "  heart: &ecg {type: ECG}\n  ppg: {<<: *ecg, type: PPG}",
    )
    path = tmp_path / "p.yaml"
    path.write_text(text)
    protocol = load_protocol(path)
    assert protocol.streams["ppg"].type == "PPG"  # the merged key is overridden, not a dup
    bad = text.replace("    - {intensity: 0.35", "    - *step\n    - {intensity: 0.35")
    assert error(tmp_path, bad).startswith("28: controller.hierarchy: intensities must")


def test_errors_inside_an_alias_point_at_the_alias(tmp_path: Path) -> None:
    text = DEMO.replace("safety:\n", "bad: &bad {max_heart_rate: 999}\nsafety:\n").replace(
        "  max_heart_rate: 150 ", "  nested: *bad\n  max_heart_rate: 150 "
    )
    message = error(tmp_path, text)
    assert "36: safety.nested: unknown field" in message  # the alias's line
    assert ":34: bad: unknown field" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seed: !!int abc\n", "1: seed: 'abc' cannot be read as int"),
        ("recorded: 2024-13-45\n", "1: recorded: '2024-13-45' cannot be read as timestamp"),
        ("a: !!python/object:os.system {}\n", "1: YAML syntax error: could not determine"),
        ("a: *nowhere\n", "1: YAML syntax error: found undefined alias 'nowhere'"),
        ("a: 1\n---\nb: 2\n", "2: YAML syntax error: but found another document"),
        ("? [a, b]\n: 1\n", "1: YAML syntax error: found unhashable key"),
        ("", "1: a protocol must be a YAML mapping of fields, got an empty value"),
        ("[1, 2]", "1: a protocol must be a YAML mapping of fields, got a list"),
        ("seed: " + "9" * 5000 + "\n", "1: seed: '99999999999999999999999999"),
    ],
)
def test_odd_values_get_a_line(tmp_path: Path, text: str, expected: str) -> None:
    assert error(tmp_path, text).startswith(expected)


def test_read_yaml_maps_fields_to_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a:\n  b: 1\n  c:\n    - x\n    - &y z\nd: *y\n")
    data, lines = read_yaml(path)
    assert data == {"a": {"b": 1, "c": ["x", "z"]}, "d": "z"}
    expected = {("a",): 1, ("a", "b"): 2, ("a", "c"): 3, ("a", "c", 0): 4, ("a", "c", 1): 5}
    assert lines == {**expected, ("d",): 6}


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_validate_on_nasty_files_exits_2_without_a_traceback(tmp_path: Path) -> None:
    nasty = {
        "formfeed.yaml": DEMO.replace("scene: heights", "scene: heights\f").encode(),
        "nul.yaml": b"protocol: x\x00\n",
        "junk.yaml": bytes(range(256)) * 8,
        "latin1.yaml": "title: Höhen\n".encode("latin-1"),
        "loop.yaml": b"loop: &l [*l]\n",
        "deep.yaml": b"a: " + b"[" * 50_000 + b"]" * 50_000,
        "bomb.yaml": bomb().encode(),
        "dup.yaml": DEMO.replace("seed: 7 ", "seed: 7\nseed: 8 ").encode(),
        "huge.yaml": b"a: 1\n" + b"#" * (MAX_BYTES + 1),
        "empty.yaml": b"",
    }
    for name, data in nasty.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder.yaml").mkdir()
    paths = [str(tmp_path / name) for name in [*nasty, "folder.yaml"]]
    good = str(resolve_seed("protocols", "heights-demo"))
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", good, *paths],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=dict(os.environ),
        preexec_fn=_limit_memory,  # an alias bomb would need far more than 1 GiB
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "pydantic" not in result.stderr
    assert f"{good}: ok" in result.stdout
    for path in paths:
        assert any(line.startswith(f"{path}:") for line in result.stderr.splitlines()), path
