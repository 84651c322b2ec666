"""The audio player on real SDL audio drivers.

``dummy`` (set by conftest) checks the wiring silently. ``disk`` makes SDL write the mixed
output to a file, like GL tests read pixels back: the louder intensity must be measurably
louder in the PCM, and one-shots must appear in it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import pyxdf
from waiting import wait_for

from biosignals.twin import TwinPhysiology, TwinProfile
from engine.audio import AudioPlayer, AudioUnavailableError, SoundBank
from engine.audio.synth import SAMPLE_RATE
from engine.cli import build_parser
from engine.clock import ManualClock
from engine.display.null import NullDisplay
from engine.live import RunOptions, audio_wanted, open_audio
from engine.protocol import load_protocol, resolve_seed
from engine.record import XdfRecorder
from engine.session import Session
from engine.session_cli import run_options
from engine.session_record import SessionRecording
from engine.twinfeed import TwinFeed
from therapies.scenes import create_scene
from therapies.scenes.base import Scene
from therapies.scenes.heights import HeightsScene, wind_volume
from therapies.scenes.public_speaking import murmur_level
from therapies.scenes.snow import SnowScene

FPS = 60.0


@pytest.fixture(scope="module")
def bank() -> SoundBank:
    """Sounds synthesised once for the whole module."""
    return SoundBank(seed=0)


def frames(player: AudioPlayer, scene: Scene, level: float, seconds: float, t0: float) -> float:
    """Advance scene and player ``seconds`` of session time at 60 frames/s; the new time."""
    now = t0
    for _ in range(round(seconds * FPS)):
        scene.update(level, 1.0 / FPS)
        now += 1.0 / FPS
        player.push_intensity(level, now)
    return now


def written(path: Path) -> float:
    """Seconds of audio SDL's disk driver has written to ``path`` (16-bit stereo)."""
    return path.stat().st_size / (4 * SAMPLE_RATE) if path.exists() else 0.0


def play_on(path: Path, seconds: float) -> None:
    """Let the device play until ``path`` holds ``seconds`` more of its output."""
    until = written(path) + seconds
    wait_for(lambda: written(path) >= until, 10.0 + 2 * seconds, what=f"{seconds} s more in {path}")


# ----------------------------------------------------------------------------- dummy driver
def test_layers_follow_the_scene_smoothly_with_master_volume_and_mute(bank: SoundBank) -> None:
    scene = create_scene("public_speaking", 0)
    scene.update(0.2, 0.0)
    with AudioPlayer(scene, volume=0.5, bank=bank) as player:
        player.push_intensity(0.2, 10.0)
        assert player.layer_volume("murmur") == 0.0, "starts silent, fades in"
        player.push_intensity(0.2, 10.0 + 1 / FPS)
        first = player.layer_volume("murmur")
        assert 0.0 < first < 0.2 * murmur_level(0.2), "no jump: a fade"
        now = frames(player, scene, 0.2, 2.0, 10.0 + 1 / FPS)
        assert player.layer_volume("murmur") == pytest.approx(0.5 * murmur_level(0.2), rel=1e-3)
        player.volume = 1.0
        now = frames(player, scene, 0.2, 2.0, now)
        assert player.layer_volume("murmur") == pytest.approx(murmur_level(0.2), rel=1e-3)
        player.muted = True
        now = frames(player, scene, 0.2, 0.05, now)
        assert 0.0 < player.layer_volume("murmur") < murmur_level(0.2), "muting fades too"
        frames(player, scene, 0.2, 2.0, now)
        assert player.layer_volume("murmur") < 1e-4
        with pytest.raises(ValueError, match=r"0\.\.1"):
            player.volume = 1.5
    assert player.closed
    player.close()  # idempotent
    player.push_intensity(0.2, 100.0)  # a closed player ignores the session


def test_cues_are_played_once_and_not_when_muted(bank: SoundBank) -> None:
    scene = SnowScene(seed=0)
    scene.update(0.5, 0.0)
    with AudioPlayer(scene, bank=bank) as player:
        scene.throw()
        scene.throw()
        player.push_intensity(0.5, 1.0)
        assert player.cues_played == 2 and player.cues_dropped == 0
        player.push_intensity(0.5, 1.1)
        assert player.cues_played == 2, "a cue plays once"
        player.muted = True
        scene.throw()
        player.push_intensity(0.5, 1.2)
        assert player.cues_played == 2


def test_the_breathing_pacer_restarts_with_every_breath(bank: SoundBank) -> None:
    scene = create_scene("breathing", 0)
    scene.update(0.6, 0.0)
    with AudioPlayer(scene, bank=bank) as player:
        now = frames(player, scene, 0.6, 3.0, 0.0)
        channel = player._layers["pacer"].channel
        assert channel.get_busy(), "the pacer plays from the first frame"
        frames(player, scene, 0.6, 12.0, now)  # past the end of the first 10 s cycle
        assert channel.get_busy(), "restarted at the new breath"
        assert player._layers["pacer"].phase == pytest.approx(0.5, abs=0.01)


def test_only_one_player_holds_the_mixer(bank: SoundBank) -> None:
    scene = create_scene("heights", 0)
    with (
        AudioPlayer(scene, bank=bank),
        pytest.raises(AudioUnavailableError, match="already in use"),
    ):
        AudioPlayer(scene, bank=bank)
    with AudioPlayer(scene, bank=bank) as again:  # released on close
        assert not again.closed


def test_no_audio_device_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real SDL failure (a driver that does not exist), not a mock."""
    monkeypatch.setenv("SDL_AUDIODRIVER", "no-such-driver")
    with pytest.raises(AudioUnavailableError) as info:
        AudioPlayer(create_scene("heights", 0))
    text = str(info.value)
    assert "SDL_AUDIODRIVER=no-such-driver" in text
    assert "apt install" in text and "--no-audio" in text


def test_session_without_audio_device_goes_on_silently_with_one_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SDL_AUDIODRIVER", "no-such-driver")
    events: list[str] = []
    recorder = XdfRecorder(tmp_path / "rec.xdf")
    recorder.start()
    recording = SessionRecording(recorder)
    opts = RunOptions(out=tmp_path, display="window", on_event=events.append)
    assert open_audio(create_scene("flying", 0), opts, recording, ManualClock(5.0)) is None
    recording.flush()
    recorder.close()
    assert len(events) == 1 and events[0].startswith("audio unavailable")
    streams, _ = pyxdf.load_xdf(str(tmp_path / "rec.xdf"))
    (markers,) = [s for s in streams if s["info"]["name"][0] == "vrtherapy-markers"]
    (event,) = [json.loads(m[0]) for m in markers["time_series"]]
    assert event["event"] == "audio" and event["state"] == "unavailable"
    assert "SDL_AUDIODRIVER" in event["reason"]


def test_the_session_feeds_the_player_every_frame(tmp_path: Path, bank: SoundBank) -> None:
    protocol = load_protocol(resolve_seed("protocols", "heights-demo"))
    clock = ManualClock(0.0)
    feed = TwinFeed(TwinPhysiology(TwinProfile(), start_time=0.0, seed=1), clock, 500.0, 32.0)
    assert protocol.scene == "heights"
    scene = HeightsScene(seed=0)
    with AudioPlayer(scene, bank=bank, volume=1.0) as player:
        session = Session(
            protocol,
            clock=clock,
            display=NullDisplay(),
            scene=scene,
            sources=feed.sources(),
            sinks=(feed, player),
            frame_rate=30.0,
        )
        session.start(clock.now())
        for _ in range(90):
            clock.advance(1 / 30)
            session.step(clock.now())
        assert player.layer_volume("wind") == pytest.approx(wind_volume(scene.level), rel=1e-3)


def test_audio_is_on_where_a_person_listens() -> None:
    assert audio_wanted(RunOptions(out=Path(), display="window"))
    assert audio_wanted(RunOptions(out=Path(), display="openxr"))
    assert not audio_wanted(RunOptions(out=Path(), display="offscreen"))
    assert not audio_wanted(RunOptions(out=Path(), display="window", audio=False))
    assert audio_wanted(RunOptions(out=Path(), display="offscreen", audio=True))
    assert not audio_wanted(RunOptions(out=Path(), display="null", audio=True))


def test_cli_audio_options() -> None:
    parser = build_parser()
    args = parser.parse_args(["demo", "--display", "window", "--no-audio", "--volume", "0.3"])
    opts = run_options(args, "auto")
    assert opts.audio is False and opts.volume == 0.3
    opts = run_options(parser.parse_args(["run", "p.yaml", "--display", "openxr"]), "auto")
    assert opts.audio is None and audio_wanted(opts) and opts.volume == 0.8
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--volume", "1.5"])
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "p.yaml", "--no-audio"])  # dry-runs are silent anyway


# ----------------------------------------------------------------------------- disk driver
@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Path]]:
    """``disk(name)`` points SDL's disk audio driver at a new file and returns its path."""
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")

    def target(name: str) -> Path:
        path = tmp_path / f"{name}.raw"
        monkeypatch.setenv("SDL_DISKAUDIOFILE", str(path))
        return path

    yield target


def pcm(path: Path) -> np.ndarray:
    """What SDL wrote: 16-bit stereo at 44.1 kHz, as floats in -1..1."""
    data = np.fromfile(path, np.int16)
    return data.reshape(-1, 2).astype(np.float64) / 32767.0


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def band_rms(x: np.ndarray, low: float, high: float) -> float:
    spec = np.fft.rfft(x.mean(axis=1))
    f = np.fft.rfftfreq(x.shape[0], 1.0 / SAMPLE_RATE)
    return float(np.sqrt(np.sum(np.abs(spec[(f >= low) & (f < high)]) ** 2)) / x.shape[0])


def play(
    disk: Callable[[str], Path],
    bank: SoundBank,
    scene: Scene,
    level: float,
    *,
    drain: bool = False,
    seconds: float = 0.4,
) -> np.ndarray:
    """Play ``scene`` held at ``level``; the steady second half of what was written."""
    path = disk(f"{scene.name}-{level}-{drain}")
    scene.update(level, 0.0)
    if drain:
        scene.soundscape()
    with AudioPlayer(scene, volume=1.0, bank=bank) as player:
        frames(player, scene, level, 1.0, 0.0)  # volumes settle (session time)
        play_on(path, seconds)
    out = pcm(path)
    assert out.shape[0] > 0.5 * seconds * SAMPLE_RATE, "the disk driver wrote the output"
    steady = out[out.shape[0] // 2 :]
    win = int(0.02 * SAMPLE_RATE)
    windows = steady[: steady.shape[0] // win * win].reshape(-1, win * 2)
    assert (np.sqrt(np.mean(windows**2, axis=1)) > 1e-3).all(), "no silent stretch"
    return steady


def test_public_speaking_is_louder_at_higher_intensity(disk, bank) -> None:
    quiet = play(disk, bank, create_scene("public_speaking", 0), 0.2)
    loud = play(disk, bank, create_scene("public_speaking", 0), 0.8)
    # the murmur alone is 2.85x (9 dB) louder; at 0.8 a cough or shuffle may add to it
    assert murmur_level(0.8) / murmur_level(0.2) == pytest.approx(2.85, abs=0.01)
    assert rms(quiet) > 0.005, "the murmur is audible at 0.2"
    print(f"public_speaking RMS 0.2: {rms(quiet):.4f}, 0.8: {rms(loud):.4f}")
    assert rms(loud) > 2.0 * rms(quiet), (rms(loud), rms(quiet))


def test_flying_turbulence_rumbles_louder(disk, bank) -> None:
    calm = play(disk, bank, create_scene("flying", 0), 0.2, drain=True)
    rough = play(disk, bank, create_scene("flying", 0), 0.8, drain=True)
    # engine drone at 0.35 in both, rumble at 0.09 (0.2) and 0.72 (0.8): about 2x overall
    print(
        f"flying RMS 0.2: {rms(calm):.4f}, 0.8: {rms(rough):.4f}; 20-160 Hz "
        f"{band_rms(calm, 20.0, 160.0):.4f} -> {band_rms(rough, 20.0, 160.0):.4f}"
    )
    assert rms(rough) > 1.5 * rms(calm), (rms(rough), rms(calm))
    assert band_rms(rough, 20.0, 160.0) > 1.5 * band_rms(calm, 20.0, 160.0)
    assert rms(calm) > 0.02, "the engine drone is there at 0.2"


def test_the_announcement_chime_is_in_the_output(disk, bank) -> None:
    """Same scene, same level: with the chime cue (not drained) the chime's notes appear."""
    silent = play(disk, bank, create_scene("flying", 0), 0.5, drain=True)
    chimed = play(disk, bank, create_scene("flying", 0), 0.5, drain=False)
    e5 = 659.25  # the "bing"; the "bong" (C5) starts 0.55 s in, after this recording
    assert band_rms(chimed, e5 - 8, e5 + 8) > 5 * band_rms(silent, e5 - 8, e5 + 8)


def test_a_snowball_throw_is_heard_when_thrown(disk, bank) -> None:
    path = disk("snow-throw")
    scene = SnowScene(seed=0)
    scene.update(0.5, 0.0)
    scene.aim(0.0, 60.0)
    with AudioPlayer(scene, volume=1.0, bank=bank) as player:
        now = frames(player, scene, 0.5, 1.0, 0.0)
        play_on(path, 0.3)
        scene.throw()
        frames(player, scene, 0.5, 1 / FPS, now)
        play_on(path, 0.5)
    out = pcm(path).mean(axis=1)
    win = int(0.02 * SAMPLE_RATE)
    levels = np.sqrt(np.mean(out[: out.size // win * win].reshape(-1, win) ** 2, axis=1))
    loud = np.flatnonzero(levels > 4 * np.median(levels))
    assert loud.size >= 5, "the whoosh (0.35 s) stands out of the wind"
    assert loud[0] * win > 0.1 * SAMPLE_RATE, "and not before the throw (0.3 s in)"
