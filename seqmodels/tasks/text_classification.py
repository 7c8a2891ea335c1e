"""Text classification (many-to-one: sentiment): from scratch or on a pretrained encoder.

From scratch, a `TextVectorization` learned on the training split feeds a `TextClassifier`
(transformer or recurrent encoder); with a `backbone` (`preset:`, `hub:`), the model tokenizes
raw strings itself. Either way the binary says how many texts are longer than
`sequence_length` (the model reads their first tokens), and the export serves raw text.
"""

import dataclasses
import typing

import keras
import numpy as np
import tensorflow as tf

from seqmodels import data
from seqmodels.data.user.vocabulary import learn_vectorizer
from seqmodels.models.text_classifier import TextClassifier
from seqmodels.tasks import common
from seqmodels.tasks.backbone import BackboneFields
from seqmodels.tasks.task_config import ModelFields, TaskConfig
from seqmodels.tasks.task_spec import TaskSpec


@dataclasses.dataclass(frozen=True)
class TextClassificationConfig(BackboneFields, ModelFields, TaskConfig):
    """The model and data fields of text classification.

    Attributes:
        model: the encoder family, one of `MODELS`.
        sequence_length: tokens per text (longer texts are cut, and the binary says so).
        vocab_size: vocabulary size learned from the training split.
        hidden_dim, num_layers, num_heads, intermediate_dim, dropout: the network's size (see
            `seqmodels.tasks.task_config.ModelFields`).
        label_smoothing: cross-entropy label smoothing.
        backbone, backbone_trainable, head_epochs, unfreeze_top, fine_tune_learning_rate: see
            `seqmodels.tasks.backbone.BackboneFields`.

    Example:

    >>> TextClassificationConfig(model="lstm").hidden_dim
    64
    """

    TASK: typing.ClassVar[str] = "text_classification"
    MODELS: typing.ClassVar[tuple] = ("transformer", "lstm", "gru", "bilstm", "simple_rnn")
    POSITIVE: typing.ClassVar[tuple] = ("sequence_length", "vocab_size")
    RATES: typing.ClassVar[tuple] = ("label_smoothing",)

    model: str = "transformer"
    sequence_length: int = 64
    vocab_size: int = 20000
    label_smoothing: float = 0.0


PRESETS = {
    "default": dict(model="transformer", dataset="rotten_tomatoes", epochs=3,
                    global_batch_size=64, learning_rate=1e-3, sequence_length=64,
                    vocab_size=20000, hidden_dim=64, num_layers=1, num_heads=2,
                    intermediate_dim=128, dropout=0.1),
    "tiny": dict(model="transformer", dataset="rotten_tomatoes", epochs=1, global_batch_size=8,
                 steps_per_epoch=2, sequence_length=16, vocab_size=200, hidden_dim=8,
                 num_layers=1, num_heads=2, intermediate_dim=16, max_examples=64),
}


def report_cut_texts(limit, splits, lengths_of):
    """Prints, per split, how many texts have more tokens than the model reads.

    Classifiers read a text's first `sequence_length` tokens (the usual choice for long
    documents), so a longer text is cut, never dropped; this says so instead of doing it
    silently. `lengths_of(texts)` gives the token counts of a batch of strings.

    Example:

    >>> texts = tf.data.Dataset.from_tensor_slices((["a b c", "a"], [0, 1]))
    >>> report_cut_texts(2, [("train", texts)],
    ...                  lambda t: tf.strings.split(t).row_lengths().numpy())
    1 of 2 train texts have more than sequence_length=2 tokens (the longest 3): the model reads their first 2; --override=sequence_length=3 keeps every one whole.
    """
    for split, dataset in splits:
        report_cut(limit, split, np.concatenate(
            [lengths_of(texts) for texts in dataset.batch(1024).map(lambda text, label: text)]
            or [[0]]))


def report_cut(limit, split, lengths):
    """Prints how many of a split's texts, of token counts `lengths`, are longer than `limit`."""
    cut = int(np.sum(lengths > limit))
    if cut:
        print(f"{cut} of {lengths.size} {split} texts have more than sequence_length={limit} "
              f"tokens (the longest {lengths.max()}): the model reads their first {limit}; "
              f"--override=sequence_length={lengths.max()} keeps every one whole.")


def token_counter(vectorizer):
    """A copy of `vectorizer` that keeps every token (ragged ids): counts what the model's cuts."""
    return keras.layers.TextVectorization.from_config(
        {**vectorizer.get_config(), "output_sequence_length": None, "ragged": True,
         "vocabulary": vectorizer.get_vocabulary()})


def token_counts(dataset, counter, batch_size=4096):
    """The token count of each text of `(text, label)` pairs, counted in the tf.data pipeline."""
    counts = dataset.batch(batch_size).map(lambda text, label: counter(text).row_lengths(),
                                           num_parallel_calls=tf.data.AUTOTUNE)
    return np.concatenate([batch.numpy() for batch in counts] or [np.zeros(0, np.int64)])


def _splits(config):
    train = common.train_split(config)
    return train, common.load(config, "validation"), common.load(config, "test")


def _backbone_task(config, strategy):
    """Text classification on a pretrained encoder: the model tokenizes raw strings itself."""
    from seqmodels import transfer

    fields, run = config.task_config, config.run
    train, validation, test = _splits(config)
    num_train = common.count_train(config, train)  # the validation pass counted your files

    def batches(dataset, epoch=None):
        return dataset.batch(run.global_batch_size,
                             drop_remainder=epoch is not None).prefetch(tf.data.AUTOTUNE)

    with strategy.scope():
        model = transfer.text_backbone_classifier(
            fields.backbone, common.info(config).num_classes,
            sequence_length=fields.sequence_length, trainable=fields.backbone_starts_trainable(),
            dropout=fields.dropout, seed=run.seed, lora_rank=fields.lora_rank or None)
    report_cut_texts(fields.sequence_length,
                     [("train", train), ("validation", validation), ("test", test)],
                     lambda texts: transfer.text_lengths(model, texts))
    return common.make_task(config, model, train, num_train, batches, validation, test,
                            train_options={},
                            export_kwargs=dict(class_names=common.class_names(config)),
                            fine_tune=fields.fine_tune())


def build(config, strategy):
    """The text classification `Task` of `config`, its model built under `strategy.scope()`."""
    fields, run = config.task_config, config.run
    if fields.backbone:
        return _backbone_task(config, strategy)
    train, validation, test = _splits(config)
    num_train = common.count_train(config, train)
    # The vocabulary and every training text's token count in one pass over train.
    vectorizer, lengths = learn_vectorizer(train.batch(4096).map(lambda text, label: text),
                                           fields.vocab_size, fields.sequence_length)
    report_cut(fields.sequence_length, "train", lengths)
    counter = token_counter(vectorizer)
    for split, dataset in (("validation", validation), ("test", test)):
        report_cut(fields.sequence_length, split, token_counts(dataset, counter))

    def batches(dataset, epoch=None):
        return data.text_classification_pipeline(dataset, vectorizer, run.global_batch_size,
                                                 drop_remainder=epoch is not None)

    with strategy.scope():
        model = TextClassifier(
            vocab_size=fields.vocab_size, num_classes=common.info(config).num_classes,
            encoder=fields.model, sequence_length=fields.sequence_length,
            hidden_dim=fields.hidden_dim, num_layers=fields.num_layers,
            num_heads=fields.num_heads, intermediate_dim=fields.intermediate_dim,
            dropout=fields.dropout)
    text = next(iter(test.take(1)))[0]
    ids = vectorizer(tf.expand_dims(text, 0)).numpy()  # (1, sequence_length)
    length = max(int((ids[0] != 0).sum()), 1)
    vocabulary = vectorizer.get_vocabulary()
    return common.make_task(
        config, model, train, num_train, batches, validation, test, train_options={},
        export_kwargs=dict(vectorizer=vectorizer, class_names=common.class_names(config)),
        attention_input=ids[:, :length], tokens=[vocabulary[i] for i in ids[0, :length]])


def pictures(config, task, run_dir):
    """The last encoder block's attention over one test review (transformers from scratch)."""
    from seqmodels import viz

    if config.task_config.model != "transformer" or config.task_config.backbone:
        return []
    scores = viz.encoder_attention_scores(task.model, task.attention_input)[-1][0]
    return [viz.plot_attention(scores, task.tokens, run_dir.picture("attention.png"),
                               title="last encoder block")]


TASK = TaskSpec("text_classification", TextClassificationConfig, PRESETS, build,
                pictures)
