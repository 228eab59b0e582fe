# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The finger collision check in depth: free support passes, a neighbour or a wide top fails."""

from dataclasses import dataclass
import math

from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.finger_clearance import (
    blocked_fraction,
    finger_footprints_px,
    FingerModel,
    fingers_clear,
)
import numpy as np
import pytest

CAM = PinholeCamera(600.0, 600.0, 319.5, 239.5, 640, 480)
TABLE_M = 0.60


@dataclass
class Rect:
    center: tuple[float, float]
    angle: float
    opening: float = 40.0


def _px(metres: float, depth: float) -> int:
    return round(metres * CAM.fx / depth)


def _scene(boxes):
    """Build a table at 0.6 m with boxes: (centre u, v px, half size x, y in m, top depth m)."""
    depth = np.full((480, 640), TABLE_M, np.float32)
    for u, v, hx, hy, top in boxes:
        ru, rv = _px(hx, top), _px(hy, top)
        depth[v - rv:v + rv + 1, u - ru:u + ru + 1] = top
    return depth


BOX = (320, 240, 0.02, 0.03, 0.57)  # 4 cm across x, 6 cm along y, 3 cm tall


def test_footprints_lie_outside_the_opening_along_the_closing_axis():
    fingers = FingerModel(thickness_m=0.01, width_m=0.02, opening_margin_m=0.02)
    left, right = finger_footprints_px(Rect((319.5, 239.5), 0.0), 0.6, 0.06, CAM, fingers)
    # closing axis along image x: fingers 3-4 cm either side, ±1 cm in y (30-40 px at 0.6 m)
    assert sorted(np.round(np.abs(right[:, 0] - 319.5)).tolist()) == [30, 30, 40, 40]
    assert sorted(np.round(np.abs(left[:, 0] - 319.5)).tolist()) == [30, 30, 40, 40]
    assert np.allclose(np.abs(right[:, 1] - 239.5), 10.0) and (right[:, 0] > 320).all()
    turned = finger_footprints_px(Rect((319.5, 239.5), math.pi / 2), 0.6, 0.06, CAM, fingers)
    for poly in turned:  # closing axis along image y now
        assert np.allclose(np.abs(poly[:, 0] - 319.5), 10.0)
        assert set(np.round(np.abs(poly[:, 1] - 239.5)).tolist()) == {30.0, 40.0}


def test_isolated_box_is_clear_and_a_taller_neighbour_blocks():
    fingers = FingerModel()
    rect = Rect((320.0, 240.0), 0.0)
    clear, share = fingers_clear(rect, 0.57, 0.04, _scene([BOX]), CAM, fingers)
    assert clear and share == 0.0
    # a taller box 3.5 cm right of the centre, where the right finger goes down
    neighbour = (320 + _px(0.04, 0.55), 240, 0.015, 0.03, 0.55)
    clear, share = fingers_clear(rect, 0.57, 0.04, _scene([BOX, neighbour]), CAM, fingers)
    assert not clear and share > 0.5
    # the same neighbour does not matter for a grasp closing along y
    along_y = Rect((320.0, 240.0), math.pi / 2)
    wide_box = (320, 240, 0.03, 0.02, 0.57)  # 6 cm across x, 4 cm along y
    clear, _ = fingers_clear(along_y, 0.57, 0.04,
                             _scene([wide_box, (320 + _px(0.06, 0.55), 240, 0.01, 0.03, 0.55)]),
                             CAM, fingers)
    assert clear


def test_a_top_wider_than_the_opening_blocks_but_a_lower_neighbour_does_not():
    fingers = FingerModel()
    rect = Rect((320.0, 240.0), 0.0)
    wide_top = (320, 240, 0.06, 0.03, 0.57)  # 12 cm across: the fingers land on it
    assert not fingers_clear(rect, 0.57, 0.04, _scene([wide_top]), CAM, fingers)[0]
    low = (320 + _px(0.035, 0.59), 240, 0.01, 0.03, 0.59)  # 1 cm tall: below the finger tips
    assert fingers_clear(rect, 0.57, 0.04, _scene([BOX, low]), CAM, fingers)[0]
    # the clearance decides: a 2.6 cm neighbour passes with 0.5 cm, fails with 1 cm
    mid = (320 + _px(0.035, 0.574), 240, 0.01, 0.03, 0.574)
    assert fingers_clear(rect, 0.57, 0.04, _scene([BOX, mid]), CAM,
                         FingerModel(clearance_m=0.002))[0]
    assert not fingers_clear(rect, 0.57, 0.04, _scene([BOX, mid]), CAM,
                             FingerModel(clearance_m=0.01))[0]


def test_invalid_pixels_count_as_free_and_speckles_are_tolerated():
    depth = _scene([BOX])
    poly = finger_footprints_px(Rect((320.0, 240.0), 0.0), 0.57, 0.06, CAM, FingerModel())[1]
    assert blocked_fraction(depth, poly, 0.576) == 0.0
    holes = depth.copy()
    holes[:, 330:] = np.nan
    assert blocked_fraction(holes, poly, 0.576) == 0.0
    speckled = depth.copy()
    speckled[200:280:6, 330:400:6] = 0.50  # a few wrong pixels
    share = blocked_fraction(speckled, poly, 0.576)
    assert 0.0 < share <= 0.1
    assert fingers_clear(Rect((320.0, 240.0), 0.0), 0.57, 0.04, speckled, CAM, FingerModel())[0]
    outside = poly + 1000.0
    assert blocked_fraction(depth, outside, 0.576) == 0.0


def test_finger_model_and_inputs_are_validated():
    for kwargs in ({'thickness_m': 0.0}, {'width_m': -1.0}, {'clearance_m': -0.01},
                   {'max_blocked_fraction': 1.5}, {'opening_margin_m': math.nan}):
        with pytest.raises(ValueError, match='FingerModel'):
            FingerModel(**kwargs)
    with pytest.raises(ValueError, match='depth_m'):
        finger_footprints_px(Rect((1.0, 1.0), 0.0), 0.0, 0.05, CAM, FingerModel())
    with pytest.raises(ValueError, match='opening_m'):
        finger_footprints_px(Rect((1.0, 1.0), 0.0), 0.5, math.nan, CAM, FingerModel())


def _one_grasp_maps(x: np.ndarray) -> np.ndarray:
    """One peak at the input centre, closing along image x, opening 30/150 of the input."""
    s = x.shape[-1]
    maps = np.zeros((1, 4, s, s), np.float32)
    yy, xx = np.mgrid[0:s, 0:s]
    maps[0, 0] = np.exp(-((xx - s / 2) ** 2 + (yy - s / 2) ** 2) / 8.0)
    maps[0, 1] = 1.0
    maps[0, 3] = 30.0 / 150.0
    return maps


def test_detector_rejects_a_grasp_whose_finger_would_land_on_a_neighbour():
    from kufenet_grasp.detection.detector import DetectorConfig, GraspDetector

    rgb = np.zeros((480, 640, 3), np.uint8)
    alone = _scene([BOX])
    crowded = _scene([BOX, (320 + _px(0.04, 0.55), 240, 0.015, 0.03, 0.55)])
    checked = GraspDetector(_one_grasp_maps, DetectorConfig(fingers=FingerModel(),
                                                            width_margin_m=0.01))
    ok = checked.detect(rgb, alone, CAM)
    assert ok.ok and ok.grasps[0].width_m == pytest.approx(0.04 + 0.01, abs=0.004)  # + margin
    refused = checked.detect(rgb, crowded, CAM)
    assert not refused.ok and 'a finger would land on something' in refused.message
    assert refused.rejected == {'a finger would land on something (depth at the finger)': 1}
    unchecked = GraspDetector(_one_grasp_maps, DetectorConfig(fingers=None))
    assert unchecked.detect(rgb, crowded, CAM).ok  # without the check it is published
