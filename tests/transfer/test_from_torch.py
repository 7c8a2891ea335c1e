"""from_torch: random torch modules of several shapes convert to layers with equal outputs.

Every comparison is in inference (torch `eval()`, Keras `training=False`) and within 1e-5; the
printed `max_abs` lines are the errors the report quotes (`pytest -s`).
"""

import keras
import numpy as np
import pytest
import torch

from seqmodels import layers
from seqmodels.transfer import UnsupportedTorchModuleError, from_torch

TOLERANCE = 1e-5


def _inputs(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _torch(module, *args, **kwargs):
    with torch.no_grad():
        return module.eval()(*args, **kwargs)


def _close(name, ours, expected, where=None):
    ours, expected = np.asarray(ours), np.asarray(expected)
    assert ours.shape == expected.shape
    if where is not None:
        ours, expected = ours[where], expected[where]
    error = float(np.abs(ours - expected).max())
    print(f"max_abs {name} {error:.2e}")
    assert error <= TOLERANCE, (name, error)


def _lengths_mask(lengths, time):
    return np.arange(time)[None, :] < np.asarray(lengths)[:, None]  # (batch, time)


def test_embedding_linear_layer_norm_and_activations():
    torch.manual_seed(0)
    ids = np.array([[3, 1, 0, 9], [2, 2, 7, 0]])
    embedding = torch.nn.Embedding(10, 6, padding_idx=0)
    converted = from_torch(embedding)
    _close("Embedding", converted(ids), _torch(embedding, torch.from_numpy(ids)))
    assert converted.mask_zero  # padding_idx=0 masks id 0 downstream
    assert not from_torch(torch.nn.Embedding(10, 6)).mask_zero
    assert not from_torch(embedding, mask_zero=False).mask_zero
    x = _inputs(2, 3, 6)
    for module in (torch.nn.Linear(6, 4), torch.nn.Linear(6, 5, bias=False),
                   torch.nn.LayerNorm(6, eps=1e-3), torch.nn.LayerNorm(6, bias=False),
                   torch.nn.LayerNorm(6, elementwise_affine=False), torch.nn.LayerNorm((3, 6))):
        if isinstance(module, torch.nn.LayerNorm) and module.elementwise_affine:
            torch.nn.init.normal_(module.weight)
            if module.bias is not None:
                torch.nn.init.normal_(module.bias)
        _close(type(module).__name__, from_torch(module)(x), _torch(module, torch.from_numpy(x)))
    for module in (torch.nn.ReLU(), torch.nn.GELU(), torch.nn.Tanh(), torch.nn.Sigmoid(),
                   torch.nn.SiLU(), torch.nn.Softmax(dim=-1), torch.nn.Identity(),
                   torch.nn.Dropout(0.5)):
        _close(type(module).__name__, from_torch(module)(x, training=False),
               _torch(module, torch.from_numpy(x)))


RECURRENT_CASES = [
    ("RNN", dict(input_size=3, hidden_size=4)),
    ("RNN", dict(input_size=3, hidden_size=5, nonlinearity="relu", num_layers=2)),
    ("LSTM", dict(input_size=3, hidden_size=4)),
    ("LSTM", dict(input_size=4, hidden_size=3, num_layers=3, bidirectional=True, dropout=0.2)),
    ("LSTM", dict(input_size=3, hidden_size=4, bias=False, batch_first=False)),
    ("GRU", dict(input_size=3, hidden_size=4)),
    ("GRU", dict(input_size=5, hidden_size=6, num_layers=2, bidirectional=True)),
    ("GRU", dict(input_size=3, hidden_size=4, bias=False)),
]


@pytest.mark.parametrize("kind, options", RECURRENT_CASES)
def test_recurrent_modules_match_torch_with_and_without_padding(kind, options):
    torch.manual_seed(1)
    batch_first = options.pop("batch_first", True)
    module = getattr(torch.nn, kind)(batch_first=batch_first, **options)
    for parameter in module.parameters():  # biases too (torch's default would be enough)
        torch.nn.init.uniform_(parameter, -0.5, 0.5)
    converted = from_torch(module)
    x = _inputs(3, 6, options["input_size"])
    torch_x = torch.from_numpy(x if batch_first else x.transpose(1, 0, 2))
    expected = _torch(module, torch_x)[0].numpy()
    if not batch_first:
        expected = expected.transpose(1, 0, 2)  # (batch, time, directions * hidden)
    _close(f"{kind}{options}", converted(x, training=False), expected)

    # A Keras mask stands for a packed batch: equal outputs at the real steps.
    lengths = [6, 2, 4]
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch_x, lengths, batch_first=batch_first, enforce_sorted=False)
    padded, _ = torch.nn.utils.rnn.pad_packed_sequence(_torch(module, packed)[0],
                                                       batch_first=True)
    mask = _lengths_mask(lengths, 6)
    _close(f"{kind}{options} packed", converted(x, mask=mask, training=False), padded.numpy(),
           where=mask)


def test_bidirectional_and_stacks_take_our_layer_types():
    stacked = from_torch(torch.nn.GRU(3, 4, num_layers=2, bidirectional=True, dropout=0.1))
    kinds = [type(layer).__name__ for layer in stacked.layers]
    assert kinds == ["Bidirectional", "Dropout", "Bidirectional"]
    assert isinstance(stacked.layers[0].forward_layer, layers.GRU)
    assert stacked.layers[0].forward_layer.reset_after
    assert isinstance(from_torch(torch.nn.LSTM(3, 4)), layers.LSTM)
    assert isinstance(from_torch(torch.nn.RNN(3, 4)), layers.SimpleRNN)


@pytest.mark.parametrize("width, heads, bias", [(8, 2, True), (12, 3, True), (6, 1, False)])
def test_multihead_attention_matches_torch_with_padding_and_attn_mask(width, heads, bias):
    torch.manual_seed(2)
    module = torch.nn.MultiheadAttention(width, heads, bias=bias, batch_first=True)
    if bias:
        torch.nn.init.normal_(module.in_proj_bias)
        torch.nn.init.normal_(module.out_proj.bias)
    converted = from_torch(module)
    assert isinstance(converted, layers.MultiHeadSelfAttention)
    x = _inputs(2, 5, width)
    t = torch.from_numpy(x)
    _close("MultiheadAttention", converted(x), _torch(module, t, t, t, need_weights=False)[0])

    padding = ~_lengths_mask([5, 3], 5)  # torch's key_padding_mask: True at padding
    expected = _torch(module, t, t, t, key_padding_mask=torch.from_numpy(padding),
                      need_weights=False)[0].numpy()
    _close("MultiheadAttention key_padding_mask", converted(x, mask=~padding), expected,
           where=~padding)
    _close("MultiheadAttention key_padding_mask, every position",
           converted(x, attention_mask=~padding[:, None, :]), expected)

    causal = np.triu(np.ones((5, 5), bool), k=1)  # torch's attn_mask: True where not allowed
    expected = _torch(module, t, t, t, attn_mask=torch.from_numpy(causal),
                      need_weights=False)[0]
    _close("MultiheadAttention attn_mask", converted(x, attention_mask=~causal[None]), expected)


ENCODER_CASES = [
    dict(d_model=8, nhead=2, dim_feedforward=16),
    dict(d_model=12, nhead=3, dim_feedforward=20, norm_first=True, activation="gelu"),
    dict(d_model=8, nhead=4, dim_feedforward=8, layer_norm_eps=1e-3,
         activation=torch.nn.GELU()),
]


@pytest.mark.parametrize("options", ENCODER_CASES)
def test_transformer_encoder_layer_and_encoder_match_torch(options):
    torch.manual_seed(3)
    layer = torch.nn.TransformerEncoderLayer(batch_first=True, **options)
    for norm in (layer.norm1, layer.norm2):
        torch.nn.init.normal_(norm.weight)
        torch.nn.init.normal_(norm.bias)
    block = from_torch(layer)
    assert isinstance(block, layers.TransformerEncoderBlock)
    assert block.norm_first == options.get("norm_first", False)
    x = _inputs(3, 7, options["d_model"])
    t = torch.from_numpy(x)
    _close(f"TransformerEncoderLayer{options}", block(x), _torch(layer, t))
    padding = ~_lengths_mask([7, 4, 1], 7)
    expected = _torch(layer, t, src_key_padding_mask=torch.from_numpy(padding))
    _close("TransformerEncoderLayer src_key_padding_mask", block(x, mask=~padding), expected,
           where=~padding)

    encoder = torch.nn.TransformerEncoder(layer, num_layers=2,
                                          norm=torch.nn.LayerNorm(options["d_model"]),
                                          enable_nested_tensor=False)
    converted = from_torch(encoder)
    assert [type(x).__name__ for x in converted.layers] == [
        "TransformerEncoderBlock", "TransformerEncoderBlock", "LayerNormalization"]
    _close("TransformerEncoder", converted(x), _torch(encoder, t))
    expected = _torch(encoder, t, src_key_padding_mask=torch.from_numpy(padding))
    _close("TransformerEncoder src_key_padding_mask", converted(x, mask=~padding), expected,
           where=~padding)
    causal = np.triu(np.ones((7, 7), bool), k=1)
    expected = _torch(encoder, t, mask=torch.from_numpy(causal))
    outputs = x
    for converted_block in converted.layers[:2]:
        outputs = converted_block(outputs, attention_mask=~causal[None])
    _close("TransformerEncoder mask", converted.layers[2](outputs), expected)


def test_sequential_of_embedding_and_encoder_masks_padding_like_src_key_padding_mask():
    torch.manual_seed(4)
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    embedding = torch.nn.Embedding(20, 8, padding_idx=0)
    module = torch.nn.Sequential(embedding, encoder, torch.nn.Linear(8, 3), torch.nn.Tanh())
    converted = from_torch(module)
    assert isinstance(converted, keras.Sequential)
    ids = np.array([[5, 3, 8, 1, 0, 0], [2, 9, 9, 4, 7, 11]])
    padding = ids == 0
    with torch.no_grad():
        encoder.eval()
        hidden = encoder(embedding(torch.from_numpy(ids)),
                         src_key_padding_mask=torch.from_numpy(padding))
        expected = torch.tanh(module[2](hidden))
    _close("Sequential(Embedding, TransformerEncoder, Linear, Tanh)", converted(ids), expected,
           where=~padding)
    no_padding = ids[1:]
    _close("Sequential without padding", converted(no_padding),
           _torch(module, torch.from_numpy(no_padding)))

    # The mask reaches every layer, a bidirectional LSTM after the encoder included.
    lstm = torch.nn.LSTM(8, 3, batch_first=True, bidirectional=True)
    module = torch.nn.Sequential(embedding, encoder, lstm)
    converted = from_torch(module)
    assert "Sequential" not in [type(layer).__name__ for layer in converted.layers]
    packed = torch.nn.utils.rnn.pack_padded_sequence(hidden, [4, 6], batch_first=True,
                                                     enforce_sorted=False)
    with torch.no_grad():
        expected, _ = torch.nn.utils.rnn.pad_packed_sequence(lstm.eval()(packed)[0],
                                                             batch_first=True)
    _close("Sequential(Embedding, TransformerEncoder, LSTM)", converted(ids), expected,
           where=~padding)


def test_converted_model_trains_and_saves(tmp_path):
    module = torch.nn.Sequential(torch.nn.Embedding(12, 4, padding_idx=0),
                                 torch.nn.GRU(4, 3, batch_first=True, bidirectional=True))
    converted = from_torch(module)
    ids = np.array([[1, 2, 3, 0], [4, 5, 6, 7]])
    before = np.asarray(converted(ids))
    converted.compile("sgd", "mse")
    converted.fit(ids, np.zeros((2, 4, 6)), epochs=1, verbose=0)
    assert not np.allclose(np.asarray(converted(ids)), before)
    converted.save(tmp_path / "converted.keras")
    reloaded = keras.saving.load_model(tmp_path / "converted.keras")
    np.testing.assert_allclose(reloaded(ids), converted(ids), atol=1e-6)


class _CustomLSTM(torch.nn.LSTM):
    def forward(self, x):
        return super().forward(x * 2)


@pytest.mark.parametrize("module, named", [
    (torch.nn.Conv1d(3, 4, 2), "nn.Conv1d"),
    (_CustomLSTM(3, 4), "_CustomLSTM"),
    (torch.nn.LSTM(3, 4, proj_size=2), "nn.LSTM with proj_size=2"),
    (torch.nn.Embedding(5, 3, max_norm=1.0), "nn.Embedding with max_norm=1.0"),
    (torch.nn.GELU(approximate="tanh"), "nn.GELU with approximate='tanh'"),
    (torch.nn.MultiheadAttention(8, 2, kdim=4, vdim=4), "nn.MultiheadAttention with kdim, vdim"),
    (torch.nn.MultiheadAttention(8, 2, add_bias_kv=True), "add_bias_kv=True"),
    (torch.nn.MultiheadAttention(8, 2, add_zero_attn=True), "add_zero_attn=True"),
    (torch.nn.TransformerEncoderLayer(8, 2, 16, activation=torch.tanh),
     "nn.TransformerEncoderLayer with activation="),
    (torch.nn.TransformerEncoderLayer(8, 2, 16, bias=False),
     "nn.TransformerEncoderLayer with bias=False"),
    (torch.nn.Sequential(torch.nn.LSTM(3, 4), torch.nn.Linear(4, 2)),
     "nn.Sequential with modules[0]='nn.LSTM'"),
    (torch.nn.Sequential(torch.nn.LSTM(3, 4, batch_first=True),
                         torch.nn.TransformerEncoderLayer(4, 2, 8)),
     "nn.Sequential with batch_first='mixed'"),
])
def test_unsupported_modules_and_options_are_named(module, named):
    with pytest.raises(UnsupportedTorchModuleError, match="Cannot convert") as error:
        from_torch(module)
    assert named in str(error.value)


def test_a_non_module_is_refused():
    with pytest.raises(ValueError, match="must be a torch.nn.Module"):
        from_torch(np.zeros(3))


HUBCONF = '''
dependencies = ["torch"]

import torch

VOCABULARY = ["", "[UNK]", "review", "of", "movie", "is", "fresh", "rotten", "a", "good",
              "film", "0", "1", "2", "3"]


def transformer_encoder(width=8):
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(width, 2, 16, batch_first=True)
    model = torch.nn.Sequential(torch.nn.Embedding(len(VOCABULARY), width, padding_idx=0),
                                torch.nn.TransformerEncoder(layer, 2,
                                                            enable_nested_tensor=False))
    model.vocabulary = VOCABULARY
    return model


def lstm_encoder():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(len(VOCABULARY), 6),
                                torch.nn.LSTM(6, 4, batch_first=True, bidirectional=True))
    model.vocabulary = VOCABULARY
    return model


def bare_lstm():
    return torch.nn.LSTM(6, 4, batch_first=True)


def no_vocabulary():
    return torch.nn.Sequential(torch.nn.Embedding(4, 6))
'''


@pytest.fixture(scope="module")
def hub_repo(tmp_path_factory):
    """A PyTorch Hub repository: a directory with a hubconf.py of small text encoders."""
    directory = tmp_path_factory.mktemp("torch_hub")
    (directory / "hubconf.py").write_text(HUBCONF)
    return str(directory)


def test_torch_hub_text_classifier_equals_the_torch_encoder_with_its_head(hub_repo):
    import tensorflow as tf

    from seqmodels.transfer import text_backbone_classifier

    model = text_backbone_classifier(f"torch_hub:{hub_repo}:transformer_encoder", 2,
                                     sequence_length=10, seed=0)
    texts = ["a good film", "review 3 of movie 2 is rotten, a dull film!"]
    ids = model.preprocessor(tf.constant(texts)).numpy()  # (batch, 10)
    assert ids[0].tolist() == [8, 9, 10] + [0] * 7 and 1 in ids[1]  # "dull": out of vocabulary
    module = torch.hub.load(hub_repo, "transformer_encoder", source="local").eval()
    padding = torch.from_numpy(ids == 0)
    with torch.no_grad():
        hidden = module[1](module[0](torch.from_numpy(ids)), src_key_padding_mask=padding)
    real = (~padding).float()[..., None]
    pooled = ((hidden * real).sum(1) / real.sum(1)).numpy()  # (batch, width): masked mean
    kernel, bias = model.get_layer("logits").get_weights()
    _close("torch_hub classifier logits", model(tf.constant(texts), training=False),
           pooled @ kernel + bias)
    from seqmodels.transfer import text_lengths

    assert text_lengths(model, tf.constant(texts)).tolist() == [3, 10]


@pytest.mark.parametrize("entry, message", [
    ("bare_lstm", "an nn.Sequential that starts with an nn.Embedding"),
    ("no_vocabulary", "must carry `vocabulary`"),
])
def test_torch_hub_text_backbones_of_another_shape_are_refused(hub_repo, entry, message):
    from seqmodels.transfer import text_backbone_classifier

    with pytest.raises(ValueError, match=message):
        text_backbone_classifier(f"torch_hub:{hub_repo}:{entry}", 2)
    with pytest.raises(ValueError, match="no .*hubconf.py"):
        text_backbone_classifier(f"torch_hub:{hub_repo}/missing:{entry}", 2)


def test_torch_hub_backbone_trains_in_the_binary_and_serves_raw_text(hub_repo, tmp_path):
    import tensorflow as tf

    from seqmodels.training.config import make_config
    from seqmodels.training.train import train_and_evaluate
    from tests.data.fixtures import write_rotten_tomatoes

    write_rotten_tomatoes(tmp_path, movies=40, per_movie=4)
    # Eager steps (run_eagerly=True): this test checks that the converted weights train and
    # that the export serves raw text as the model does, not the traced steps. A pretrained
    # text backbone's run traces its steps in
    # tests/transfer/test_lora.py::test_binary_trains_lora_and_exports_merged, and the LSTM
    # layers this module converts to train traced in the forecasting task's tiny (lstm) run
    # of tests/training/test_config_guard.py.
    config = make_config("text_classification", "tiny", ["sequence_length=12"],
                         backbone=f"torch_hub:{hub_repo}:lstm_encoder", data_dir=str(tmp_path),
                         export_dir=str(tmp_path / "export"), run_eagerly=True)
    assert config.run.strategy == "default"  # tf.distribute's default strategy
    metrics = train_and_evaluate(config, str(tmp_path / "run"))
    model = metrics["model"]
    assert model.inputs[0].dtype == "string" and np.isfinite(metrics["test_loss"])
    module = torch.hub.load(hub_repo, "lstm_encoder", source="local")
    first_lstm_kernel = model.encoder.layers[1].forward_layer.cell.kernel
    assert not np.allclose(first_lstm_kernel, from_torch(module).layers[1].forward_layer.cell
                           .kernel), "the converted weights did not train"
    served = tf.saved_model.load(metrics["export_path"]).signatures["serving_default"]
    texts = tf.constant(["a good film", "review 2 of movie 5 is rotten"])
    expected = tf.nn.softmax(model(texts, training=False))
    np.testing.assert_allclose(served(text=texts)["probabilities"].numpy(), expected.numpy(),
                               atol=1e-6)
