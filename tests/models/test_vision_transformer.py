"""VisionTransformer and CNNClassifier: shapes, variants, parameter counts, fit, save/load."""

import re

import keras
import numpy as np
import pytest

from seqmodels.models.cnn_classifier import CNNClassifier
from seqmodels.models.vision_transformer import VARIANTS, VisionTransformer, parse_variant

# Published parameter counts at 224x224x3 with a 1000-class head (the ViT paper's models, as timm
# counts them): one named configuration per size of VARIANTS but the toy "mu" and "M".
PUBLISHED = {"Ti/16": 5_717_416, "S/16": 22_050_664, "B/16": 86_567_656, "L/16": 304_326_632,
             "H/14": 632_045_800}
BUILT_IN_TESTS = ("mu", "Ti", "S", "M")  # small enough to build at a tiny image size here


def _expected_params(variant, image_size, channels, classes):
    """The ViT's parameter count, worked out layer by layer from the variant's numbers."""
    arch = parse_variant(variant)
    hidden, mlp, patch = arch["hidden_dim"], arch["intermediate_dim"], arch["patch_size"]
    tokens = 1 + (image_size // patch) ** 2
    block = (2 * 2 * hidden + 4 * (hidden * hidden + hidden)
             + (hidden * mlp + mlp) + (mlp * hidden + hidden))
    return ((patch * patch * channels * hidden + hidden) + hidden + tokens * hidden
            + arch["depth"] * block + 2 * hidden + hidden * classes + classes)


@pytest.mark.parametrize("variant", sorted(PUBLISHED))
def test_variant_table_reproduces_published_counts(variant):
    assert _expected_params(variant, 224, 3, 1000) == PUBLISHED[variant]


@pytest.mark.parametrize("variant", ["Ti/16", "S/16"])
def test_built_model_has_the_published_count(variant):
    assert VisionTransformer((224, 224, 3), 1000, variant=variant).count_params() == PUBLISHED[variant]


@pytest.mark.parametrize("size", BUILT_IN_TESTS)
def test_built_model_matches_the_count_worked_out_by_hand(size):
    model = VisionTransformer((8, 8, 1), 3, variant=f"{size}/4")
    assert model.count_params() == _expected_params(f"{size}/4", 8, 1, 3)


def test_every_variant_has_a_parameter_count_test():
    covered = set(BUILT_IN_TESTS) | {v.split("/")[0] for v in PUBLISHED}
    assert covered == set(VARIANTS)


def test_variant_parsing_and_errors():
    assert parse_variant("S/16") == dict(hidden_dim=384, depth=12, intermediate_dim=1536,
                                         num_heads=6, patch_size=16)
    with pytest.raises(ValueError, match=re.escape(
            "`variant` must look like '<size>/<patch>' with size one of mu, Ti, S, M, B, L, H and "
            "a positive patch size (e.g. 'S/16'). Received: variant='X/16'")):
        parse_variant("X/16")


def test_overrides_and_fit_and_save_load(tmp_path):
    model = VisionTransformer((8, 8, 1), 3, variant="mu/4", depth=2, hidden_dim=16, num_heads=2)
    assert len([l for l in model.layers if "encoder_block" in l.name]) == 2
    x = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    # One batch an epoch, run eagerly: the same train steps without tracing a train function.
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
    losses = model.fit(x, y, epochs=5, batch_size=6, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    path = tmp_path / "vit.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, VisionTransformer)
    assert loaded.get_config() == model.get_config()
    # Called in inference mode rather than through `predict`: the same outputs, without a
    # trace of a predict function for each model.
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)),
                               np.asarray(model(x, training=False)), atol=1e-6)


def test_cnn_baseline_fits_and_round_trips(tmp_path):
    model = CNNClassifier((8, 8, 1), 3, filters=(4, 8))
    # Two blocks of two 3x3 convs (no bias) with batch norm, then the head.
    expected = (9 * 1 * 4 + 4 * 4 + 9 * 4 * 4 + 4 * 4 + 9 * 4 * 8 + 4 * 8 + 9 * 8 * 8 + 4 * 8
                + 8 * 3 + 3)
    assert model.count_params() == expected
    x = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")
    # One step, run eagerly (the same train step without tracing it), trains the batch norm's
    # statistics that the round trip must keep; the outputs are predict's (inference mode).
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=True)
    model.fit(x, np.arange(6) % 3, epochs=1, verbose=0)
    model.save(tmp_path / "cnn.keras")
    loaded = keras.saving.load_model(tmp_path / "cnn.keras")
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)),
                               np.asarray(model(x, training=False)), atol=1e-6)


def test_mean_pooling_drops_the_class_token_and_averages_the_patches():
    model = VisionTransformer((8, 8, 1), 3, variant="mu/4", pooling="mean")
    with_token = VisionTransformer((8, 8, 1), 3, variant="mu/4")
    # No class token (hidden_dim weights) and one position fewer (hidden_dim weights).
    assert with_token.count_params() - model.count_params() == 2 * 32
    pooled = keras.Model(model.inputs, model.get_layer("pool").output)
    final = keras.Model(model.inputs, model.get_layer("final_norm").output)
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(pooled(x), np.mean(final(x), axis=1), atol=1e-6)


def test_conv_stem_makes_one_token_per_feature_map_position(tmp_path):
    model = VisionTransformer((28, 28, 1), 10, variant="mu/4", hidden_dim=32, stem="conv",
                              pooling="mean")
    # Two stride-2 3x3 convolutions, widths 16 and 32 (hidden / 2, hidden), no bias, batch
    # norm; then a 1x1 "patch" projection of the 7x7 map to 32 and 49 positions.
    stem = 9 * 1 * 16 + 4 * 16 + 9 * 16 * 32 + 4 * 32
    tokens = model.get_layer("patch_encoder").output
    assert tuple(tokens.shape) == (None, 49, 32)
    plain = VisionTransformer((28, 28, 1), 10, variant="mu/4", hidden_dim=32, pooling="mean")
    # The projections map 32 numbers (one position of the 32-wide map) or 16 (a 4x4x1 patch)
    # to 32.
    assert model.count_params() - plain.count_params() == stem + (32 - 16) * 32
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=True)  # one step: the same train step without tracing it
    model.fit(x, np.arange(4), epochs=1, verbose=0)
    path = str(tmp_path / "vit.keras")
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path)(x), model(x), atol=1e-6)


def test_pooling_and_stem_errors():
    with pytest.raises(ValueError, match=re.escape(
            "`pooling` must be one of token, mean. Received: pooling='max'")):
        VisionTransformer((8, 8, 1), 3, variant="mu/4", pooling="max")
    with pytest.raises(ValueError, match=re.escape(
            "`stem` must be one of patch, conv. Received: stem='resnet'")):
        VisionTransformer((8, 8, 1), 3, variant="mu/4", stem="resnet")
    with pytest.raises(ValueError, match=re.escape(
            "the patch size must be a power of two >= 2. Received: patch_size=7")):
        VisionTransformer((28, 28, 1), 3, variant="mu/7", stem="conv")
