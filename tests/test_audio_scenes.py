"""Scenes describe their sound like their frames: pure, deterministic, documented parameters."""

from __future__ import annotations

import math

import pytest

from therapies.scenes import SCENES, create_scene
from therapies.scenes.base import (
    CUE_SOUNDS,
    LAYER_SOUNDS,
    MAX_PENDING_CUES,
    CueLog,
    Scene,
    SoundLayer,
    Soundscape,
)
from therapies.scenes.breathing import REWARD_CHIME_MIN, BreathingScene, pacer_volume
from therapies.scenes.flying import CHIME_GAP_S, ENGINE_VOLUME, FlyingScene, rumble_volume
from therapies.scenes.heights import traffic_volume, wind_volume
from therapies.scenes.public_speaking import cue_rate_per_min, murmur_level
from therapies.scenes.snow import SnowScene
from therapies.scenes.spiders import skitter_volume

FPS = 30.0


def settle(scene: Scene, level: float, seconds: float = 20.0) -> list[str]:
    """Hold ``level`` for ``seconds`` at 30 frames/s; the cues collected every frame."""
    cues: list[str] = []
    scene.update(level, 0.0)
    for _ in range(round(seconds * FPS)):
        scene.update(level, 1.0 / FPS)
        cues.extend(scene.soundscape().cues)
    return cues


@pytest.mark.parametrize("name", sorted(SCENES))
def test_every_scene_has_a_valid_soundscape(name: str) -> None:
    scene = create_scene(name, seed=2)
    assert isinstance(scene, Scene)
    for level in (0.0, 0.5, 1.0):
        settle(scene, level, 2.0)
        scape = scene.soundscape()
        assert isinstance(scape, Soundscape)
        assert scape.layers, f"{name} is silent"
        for layer in scape.layers:
            assert layer.sound in LAYER_SOUNDS and 0.0 <= layer.volume <= 1.0
        assert all(c in CUE_SOUNDS for c in scape.cues)


@pytest.mark.parametrize("name", sorted(SCENES))
def test_soundscape_is_deterministic_for_a_seed(name: str) -> None:
    def run() -> tuple[list[str], Soundscape]:
        scene = create_scene(name, seed=5)
        if isinstance(scene, SnowScene):
            scene.update(0.5, 0.0)
            scene.throw()
        cues = settle(scene, 0.9, 15.0)
        return cues, scene.soundscape()

    assert run() == run()


@pytest.mark.parametrize("name", sorted(SCENES))
def test_sound_does_not_change_what_is_drawn(name: str) -> None:
    """Collecting the soundscape every frame leaves the frames as they were."""
    a, b = create_scene(name, seed=4), create_scene(name, seed=4)
    for scene, listen in ((a, True), (b, False)):
        scene.update(0.7, 0.0)
        for _ in range(60):
            scene.update(0.7, 1.0 / FPS)
            if listen:
                scene.soundscape()
    da, db = a.draw_list(), b.draw_list()
    assert len(da.batches) == len(db.batches)
    for x, y in zip(da.batches, db.batches, strict=True):
        assert (x.transforms == y.transforms).all() and (x.colors == y.colors).all()


def test_public_speaking_murmur_follows_intensity_and_coughs_come_late() -> None:
    low, high = create_scene("public_speaking", 1), create_scene("public_speaking", 1)
    low_cues, high_cues = settle(low, 0.2, 60.0), settle(high, 0.9, 60.0)
    assert low.soundscape().volume("murmur") == pytest.approx(murmur_level(0.2), abs=1e-6)
    assert high.soundscape().volume("murmur") > low.soundscape().volume("murmur") + 0.5
    assert low_cues == [], "no coughs below level 0.4"
    assert cue_rate_per_min(0.4) == 0.0 and cue_rate_per_min(1.0) == pytest.approx(20.0)
    # about 0.9 -> 16.7 per minute: Poisson, so a wide band
    assert 6 <= len(high_cues) <= 32
    assert set(high_cues) <= {"cough", "shuffle"} and "cough" in high_cues


def test_flying_rumble_follows_turbulence_and_announcements_chime_once() -> None:
    assert rumble_volume(0.0) == pytest.approx(0.0)
    assert rumble_volume(0.8) > 5 * rumble_volume(0.2)
    scene = FlyingScene(seed=0)
    assert settle(scene, 0.1, 10.0) == [], "no announcement below 0.2: no chime"
    scape = scene.soundscape()
    assert scape.volume("engine") == ENGINE_VOLUME
    # 0.1 -> 0.9 (2 s time constant) passes three announcements within 3 s: the first
    # chimes at once, the one current CHIME_GAP_S later chimes then (the middle one is gone)
    cues = settle(scene, 0.9, 30.0)
    assert cues.count("chime") == 2, cues
    assert scene.soundscape().volume("rumble") == pytest.approx(rumble_volume(scene.level))
    assert settle(scene, 0.9, 10.0) == [], "the same announcement does not chime again"


def test_flying_chimes_are_spaced() -> None:
    scene = FlyingScene(seed=0)
    scene.update(0.1, 0.0)
    scene.update(0.9, 100.0)  # over all three announcements in one frame: one chime
    assert scene.soundscape().cues == ("chime",)
    scene.update(0.1, 100.0)  # back to "none": nothing to announce
    assert scene.soundscape().cues == ()
    scene.update(0.5, 1.0)  # level 0.26: "seatbelt sign on"
    assert scene.soundscape().cues == ("chime",)
    scene.update(0.9, 1.0)  # level 0.51: the captain, 1 s after the last chime: silent
    assert scene.soundscape().cues == ()
    scene.update(0.9, 2 * CHIME_GAP_S)  # level 0.9: "remain seated", long enough after
    assert scene.soundscape().cues == ("chime",)


def test_heights_wind_rises_and_traffic_fades_with_height() -> None:
    assert wind_volume(0.0) == pytest.approx(0.1) and wind_volume(1.0) == pytest.approx(0.8)
    assert traffic_volume(0.0) == pytest.approx(0.5) and traffic_volume(1.0) < 0.1
    low, high = create_scene("heights", 0), create_scene("heights", 0)
    settle(low, 0.2, 5.0)
    settle(high, 0.8, 5.0)
    assert high.soundscape().volume("wind") > low.soundscape().volume("wind") + 0.4
    assert high.soundscape().volume("traffic") < low.soundscape().volume("traffic")


def test_spiders_skitter_only_at_high_intensity() -> None:
    assert skitter_volume(0.5) == 0.0 and skitter_volume(1.0) == pytest.approx(0.35)
    low, high = create_scene("spiders", 0), create_scene("spiders", 0)
    settle(low, 0.2, 5.0)
    settle(high, 0.9, 5.0)
    assert low.soundscape().volume("skitter") == 0.0
    assert high.soundscape().volume("skitter") > 0.2


def test_snow_throw_and_hit_cues() -> None:
    scene = SnowScene(seed=0)
    scene.update(0.5, 0.0)
    scene.aim(0.0, 60.0)  # at the sky: a miss
    assert scene.throw() is False
    assert scene.soundscape().cues == ("throw",)
    centres, _ = scene.target_spheres()
    rel = centres[0] - [0.0, 1.6, 0.0]
    yaw = math.degrees(math.atan2(-rel[0], -rel[2]))
    pitch = math.degrees(math.atan2(rel[1], math.hypot(rel[0], rel[2])))
    scene.aim(yaw, pitch)
    assert scene.throw() is True
    assert scene.soundscape().cues == ("throw",), "the hit sounds when the ball arrives"
    cues = settle(scene, 0.5, 2.0)
    assert cues.count("hit") == 1


def test_breathing_pacer_is_locked_to_the_breath_and_rewards_chime() -> None:
    scene = BreathingScene(seed=0, rate_per_min=6.0)
    scene.update(0.6, 0.0)
    for _ in range(75):  # 2.5 s of a 10 s cycle
        scene.update(0.6, 1.0 / FPS)
    (pacer,) = scene.soundscape().layers
    assert pacer.sound == "pacer" and pacer.cycle_s == pytest.approx(10.0)
    assert pacer.phase == pytest.approx(0.25, abs=1e-6)
    assert pacer.volume == pytest.approx(pacer_volume(0.6))
    assert settle(scene, 0.6, 30.0).count("reward") == 0, "no reward, no chime"
    scene.reward = 1.0
    cues = settle(scene, 0.6, 60.0)
    # the shown reward passes REWARD_CHIME_MIN after ~2 s: a chime per completed breath
    assert REWARD_CHIME_MIN <= 0.9 and cues.count("reward") in (5, 6)
    scene.rate_per_min = 12.0
    scene.update(0.6, 1.0 / FPS)
    assert scene.soundscape().layers[0].cycle_s == pytest.approx(5.0)


def test_cues_wait_for_collection_but_never_pile_up() -> None:
    log = CueLog()
    for _ in range(3 * MAX_PENDING_CUES):
        log.fire("throw")
    log.fire("hit")
    drained = log.drain()
    assert len(drained) == MAX_PENDING_CUES and drained[-1] == "hit"
    assert log.drain() == ()
    with pytest.raises(ValueError, match="not one of"):
        log.fire("explosion")


def test_soundscape_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"SoundLayer.sound"):
        SoundLayer("siren", 0.5)
    with pytest.raises(ValueError, match=r"SoundLayer.volume"):
        SoundLayer("wind", 1.5)
    with pytest.raises(ValueError, match=r"SoundLayer.phase"):
        SoundLayer("pacer", 0.5, cycle_s=10.0, phase=1.0)
    with pytest.raises(ValueError, match="appears twice"):
        Soundscape((SoundLayer("wind", 0.1), SoundLayer("wind", 0.2)))
    with pytest.raises(ValueError, match=r"Soundscape.cues"):
        Soundscape(cues=("bang",))
    assert Soundscape().volume("wind") == 0.0
