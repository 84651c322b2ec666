"""The MIT-BIH development records shipped in ``benchmarks/data/mitbih`` are complete and exact.

``records.json`` keeps the counts of each record and the SHA-256 of the CSV files it was
packed from; these tests rebuild both CSVs from the shipped files and compare.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import lzma
import tomllib
from pathlib import Path

import numpy as np
import pytest
from mitbih import REPO, bench, record

SHIPPED = REPO / "benchmarks" / "data" / "mitbih"
INDEX = json.loads((SHIPPED / "records.json").read_text())


def test_the_shipped_folder_is_the_loaders_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VRTHERAPY_MITBIH_DIR", raising=False)
    assert bench().default_data_dir() == SHIPPED
    assert bench().list_records(SHIPPED) == ["100", "104", "106", "116"]


@pytest.mark.parametrize("name", sorted(INDEX["records"]))
def test_record_has_its_listed_samples_beats_and_pvcs(name: str) -> None:
    ecg, beats, fs = record(name)
    counts = INDEX["records"][name]
    assert fs == 360.0 and ecg.dtype == np.float64
    assert ecg.size == counts["samples"] == 650_000
    assert beats.size == counts["beats"]
    assert np.all(np.diff(beats) > 0) and beats[0] >= 0 and beats[-1] < ecg.size
    symbols = _beats_csv(name).decode().splitlines()[1:]
    assert sum(line.endswith(",V") for line in symbols) == counts["pvc"]
    assert all(line.endswith((",N", ",V")) for line in symbols)


@pytest.mark.parametrize("name", sorted(INDEX["records"]))
def test_record_rebuilds_its_source_csv_files_byte_for_byte(name: str) -> None:
    ecg, _, _ = record(name)
    text = "ecg_mv\n" + "".join(f"{v:g}\n" for v in ecg.tolist())
    counts = INDEX["records"][name]
    assert hashlib.sha256(text.encode()).hexdigest() == counts["ecg_csv_sha256"]
    assert hashlib.sha256(_beats_csv(name)).hexdigest() == counts["beats_csv_sha256"]
    # the loaded floats are exactly what parsing that CSV gives
    assert np.array_equal(np.loadtxt(io.StringIO(text), skiprows=1), ecg)


def test_a_csv_folder_given_by_the_environment_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path
    ecg, beats, _ = record("106")
    n = 360 * 20
    (folder / "106.ecg.csv").write_text("ecg_mv\n" + "".join(f"{v:g}\n" for v in ecg[:n]))
    kept = beats[beats < n]
    (folder / "106.beats.csv").write_text("sample,symbol\n" + "".join(f"{b},N\n" for b in kept))
    (folder / "records.json").write_text(json.dumps({"sampling_rate": 360, "records": {"106": {}}}))
    monkeypatch.setenv("VRTHERAPY_MITBIH_DIR", str(folder))
    assert bench().default_data_dir() == folder
    got_ecg, got_beats, fs = bench().load_record(folder, "106")
    assert fs == 360.0
    assert np.array_equal(got_ecg, ecg[:n]) and np.array_equal(got_beats, kept)


def test_a_damaged_shipped_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path
    for name in ("records.json", "100.ecg.i16.xz", "100.beats.csv.xz"):
        (folder / name).write_bytes((SHIPPED / name).read_bytes())
    data = bytearray((folder / "100.ecg.i16.xz").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "100.ecg.i16.xz").write_bytes(bytes(data))
    with pytest.raises(lzma.LZMAError):
        bench().load_record(folder, "100")


def test_pip_install_ships_every_data_file() -> None:
    """pyproject's package-data patterns for the benchmarks cover the whole data folder."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"]["vrtherapy_benchmarks"] == "benchmarks"
    patterns = setuptools["package-data"]["vrtherapy_benchmarks"]
    files = [p.relative_to(REPO / "benchmarks").as_posix() for p in SHIPPED.iterdir()]
    assert {"README.md", "records.json", "100.ecg.i16.xz"} <= {f.split("/")[-1] for f in files}
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []


def _beats_csv(name: str) -> bytes:
    return lzma.decompress((SHIPPED / f"{name}.beats.csv.xz").read_bytes())
