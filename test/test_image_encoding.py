# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Image message ↔ numpy conversion for every supported encoding."""

from __future__ import annotations

from types import SimpleNamespace

from kufenet_grasp.runtime.image_encoding import (
    image_to_numpy,
    ImageEncodingError,
    numpy_to_image_fields,
    SUPPORTED_ENCODINGS,
)
import numpy as np
import pytest

RNG = np.random.default_rng(3)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


def make_msg(**fields):
    return SimpleNamespace(**fields)


def pad_rows(fields: dict, extra: int) -> dict:
    """Return the same image with ``extra`` junk bytes at the end of every row."""
    h, step = fields['height'], fields['step']
    rows = np.frombuffer(fields['data'], np.uint8).reshape(h, step)
    junk = np.full((h, extra), 0xAB, np.uint8)
    return dict(fields, step=step + extra, data=np.hstack([rows, junk]).tobytes())


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
@pytest.mark.parametrize('padding', [0, 3])
def test_color_round_trip(encoding, padding):
    fields = pad_rows(numpy_to_image_fields(RGB, encoding), padding)
    out = image_to_numpy(make_msg(**fields))
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    assert np.array_equal(out, RGB)


def test_bgr_byte_order_on_the_wire():
    fields = numpy_to_image_fields(np.array([[[10, 20, 30]]], np.uint8), 'bgr8')
    assert fields['data'] == bytes([30, 20, 10]) and fields['step'] == 3


@pytest.mark.parametrize('padding', [0, 1])
def test_mono8_gives_grey_rgb(padding):
    grey = RNG.integers(0, 256, (4, 6), dtype=np.uint8)
    out = image_to_numpy(make_msg(**pad_rows(numpy_to_image_fields(grey, 'mono8'), padding)))
    assert out.shape == (4, 6, 3)
    assert all(np.array_equal(out[:, :, c], grey) for c in range(3))


@pytest.mark.parametrize('bigendian', [False, True])
@pytest.mark.parametrize('padding', [0, 2])
def test_16uc1_millimetres_to_metres(bigendian, padding):
    depth = np.array([[0.5, np.nan, 1.234], [0.0, 65.535, 0.001]], np.float32)
    fields = pad_rows(numpy_to_image_fields(depth, '16UC1', is_bigendian=bigendian), padding)
    raw = np.frombuffer(fields['data'][:4], '>u2' if bigendian else '<u2')
    assert raw.tolist() == [500, 0]
    out = image_to_numpy(make_msg(**fields))
    assert out.dtype == np.float32
    expected = np.array([[0.5, np.nan, 1.234], [np.nan, 65.535, 0.001]], np.float32)
    assert np.allclose(out, expected, equal_nan=True, atol=1e-6)


@pytest.mark.parametrize('bigendian', [False, True])
@pytest.mark.parametrize('padding', [0, 4])
def test_32fc1_invalid_values_become_nan(bigendian, padding):
    depth = np.array([[0.5, np.nan, np.inf], [0.0, -1.0, 1.75]], np.float32)
    fields = pad_rows(numpy_to_image_fields(depth, '32FC1', is_bigendian=bigendian), padding)
    out = image_to_numpy(make_msg(**fields))
    expected = np.array([[0.5, np.nan, np.nan], [np.nan, np.nan, 1.75]], np.float32)
    assert np.array_equal(out, expected, equal_nan=True)


def test_accepts_list_data_as_rclpy_may_give():
    fields = numpy_to_image_fields(RGB, 'rgb8')
    fields['data'] = list(fields['data'])
    assert np.array_equal(image_to_numpy(make_msg(**fields)), RGB)


def test_unsupported_encoding_lists_supported_ones():
    fields = dict(numpy_to_image_fields(RGB, 'rgb8'), encoding='yuv422')
    with pytest.raises(ImageEncodingError, match='yuv422') as info:
        image_to_numpy(make_msg(**fields))
    assert all(name in str(info.value) for name in SUPPORTED_ENCODINGS)
    with pytest.raises(ImageEncodingError, match='unsupported'):
        numpy_to_image_fields(RGB, '8UC3')


def test_wrong_data_length_and_step_raise():
    fields = numpy_to_image_fields(RGB, 'rgb8')
    with pytest.raises(ImageEncodingError, match='expected height'):
        image_to_numpy(make_msg(**dict(fields, data=fields['data'][:-1])))
    with pytest.raises(ImageEncodingError, match='step'):
        image_to_numpy(make_msg(**dict(fields, step=6)))
    with pytest.raises(ImageEncodingError, match='uint8'):
        numpy_to_image_fields(RGB.astype(np.float32), 'rgb8')
