"""XDF session recorder: exact round trips through pyxdf, lifecycle, crash safety, repair."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyxdf
from killed_writer import assert_ecg_ramp, write_and_kill
from waiting import script, wait_for

from engine.errors import IllegalTransitionError, RecordingError
from engine.record import (
    ChannelSpec,
    RecorderState,
    StreamSpec,
    XdfRecorder,
    load_recording,
    repair,
    scan_chunks,
    xdf,
)
from engine.record.bench import measure_recording_cost

ECG = StreamSpec(
    "ECG",
    "ECG",
    2,
    500.0,
    "float32",
    source_id="twin-ecg",
    channels=(ChannelSpec("I", "mV", "ECG"), ChannelSpec("II", "mV", "ECG")),
)
FRAMES = StreamSpec("frames", "FrameTiming", 3, 90.0, "double64")
COUNTS = StreamSpec("counts", "Counter", 1, 32.0, "int32")
MARKERS = StreamSpec("markers", "Markers", 1, 0.0, "string")
PAIRS = StreamSpec("pairs", "Events", 2, 0.0, "string")


def _walk(path: Path) -> list[tuple[int, int, int, int, int]]:
    """Independent chunk walk: (offset, end, tag, stream id or -1, n samples or 0)."""
    data = path.read_bytes()
    assert data[:4] == b"XDF:"
    pos, out = 4, []
    while pos < len(data):
        nb = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 1 + nb], "little")
        body = pos + 1 + nb
        (tag,) = struct.unpack_from("<H", data, body)
        sid, n = -1, 0
        if tag in (2, 3, 4, 6):
            (sid,) = struct.unpack_from("<I", data, body + 2)
        if tag == 3:
            nnb = data[body + 6]
            n = int.from_bytes(data[body + 7 : body + 7 + nnb], "little")
        out.append((pos, body + length, tag, sid, n))
        pos = body + length
    return out


def _record_all_formats(path: Path, rng: np.random.Generator) -> dict[str, tuple[Any, np.ndarray]]:
    rec = XdfRecorder(path, flush_interval=0.01, file_header={"participant": "P01"})
    ids = {spec.name: rec.add_stream(spec) for spec in (ECG, FRAMES, COUNTS, MARKERS, PAIRS)}
    t0 = 81234.567890123
    ecg = rng.standard_normal((1000, 2)).astype(np.float32)
    ecg_t = t0 + np.arange(1000) / 500 + rng.uniform(0, 1e-4, 1000)
    frames = rng.standard_normal((90, 3)) * 1e6
    frames_t = t0 + np.cumsum(rng.uniform(0.009, 0.013, 90))
    counts = rng.integers(-(2**31), 2**31 - 1, size=64, dtype=np.int64)
    counts_t = t0 + np.arange(64) / 32
    markers = ["start", "SUDS=40 ünïcødé ✓", "", "stop"]
    markers_t = t0 + np.array([0.0, 0.5, 0.75, 1.999])
    pairs = [["a", "b"], ["<xml-ish & stuff>", "x" * 300]]
    pairs_t = t0 + np.array([0.25, 1.25])
    rec.push(ids["ECG"], ecg[:10], ecg_t[:10])  # before start: queued
    rec.start()
    for lo in range(10, 1000, 37):  # uneven per-frame chunks
        rec.push(ids["ECG"], ecg[lo : lo + 37], ecg_t[lo : lo + 37])
    for k in range(90):
        rec.push(ids["frames"], frames[k], frames_t[k : k + 1])
    rec.push(ids["counts"], counts[:40], counts_t[:40])
    rec.push(ids["counts"], counts[40:, None], counts_t[40:])
    for text, t in zip(markers, markers_t, strict=True):
        rec.push_marker(ids["markers"], text, float(t))
    rec.push(ids["pairs"], pairs, pairs_t)
    rec.close()
    return {
        "ECG": (ecg, ecg_t),
        "frames": (frames, frames_t),
        "counts": (counts[:, None].astype(np.int32), counts_t),
        "markers": ([[m] for m in markers], markers_t),
        "pairs": (pairs, pairs_t),
    }


def test_round_trip_is_exact_through_pyxdf(tmp_path: Path) -> None:
    path = tmp_path / "session.xdf"
    sent = _record_all_formats(path, np.random.default_rng(1))
    raw, header = pyxdf.load_xdf(str(path), dejitter_timestamps=False)  # clocks synced
    assert header["info"]["participant"] == ["P01"]
    by_name = {s["info"]["name"][0]: s for s in raw}
    for name, (values, stamps) in sent.items():
        got = by_name[name]
        assert np.array_equal(got["time_stamps"], stamps), name  # offsets 0 keep them exact
        if isinstance(values, np.ndarray):
            assert got["time_series"].dtype == values.dtype
            assert np.array_equal(got["time_series"], values), name
        else:
            assert got["time_series"] == values, name
        assert got["clock_values"] and set(got["clock_values"]) == {0.0}
        assert int(got["footer"]["info"]["sample_count"][0]) == len(stamps)
        assert float(got["footer"]["info"]["last_timestamp"][0]) == stamps[-1]
    channels = by_name["ECG"]["info"]["desc"][0]["channels"][0]["channel"]
    assert [c["label"][0] for c in channels] == ["I", "II"]
    assert [c["unit"][0] for c in channels] == ["mV", "mV"]
    assert by_name["ECG"]["info"]["source_id"] == ["twin-ecg"]
    loaded = load_recording(path)
    assert set(loaded.streams) == set(sent)
    ts, stamps, info = loaded.streams["counts"]
    assert np.array_equal(ts, sent["counts"][0]) and np.array_equal(stamps, sent["counts"][1])
    assert info["channel_format"] == ["int32"]


@pytest.mark.parametrize(
    ("fmt", "dtype"), [("int8", np.int8), ("int16", np.int16), ("int64", np.int64)]
)
def test_integer_formats_round_trip_through_pyxdf_and_the_fast_reader(
    tmp_path: Path, fmt: str, dtype: type[np.signedinteger[Any]]
) -> None:
    """LSL's int8/int16/int64 streams (BITalino, Shimmer counts) are recorded in their own
    format, extremes included, and read back exactly by pyxdf and engine.export.xdfread."""
    from engine.export.xdfread import read_xdf

    limits = np.iinfo(dtype)
    values = np.array(
        [[limits.min, 0, 1], [limits.max, -1, 2], [7, limits.max - 1, limits.min + 1]],
        dtype=dtype,
    )
    stamps = np.array([10.0, 10.001, 10.002])
    path = tmp_path / f"{fmt}.xdf"
    rec = XdfRecorder(path)
    sid = rec.add_stream(StreamSpec(fmt, "Raw", 3, 1000.0, fmt))
    rec.start()
    rec.push(sid, values[:2], stamps[:2])
    rec.push(sid, values[2:].astype(np.int64), stamps[2:])  # wider ints within range
    with pytest.raises(RecordingError, match=f"outside the {fmt} range"):
        rec.push(sid, np.array([[int(limits.max) + 1, 0, 0]], dtype=np.uint64), [11.0])
    rec.close()
    raw, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    assert raw[0]["info"]["channel_format"] == [fmt]
    assert raw[0]["time_series"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(raw[0]["time_series"], values)
    np.testing.assert_array_equal(raw[0]["time_stamps"], stamps)
    ours = read_xdf(path).streams[0]
    assert isinstance(ours.values, np.ndarray) and ours.values.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(ours.values, values)
    np.testing.assert_array_equal(ours.timestamps, stamps)


def test_sample_chunk_bytes_match_spec_layout() -> None:
    values = np.array([[1.5, -2.0], [3.25, 4.0], [0.0, 1e-3]], dtype=np.float32)
    stamps = np.array([10.0, 10.002, 10.004])
    fast = xdf.numeric_samples_chunk(7, values, stamps, xdf.sample_dtype(values.dtype, 2))
    naive = struct.pack("<I", 7) + bytes([1, 3])
    for v, t in zip(values, stamps, strict=True):
        naive += b"\x08" + struct.pack("<d", t) + struct.pack("<2f", *v)
    assert fast == bytes([1, len(naive) + 2]) + struct.pack("<H", 3) + naive
    assert xdf.encode_varlen(255) == b"\x01\xff"
    assert xdf.encode_varlen(256) == b"\x04" + struct.pack("<I", 256)
    assert xdf.encode_varlen(2**32) == b"\x08" + struct.pack("<Q", 2**32)
    assert xdf.boundary_chunk()[4:] == xdf.BOUNDARY_UUID


def test_info_xml_passthrough_keeps_original_desc(tmp_path: Path) -> None:
    from biosignals.lsl import import_pylsl

    pylsl = import_pylsl()
    info = pylsl.StreamInfo("Shimmer", "EDA", 1, 32, "float32", "shimmer-1234")
    info.desc().append_child_value("manufacturer", "Shimmer")
    info.desc().append_child("channels").append_child("channel").append_child_value("unit", "uS")
    spec = StreamSpec("Shimmer", "EDA", 1, 32.0, "float32", info_xml=info.as_xml())
    assert spec.to_xml() == info.as_xml()
    rec = XdfRecorder(tmp_path / "raw.xdf")
    sid = rec.add_stream(spec)
    rec.start()
    rec.push(sid, np.array([0.5, 0.75]), [1.0, 1.03125])
    rec.close()
    got = load_recording(tmp_path / "raw.xdf").streams["Shimmer"]
    assert got.info["desc"][0]["manufacturer"] == ["Shimmer"]
    assert got.info["desc"][0]["channels"][0]["channel"][0]["unit"] == ["uS"]
    assert got.info["source_id"] == ["shimmer-1234"]
    with pytest.raises(RecordingError, match="channel_count"):
        StreamSpec("Shimmer", "EDA", 2, 32.0, "float32", info_xml=info.as_xml())
    with pytest.raises(RecordingError, match="channel_format 'uint8' is not one of"):
        StreamSpec("x", "y", 1, 0.0, "uint8")


def test_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "taken.xdf"
    path.write_bytes(b"precious data")
    rec = XdfRecorder(path)
    with pytest.raises(RecordingError, match="already exists; refusing to overwrite"):
        rec.start()
    assert path.read_bytes() == b"precious data"
    assert rec.state is RecorderState.CREATED


def test_lifecycle_and_input_checks(tmp_path: Path) -> None:
    never = XdfRecorder(tmp_path / "never.xdf")
    never.add_stream(MARKERS)
    never.close()  # CREATED -> CLOSED: no file, queued data discarded
    assert never.state is RecorderState.CLOSED and not (tmp_path / "never.xdf").exists()

    rec = XdfRecorder(tmp_path / "life.xdf")
    sid = rec.add_stream(ECG)
    with pytest.raises(RecordingError, match="exists already"):
        rec.add_stream(ECG)
    rec.start()
    assert rec.state is RecorderState.RECORDING
    with pytest.raises(IllegalTransitionError):
        rec.start()
    with pytest.raises(RecordingError, match="do not match 3 timestamps x 2 channels"):
        rec.push(sid, np.zeros((3, 3)), [1.0, 2.0, 3.0])
    with pytest.raises(RecordingError, match="finite"):
        rec.push(sid, np.zeros((1, 2)), [float("nan")])
    with pytest.raises(RecordingError, match="unknown stream id 9"):
        rec.push(9, [1.0], [1.0])
    counts = rec.add_stream(COUNTS)
    with pytest.raises(RecordingError, match="float samples pushed to an int32"):
        rec.push(counts, [1.5], [1.0])
    with pytest.raises(RecordingError, match="int32 range"):
        rec.push(counts, np.array([2**40]), [1.0])
    markers = rec.add_stream(MARKERS)
    with pytest.raises(RecordingError, match="bare string"):
        rec.push(markers, "oops", [1.0])
    rec.push(sid, np.ones((2, 2)), [1.0, 2.0])
    rec.close()
    assert rec.state is RecorderState.CLOSED
    rec.close()  # harmless no-op
    for call in (
        lambda: rec.push(sid, np.ones((1, 2)), [3.0]),
        lambda: rec.push_marker(markers, "late", 3.0),
        lambda: rec.add_stream(FRAMES),
        lambda: rec.clock_offset(sid, 3.0, 0.0),
        rec.start,
    ):
        with pytest.raises(IllegalTransitionError):
            call()
    stats = rec.stats()
    assert stats["samples.ECG"] == 2 and stats["streams"] == 3
    assert stats["bytes"] == (tmp_path / "life.xdf").stat().st_size
    assert stats["chunks"] == len(_walk(tmp_path / "life.xdf"))


def test_explicit_clock_offsets_replace_automatic_ones(tmp_path: Path) -> None:
    rec = XdfRecorder(tmp_path / "off.xdf")
    sid = rec.add_stream(FRAMES)
    rec.start()
    stamps = 100.0 + np.arange(90) / 90
    rec.push(sid, np.zeros((90, 3)), stamps)
    rec.clock_offset(sid, 100.0, 0.25)
    rec.clock_offset(sid, 101.0, 0.25)
    rec.close()
    got = pyxdf.load_xdf(str(tmp_path / "off.xdf"), dejitter_timestamps=False)[0][0]
    assert got["clock_values"] == [0.25, 0.25]
    assert np.allclose(got["time_stamps"], stamps + 0.25, rtol=0, atol=1e-9)


def _cut_and_repair(path: Path, cut: int) -> None:
    original = path.read_bytes()
    chunks = _walk(path)
    path.write_bytes(original[:cut])
    scan = scan_chunks(path)
    assert scan.torn and scan.problem is not None
    whole = [c for c in chunks if c[1] <= cut]
    assert scan.valid_end == (whole[-1][1] if whole else 4)
    backup = repair(path)
    assert backup.read_bytes() == original[:cut]
    assert not scan_chunks(path).needs_repair
    loaded = load_recording(path)
    expected: dict[int, int] = {}
    for _, _, tag, sid, n in whole:
        if tag == 3:
            expected[sid] = expected.get(sid, 0) + n
    for stream in loaded.streams.values():
        sid = int(stream.info["stream_id"])
        assert len(stream.time_stamps) == expected.get(sid, 0)
    backup.unlink()
    path.write_bytes(original)


def _record_in_blocks(path: Path, blocks: int) -> np.ndarray:
    """ECG in ``blocks`` Samples chunks of 100 (waits for each flush), plus markers."""
    rec = XdfRecorder(path, flush_interval=0.01)
    sid = rec.add_stream(ECG)
    markers = rec.add_stream(MARKERS)
    rec.start()
    values = np.random.default_rng(3).standard_normal((100 * blocks, 2)).astype(np.float32)
    for b in range(blocks):
        rec.push(
            sid, values[100 * b : 100 * b + 100], 5.0 + np.arange(100 * b, 100 * b + 100) / 500
        )
        rec.push_marker(markers, f"block {b}", 5.0 + b / 5)
        want = 100 * b + 100
        wait_for(
            lambda want=want: rec.stats()["samples.ECG"] == want,  # type: ignore[misc]
            10.0,
            what=f"block {b} written",
        )
    rec.close()
    return values


def test_torn_tail_is_detected_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "torn.xdf"
    sent = _record_in_blocks(path, 5)
    assert not scan_chunks(path).needs_repair
    with pytest.raises(RecordingError, match="intact"):
        repair(path)
    chunks = _walk(path)
    ecg_chunks = [c for c in chunks if c[2] == 3 and c[3] == 1]
    assert [c[4] for c in ecg_chunks] == [100] * 5
    third = ecg_chunks[2]
    _cut_and_repair(path, (third[0] + third[1]) // 2)  # inside a Samples chunk
    _cut_and_repair(path, third[0] + 1)  # inside a chunk's length field
    _cut_and_repair(path, chunks[-1][1] - 3)  # inside the last footer
    _cut_and_repair(path, 10)  # inside the file header
    for cut in range(5, len(path.read_bytes()), 97):  # a sweep over every kind of chunk
        _cut_and_repair(path, cut)
    # the repaired ECG is exactly the first two blocks that were sent
    path.write_bytes(path.read_bytes()[: (third[0] + third[1]) // 2])
    repair(path)
    ecg = load_recording(path).streams["ECG"]
    assert np.array_equal(ecg.time_series, sent[:200])
    assert np.array_equal(ecg.time_stamps, 5.0 + np.arange(200) / 500)
    path.write_bytes(path.read_bytes()[:-1])
    before = path.read_bytes()
    with pytest.raises(RecordingError, match=r"backup .* exists already"):
        repair(path)
    assert path.read_bytes() == before


def test_load_recording_rejects_non_xdf_and_empty_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.xdf"
    text.write_text("hello, not a recording")
    with pytest.raises(RecordingError, match="is not an XDF file: it starts with b'hell'"):
        load_recording(text)
    empty = tmp_path / "empty.xdf"
    empty.write_bytes(b"")
    with pytest.raises(RecordingError, match=r"is empty \(0 bytes\)"):
        load_recording(empty)
    with pytest.raises(RecordingError, match="no such recording file"):
        load_recording(tmp_path / "missing.xdf")
    with pytest.raises(RecordingError, match="is empty"):
        scan_chunks(empty)


def test_sigkill_loses_at_most_about_one_second(tmp_path: Path) -> None:
    path = tmp_path / "killed.xdf"
    pushed = write_and_kill(path, 3.0)
    scan = scan_chunks(path)
    if not scan.torn:  # all chunks whole: opens as killed, without footers
        as_killed = load_recording(path).streams["ECG"]
        assert len(as_killed.time_stamps) == scan.streams[1].sample_count
    repair(path)
    ecg = load_recording(path).streams["ECG"]
    assert_ecg_ramp(ecg.time_series, ecg.time_stamps, pushed)
    events = load_recording(path).streams["events"].time_series
    assert events == [[f"m{k}"] for k in range(1, len(events) + 1)]


_FULL_DISK_WRITER = script(r"""
import resource
import numpy as np
from waiting import wait_for
from engine.errors import RecordingError
from engine.record import RecorderState, StreamSpec, XdfRecorder
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, resource.RLIM_INFINITY))
rec = XdfRecorder(sys.argv[1], flush_interval=0.01)
sid = rec.add_stream(StreamSpec("ECG", "ECG", 4, 500.0, "double64"))
rec.start()
t = 0
while rec.state is RecorderState.RECORDING and t < 2000:
    rec.push(sid, np.full((50, 4), float(t)), 10.0 + (t * 50 + np.arange(50)) / 500)
    t += 1
    wait_for(  # this block written, or the write failed
        lambda: rec.state is not RecorderState.RECORDING or rec.stats()["samples.ECG"] >= 50 * t,
        10.0,
        what=f"block {t} written or the recorder failed",
    )
print(rec.state.name, type(rec.error).__name__, getattr(rec.error, "errno", None))
for call in (lambda: rec.push(sid, np.zeros((1, 4)), [99.0]), rec.close, rec.close):
    try:
        call()
    except RecordingError as exc:
        print("raised", type(exc.__cause__).__name__)
""")


def test_writer_error_fails_the_recorder_and_is_reraised(tmp_path: Path) -> None:
    path = tmp_path / "full.xdf"
    out = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_WRITER, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split("\n")
    assert out[0] == "FAILED OSError 27"  # EFBIG: the file-size limit stands in for ENOSPC
    assert out[1:4] == ["raised OSError"] * 3
    assert path.stat().st_size <= 20000
    repair(path)
    ecg = load_recording(path).streams["ECG"]
    assert len(ecg.time_stamps) > 0
    assert np.array_equal(ecg.time_stamps, 10.0 + np.arange(len(ecg.time_stamps)) / 500)


def test_recording_cost_benchmark_records_everything() -> None:
    result = measure_recording_cost(2.0, speedup=20.0)
    # ECG 1000 + PPG 200 + EDA 64 + 3 x 180 frame streams (intensity, timing, head pose)
    # + 2 feature ticks + 1 marker
    assert result["samples"] == 1000 + 200 + 64 + 3 * 180 + 2 + 1
    assert result["cpu_fraction"] > 0 and result["simulated_seconds"] == 2.0
    # per-frame rows reach the recorder in 0.25 s batches, not one push per call
    assert result["pushes"] < result["calls"] / 10
