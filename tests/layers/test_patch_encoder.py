"""PatchEncoder: patches as a strided convolution, class token, positions, resizing, errors."""

import re

import keras
import numpy as np
import pytest

from seqmodels.layers.patch_encoder import PatchEncoder
from tests.layer_test_case import run_layer_test

RNG = np.random.default_rng(0)
IMAGES = RNG.random((2, 8, 12, 3)).astype("float32")


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


def resize_weights(old, new):
    """(new, old) matrix of 1-D bilinear resampling: half-pixel centres, triangle filter widened
    by the scale when shrinking (antialiasing), weights renormalised at the borders."""
    scale = max(old / new, 1.0)
    centres = (np.arange(new) + 0.5) * old / new - 0.5  # output centres in input coordinates
    weights = np.maximum(0.0, 1.0 - np.abs(np.arange(old)[None, :] - centres[:, None]) / scale)
    return weights / weights.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("built, called", [((8, 12), (16, 24)), ((16, 24), (8, 12)),
                                           ((8, 12), (12, 8))])
def test_position_grid_is_resampled_bilinearly_for_another_size(built, called):
    layer = PatchEncoder(4, 5, image_size=built, kernel_initializer="zeros")
    layer.build((None,) + built + (3,))
    table = RNG.normal(size=layer.position_embeddings.shape).astype("float32")
    layer.position_embeddings.assign(table)
    out = np.asarray(layer(np.zeros((1,) + called + (3,), "float32")))[0]  # cls + positions
    (old_h, old_w), (new_h, new_w) = [(h // 4, w // 4) for h, w in (built, called)]
    grid = table[1:].reshape(old_h, old_w, 5)
    expected = np.einsum("Hh,hwc,Ww->HWc", resize_weights(old_h, new_h), grid,
                         resize_weights(old_w, new_w)).reshape(-1, 5)
    assert out.shape == (1 + new_h * new_w, 5)
    np.testing.assert_allclose(out[0], table[0], atol=1e-6)  # the class token's position
    np.testing.assert_allclose(out[1:], expected, atol=1e-5)


def test_layer_contract(tmp_path):
    run_layer_test(PatchEncoder, dict(patch_size=4, hidden_dim=6), IMAGES, (2, 7, 6),
                   tmp_path=tmp_path)
    run_layer_test(PatchEncoder, dict(patch_size=2, hidden_dim=6, image_size=(8, 12),
                                      use_class_token=False), IMAGES, (2, 24, 6),
                   tmp_path=tmp_path)


def test_square_image_size_and_channels_first_config():
    assert PatchEncoder(4, 5, image_size=8).image_size == (8, 8)
    # The layer reads (batch, height, width, channels) whatever the global image format.
    keras.config.set_image_data_format("channels_first")
    try:
        layer = PatchEncoder(4, 5)
        assert layer(IMAGES).shape == (2, 7, 5)
        assert layer(np.zeros((1, 16, 24, 3), "float32")).shape == (1, 25, 5)  # resampled
    finally:
        keras.config.set_image_data_format("channels_last")


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
    with pytest.raises(ValueError, match=re.escape(
            "`hidden_dim` must be a positive integer. Received: hidden_dim=None")):
        PatchEncoder(4, None)
    with pytest.raises(ValueError, match=re.escape(
            "PatchEncoder expects images of shape (batch, height, width, channels). "
            "Received: images.shape=(2, 8, 12)")):
        PatchEncoder(4, 4)(IMAGES[..., 0])
    layer = PatchEncoder(4, 4)
    layer(IMAGES)
    with pytest.raises(ValueError, match=re.escape(
            "PatchEncoder needs an image size (height, width) divisible by patch_size=4. "
            "Received: image size=(8, 10)")):
        layer(IMAGES[:, :, :10])
    with pytest.raises(ValueError, match=re.escape(
            "PatchEncoder needs an image size (height, width) divisible by patch_size=4. "
            "Received: image size=(9, 12)")):
        layer.compute_output_shape((2, 9, 12, 3))
