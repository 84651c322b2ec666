"""Pack the MIT-BIH development records (CSV) into ``benchmarks/data/mitbih/`` (run once).

Usage::

    python scripts/pack_mitbih.py SOURCE_DIR [--out benchmarks/data/mitbih]

SOURCE_DIR holds the CSV layout the records were first converted to: ``records.json``,
``<record>.ecg.csv`` (header ``ecg_mv``, one value per line in mV, 0.005 mV steps) and
``<record>.beats.csv`` (``sample,symbol``). For each record this writes

- ``<record>.ecg.i16.xz``: the ECG as little-endian int16 ADC units (200 per mV), xz with a
  2-byte delta filter, which ``lzma.decompress`` undoes by itself;
- ``<record>.beats.csv.xz``: the beat CSV, byte for byte;

and ``records.json`` with the counts plus the SHA-256 of both source CSV files. It refuses
to write anything unless every value round-trips: ADC / 200 equals the parsed CSV value,
and printing ADC / 200 with ``%g`` gives back the CSV file's exact bytes (the shipped test,
``tests/test_mitbih_data.py``, checks the same hashes without the CSVs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
from pathlib import Path

import numpy as np

ADC_PER_MV = 200
FILTERS = [
    {"id": lzma.FILTER_DELTA, "dist": 2},
    {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME},
]


def pack_record(src: Path, out: Path, name: str) -> dict[str, str]:
    """Write one record's two files; return the source CSVs' SHA-256."""
    ecg_bytes = (src / f"{name}.ecg.csv").read_bytes()
    beats_bytes = (src / f"{name}.beats.csv").read_bytes()
    mv = np.loadtxt(src / f"{name}.ecg.csv", skiprows=1, dtype=np.float64)
    adc = np.round(mv * ADC_PER_MV).astype("<i2")
    if not np.array_equal(adc / ADC_PER_MV, mv):
        raise SystemExit(f"{name}: values are not whole 1/{ADC_PER_MV} mV steps")
    text = "ecg_mv\n" + "".join(f"{v:g}\n" for v in (adc / ADC_PER_MV).tolist())
    if text.encode() != ecg_bytes:
        raise SystemExit(f"{name}: the CSV text is not reproduced by %g")
    (out / f"{name}.ecg.i16.xz").write_bytes(
        lzma.compress(adc.tobytes(), format=lzma.FORMAT_XZ, filters=FILTERS)
    )
    (out / f"{name}.beats.csv.xz").write_bytes(
        lzma.compress(beats_bytes, preset=9 | lzma.PRESET_EXTREME)
    )
    return {
        "ecg_csv_sha256": hashlib.sha256(ecg_bytes).hexdigest(),
        "beats_csv_sha256": hashlib.sha256(beats_bytes).hexdigest(),
    }


def main() -> int:
    """Pack every record listed in SOURCE_DIR/records.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/mitbih"))
    args = parser.parse_args()
    meta = json.loads((args.source / "records.json").read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    records = {}
    for name, counts in sorted(meta["records"].items()):
        records[name] = {**counts, **pack_record(args.source, args.out, name)}
    index = {"sampling_rate": meta["sampling_rate"], "adc_units_per_mv": ADC_PER_MV}
    index["records"] = records
    (args.out / "records.json").write_text(json.dumps(index, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
