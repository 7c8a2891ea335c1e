"""Image captioning (one-to-many): a canvas of handwritten digits -> the digits' words.

A CNN or ViT encodes the image, a transformer decoder writes the caption between start and end
tokens (teacher forcing in training). A caption longer than `sequence_length` is an error. The
export captions encoded image bytes in the graph.
"""

import dataclasses
import typing

import keras
import tensorflow as tf

from seqmodels import data
from seqmodels.data import mnist_sequences
from seqmodels.models.captioner import Captioner
from seqmodels.tasks import common
from seqmodels.tasks.task_config import ModelFields, TaskConfig
from seqmodels.tasks.task_spec import TaskSpec

START, END = "starttoken", "endtoken"


@dataclasses.dataclass(frozen=True)
class CaptioningConfig(ModelFields, TaskConfig):
    """The model and data fields of captioning.

    Attributes:
        model: the image encoder, `cnn` or `vit`.
        sequence_length: tokens per caption, start and end included.
        patch_size: ViT patch side (`model=vit`).
        hidden_dim, num_layers, num_heads, intermediate_dim, dropout: the network's size (see
            `seqmodels.tasks.task_config.ModelFields`).
        label_smoothing: cross-entropy label smoothing.

    Example:

    >>> CaptioningConfig(model="vit").patch_size
    4
    """

    TASK: typing.ClassVar[str] = "captioning"
    MODELS: typing.ClassVar[tuple] = ("cnn", "vit")
    POSITIVE: typing.ClassVar[tuple] = ("sequence_length", "patch_size")
    RATES: typing.ClassVar[tuple] = ("label_smoothing",)

    model: str = "cnn"
    sequence_length: int = 64
    patch_size: int = 4
    label_smoothing: float = 0.0


PRESETS = {
    # mnist_sequences: 1-4 digits, captions of at most 6 tokens with start and end.
    "default": dict(model="cnn", dataset="mnist_sequences", epochs=6, global_batch_size=64,
                    learning_rate=2e-3, warmup_fraction=0.05, sequence_length=6,
                    hidden_dim=64, num_layers=1, num_heads=4, intermediate_dim=128,
                    dropout=0.1),
    "tiny": dict(model="cnn", dataset="mnist_sequences", epochs=1, global_batch_size=4,
                 steps_per_epoch=2, sequence_length=6, hidden_dim=8, num_layers=1,
                 num_heads=2, intermediate_dim=16),
}


def caption_words(config, train):
    """The caption vocabulary: the digits' words, or the sorted words of your own training
    captions (split at whitespace, as the model's input is)."""
    if not data.user.is_file_spec(config.run.dataset):
        return list(mnist_sequences.WORDS)
    words = set()
    for captions in train.map(lambda image, caption: caption).batch(1024).as_numpy_iterator():
        for caption in captions:
            words.update(caption.decode("utf-8").split())
    return sorted(words - {START, END})


def build(config, strategy):
    """The captioning `Task` of `config`, its model built under `strategy.scope()`."""
    fields = config.task_config
    train = common.train_split(config)
    num_train = common.count_train(config, train)  # the validation pass counted your files
    words = ["", "[UNK]", START, END] + caption_words(config, train)
    lookup = keras.layers.StringLookup(vocabulary=words[2:], num_oov_indices=1, mask_token="")
    length = fields.sequence_length  # start and end included
    # Each split is read once here: the length check and the task share the datasets.
    validation, test = common.load(config, "validation"), common.load(config, "test")
    for split, captions in (("train", train), ("validation", validation), ("test", test)):
        counted = captions.batch(1024).map(
            lambda image, caption: tf.strings.split(caption).row_lengths() + 2)
        for lengths in counted.as_numpy_iterator():
            common.check_lengths(f"{split} caption (with start and end)", lengths, length)

    def encode(image, caption):
        tokens = tf.strings.split(f"{START} " + caption + f" {END}")
        ids = lookup(tokens.to_tensor("", shape=[None, length]))  # (batch, length), 0 = padding
        return (tf.cast(image, tf.float32) / 255.0, ids[:, :-1]), ids[:, 1:]

    image_shape = tuple(train.element_spec[0].shape)
    with strategy.scope():
        model = Captioner(image_shape, len(words), max_length=length, encoder=fields.model,
                          patch_size=fields.patch_size, hidden_dim=fields.hidden_dim,
                          num_layers=fields.num_layers, num_heads=fields.num_heads,
                          intermediate_dim=fields.intermediate_dim, dropout=fields.dropout)
    return common.make_task(config, model, train, num_train,
                            common.sequence_batches(config, encode),
                            validation, test, train_options={},
                            export_kwargs=dict(vocabulary=words, start_id=words.index(START),
                                               end_id=words.index(END), max_length=length))


TASK = TaskSpec("captioning", CaptioningConfig, PRESETS, build)
