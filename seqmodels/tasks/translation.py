"""Machine translation (many-to-many, sequence to sequence): English -> Spanish verses.

Two vocabularies are learned on the training split (target sentences wrapped in start and end
tokens); teacher forcing feeds the decoder the target shifted by one. A sentence longer than
`sequence_length` is an error, never a silent cut. The export translates raw text in the graph.
"""

import dataclasses
import typing

import tensorflow as tf

from seqmodels import data
from seqmodels.models.translator import Translator
from seqmodels.tasks import common
from seqmodels.tasks.task_config import ModelFields, TaskConfig
from seqmodels.tasks.task_spec import TaskSpec

START, END = "starttoken", "endtoken"


@dataclasses.dataclass(frozen=True)
class TranslationConfig(ModelFields, TaskConfig):
    """The model and data fields of translation.

    Attributes:
        model: `transformer`.
        sequence_length: tokens per source sentence (the target gets one more, for the start
            and end tokens of teacher forcing).
        vocab_size: largest vocabulary learned per language.
        hidden_dim, num_layers, num_heads, intermediate_dim, dropout: the network's size (see
            `seqmodels.tasks.task_config.ModelFields`).
        label_smoothing: cross-entropy label smoothing.

    Example:

    >>> TranslationConfig().vocab_size
    20000
    """

    TASK: typing.ClassVar[str] = "translation"
    MODELS: typing.ClassVar[tuple] = ("transformer",)
    POSITIVE: typing.ClassVar[tuple] = ("sequence_length", "vocab_size")
    RATES: typing.ClassVar[tuple] = ("label_smoothing",)

    model: str = "transformer"
    sequence_length: int = 64
    vocab_size: int = 20000
    label_smoothing: float = 0.0


PRESETS = {
    # English -> Spanish verses (<= 120 characters a side, <= 40 tokens with punctuation).
    # 4 epochs fit in 15 minutes on 2 cores (295-624 s by machine; validation token accuracy
    # 0.437, test BLEU 9.8 greedy, 11.0 beam 4: bench/RESULTS.md); `--epochs=8` took twice
    # that for 0.484 and 14.5 / 17.0 (measured before the attention's EinsumDense projections).
    "default": dict(model="transformer", dataset="en_es_verses", epochs=4,
                    global_batch_size=64, learning_rate=1e-3, warmup_fraction=0.05,
                    sequence_length=40, vocab_size=8000, hidden_dim=128, num_layers=2,
                    num_heads=4, intermediate_dim=256, dropout=0.1, label_smoothing=0.1),
    "tiny": dict(model="transformer", dataset="en_es_verses", epochs=1, global_batch_size=4,
                 steps_per_epoch=2, sequence_length=40, vocab_size=100, hidden_dim=8,
                 num_layers=1, num_heads=2, intermediate_dim=16),
}


def _check_lengths(splits, length):
    """Every verse of every split fits: `length` source tokens, `length + 1` target tokens.

    `splits`: {split name: its unbatched (source, target) dataset}.
    """
    for split, pairs in splits.items():
        counted = pairs.batch(1024).map(lambda en, es: (
            tf.strings.split(data.split_punctuation(en)).row_lengths(),
            tf.strings.split(data.split_punctuation(es)).row_lengths() + 2))
        for en_lengths, es_lengths in counted.as_numpy_iterator():
            common.check_lengths(f"{split} source verse", en_lengths, length)
            common.check_lengths(f"{split} target verse (with start and end)", es_lengths,
                                 length + 1, field="sequence_length + 1")


def build(config, strategy):
    """The translation `Task` of `config`, its model built under `strategy.scope()`."""
    fields = config.task_config
    train = common.train_split(config)
    num_train = common.count_train(config, train)  # the validation pass counted your files
    length = fields.sequence_length
    source = data.text_vectorizer(train.map(lambda en, es: en), fields.vocab_size,
                                  sequence_length=length, standardize=data.split_punctuation)
    target = data.text_vectorizer(train.map(lambda en, es: f"{START} " + es + f" {END}"),
                                  fields.vocab_size, sequence_length=length + 1,
                                  standardize=data.split_punctuation)
    # Each split is read once here: the length check and the task share the datasets.
    validation, test = common.load(config, "validation"), common.load(config, "test")
    _check_lengths({"train": train, "validation": validation, "test": test}, length)

    def encode(en, es):
        ids = target(f"{START} " + es + f" {END}")  # (batch, length + 1)
        return (source(en), ids[:, :-1]), ids[:, 1:]

    with strategy.scope():
        # The learned vocabularies (at most vocab_size): no logits for ids that never occur.
        model = Translator(source.vocabulary_size(), target.vocabulary_size(),
                           max_source_length=length, max_target_length=length + 1,
                           hidden_dim=fields.hidden_dim, num_layers=fields.num_layers,
                           num_heads=fields.num_heads, intermediate_dim=fields.intermediate_dim,
                           dropout=fields.dropout)
    vocabulary = target.get_vocabulary()
    en, es = next(iter(test.take(1)))
    (source_ids, target_ids), _ = encode(tf.expand_dims(en, 0), tf.expand_dims(es, 0))
    source_ids, target_ids = source_ids.numpy(), target_ids.numpy()  # (1, length) each
    n_source, n_target = int((source_ids != 0).sum()), int((target_ids != 0).sum())
    source_vocabulary = source.get_vocabulary()
    return common.make_task(
        config, model, train, num_train, common.sequence_batches(config, encode),
        validation, test, train_options={},
        export_kwargs=dict(vectorizer=source, vocabulary=vocabulary,
                           start_id=vocabulary.index(START), end_id=vocabulary.index(END),
                           max_length=length + 1),
        attention_input=(source_ids[:, :n_source], target_ids[:, :n_target]),
        tokens=([source_vocabulary[i] for i in source_ids[0, :n_source]],
                [vocabulary[i] for i in target_ids[0, :n_target]]))


def pictures(config, task, run_dir):
    """The last decoder block's cross-attention and self-attention over one test verse."""
    from seqmodels import viz

    source_ids, target_ids = task.attention_input
    source_tokens, target_tokens = task.tokens
    maps = viz.decoder_attention_scores(task.model, source_ids, target_ids)[-1]
    return [
        viz.plot_cross_attention(maps["cross_attention"][0], source_tokens, target_tokens,
                                 run_dir.picture("cross_attention.png"),
                                 title="last decoder block"),
        viz.plot_attention(maps["self_attention"][0], target_tokens,
                           run_dir.picture("decoder_self_attention.png"),
                           title="last decoder block"),
    ]


TASK = TaskSpec("translation", TranslationConfig, PRESETS, build, pictures)
