"""PatchEncoder: patches as a strided convolution, class token, positions, resizing, errors."""

import re

import keras
import numpy as np
import pytest

from seqmodels.layers.patch_encoder import PatchEncoder
from tests.layer_test_case import run_layer_test

IMAGES = np.random.default_rng(0).random((2, 8, 12, 3)).astype("float32")


def test_patches_are_linear_projections_of_pixel_blocks():
    layer = PatchEncoder(4, 5, use_class_token=False)
    out = np.asarray(layer(IMAGES))
    kernel = np.asarray(layer.kernel).reshape(4 * 4 * 3, 5)
    positions = np.asarray(layer.position_embeddings)
    # Patch (row 1, col 2) is pixels [4:8, 8:12], token index 1 * 3 + 2.
    block = IMAGES[:, 4:8, 8:12, :].reshape(2, -1)
    np.testing.assert_allclose(out[:, 5], block @ kernel + np.asarray(layer.bias) + positions[5],
                               rtol=1e-5, atol=1e-5)


def test_class_token_comes_first():
    layer = PatchEncoder(4, 5)
    out = np.asarray(layer(IMAGES))
    assert out.shape == (2, 1 + 6, 5)
    expected = np.asarray(layer.class_token)[0, 0] + np.asarray(layer.position_embeddings)[0]
    np.testing.assert_allclose(out[:, 0], np.broadcast_to(expected, (2, 5)), atol=1e-6)


def test_position_grid_is_interpolated_for_another_size():
    layer = PatchEncoder(4, 5)
    layer(IMAGES)  # built for a 2x3 grid
    bigger = np.random.default_rng(1).random((1, 16, 24, 3)).astype("float32")
    assert layer(bigger).shape == (1, 1 + 24, 5)
    same = PatchEncoder(4, 5, image_size=(16, 24))
    assert same(bigger).shape == (1, 25, 5)


def test_layer_contract(tmp_path):
    run_layer_test(PatchEncoder, dict(patch_size=4, hidden_dim=6), IMAGES, (2, 7, 6),
                   tmp_path=tmp_path)


def test_errors():
    with pytest.raises(ValueError, match=re.escape(
            "PatchEncoder needs an image size (height, width) divisible by patch_size=5. "
            "Received: image size=(8, 12)")):
        PatchEncoder(5, 4)(IMAGES)
    with pytest.raises(ValueError, match=re.escape(
            "PatchEncoder needs an image_size (height, width) divisible by patch_size=4. "
            "Received: image_size=(10, 12)")):
        PatchEncoder(4, 4, image_size=(10, 12))
    with pytest.raises(ValueError, match=re.escape(
            "`patch_size` must be a positive integer. Received: patch_size=0")):
        PatchEncoder(0, 4)
