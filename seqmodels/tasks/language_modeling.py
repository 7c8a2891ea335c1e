"""Language modelling (text generation): a character-level MiniGPT on the English verses.

The characters of the training split are the vocabulary (id 0: padding and characters never
seen in training, which carry no weight as targets); the text is cut into windows of
`sequence_length` characters whose labels are the same shifted by one. The export completes
raw prompts in the graph.
"""

import dataclasses
import typing

import numpy as np
import tensorflow as tf

from seqmodels.models.mini_gpt import MiniGPT
from seqmodels.tasks import common
from seqmodels.tasks.task_config import ModelFields, TaskConfig
from seqmodels.tasks.task_spec import TaskSpec


@dataclasses.dataclass(frozen=True)
class LanguageModelingConfig(ModelFields, TaskConfig):
    """The model and data fields of language modelling.

    Attributes:
        model: `transformer`.
        sequence_length: characters per window (the model's context).
        hidden_dim, num_layers, num_heads, intermediate_dim, dropout: the network's size (see
            `seqmodels.tasks.task_config.ModelFields`).
        label_smoothing: cross-entropy label smoothing.

    Example:

    >>> LanguageModelingConfig(sequence_length=128).sequence_length
    128
    """

    TASK: typing.ClassVar[str] = "language_modeling"
    MODELS: typing.ClassVar[tuple] = ("transformer",)
    POSITIVE: typing.ClassVar[tuple] = ("sequence_length",)
    RATES: typing.ClassVar[tuple] = ("label_smoothing",)

    model: str = "transformer"
    sequence_length: int = 64
    label_smoothing: float = 0.0


PRESETS = {
    # Characters of the English verses, 128 a window.
    "default": dict(model="transformer", dataset="verses_text", epochs=3,
                    global_batch_size=64, learning_rate=2e-3, warmup_fraction=0.05,
                    sequence_length=128, hidden_dim=128, num_layers=2, num_heads=4,
                    intermediate_dim=512, dropout=0.1),
    "tiny": dict(model="transformer", dataset="verses_text", epochs=1, global_batch_size=4,
                 steps_per_epoch=2, sequence_length=16, hidden_dim=8, num_layers=1,
                 num_heads=2, intermediate_dim=16),
}


def character_windows(text, index, length, split="train"):
    """(inputs, labels) windows of `length` character ids of `text`, labels shifted by one.

    Args:
        text: the split's text.
        index: character -> id; characters not in it get id 0.
        length: characters per window.
        split: the split's name, for the error message.

    Returns:
        A `tf.data.Dataset` of `(length,)` int32 pairs.

    Example:

    >>> windows = character_windows("abcabcab", {"a": 1, "b": 2, "c": 3}, 3)
    >>> [x.tolist() for x in next(iter(windows.as_numpy_iterator()))]
    [[1, 2, 3], [2, 3, 1]]
    """
    ids = np.array([index.get(c, 0) for c in text], np.int32)
    starts = np.arange(0, len(ids) - length - 1, length)
    if not len(starts):
        raise ValueError(f"The {split} text has {len(ids)} characters, too few for one "
                         f"window of sequence_length={length}.")
    inputs = np.stack([ids[s:s + length] for s in starts])  # (windows, length)
    labels = np.stack([ids[s + 1:s + length + 1] for s in starts])  # (windows, length)
    return tf.data.Dataset.from_tensor_slices((inputs, labels))


def build(config, strategy):
    """The language modelling `Task` of `config`, its model built under `strategy.scope()`."""
    fields = config.task_config
    train_text = common.train_split(config)
    texts = {"train": "\n".join(t.decode() for t in train_text.as_numpy_iterator())}
    for split in ("validation", "test"):
        texts[split] = "\n".join(t.decode() for t in
                                 common.load(config, split).as_numpy_iterator())
    vocabulary = [""] + sorted(set(texts["train"]))  # id 0: padding and unseen characters
    index = {c: i for i, c in enumerate(vocabulary) if c}
    length = fields.sequence_length
    train = character_windows(texts["train"], index, length).cache()
    with strategy.scope():
        model = MiniGPT(len(vocabulary), max_length=length, hidden_dim=fields.hidden_dim,
                        num_layers=fields.num_layers, num_heads=fields.num_heads,
                        intermediate_dim=fields.intermediate_dim, dropout=fields.dropout)
    # Unseen characters (id 0) are not targets: they carry no weight.
    batches = common.sequence_batches(config, lambda x, y: (x, y))
    # Served completions: half a window of new characters after the prompt.
    return common.make_task(
        config, model, train, common.count(train), batches,
        character_windows(texts["validation"], index, length, "validation"),
        character_windows(texts["test"], index, length, "test"),
        export_kwargs=dict(vocabulary=vocabulary, max_length=max(1, length // 2)))


TASK = TaskSpec("language_modeling", LanguageModelingConfig, PRESETS, build)
