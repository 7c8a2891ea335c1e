"""BertEncoder: parity with Hugging Face's BertModel and keras-hub's BertBackbone, loading, saving.

Tiny random checkpoints are written with `transformers` (no `make data` needed); the packaged
MiniLM test runs where `make data` installed it (it and Rotten Tomatoes come with `make data`).
"""

import keras
import numpy as np
import pytest

from seqmodels.models import BertEncoder
from tests.models.bert_checkpoints import CONFIG, write_tiny_bert

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TOLERANCE = 1e-4
# Rotten Tomatoes-like snippets, with the accents, apostrophes and punctuation real ones have.
SENTENCES = ["A three-hour cinema master class.",
             "It's always fascinating to watch the essayist at work.",
             "A naïve, overlong café romance that never earns its tears!",
             "Dull.",
             "The plot is too long, the acting is bad, and the story is not fun at all; "
             "still, a few scenes of the movie are great."]


def _batch(seed=0, batch=4, length=11, vocabulary_size=CONFIG["vocab_size"]):
    """Token ids with [CLS] first, rows of several lengths (padding 0), two segments in one row."""
    rng = np.random.default_rng(seed)
    lengths = np.array([length, 7, 3, 9])[:batch]
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype("int32")  # (batch, length)
    ids = rng.integers(5, vocabulary_size, (batch, length)) * mask
    ids[:, 0] = 2
    segments = np.zeros((batch, length), "int32")
    segments[0, 6:] = 1
    segments[3, 4:9] = 1
    return {"token_ids": ids.astype("int32"), "segment_ids": segments, "padding_mask": mask}


def _hf_outputs(model, inputs):
    model = getattr(model, "bert", model)  # a BertFor... checkpoint's encoder
    with torch.no_grad():
        out = model(input_ids=torch.tensor(inputs["token_ids"], dtype=torch.long),
                    attention_mask=torch.tensor(inputs["padding_mask"], dtype=torch.long),
                    token_type_ids=torch.tensor(inputs["segment_ids"], dtype=torch.long))
    return out.last_hidden_state.numpy(), out.pooler_output.numpy()


def _max_differences(encoder, inputs, expected):
    outputs = encoder(inputs)
    return (float(np.max(np.abs(np.asarray(outputs["sequence_output"]) - expected[0]))),
            float(np.max(np.abs(np.asarray(outputs["pooled_output"]) - expected[1]))))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_bert(str(tmp_path_factory.mktemp("hf") / "tiny_bert"))


@pytest.mark.parametrize("weights, task_head", [("safetensors", False), ("bin", False),
                                                ("safetensors", True)])
def test_equals_transformers_on_a_random_checkpoint(weights, task_head, tmp_path):
    model, path = write_tiny_bert(str(tmp_path / "bert"), weights=weights, task_head=task_head)
    encoder = BertEncoder.from_pretrained(path)
    assert (encoder.num_layers, encoder.hidden_dim, encoder.num_heads) == (2, 32, 4)
    assert encoder.layer_norm_epsilon == 1e-12 and encoder.activation == "gelu"
    inputs = _batch()
    sequence, pooled = _max_differences(encoder, inputs, _hf_outputs(model, inputs))
    # Every position, padded ones too: padded queries see the real keys, as in BertModel.
    assert sequence < TOLERANCE and pooled < TOLERANCE, (sequence, pooled)


def test_the_checkpoints_exact_gelu_matters(tiny):
    model, path = tiny
    inputs = _batch(seed=1)
    approximate = BertEncoder.from_pretrained(path, activation="gelu_approximate")
    sequence, _ = _max_differences(approximate, inputs, _hf_outputs(model, inputs))
    assert sequence > TOLERANCE  # the test checkpoint tells the two GELUs apart


def test_equals_keras_hub_bert_backbone(tiny):
    import keras_hub

    _, path = tiny
    inputs = _batch(seed=2)
    backbone = keras_hub.models.BertBackbone.from_preset(path)
    expected = backbone(inputs)
    expected = (np.asarray(expected["sequence_output"]), np.asarray(expected["pooled_output"]))
    # keras-hub runs every BERT with the tanh GELU, whatever the checkpoint's `hidden_act`.
    encoder = BertEncoder.from_pretrained(path, activation="gelu_approximate")
    sequence, pooled = _max_differences(encoder, inputs, expected)
    assert sequence < TOLERANCE and pooled < TOLERANCE, (sequence, pooled)


def test_inference_ignores_dropout_and_training_uses_it(tiny):
    _, path = tiny
    encoder = BertEncoder.from_pretrained(path)
    inputs = _batch()
    first = np.asarray(encoder(inputs)["sequence_output"])
    np.testing.assert_array_equal(first, np.asarray(encoder(inputs)["sequence_output"]))
    trained = np.asarray(encoder(inputs, training=True)["sequence_output"])
    assert np.abs(trained - first).max() > 1e-3


def test_keras_file_round_trip_and_a_fit_step(tiny, tmp_path):
    _, path = tiny
    encoder = BertEncoder.from_pretrained(path, dropout=0.0)
    inputs = _batch()
    expected = np.asarray(encoder(inputs)["sequence_output"])
    encoder.save(str(tmp_path / "bert.keras"))
    reloaded = keras.saving.load_model(str(tmp_path / "bert.keras"))
    assert isinstance(reloaded, BertEncoder) and reloaded.get_config() == encoder.get_config()
    np.testing.assert_allclose(np.asarray(reloaded(inputs)["sequence_output"]), expected,
                               atol=1e-6)
    head = keras.Model(reloaded.input, keras.layers.Dense(2)(reloaded.output["pooled_output"]))
    head.compile(keras.optimizers.Adam(1e-3),
                 keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 run_eagerly=True)  # one step: the same train step without tracing it
    before = keras.ops.convert_to_numpy(reloaded.get_layer("transformer_layer_0")
                                        .attention.query_dense.kernel)
    head.fit(inputs, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    after = keras.ops.convert_to_numpy(reloaded.get_layer("transformer_layer_0")
                                       .attention.query_dense.kernel)
    assert np.abs(after - before).max() > 0  # gradients reach the encoder's attention


def test_parameter_count_equals_transformers(tiny):
    model, path = tiny
    assert BertEncoder.from_pretrained(path).count_params() == sum(
        p.numel() for p in model.parameters())


def test_errors_name_the_problem(tiny, tmp_path):
    _, path = tiny
    with pytest.raises(FileNotFoundError, match="checkpoint directory"):
        BertEncoder.from_pretrained(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="config.json"):
        BertEncoder.from_pretrained(str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ValueError, match="model_type 'bert'.*Received: model_type='gpt2'"):
        BertEncoder.from_pretrained(str(tmp_path))
    import shutil

    shutil.copy(f"{path}/config.json", tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="model.safetensors or pytorch_model.bin"):
        BertEncoder.from_pretrained(str(tmp_path))
    encoder = BertEncoder.from_pretrained(path)
    tensors = {name: np.zeros(variable.shape) for variable, name, _ in encoder.hf_weight_map()}
    with pytest.raises(ValueError, match="lacks 1 BERT weights"):
        encoder.load_hf_weights({k: v for k, v in tensors.items()
                                 if k != "encoder.layer.1.output.dense.bias"})
    tensors["embeddings.word_embeddings.weight"] = np.zeros((100, 16))
    with pytest.raises(ValueError, match=r"word_embeddings.weight .* has shape \(100, 16\)"):
        encoder.load_hf_weights(tensors)
    with pytest.raises(ValueError, match="`num_heads` must divide `hidden_dim`"):
        BertEncoder(10, 1, 3, 8, 16)
    with pytest.raises(ValueError, match="`num_layers` must be a positive integer"):
        BertEncoder(10, 0, 2, 8, 16)


def _minilm_and_reviews():
    """The packaged MiniLM directory and 8 real Rotten Tomatoes reviews, or a skip reason."""
    from seqmodels.data import rotten_tomatoes
    from seqmodels.transfer import minilm_preset_dir

    try:
        path = minilm_preset_dir()
        reviews = rotten_tomatoes.read_reviews()[0]
    except Exception as error:  # noqa: BLE001  (the skip says which)
        pytest.skip("needs the packaged MiniLM and Rotten Tomatoes, which `make data` installs "
                    f"(`make test` alone does not): {error}")
    return path, list(reviews[::1601][:8])


def test_minilm_equals_transformers_and_keras_hub_on_rotten_tomatoes():
    import keras_hub

    path, reviews = _minilm_and_reviews()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    batch = tokenizer(reviews + SENTENCES, padding=True, return_tensors="np")
    inputs = {"token_ids": batch["input_ids"].astype("int32"),
              "segment_ids": batch["token_type_ids"].astype("int32"),
              "padding_mask": batch["attention_mask"].astype("int32")}
    hf = transformers.AutoModel.from_pretrained(path).eval()
    sequence, pooled = _max_differences(BertEncoder.from_pretrained(path), inputs,
                                        _hf_outputs(hf, inputs))
    assert sequence < TOLERANCE and pooled < TOLERANCE, (sequence, pooled)
    backbone = keras_hub.models.BertBackbone.from_preset(path)
    expected = backbone(inputs)
    expected = (np.asarray(expected["sequence_output"]), np.asarray(expected["pooled_output"]))
    sequence, pooled = _max_differences(
        BertEncoder.from_pretrained(path, activation="gelu_approximate"), inputs, expected)
    assert sequence < TOLERANCE and pooled < TOLERANCE, (sequence, pooled)


def test_attention_dropout_is_its_own_rate(tiny):
    _, path = tiny
    encoder = BertEncoder.from_pretrained(path, dropout=0.0, attention_dropout=0.5)
    block = encoder.get_layer("transformer_layer_0")
    assert (block.dropout, block.attention_dropout, block.attention.dropout) == (0.0, 0.5, 0.5)
    assert block.get_config()["attention_dropout"] == 0.5
    inputs = _batch()
    inference = np.asarray(encoder(inputs)["sequence_output"])
    assert np.abs(np.asarray(encoder(inputs, training=True)["sequence_output"])
                  - inference).max() > 1e-3
    assert BertEncoder.from_pretrained(path, dropout=0.3).get_layer(
        "transformer_layer_0").attention.dropout == pytest.approx(0.1)  # the checkpoint's
