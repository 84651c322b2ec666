"""Twin -> real LSL outlet -> LslInlet -> ECG extractor: the heart rate the engine reads."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from waiting import wait_for

from biosignals.ecg import EcgExtractor
from biosignals.lsl import import_pylsl
from biosignals.streams import LslInlet, StreamPredicate, resolve_stream
from biosignals.twin import TwinOutlets, TwinPhysiology, TwinProfile, TwinRunner

pytestmark = pytest.mark.lsl


def test_heart_rate_over_loopback_matches_twin_truth() -> None:
    pylsl = import_pylsl()
    prefix = f"hr-{uuid.uuid4().hex[:12]}"
    # steady heart: RSA and slow variability off, so "true rate" is one number
    profile = TwinProfile(resting_hr=82, hrv_rsa_bpm=0, hrv_sd_bpm=0)
    twin = TwinPhysiology(profile, start_time=pylsl.local_clock(), seed=5)
    outlets = TwinOutlets(twin, source_prefix=prefix, listen_intensity=False)
    runner = TwinRunner(outlets, period=0.02)
    inlet = LslInlet(resolve_stream(StreamPredicate(source_id=f"{prefix}-ecg"), timeout=3.0))
    extractor = EcgExtractor(inlet.meta.nominal_srate)
    runner.start()
    beats = []

    def eleven_beats() -> bool:  # what 8 s at 82 bpm hold
        samples, stamps = inlet.pull()
        beats.extend(extractor.update(samples, stamps))
        return len(beats) >= 11

    try:
        wait_for(eleven_beats, 20.0, interval=0.05, what="11 beats detected over loopback")
    finally:
        runner.stop()
        inlet.close()
        outlets.close()
    assert len(beats) >= 8, "about 11 beats expected in 8 s at 82 bpm"
    assert extractor.heart_rate is not None
    assert abs(extractor.heart_rate - twin.true_heart_rate) <= 3.0
    # beat times arrive on the LSL clock, spaced like the true rate
    rr = np.diff([b.time for b in beats])
    assert np.all(np.abs(60.0 / rr - twin.true_heart_rate) < 3.0)
