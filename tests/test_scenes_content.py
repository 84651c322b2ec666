"""Therapy scenes (spiders, public speaking, flying, snow, breathing): pure numpy behaviour."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from engine.scene_shots import render_scene_pngs
from therapies.scenes import (
    SCENES,
    BreathingScene,
    DrawList,
    FlyingScene,
    PublicSpeakingScene,
    SnowScene,
    SpidersScene,
    create_scene,
    scene_names,
)
from therapies.scenes.base import Scene
from therapies.scenes.snow import EYE as SNOW_EYE

NEW = ("spiders", "public_speaking", "flying", "snow", "breathing")
# What each describe() line must mention (the documented parameters).
MENTIONS = {
    "spiders": ("spiders", "body", "away", "walking"),
    "public_speaking": ("audience", "watching", "murmurs"),
    "flying": ("turbulence", "window view", "shades", "bank", "announcements"),
    "snow": ("targets", "m/s", "colour", "score"),
    "breathing": ("breaths/min", "cycle", "pacer", "prominence", "reward"),
}


def _run(name: str, seed: int, steps: list[tuple[float, float]]) -> DrawList:
    scene = create_scene(name, seed=seed)
    for intensity, dt in steps:
        scene.update(intensity, dt)
    return scene.draw_list()


def _settled(scene: Scene, intensity: float, seconds: float = 2.0) -> DrawList:
    scene.update(intensity, 0.0)
    for _ in range(int(seconds / 0.1)):
        scene.update(intensity, 0.1)
    return scene.draw_list()


def test_registry_has_every_scene() -> None:
    assert scene_names() == tuple(sorted(("heights", *NEW)))
    for name in NEW:
        scene = create_scene(name, seed=1)
        assert isinstance(scene, SCENES[name])
        assert isinstance(scene, Scene)
        assert scene.name == name


@pytest.mark.parametrize("name", NEW)
def test_same_seed_same_frames_other_seed_differs(name: str) -> None:
    steps = [(0.3, 0.0), (0.6, 0.5), (0.7, 1.3), (0.7, 0.2)]
    a, b, c = _run(name, 4, steps), _run(name, 4, steps), _run(name, 5, steps)
    assert len(a.batches) == len(b.batches)
    for x, y in zip(a.batches, b.batches, strict=True):
        np.testing.assert_array_equal(x.transforms, y.transforms)
        np.testing.assert_array_equal(x.colors, y.colors)
    np.testing.assert_array_equal(a.camera_position, b.camera_position)
    assert (a.camera_yaw, a.camera_pitch) == (b.camera_yaw, b.camera_pitch)
    assert any(
        x.transforms.shape != y.transforms.shape or not np.array_equal(x.transforms, y.transforms)
        for x, y in zip(a.batches, c.batches, strict=True)
    )


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("intensity", [0.0, 0.5, 1.0])
def test_draw_lists_are_well_formed(name: str, intensity: float) -> None:
    dl = _settled(create_scene(name), intensity)
    assert 1 <= len(dl.batches) <= 8
    for batch in dl.batches:
        n = batch.count
        assert batch.transforms.shape == (n, 4, 4)
        np.testing.assert_array_equal(batch.transforms[:, 3], np.tile([0, 0, 0, 1], (n, 1)))
        assert np.all(np.isfinite(batch.transforms))
        assert np.all((batch.colors >= 0.0) & (batch.colors <= 1.0))
    assert dl.instance_count <= 2000  # a few hundred objects, a few parts each
    assert dl.camera_position.shape == (3,) and np.all(np.isfinite(dl.camera_position))


@pytest.mark.parametrize("name", NEW)
def test_describe_mentions_parameters_and_follows_intensity(name: str) -> None:
    scene = create_scene(name)
    low, high = scene.describe(0.2), scene.describe(0.8)
    assert low != high
    for line in (low, high):
        assert line.startswith(f"{name}: ") and "\n" not in line
        for word in MENTIONS[name]:
            assert word in line, (word, line)
    assert scene.describe(-1.0) == scene.describe(0.0)  # clamped to 0..1
    assert scene.describe(7.0) == scene.describe(1.0)


@pytest.mark.parametrize("name", NEW)
def test_update_snaps_first_then_smooths(name: str) -> None:
    scene = create_scene(name)
    scene.update(0.0, 0.0)
    assert scene.level == 0.0  # type: ignore[attr-defined]
    scene.update(1.0, 0.1)
    assert 0.0 < scene.level < 0.1  # type: ignore[attr-defined]
    for _ in range(300):
        scene.update(1.0, 0.1)
    assert scene.level == pytest.approx(1.0, abs=1e-3)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="dt"):
        scene.update(0.5, -0.1)


# ----------------------------------------------------------------- spiders
def test_spider_count_grows_from_none_to_thirty() -> None:
    levels = np.linspace(0.0, 1.0, 11)
    counts = []
    for lv in levels:
        bodies, legs = _settled(SpidersScene(seed=2), float(lv)).batches[1:3]
        assert legs.count == 8 * bodies.count  # 8 legs x 2 segments per 2 body spheres
        counts.append(bodies.count // 2)
    assert counts[0] == 0 and counts[2] == 1 and counts[-1] == 30
    assert np.all(np.diff(counts) >= 0)


def test_spiders_come_closer_grow_and_walk_faster() -> None:
    def stats(level: float) -> tuple[float, float, float]:
        scene = SpidersScene(seed=3)
        _settled(scene, level)
        pos, _ = scene.positions()
        body = scene.draw_list().batches[1].transforms[0, :3, :3]
        scene.update(level, 0.5)
        moved = np.linalg.norm(scene.positions()[0] - pos, axis=1).mean()
        dist = np.hypot(pos[:, 0] - 0.0, pos[:, 2] - 2.2).mean()
        return float(dist), float(np.linalg.norm(body[:, 2])), float(moved)

    (d_lo, s_lo, v_lo), (d_hi, s_hi, v_hi) = stats(0.3), stats(0.9)
    assert d_hi < d_lo - 0.8
    assert s_hi > 1.7 * s_lo  # body length 3.5 cm -> 6.5 cm
    assert v_hi > 2.0 * v_lo


# ----------------------------------------------------------------- public speaking
def test_audience_grows_and_watches_more() -> None:
    sizes, watching = [], []
    for lv in np.linspace(0.0, 1.0, 11):
        scene = PublicSpeakingScene(seed=1)
        torsos = _settled(scene, float(lv), seconds=4.0).batches[2]
        sizes.append(torsos.count)
        watching.append(scene.watching() / torsos.count)
    assert sizes[0] == 3 and sizes[-1] == 165
    assert np.all(np.diff(sizes) > 0)
    assert watching[-1] > watching[2] + 0.4


def test_heads_turn_smoothly_not_instantly() -> None:
    scene = PublicSpeakingScene(seed=1)
    scene.update(1.0, 0.0)
    all_watch = scene.watching()
    scene.update(0.0, 0.05)  # level barely moves, heads start turning
    for _ in range(100):
        scene.update(0.0, 0.1)
    assert scene.watching() < all_watch
    heads_a = scene.draw_list().batches[3].transforms.copy()
    scene.update(0.0, 0.5)
    heads_b = scene.draw_list().batches[3].transforms
    assert 0.0 < np.abs(heads_a - heads_b).max() < 0.1  # people sway slightly


# ----------------------------------------------------------------- flying
def test_turbulence_shakes_the_camera_more_at_high_intensity() -> None:
    def spread(level: float) -> tuple[float, float]:
        scene = FlyingScene(seed=0)
        scene.update(level, 0.0)
        pos, pitch = [], []
        for _ in range(300):
            scene.update(level, 1 / 60)
            dl = scene.draw_list()
            pos.append(dl.camera_position)
            pitch.append(dl.camera_pitch)
        return float(np.std(np.array(pos)[:, 1])), float(np.std(pitch))

    (p_lo, a_lo), (p_hi, a_hi) = spread(0.2), spread(0.8)
    assert p_hi > 3.0 * p_lo and a_hi > 3.0 * a_lo
    assert a_hi > 0.5  # degrees: a shake you can see


def test_window_view_and_announcements_follow_intensity() -> None:
    low, high = FlyingScene(seed=0), FlyingScene(seed=0)
    dl_low, dl_high = _settled(low, 0.1), _settled(high, 0.9)
    assert dl_high.batches[4].count < dl_low.batches[4].count  # thinner cloud deck
    signs_low, signs_high = dl_low.batches[2].colors[-1], dl_high.batches[2].colors[-1]
    assert signs_low[0] < 0.5 < signs_high[0]  # seatbelt sign lit
    assert "announcements: none" in low.describe(0.1)
    assert "captain" in high.describe(0.9)


# ----------------------------------------------------------------- snow
def _aim_at(scene: SnowScene, point: np.ndarray) -> None:
    v = point - SNOW_EYE
    yaw = math.degrees(math.atan2(-v[0], -v[2]))
    pitch = math.degrees(math.atan2(v[1], math.hypot(v[0], v[2])))
    scene.aim(yaw, pitch)


def test_snowball_aimed_at_a_target_hits_and_scores() -> None:
    scene = SnowScene(seed=5)
    _settled(scene, 0.5)
    centres, radii = scene.target_spheres()
    assert centres.shape == (10, 3) and np.all(radii > 0.3)
    _aim_at(scene, centres[3])
    assert scene.throw() is True
    assert (scene.score, scene.throws) == (1, 1)
    assert scene.target_spheres()[0].shape[0] == 9  # struck: out of play until it bursts
    scene.aim(0.0, 60.0)  # the sky
    assert scene.throw() is False
    assert (scene.score, scene.throws) == (1, 2)
    for _ in range(20):
        scene.update(0.5, 0.1)
    assert scene.target_spheres()[0].shape[0] == 10  # reappeared elsewhere
    assert "score 1/2" in scene.describe(0.5)


def test_snowball_hits_the_nearest_target_on_the_ray() -> None:
    scene = SnowScene(seed=0)
    _settled(scene, 0.3)
    centres, _ = scene.target_spheres()
    _aim_at(scene, centres[0])
    d = centres - SNOW_EYE
    before = {tuple(c) for c in np.round(centres, 4)}
    assert scene.throw()
    after = {tuple(c) for c in np.round(scene.target_spheres()[0], 4)}
    missing = before - after
    assert len(missing) == 1
    gone = np.array(missing.pop())
    # Whatever was hit lies on the ray no further than the aimed-at target.
    assert np.linalg.norm(gone - SNOW_EYE) <= np.linalg.norm(d[0]) + 1e-3


def test_snow_engagement_more_faster_more_colourful() -> None:
    counts = [
        _settled(SnowScene(seed=1), float(lv)).batches[2].count // 7 for lv in np.linspace(0, 1, 6)
    ]
    assert counts[0] == 4 and counts[-1] == 16 and np.all(np.diff(counts) > 0)
    accents = [_settled(SnowScene(seed=1), lv).batches[3].colors[:, :3] for lv in (0.2, 0.8)]
    spread = [float(np.ptp(a, axis=1).mean()) for a in accents]  # saturation proxy
    assert spread[1] > 1.5 * spread[0]
    with pytest.raises(ValueError, match="finite"):
        SnowScene().aim(float("nan"), 0.0)


# ----------------------------------------------------------------- breathing
@pytest.mark.parametrize(("rate", "period"), [(6.0, 10.0), (12.0, 5.0), (4.5, 60.0 / 4.5)])
def test_pacer_follows_the_breathing_rate(rate: float, period: float) -> None:
    scene = BreathingScene(seed=0, rate_per_min=rate)
    assert scene.period_s == pytest.approx(period)
    per = 200  # samples per expected cycle
    scene.update(0.5, 0.0)
    radii = [scene.pacer_radius]
    for _ in range(2 * per):
        scene.update(0.5, period / per)
        radii.append(scene.pacer_radius)
    r = np.array(radii)
    assert np.argmax(r[:per]) == pytest.approx(per / 2, abs=1)  # full at half a cycle
    assert r[0] == pytest.approx(r.min()) and r[per] == pytest.approx(r[0], rel=1e-6)
    np.testing.assert_allclose(r[:per], r[per : 2 * per], rtol=1e-6)
    assert r.max() == pytest.approx(3.0 * r.min())
    drawn = scene.draw_list().batches[4].transforms[0, 0, 0]
    assert drawn == pytest.approx(2.0 * scene.pacer_radius)


def test_breathing_rate_and_reward_are_validated() -> None:
    with pytest.raises(ValueError, match="rate_per_min"):
        BreathingScene(rate_per_min=0.5)
    scene = BreathingScene()
    with pytest.raises(ValueError, match="reward"):
        scene.reward = 1.5
    with pytest.raises(ValueError, match="rate_per_min"):
        scene.rate_per_min = float("inf")


def test_reward_brightens_the_beach_smoothly() -> None:
    scene = BreathingScene(seed=0)
    dull = _settled(scene, 0.5)
    scene.reward = 1.0
    scene.update(0.5, 0.1)
    assert 0.0 < scene.shown_reward < 0.1
    bright = _settled(scene, 0.5, seconds=20.0)
    assert scene.shown_reward > 0.99
    sand_dull, sand_bright = dull.batches[0].colors[0, :3], bright.batches[0].colors[0, :3]
    assert sand_bright.sum() > sand_dull.sum() + 0.2
    assert np.ptp(sand_bright) > np.ptp(sand_dull)  # more saturated
    assert bright.sky_color[2] > dull.sky_color[2] and bright.fog_density < dull.fog_density
    assert "reward 1.00" in scene.describe(0.5)


def test_pacer_prominence_grows_with_intensity() -> None:
    low, high = BreathingScene(), BreathingScene()
    a, b = _settled(low, 0.2), _settled(high, 0.8)
    assert high.pacer_radius > 1.9 * low.pacer_radius  # full radius 0.3 m -> 0.6 m
    assert b.batches[4].transforms[0, 2, 3] > a.batches[4].transforms[0, 2, 3]  # nearer


# ----------------------------------------------------------------- shots (no GL needed)
def test_scene_shots_reject_bad_input_before_opening_a_display(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'spiderz' is not one of breathing"):
        render_scene_pngs(tmp_path, ["spiderz"])
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        render_scene_pngs(tmp_path, ["snow"], intensities=(0.2, 1.5))
    assert list(tmp_path.iterdir()) == []
