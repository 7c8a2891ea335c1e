"""BERT on our own layers: embeddings, post-norm encoder blocks and a pooler; HF checkpoints in.

One cohesive class with the code that fills it from a Hugging Face checkpoint directory (the
weight map is the model's own layer names), so the file runs past the usual length a little.
"""

import json
import os

import keras
import numpy as np

from seqmodels.layers.positional_embedding import PositionalEmbedding
from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock
from seqmodels.models.arguments import check_positive_integers

INPUTS = ("token_ids", "segment_ids", "padding_mask")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Hugging Face `hidden_act` -> our activation: "gelu" is the exact (erf) GELU, the others its
# tanh approximation.
HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_approximate",
                  "gelu_pytorch_tanh": "gelu_approximate", "gelu_fast": "gelu_approximate",
                  "relu": "relu"}


@keras.saving.register_keras_serializable(package="seqmodels")
def gelu_approximate(x):
    """GELU by its tanh approximation (`gelu_new`; keras-hub's BERT uses it for every checkpoint).

    Example:

    >>> round(float(gelu_approximate(1.0)), 4)
    0.8412
    """
    return keras.activations.gelu(x, approximate=True)


def _activation(name):
    return gelu_approximate if name == "gelu_approximate" else name


def _read_config(directory):
    """`config.json` of a BERT checkpoint -> BertEncoder arguments (named errors otherwise)."""
    path = os.path.join(directory, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError("`directory` must be a Hugging Face checkpoint directory with a "
                                f"config.json. Received: directory={directory!r}")
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    if config.get("model_type") != "bert":
        raise ValueError(f"BertEncoder reads BERT checkpoints (model_type 'bert'). Received: "
                         f"model_type={config.get('model_type')!r} in {path}")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("BertEncoder supports position_embedding_type='absolute' only. Received: "
                         f"position_embedding_type={config['position_embedding_type']!r}")
    act = config.get("hidden_act", "gelu")
    if act not in HF_ACTIVATIONS:
        raise ValueError(f"`hidden_act` must be one of {', '.join(HF_ACTIVATIONS)}. Received: "
                         f"hidden_act={act!r} in {path}")
    return dict(vocabulary_size=config["vocab_size"], num_layers=config["num_hidden_layers"],
                num_heads=config["num_attention_heads"], hidden_dim=config["hidden_size"],
                intermediate_dim=config["intermediate_size"],
                dropout=config.get("hidden_dropout_prob", 0.1),
                attention_dropout=config.get("attention_probs_dropout_prob", 0.1),
                max_sequence_length=config.get("max_position_embeddings", 512),
                num_segments=config.get("type_vocab_size", 2), activation=HF_ACTIVATIONS[act],
                layer_norm_epsilon=config.get("layer_norm_eps", 1e-12))


def _read_weights(directory):
    """The checkpoint's tensors as numpy arrays, names without a `bert.` prefix."""
    for name in WEIGHT_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            break
    else:
        raise FileNotFoundError(f"`directory` must hold {' or '.join(WEIGHT_FILES)}. "
                                f"Received: directory={directory!r} with "
                                f"{sorted(os.listdir(directory))}")
    if name.endswith(".safetensors"):
        from safetensors.numpy import load_file

        tensors = load_file(path)
    else:
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
        tensors = {key: value.float().numpy() for key, value in state.items()}
    # BertForX checkpoints prefix the encoder ("bert."); old ones name LayerNorm gamma/beta.
    renamed = {}
    for key, value in tensors.items():
        key = key[len("bert."):] if key.startswith("bert.") else key
        key = key.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
            "LayerNorm.beta", "LayerNorm.bias")
        renamed[key] = value
    return renamed, path


@keras.saving.register_keras_serializable(package="seqmodels")
class BertEncoder(keras.Model):
    """A BERT encoder built from `seqmodels.layers`: token ids in, contextual vectors out.

    A functional model with keras-hub `BertBackbone`'s inputs and outputs: a dict of
    `token_ids`, `segment_ids` and `padding_mask` (int (batch, seq), 1 at real tokens) ->
    `sequence_output` (batch, seq, hidden_dim) and `pooled_output` (batch, hidden_dim). Token
    and learned position embeddings (`PositionalEmbedding`) plus segment embeddings, a layer
    norm and dropout; `num_layers` post-norm `TransformerEncoderBlock`s (BERT normalises after
    each residual) with GELU; the pooler is a tanh dense layer on the first (`[CLS]`) vector.
    The padding mask hides padded keys from every query, padded queries included, as Hugging
    Face's `BertModel` and keras-hub do, so the vectors at padded positions equal theirs too.
    `from_pretrained` fills it from a Hugging Face checkpoint.

    Args:
        vocabulary_size: number of token ids.
        num_layers: encoder blocks.
        num_heads: attention heads (they must divide `hidden_dim`).
        hidden_dim: width of the embeddings and blocks.
        intermediate_dim: width of the feed-forward hidden layer.
        dropout: dropout of the embeddings and before each residual.
        attention_dropout: dropout of the attention weights (default `dropout`).
        max_sequence_length: learned positions (longest input).
        num_segments: segment ids (`type_vocab_size`).
        activation: feed-forward activation (`"gelu"` exact, or `"gelu_approximate"`).
        layer_norm_epsilon: epsilon of every layer norm.
        **kwargs: passed to `keras.Model` (e.g. `name`, `dtype`).

    Example:

    >>> import numpy as np
    >>> encoder = BertEncoder(vocabulary_size=10, num_layers=1, num_heads=2, hidden_dim=8,
    ...                       intermediate_dim=16, max_sequence_length=6)
    >>> outputs = encoder({"token_ids": np.array([[2, 5, 3, 0]]),
    ...                    "segment_ids": np.zeros((1, 4), "int32"),
    ...                    "padding_mask": np.array([[1, 1, 1, 0]])})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 4, 8), (1, 8))

    References:
        Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language
        Understanding", 2019.
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 dropout=0.1, attention_dropout=None, max_sequence_length=512, num_segments=2,
                 activation="gelu", layer_norm_epsilon=1e-12, **kwargs):
        check_positive_integers(vocabulary_size=vocabulary_size, num_layers=num_layers,
                                num_heads=num_heads, hidden_dim=hidden_dim,
                                intermediate_dim=intermediate_dim,
                                max_sequence_length=max_sequence_length,
                                num_segments=num_segments)
        if hidden_dim % num_heads:
            raise ValueError("`num_heads` must divide `hidden_dim`. Received: "
                             f"hidden_dim={hidden_dim}, num_heads={num_heads}")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")

        def initializer():  # BERT's; a fresh one per layer (one object repeats its draws)
            return keras.initializers.TruncatedNormal(stddev=0.02)

        dtype = kwargs.get("dtype")
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUTS}
        x = PositionalEmbedding(  # (batch, seq, hidden): token + position
            kind="learned", max_length=max_sequence_length, vocab_size=vocabulary_size,
            output_dim=hidden_dim, embeddings_initializer=initializer(), dtype=dtype,
            name="token_and_position_embedding")(inputs["token_ids"])
        segments = keras.layers.Embedding(num_segments, hidden_dim,
                                          embeddings_initializer=initializer(), dtype=dtype,
                                          name="segment_embedding")(inputs["segment_ids"])
        x = keras.layers.Add(dtype=dtype, name="embeddings_add")([x, segments])
        x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, dtype=dtype,
                                            name="embeddings_layer_norm")(x)
        x = keras.layers.Dropout(dropout, dtype=dtype, name="embeddings_dropout")(x)
        # Every query sees the real keys: (batch, 1, seq), broadcast over the queries.
        visible = keras.ops.expand_dims(keras.ops.cast(inputs["padding_mask"], "bool"), 1)
        for i in range(num_layers):
            x = TransformerEncoderBlock(
                num_heads, intermediate_dim, dropout=dropout, attention_dropout=attention_dropout,
                activation=_activation(activation), layer_norm_epsilon=layer_norm_epsilon,
                norm_first=False, kernel_initializer=initializer(), dtype=dtype,
                name=f"transformer_layer_{i}")(x, attention_mask=visible)
        pooled = keras.layers.Dense(  # (batch, hidden): the [CLS] vector
            hidden_dim, activation="tanh", kernel_initializer=initializer(), dtype=dtype,
            name="pooled_dense")(x[:, 0, :])
        super().__init__(inputs=inputs, outputs={"sequence_output": x, "pooled_output": pooled},
                         **kwargs)
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon

    @classmethod
    def from_pretrained(cls, directory, **kwargs):
        """A `BertEncoder` holding a Hugging Face BERT checkpoint's weights.

        Reads `directory/config.json` (a `BertModel`/`BertFor...` config: `model_type`
        `"bert"`, absolute positions) and `model.safetensors` (with the `safetensors` package)
        or else `pytorch_model.bin` (with `torch.load`). Every encoder weight must be there
        (the `bert.` prefix of task checkpoints and the old `gamma`/`beta` names are
        accepted); a checkpoint saved without the pooler keeps a randomly initialised one.
        Task heads (`cls.`, `classifier.`) are ignored. The tokenizer's files (`vocab.txt`)
        are read by `seqmodels.transfer.text_backbone_classifier("hf:<directory>", ...)`.

        Args:
            directory: the checkpoint directory.
            **kwargs: override constructor arguments (e.g. `dropout`, `name`, `dtype`).

        Returns:
            A `BertEncoder`.

        Raises:
            FileNotFoundError: no `config.json` or weights file in `directory`.
            ValueError: a config of another architecture, or weights that do not fit it.

        Example:

        >>> import os, tempfile, transformers
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny_bert")
        >>> transformers.BertModel(transformers.BertConfig(
        ...     vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...     intermediate_size=16)).save_pretrained(path)
        >>> BertEncoder.from_pretrained(path).hidden_dim
        8
        """
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError("`directory` must be a Hugging Face checkpoint directory. "
                                    f"Received: directory={directory!r}")
        arguments = {**_read_config(directory), **kwargs}
        tensors, path = _read_weights(directory)
        encoder = cls(**arguments)
        encoder.load_hf_weights(tensors, path)
        return encoder

    def hf_weight_map(self):
        """`(variable, Hugging Face name, to_keras)` for every weight, `to_keras` numpy -> ours.

        Hugging Face `nn.Linear` weights are (out, in): our `Dense` kernels are their
        transpose, and the attention's `EinsumDense` kernels that transpose reshaped to
        (hidden, heads, head_size) (query, key, value) or (heads, head_size, hidden) (output).
        """
        heads, size = self.num_heads, self.hidden_dim // self.num_heads

        def same(w):
            return w

        def linear(w):
            return w.T  # (in, out)

        def split_heads(w):
            return w.T.reshape(-1, heads, size)  # (hidden, heads, head_size)

        def merge_heads(w):
            return w.T.reshape(heads, size, -1)  # (heads, head_size, hidden)

        def head_bias(b):
            return b.reshape(heads, size)  # (heads, head_size)

        def norm(layer, name):
            return [(layer.gamma, f"{name}.weight", same), (layer.beta, f"{name}.bias", same)]

        embedding = self.get_layer("token_and_position_embedding")
        entries = [(embedding.token_embeddings, "embeddings.word_embeddings.weight", same),
                   (embedding.position_embeddings, "embeddings.position_embeddings.weight", same),
                   (self.get_layer("segment_embedding").embeddings,
                    "embeddings.token_type_embeddings.weight", same)]
        entries += norm(self.get_layer("embeddings_layer_norm"), "embeddings.LayerNorm")
        for i in range(self.num_layers):
            block, prefix = self.get_layer(f"transformer_layer_{i}"), f"encoder.layer.{i}"
            attention = block.attention
            for dense, name in ((attention.query_dense, "query"), (attention.key_dense, "key"),
                                (attention.value_dense, "value")):
                entries += [(dense.kernel, f"{prefix}.attention.self.{name}.weight", split_heads),
                            (dense.bias, f"{prefix}.attention.self.{name}.bias", head_bias)]
            entries += [(attention.output_dense.kernel,
                         f"{prefix}.attention.output.dense.weight", merge_heads),
                        (attention.output_dense.bias, f"{prefix}.attention.output.dense.bias",
                         same)]
            entries += norm(block.attention_norm, f"{prefix}.attention.output.LayerNorm")
            entries += [
                (block.intermediate_dense.kernel, f"{prefix}.intermediate.dense.weight", linear),
                (block.intermediate_dense.bias, f"{prefix}.intermediate.dense.bias", same),
                (block.output_dense.kernel, f"{prefix}.output.dense.weight", linear),
                (block.output_dense.bias, f"{prefix}.output.dense.bias", same)]
            entries += norm(block.feedforward_norm, f"{prefix}.output.LayerNorm")
        pooler = self.get_layer("pooled_dense")
        entries += [(pooler.kernel, "pooler.dense.weight", linear),
                    (pooler.bias, "pooler.dense.bias", same)]
        return entries

    def load_hf_weights(self, tensors, source="the checkpoint"):
        """Assigns Hugging Face BERT tensors (a dict name -> numpy array) to this encoder.

        Args:
            tensors: the checkpoint's tensors, names as `BertModel.state_dict()` gives them.
            source: where they come from (for error messages).

        Raises:
            ValueError: a weight is missing (the pooler may be) or has another shape.
        """
        entries = self.hf_weight_map()
        missing = [name for _, name, _ in entries
                   if name not in tensors and not name.startswith("pooler.")]
        if missing:
            raise ValueError(f"{source} lacks {len(missing)} BERT weights of this architecture "
                             f"(e.g. {missing[:3]}). Received tensors like "
                             f"{sorted(tensors)[:3]}")
        for variable, name, to_keras in entries:
            if name not in tensors:
                continue
            value = to_keras(np.asarray(tensors[name]))
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"The weight {name} of {source} has shape "
                                 f"{tuple(tensors[name].shape)}, which does not fit "
                                 f"{variable.path} {tuple(variable.shape)} of a BertEncoder "
                                 f"with hidden_dim={self.hidden_dim}, num_heads="
                                 f"{self.num_heads}")
            variable.assign(value.astype(variable.dtype))

    def get_config(self):
        # Not chained to super: a functional model's config is its graph, not these arguments.
        return {"name": self.name, "trainable": self.trainable,
                "vocabulary_size": self.vocabulary_size, "num_layers": self.num_layers,
                "num_heads": self.num_heads, "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments, "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
