"""The frozen training configuration, its named presets, and `key=value` overrides.

One config system: a frozen dataclass. A preset is a named set of field values for a task
(`tiny` trains in seconds, for tests and smoke runs); overrides are `key=value` strings checked
against the field types, so that a typo or a wrong type fails before any training starts.
"""

import dataclasses
import typing

TASKS = (
    "text_classification",
    "forecasting",
    "image_classification",
    "translation",
    "captioning",
    "language_modeling",
)
MIXED_PRECISION = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; `config.json` in the model dir records it.

    Attributes:
        task: one of `TASKS`.
        model: the model family for the task (e.g. `transformer`, `lstm` for text).
        dataset: a `seqmodels.data` name (e.g. `rotten_tomatoes`, `tfds:imdb_reviews`).
        epochs: passes over the training split.
        global_batch_size: examples per optimizer step, summed over all replicas.
        learning_rate: peak learning rate (AdamW, linear warm-up then cosine decay).
        weight_decay: AdamW weight decay.
        warmup_fraction: fraction of all steps spent warming up.
        steps_per_epoch: optimizer steps per epoch; 0 means one full pass over the split.
        strategy: a `seqmodels.training.distribute.STRATEGIES` name.
        tpu: TPU address for `strategy="tpu"`.
        num_cpu_devices: split the CPU into this many logical devices (0: leave it whole).
        mixed_precision: one of `MIXED_PRECISION`.
        jit_compile: compile train and eval steps with XLA.
        seed: seeds the weights, the shuffles and dropout.
        checkpoint_every: steps between backups (0: at each epoch end only).
        export_dir: where the trained model is exported ("" for no export).
        sequence_length: tokens per text (text, translation, language modelling).
        vocab_size: vocabulary size learned from the training split.
        hidden_dim: model width.
        num_layers: encoder/decoder blocks or recurrent layers.
        num_heads: attention heads.
        intermediate_dim: feed-forward width of transformer blocks.
        dropout: dropout rate.
        max_examples: use at most this many training examples (0: all), for smoke runs.
        data_dir: where the dataset's raw files lie ("" for the installed data packages).
        window_length: past steps per forecasting window.
        horizon: future steps each forecast predicts.
        patch_size: ViT patch side (image classification, captioning with `model=vit`).
        pooling: ViT head input, `token` (class token) or `mean` (average of the patches).
        stem: ViT tokens from `patch` projections or a `conv` stem (the hybrid ViT).
        augment: random shifts (and, for Fashion-MNIST, flips) of the training images.
        label_smoothing: cross-entropy label smoothing of the classification tasks.
        backbone: a pretrained backbone for text or image classification instead of `model`:
            `preset:<keras-hub preset or dir>`, `hub:<handle>` or `keras_app:<Name>` (see
            `seqmodels.transfer`); "" trains `model` from scratch.
        backbone_weights: Keras Applications weights: "" (random), a file, or `imagenet`.
        backbone_trainable: fine-tune the backbone (False: frozen, only the head trains).
        head_epochs: with a `backbone`, the first epochs of the two-phase fine-tune schedule
            (`seqmodels.transfer.fine_tune`'s, run by the binary's own loop): the head trains
            on the frozen backbone at `learning_rate`, then from epoch `head_epochs + 1` on the
            top `unfreeze_top` backbone layers train too at `fine_tune_learning_rate`, every
            BatchNormalization frozen and in inference mode. 0: no schedule (the backbone trains
            or stays frozen for all epochs, as `backbone_trainable` says).
        unfreeze_top: how many top backbone layers the fine-tune phase unfreezes; -1 for all.
        fine_tune_learning_rate: peak learning rate of the fine-tune phase (same AdamW, warm-up
            and cosine decay, over that phase's steps).
    """

    task: str = "text_classification"
    model: str = "transformer"
    dataset: str = "rotten_tomatoes"
    epochs: int = 3
    global_batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    steps_per_epoch: int = 0
    strategy: str = "default"
    tpu: str = ""
    num_cpu_devices: int = 0
    mixed_precision: str = "float32"
    jit_compile: bool = False
    seed: int = 0
    checkpoint_every: int = 100
    export_dir: str = ""
    sequence_length: int = 64
    vocab_size: int = 20000
    hidden_dim: int = 64
    num_layers: int = 1
    num_heads: int = 2
    intermediate_dim: int = 128
    dropout: float = 0.1
    max_examples: int = 0
    data_dir: str = ""
    window_length: int = 22
    horizon: int = 1
    patch_size: int = 4
    pooling: str = "token"
    stem: str = "patch"
    augment: bool = True
    label_smoothing: float = 0.0
    backbone: str = ""
    backbone_weights: str = ""
    backbone_trainable: bool = True
    head_epochs: int = 0
    unfreeze_top: int = -1
    fine_tune_learning_rate: float = 1e-5

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"`task` must be one of {', '.join(TASKS)}. Received: task={self.task!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"`mixed_precision` must be one of {', '.join(MIXED_PRECISION)}. "
                             f"Received: mixed_precision={self.mixed_precision!r}")
        for name in ("epochs", "global_batch_size", "sequence_length", "vocab_size",
                     "hidden_dim", "num_layers", "num_heads", "intermediate_dim",
                     "window_length", "horizon", "patch_size"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        for name in ("steps_per_epoch", "num_cpu_devices", "checkpoint_every", "max_examples"):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(
                    f"`{name}` must be a non-negative integer. Received: {name}={value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={self.dropout!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError("`label_smoothing` must be in [0, 1). "
                             f"Received: label_smoothing={self.label_smoothing!r}")
        if self.pooling not in ("token", "mean"):
            raise ValueError(f"`pooling` must be one of token, mean. Received: "
                             f"pooling={self.pooling!r}")
        if self.stem not in ("patch", "conv"):
            raise ValueError(f"`stem` must be one of patch, conv. Received: stem={self.stem!r}")
        if self.backbone and self.task not in ("text_classification", "image_classification"):
            raise ValueError("`backbone` applies to text_classification and "
                             f"image_classification. Received: task={self.task!r}, "
                             f"backbone={self.backbone!r}")
        if self.learning_rate <= 0:
            raise ValueError(
                f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate!r}")
        self._check_fine_tune_schedule()

    def _check_fine_tune_schedule(self):
        """Validates `head_epochs`, `unfreeze_top` and `fine_tune_learning_rate` together."""
        if self.head_epochs < 0:
            raise ValueError("`head_epochs` must be a non-negative integer (0: no fine-tune "
                             f"schedule). Received: head_epochs={self.head_epochs!r}")
        if self.unfreeze_top != -1 and self.unfreeze_top < 1:
            raise ValueError("`unfreeze_top` must be -1 (all backbone layers) or a positive "
                             f"integer. Received: unfreeze_top={self.unfreeze_top!r}")
        if self.fine_tune_learning_rate <= 0:
            raise ValueError("`fine_tune_learning_rate` must be positive. Received: "
                             f"fine_tune_learning_rate={self.fine_tune_learning_rate!r}")
        if not self.head_epochs:
            return
        if not self.backbone:
            raise ValueError("`head_epochs` > 0 needs a pretrained `backbone` to freeze, then "
                             f"unfreeze. Received: head_epochs={self.head_epochs}, backbone=''")
        if self.head_epochs >= self.epochs:
            raise ValueError("`head_epochs` must be less than `epochs`, leaving at least one "
                             f"fine-tune epoch. Received: head_epochs={self.head_epochs}, "
                             f"epochs={self.epochs}")
        if self.unfreeze_top != -1 and self.backbone.startswith("hub:"):
            raise ValueError("`unfreeze_top` must be -1 for a hub: backbone, one SavedModel that "
                             f"unfreezes whole. Received: unfreeze_top={self.unfreeze_top}, "
                             f"backbone={self.backbone!r}")
        if not self.backbone_trainable:
            raise ValueError("`head_epochs` > 0 unfreezes the backbone after the head epochs, "
                             "which contradicts backbone_trainable=False. Received: "
                             f"head_epochs={self.head_epochs}, backbone_trainable=False")


# Named presets: field values per task. `tiny` trains in seconds; `default` is the measured recipe.
PRESETS = {
    "text_classification": {
        "default": dict(model="transformer", dataset="rotten_tomatoes", epochs=3,
                        global_batch_size=64, learning_rate=1e-3, sequence_length=64,
                        vocab_size=20000, hidden_dim=64, num_layers=1, num_heads=2,
                        intermediate_dim=128, dropout=0.1),
        "tiny": dict(model="transformer", dataset="rotten_tomatoes", epochs=1,
                     global_batch_size=8, steps_per_epoch=2, sequence_length=16, vocab_size=200,
                     hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16,
                     max_examples=64),
    },
    "forecasting": {
        # Sunspots, 22 years a window (two solar cycles), the bench's recipe.
        "default": dict(model="lstm", dataset="sunspots", epochs=150, global_batch_size=16,
                        learning_rate=3e-3, weight_decay=0.0, warmup_fraction=0.0,
                        window_length=22, horizon=1, hidden_dim=32, num_heads=2,
                        intermediate_dim=64, dropout=0.1, checkpoint_every=0),
        "tiny": dict(model="lstm", dataset="sunspots", epochs=1, global_batch_size=8,
                     steps_per_epoch=2, window_length=6, horizon=2, hidden_dim=8, num_heads=2,
                     intermediate_dim=16),
    },
    "image_classification": {
        # Fashion-MNIST hybrid ViT: a conv stem makes 7x7 = 49 tokens, mean pooling, label
        # smoothing, XLA. Sized for 15 minutes on 2 cores (~95 s an epoch): in 7 epochs the
        # shifts and flips of `augment` cost more accuracy (underfitting) than they save.
        "default": dict(model="vit", dataset="fashion_mnist", epochs=7, global_batch_size=128,
                        learning_rate=2e-3, weight_decay=0.05, warmup_fraction=0.05,
                        patch_size=4, pooling="mean", stem="conv", hidden_dim=64, num_layers=4,
                        num_heads=4, intermediate_dim=128, dropout=0.0, label_smoothing=0.1,
                        augment=False, jit_compile=True),
        "tiny": dict(model="vit", dataset="fashion_mnist", epochs=1, global_batch_size=4,
                     steps_per_epoch=2, patch_size=7, hidden_dim=8, num_layers=1, num_heads=2,
                     intermediate_dim=16, dropout=0.0),
    },
    "translation": {
        # English -> Spanish verses (<= 120 characters a side, <= 40 tokens with punctuation).
        # 4 epochs fit in 15 minutes on 2 cores (624 s; validation token accuracy 0.434, test
        # BLEU 9.8 greedy, 11.4 beam 4); `--epochs=8` takes twice that for 0.484 and 14.5 / 17.0.
        "default": dict(model="transformer", dataset="en_es_verses", epochs=4,
                        global_batch_size=64, learning_rate=1e-3, warmup_fraction=0.05,
                        sequence_length=40, vocab_size=8000, hidden_dim=128, num_layers=2,
                        num_heads=4, intermediate_dim=256, dropout=0.1, label_smoothing=0.1),
        "tiny": dict(model="transformer", dataset="en_es_verses", epochs=1, global_batch_size=4,
                     steps_per_epoch=2, sequence_length=40, vocab_size=100, hidden_dim=8,
                     num_layers=1, num_heads=2, intermediate_dim=16),
    },
    "captioning": {
        # mnist_sequences: 1-4 digits, captions of at most 6 tokens with start and end.
        "default": dict(model="cnn", dataset="mnist_sequences", epochs=6, global_batch_size=64,
                        learning_rate=2e-3, warmup_fraction=0.05, sequence_length=6,
                        hidden_dim=64, num_layers=1, num_heads=4, intermediate_dim=128,
                        dropout=0.1, augment=False),
        "tiny": dict(model="cnn", dataset="mnist_sequences", epochs=1, global_batch_size=4,
                     steps_per_epoch=2, sequence_length=6, hidden_dim=8, num_layers=1,
                     num_heads=2, intermediate_dim=16, augment=False),
    },
    "language_modeling": {
        # Characters of the English verses, 128 a window.
        "default": dict(model="transformer", dataset="verses_text", epochs=3,
                        global_batch_size=64, learning_rate=2e-3, warmup_fraction=0.05,
                        sequence_length=128, hidden_dim=128, num_layers=2, num_heads=4,
                        intermediate_dim=512, dropout=0.1),
        "tiny": dict(model="transformer", dataset="verses_text", epochs=1, global_batch_size=4,
                     steps_per_epoch=2, sequence_length=16, hidden_dim=8, num_layers=1,
                     num_heads=2, intermediate_dim=16),
    },
}


def _parse_value(name, field_type, text):
    if field_type is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes"):
            return True
        if lowered in ("0", "false", "no"):
            return False
        raise ValueError(f"Override {name}={text!r}: expected a bool (true/false).")
    try:
        return field_type(text)
    except ValueError:
        raise ValueError(
            f"Override {name}={text!r}: expected a value of type {field_type.__name__}.") from None


def make_config(task="text_classification", preset="default", overrides=(), **fields):
    """Builds a `TrainConfig` from a task's preset, explicit fields and `key=value` overrides.

    Later sources win: preset values, then `fields`, then `overrides`.

    Args:
        task: one of `TASKS`.
        preset: a preset name of that task (see `PRESETS`).
        overrides: strings `key=value`, each key a `TrainConfig` field, the value parsed to the
            field's type.
        **fields: field values (already typed).

    Returns:
        The frozen `TrainConfig`.

    Example:

    >>> make_config("text_classification", "tiny", ["hidden_dim=16"]).hidden_dim
    16
    """
    if task not in PRESETS:
        raise ValueError(f"`task` must be one of {', '.join(PRESETS)}. Received: task={task!r}")
    if preset not in PRESETS[task]:
        raise ValueError(f"`config` must be a preset of task {task!r}: "
                         f"{', '.join(PRESETS[task])}. Received: config={preset!r}")
    types = typing.get_type_hints(TrainConfig)
    values = dict(PRESETS[task][preset], task=task)
    values.update({k: v for k, v in fields.items() if v is not None})
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"Override {item!r}: expected the form key=value.")
        if key not in types:
            raise ValueError(f"Override {item!r}: unknown key {key!r}. Known keys: "
                             f"{', '.join(sorted(types))}.")
        values[key] = _parse_value(key, types[key], text)
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise ValueError(f"Unknown config fields: {', '.join(unknown)}.")
    return TrainConfig(**values)
