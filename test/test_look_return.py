"""A failure's end is a return: a cell back at the level it showed before a long steady look."""

from __future__ import annotations

import numpy as np

from frame_restore_ros.detection.look_return import LookReturns

SCENE, FLAT = 10.0, 1.0  # a cell's texture (mean |Laplacian|): scene detail, a failure's flat fill


def _returns() -> LookReturns:
    return LookReturns(jump=10.0, steady_frames=8, level=12.0, share=0.35, frames=2)


def _run(
    segments: list[tuple[float, int, float]], returns: LookReturns | None = None
) -> list[bool]:
    """Feed one cell (level, frames, texture) segments; return whether it was quiet each frame."""
    returns = returns or _returns()
    quiet = []
    for level, frames, texture in segments:
        for _ in range(frames):
            gray = np.array([[level]], dtype=np.float32)
            quiet.append(bool(returns.update(gray, np.array([[texture]], np.float32))[0, 0]))
    return quiet


def test_a_grey_film_lifting_off_a_dark_scene_is_a_return_for_two_frames():
    """Night at 5, a veil at 150 for 20 frames, the night again: quiet on the return and the
    frame after it (absorbed_recovery_frames), then onsets may start again."""
    quiet = _run([(5.0, 10, SCENE), (150.0, 20, FLAT), (6.0, 4, SCENE)])
    assert quiet[:30] == [False] * 30
    assert quiet[30:] == [True, True, False, False]


def test_the_scene_s_drift_while_the_failure_lasted_is_within_the_jump_s_share():
    """Before at 74, the film at 157, back at 52: 22 levels off, within 35 % of the 83-level
    jump that began the film (the road darkened meanwhile); 36 % off is no return."""
    assert _run([(74.0, 5, SCENE), (157.0, 10, FLAT), (52.0, 1, SCENE)])[-1]
    assert not _run([(74.0, 5, SCENE), (157.0, 10, FLAT), (44.0, 1, SCENE)])[-1]


def test_a_failure_landing_where_the_scene_showed_its_level_before_is_no_return():
    """A wall at 100 (its look since a person at 170 left), then a grey film at 170: back at
    a level the cell showed, but with less detail than the wall had: a failure beginning."""
    assert not _run([(170.0, 5, SCENE), (100.0, 20, SCENE), (170.0, 1, FLAT)])[-1]


def test_a_short_look_ends_with_no_return_the_other_rules_judge_it():
    """A failure of 5 frames (under steady_frames) leaves the cells' recent looks to the
    onset rules: its end is no return here."""
    assert not any(_run([(5.0, 10, SCENE), (150.0, 5, FLAT), (6.0, 1, SCENE)]))


def test_a_jump_elsewhere_is_no_return():
    """A dead block (0) over a grey veil that covered a lit road (100): the block's level is
    far from the road's, so it may start an onset."""
    assert not _run([(100.0, 10, SCENE), (150.0, 20, FLAT), (0.0, 1, FLAT)])[-1]


def test_a_cell_steady_since_the_start_has_no_level_before_and_never_returns():
    """Sky steady from the first frame, then a dead block: nothing came before the sky."""
    assert not any(_run([(200.0, 30, FLAT), (0.0, 2, FLAT)]))


def test_a_look_that_drifts_within_the_jump_stays_one_look():
    """A veil whose level drifts 2 levels a frame (under the 10-level jump) stays one look;
    the scene coming back at its old level is a return."""
    veil = [(150.0 + (index % 5) * 2, 1, FLAT) for index in range(20)]
    assert _run([(30.0, 5, SCENE), *veil, (31.0, 1, SCENE)])[-1]


def test_off_and_reset():
    """steady_frames or frames 0 turns it off; reset forgets the level before."""
    segments = [(5.0, 10, SCENE), (150.0, 20, FLAT), (6.0, 1, SCENE)]
    for off in ({"steady_frames": 0}, {"frames": 0}):
        settings = {"jump": 10.0, "steady_frames": 8, "level": 12.0, "share": 0.35, "frames": 2}
        assert not any(_run(segments, LookReturns(**(settings | off))))
    returns = _returns()
    _run(segments[:2], returns)
    returns.reset()
    assert not any(_run([(6.0, 1, SCENE)], returns))
    # A resolution change starts afresh too: the night back at 5 after the veil, at 2x3 cells.
    again = _returns()
    _run(segments[:2], again)
    night = np.full((2, 3), 5.0, np.float32)
    assert not again.update(night, np.full((2, 3), SCENE, np.float32)).any()
    assert _run(segments, _returns())[-1]  # the same cell without the change: a return


def test_a_look_that_began_by_leaving_a_failure_has_no_level_before():
    """A flagged veil (150) ends, the road (60) holds 20 frames, a second veil at 150 lands:
    that is a failure's onset, not a return to the first veil's level. The road here is
    flatter than the veil (a wet road at night), so only the first veil's flag tells."""
    returns = _returns()
    segments = [(60.0, 5, FLAT), (150.0, 20, FLAT), (60.0, 20, FLAT), (150.0, 1, SCENE)]
    failed = [False] * 5 + [True] * 20 + [False] * 21
    levels = [level for level, frames, _ in segments for _ in range(frames)]
    textures = [texture for _, frames, texture in segments for _ in range(frames)]
    before = [np.array([[x]]) for x in [False, *failed[:-1]]]
    quiet = [
        bool(returns.update(np.array([[v]], np.float32), np.array([[t]], np.float32), f)[0, 0])
        for v, t, f in zip(levels, textures, before, strict=True)
    ]
    assert not quiet[-1]
    # Without knowing the first veil failed, the second is taken for a return.
    again = _returns()
    assert [
        bool(again.update(np.array([[v]], np.float32), np.array([[t]], np.float32))[0, 0])
        for v, t in zip(levels, textures, strict=True)
    ][-1]
