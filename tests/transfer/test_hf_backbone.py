"""`hf:<dir>` text backbones: a Hugging Face BERT checkpoint on our BertEncoder, raw text in."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels import transfer
from seqmodels.models import BertEncoder

transformers = pytest.importorskip("transformers")

SEQUENCE_LENGTH = 16
TEXTS = ["A good film!", "dull acting, bad plot", "the story is not fun", "Café plots",
         "a naïve, too long movie . the acting is dull , the plot is bad , it's not fun",
         "", "unknown words zzz", "GOOD FILMS!!"]


def _vocabulary_id(path, token):
    with open(os.path.join(path, "vocab.txt"), encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f].index(token)


def test_parse_backbone_takes_hf():
    assert transfer.parse_backbone("hf:/models/bert") == ("hf", "/models/bert")


@pytest.fixture(scope="module")
def hf_classifier(tiny_hf):
    """A 2-class classifier on the tiny checkpoint (head seed 0), built once for the tests that
    only call or save it."""
    return transfer.text_backbone_classifier("hf:" + tiny_hf, 2,
                                             sequence_length=SEQUENCE_LENGTH, seed=0)


def test_token_ids_equal_hugging_face_and_word_piece_preprocessor(tiny_hf, hf_classifier):
    model = hf_classifier
    assert isinstance(model.encoder, BertEncoder) and model.name == "hf_text_classifier"
    ours = tf.function(model.preprocessor)(tf.constant(TEXTS))
    hf = transformers.BertTokenizer(os.path.join(tiny_hf, "vocab.txt"), do_lower_case=True)(
        TEXTS, padding="max_length", truncation=True, max_length=SEQUENCE_LENGTH,
        return_tensors="np")
    np.testing.assert_array_equal(ours["token_ids"], hf["input_ids"])
    np.testing.assert_array_equal(ours["padding_mask"], hf["attention_mask"].astype(bool))
    # Accents are stripped, as Hugging Face does: "Café" is the word piece "cafe".
    assert np.any(hf["input_ids"] == _vocabulary_id(tiny_hf, "cafe"))
    word_pieces = transfer.WordPiecePreprocessor(os.path.join(tiny_hf, "vocab.txt"),
                                                 SEQUENCE_LENGTH, strip_accents=True)
    np.testing.assert_array_equal(word_pieces(tf.constant(TEXTS))["input_word_ids"],
                                  hf["input_ids"])


def test_classifier_runs_the_checkpoint_on_raw_text(tiny_hf):
    model = transfer.text_backbone_classifier("hf:" + tiny_hf, 3, pooling="pooled",
                                              sequence_length=SEQUENCE_LENGTH, seed=0)
    logits = model(tf.constant(TEXTS))
    assert logits.shape == (len(TEXTS), 3)
    inputs = tf.function(model.preprocessor)(tf.constant(TEXTS))
    pooled = BertEncoder.from_pretrained(tiny_hf)(
        {key: inputs[key] for key in ("token_ids", "segment_ids", "padding_mask")})
    expected = model.get_layer("logits")(pooled["pooled_output"])
    np.testing.assert_allclose(logits, expected, atol=1e-5)  # trimmed padding: same logits


def test_keras_file_round_trip(hf_classifier, tmp_path):
    model = hf_classifier
    text = tf.constant(TEXTS)
    expected = model(text).numpy()
    model.save(str(tmp_path / "model.keras"))
    reloaded = keras.saving.load_model(str(tmp_path / "model.keras"), safe_mode=False)
    np.testing.assert_allclose(reloaded(text), expected, atol=1e-6)


def test_errors(tiny_hf, tmp_path):
    with pytest.raises(FileNotFoundError, match="no vocab.txt in"):
        transfer.text_backbone_classifier(f"hf:{tmp_path}", 2)
    with pytest.raises(ValueError, match="at most the preset's max_sequence_length 512"):
        transfer.text_backbone_classifier("hf:" + tiny_hf, 2, sequence_length=513)


def test_hf_backbone_trains_in_the_binary_and_serves_raw_text(tiny_hf, tmp_path):
    from seqmodels.training.config import make_config
    from seqmodels.training.train import train_and_evaluate
    from tests.data.fixtures import write_rotten_tomatoes

    write_rotten_tomatoes(tmp_path, movies=40, per_movie=4)
    # Eager steps (run_eagerly=True): this test checks that the checkpoint's weights train and
    # that the export serves raw text as the model does, not the traced steps. The same kind
    # of run (the tiny preset on this `hf:` checkpoint, LoRA pairs added) traces its train and
    # eval steps in tests/transfer/test_lora.py::test_binary_trains_lora_and_exports_merged.
    config = make_config("text_classification", "tiny", ["sequence_length=12"],
                         backbone="hf:" + tiny_hf, data_dir=str(tmp_path),
                         export_dir=str(tmp_path / "export"), run_eagerly=True)
    metrics = train_and_evaluate(config, str(tmp_path / "run"))
    model = metrics["model"]
    assert isinstance(model.encoder, BertEncoder) and np.isfinite(metrics["test_loss"])
    trained = model.encoder.get_layer("transformer_layer_0").attention.query_dense.kernel
    loaded = BertEncoder.from_pretrained(tiny_hf).get_layer(
        "transformer_layer_0").attention.query_dense.kernel
    assert not np.allclose(trained, loaded), "the checkpoint's weights did not train"
    import tensorflow_text  # noqa: F401  (the WordPiece ops of the exported preprocessor)

    served = tf.saved_model.load(metrics["export_path"]).signatures["serving_default"]
    texts = tf.constant(["a good film", "review 2 of movie 5 is rotten", "Café!"])
    expected = tf.nn.softmax(model(texts, training=False))
    np.testing.assert_allclose(served(text=texts)["probabilities"].numpy(), expected.numpy(),
                               atol=1e-6)
    assets = os.path.join(metrics["export_path"], "assets")
    assert sorted(os.listdir(assets)) == ["class_names.txt", "vocabulary.txt"]
