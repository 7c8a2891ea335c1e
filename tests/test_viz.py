"""seqmodels.viz: PNG files for curves, attention and positional encodings; attention readout."""

import re

import numpy as np
import pytest

from seqmodels import viz
from seqmodels.models.text_classifier import TextClassifier

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


def test_pictures_are_png_files(tmp_path):
    assert _is_png(viz.plot_training_curves({"loss": [0.7, 0.5], "val_loss": [0.6, 0.55],
                                             "accuracy": [0.5, 0.7]}, tmp_path / "c.png"))
    assert _is_png(viz.plot_attention(np.full((2, 3, 3), 1 / 3), ["a", "b", "c"],
                                      tmp_path / "a.png"))
    assert _is_png(viz.plot_positional_encoding(50, 16, tmp_path / "p.png"))


def test_attention_scores_of_a_trained_model_shape():
    model = TextClassifier(vocab_size=20, num_classes=2, sequence_length=8, hidden_dim=8,
                           num_layers=2, num_heads=2, intermediate_dim=16)
    maps = viz.encoder_attention_scores(model, np.array([[3, 4, 5, 0, 0]]))
    assert len(maps) == 2 and maps[0].shape == (1, 2, 5, 5)
    np.testing.assert_allclose(maps[0].sum(-1)[0, :, :3], 1.0, rtol=1e-5)
    assert np.abs(maps[0][0, :, :3, 3:]).max() < 1e-6  # padded keys get no weight


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "`scores` must be (heads, queries, keys). Received: scores.shape=(3, 3)")):
        viz.plot_attention(np.zeros((3, 3)), ["a", "b", "c"], tmp_path / "a.png")
    with pytest.raises(ValueError, match=re.escape("`history` holds no metric to plot.")):
        viz.plot_training_curves({}, tmp_path / "c.png")
    lstm = TextClassifier(vocab_size=20, num_classes=2, encoder="lstm", hidden_dim=4)
    with pytest.raises(ValueError, match="has no TransformerEncoderBlock to read"):
        viz.encoder_attention_scores(lstm, np.array([[1, 2]]))


def test_decoder_attention_maps_of_a_translator(tmp_path):
    from seqmodels.models.translator import Translator

    model = Translator(20, 24, hidden_dim=8, num_heads=2, intermediate_dim=16, num_layers=2)
    source = np.array([[5, 6, 7, 0]])
    target = np.array([[1, 9, 10]])
    maps = viz.decoder_attention_scores(model, source, target)
    assert len(maps) == 2
    assert maps[-1]["cross_attention"].shape == (1, 2, 3, 4)
    assert maps[-1]["self_attention"].shape == (1, 2, 3, 3)
    assert np.all(maps[0]["cross_attention"][..., 3] == 0)  # the padded source position
    path = viz.plot_cross_attention(maps[-1]["cross_attention"][0, :, :, :3], ["a", "b", "c"],
                                    ["<s>", "x", "y"], str(tmp_path / "cross.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=re.escape(
            "`scores` must be (heads, len(target_tokens), len(source_tokens)) = (heads, 3, 2)")):
        viz.plot_cross_attention(maps[-1]["cross_attention"][0], ["a", "b"], ["<s>", "x", "y"],
                                 str(tmp_path / "bad.png"))
    with pytest.raises(ValueError, match="is not a Translator"):
        viz.decoder_attention_scores(TextClassifier(50, 2, encoder="transformer", hidden_dim=8,
                                                    num_heads=2, intermediate_dim=16),
                                     source, target)
