"""What each task of the training binary trains: its data, model, loss and export arguments.

`build_task(config, strategy)` returns a `Task`: the model (built inside `strategy.scope()`), an
unreduced loss, `dataset_fn(epoch)` giving the same global batches whenever an epoch is replayed
(exact resume), the validation and test batches, and what the export needs (tokenizers,
vocabularies, normalisation). Sequence outputs (translation, captioning, language modelling)
carry a third element, the per-token weight `labels != 0`, so padding counts in neither the loss
nor the token accuracy.
"""

import dataclasses
import typing

import keras
import numpy as np
import tensorflow as tf

from seqmodels import data
from seqmodels.models.captioner import Captioner
from seqmodels.models.cnn_classifier import CNNClassifier
from seqmodels.models.forecaster import Forecaster
from seqmodels.models.mini_gpt import MiniGPT
from seqmodels.models.text_classifier import TextClassifier
from seqmodels.models.translator import Translator
from seqmodels.models.vision_transformer import VisionTransformer

CLASS_NAMES = {
    "rotten_tomatoes": ["rotten", "fresh"],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}
# The model families of each task (`--model`).
MODELS = {
    "text_classification": ("transformer", "lstm", "gru", "bilstm", "simple_rnn"),
    "forecasting": ("lstm", "rnn", "transformer"),
    "image_classification": ("vit", "cnn"),
    "translation": ("transformer",),
    "captioning": ("cnn", "vit"),
    "language_modeling": ("transformer",),
}
START, END = "starttoken", "endtoken"


@dataclasses.dataclass
class Task:
    """One task's model and data, as `train_and_evaluate` consumes them.

    Attributes:
        model: the Keras model, built under the strategy's scope.
        loss: `loss(y_true, y_pred)` returning unreduced per-example or per-token losses.
        dataset_fn: `dataset_fn(epoch)`, the global batches of that epoch (repeatable).
        steps_per_epoch: optimizer steps per epoch.
        validation: batched validation split.
        test: batched test split.
        num_train: training examples (windows for forecasting and language modelling).
        accuracy: whether `argmax` accuracy means something (classes or tokens).
        export_kwargs: keyword arguments of `seqmodels.export.export_for_serving`.
        attention_input: one test input for the attention picture, or None.
        tokens: the token strings of `attention_input`'s positions (`(source, target)` pairs of
            lists for translation).
    """

    model: keras.Model
    loss: typing.Callable
    dataset_fn: typing.Callable
    steps_per_epoch: int
    validation: tf.data.Dataset
    test: tf.data.Dataset
    num_train: int
    accuracy: bool = True
    export_kwargs: dict = dataclasses.field(default_factory=dict)
    attention_input: typing.Any = None
    tokens: typing.Any = None


def _load(config, split, **options):
    return data.load(config.dataset, split, data_dir=config.data_dir or None, **options)


def _count(dataset):
    return int(dataset.reduce(np.int64(0), lambda n, *_: n + 1))


def _steps_per_epoch(config, num_train):
    steps = config.steps_per_epoch or num_train // config.global_batch_size
    if steps < 1:
        raise ValueError(f"The training split has {num_train} examples, fewer than one global "
                         f"batch of {config.global_batch_size}; lower global_batch_size or set "
                         "steps_per_epoch.")
    return steps


def _epochs_of(config, train, batch_fn):
    """`dataset_fn(epoch)`: `train` shuffled by (seed, epoch), repeated, batched by `batch_fn`."""
    def dataset_fn(epoch):
        shuffled = train.shuffle(16384, seed=config.seed * 1000 + epoch,
                                 reshuffle_each_iteration=False).repeat()
        return batch_fn(shuffled, epoch)
    return dataset_fn


def _train_split(config, **options):
    train = _load(config, "train", **options)
    if config.max_examples:
        train = train.take(config.max_examples)
    return train.cache()


def _class_names(dataset, info):
    return CLASS_NAMES.get(dataset, [str(i) for i in range(info.num_classes)])


def _task(config, model, train, num_train, batches, validation, test, loss=None, **fields):
    """The `Task` of `model` whose splits `batches(dataset, epoch=None)` turns into batches.

    The loss defaults to the (label-smoothed) sparse cross-entropy of the classification tasks.
    """
    return Task(model=model, loss=loss or _sparse_loss(config.label_smoothing),
                dataset_fn=_epochs_of(config, train, batches),
                steps_per_epoch=_steps_per_epoch(config, num_train),
                validation=batches(validation), test=batches(test), num_train=num_train,
                **fields)


def _check_model(config):
    if config.model not in MODELS[config.task]:
        raise ValueError(f"`model` must be one of {', '.join(MODELS[config.task])} for task "
                         f"{config.task!r}. Received: model={config.model!r}")


def _sparse_loss(label_smoothing=0.0):
    """Unreduced cross-entropy from logits of integer labels, with optional label smoothing."""
    if not label_smoothing:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    def loss(y_true, logits):
        one_hot = tf.one_hot(tf.cast(y_true, tf.int32), tf.shape(logits)[-1], dtype=logits.dtype)
        return keras.losses.categorical_crossentropy(one_hot, logits, from_logits=True,
                                                     label_smoothing=label_smoothing)
    return loss


def _check_lengths(name, lengths, limit, field="sequence_length"):
    """Fails when a text has more tokens than the model takes: nothing is truncated silently."""
    longest = int(max(lengths, default=0))
    if longest > limit:
        raise ValueError(f"A {name} has {longest} tokens, more than {field}={limit} allows; "
                         f"raise {field} (e.g. --override={field}={longest}).")


def _report_cut_texts(config, splits, lengths_of):
    """Prints, per split, how many texts have more tokens than the model reads.

    Classifiers read a text's first `sequence_length` tokens (the usual choice for long
    documents), so a longer text is cut, never dropped; this says so instead of doing it
    silently. `lengths_of(texts)` gives the token counts of a batch of strings.
    """
    limit = config.sequence_length
    for split, dataset in splits:
        lengths = np.concatenate([lengths_of(texts) for texts in
                                  dataset.map(lambda text, label: text).batch(1024)] or [[0]])
        cut = int(np.sum(lengths > limit))
        if cut:
            print(f"{cut} of {lengths.size} {split} texts have more than sequence_length={limit} "
                  f"tokens (the longest {lengths.max()}): the model reads their first {limit}; "
                  f"--override=sequence_length={lengths.max()} keeps every one whole.")


def _backbone_starts_trainable(config):
    """A fine-tune schedule (`head_epochs`) starts on a frozen backbone; `train` unfreezes it."""
    return config.backbone_trainable and not config.head_epochs


def _text_backbone_classification(config, strategy):
    """Text classification on a pretrained encoder: the model tokenizes raw strings itself."""
    from seqmodels import transfer

    train = _train_split(config)
    num_train = _count(train)
    info = data.info(config.dataset)

    def batches(dataset, epoch=None):
        return dataset.batch(config.global_batch_size,
                             drop_remainder=epoch is not None).prefetch(tf.data.AUTOTUNE)

    with strategy.scope():
        model = transfer.text_backbone_classifier(
            config.backbone, info.num_classes, sequence_length=config.sequence_length,
            trainable=_backbone_starts_trainable(config), dropout=config.dropout, seed=config.seed)
    validation, test = _load(config, "validation"), _load(config, "test")
    _report_cut_texts(config, [("train", train), ("validation", validation), ("test", test)],
                      lambda texts: transfer.text_lengths(model, texts))
    class_names = _class_names(config.dataset, info)
    return _task(config, model, train, num_train, batches, validation, test,
                 export_kwargs=dict(class_names=class_names))


def _text_classification(config, strategy):
    if config.backbone:
        return _text_backbone_classification(config, strategy)
    train = _train_split(config)
    num_train = _count(train)
    vectorizer = data.text_vectorizer(train.map(lambda text, label: text), config.vocab_size,
                                      sequence_length=config.sequence_length)
    validation, test = _load(config, "validation"), _load(config, "test")
    # A copy of the vectorizer that keeps every token: counts what the model's copy cuts.
    counter = keras.layers.TextVectorization.from_config(
        {**vectorizer.get_config(), "output_sequence_length": None, "ragged": True,
         "vocabulary": vectorizer.get_vocabulary()})
    _report_cut_texts(config, [("train", train), ("validation", validation), ("test", test)],
                      lambda texts: counter(texts).row_lengths().numpy())
    batch = config.global_batch_size

    def batches(dataset, epoch=None):
        return data.text_classification_pipeline(dataset, vectorizer, batch,
                                                 drop_remainder=epoch is not None)

    info = data.info(config.dataset)
    with strategy.scope():
        model = TextClassifier(
            vocab_size=config.vocab_size, num_classes=info.num_classes, encoder=config.model,
            sequence_length=config.sequence_length, hidden_dim=config.hidden_dim,
            num_layers=config.num_layers, num_heads=config.num_heads,
            intermediate_dim=config.intermediate_dim, dropout=config.dropout)
    class_names = _class_names(config.dataset, info)
    text = next(iter(test.take(1)))[0]
    ids = vectorizer(tf.expand_dims(text, 0)).numpy()
    length = max(int((ids[0] != 0).sum()), 1)
    vocabulary = vectorizer.get_vocabulary()
    return _task(config, model, train, num_train, batches, validation, test,
                 export_kwargs=dict(vectorizer=vectorizer, class_names=class_names),
                 attention_input=ids[:, :length],
                 tokens=[vocabulary[i] for i in ids[0, :length]])


def _forecasting(config, strategy):
    options = dict(window_length=config.window_length, horizon=config.horizon)
    train = _train_split(config, **options)
    num_train = _count(train)
    window_spec, target_spec = train.element_spec
    num_features, num_targets = window_spec.shape[-1], target_spec.shape[-1]

    def batches(dataset, epoch=None):
        return data.forecasting_pipeline(dataset, config.global_batch_size,
                                         drop_remainder=epoch is not None)

    with strategy.scope():
        model = Forecaster(config.window_length, num_features, horizon=config.horizon,
                           num_targets=num_targets, encoder=config.model,
                           hidden_dim=config.hidden_dim, num_layers=config.num_layers,
                           num_heads=config.num_heads, intermediate_dim=config.intermediate_dim,
                           dropout=config.dropout)
    export_kwargs = {}
    if config.dataset in ("sunspots", "co2", "stocks"):  # scaled series: serve in real units
        mean, std = data.normalization(config.dataset, data_dir=config.data_dir or None)
        export_kwargs = dict(mean=np.asarray(mean, np.float32), std=np.asarray(std, np.float32))
    return _task(config, model, train, num_train, batches,
                 _load(config, "validation", **options), _load(config, "test", **options),
                 loss=keras.losses.MeanSquaredError(reduction=None), accuracy=False,
                 export_kwargs=export_kwargs)


def _image_classification(config, strategy):
    train = _train_split(config)
    num_train = _count(train)
    image_shape = tuple(train.element_spec[0].shape)
    flip = config.dataset == "fashion_mnist"  # clothes, unlike digits, survive a mirror

    def batches(dataset, epoch=None):
        if epoch is None:
            return data.image_pipeline(dataset, config.global_batch_size)
        return data.image_pipeline(dataset, config.global_batch_size, seed=config.seed + epoch,
                                   augment=config.augment, flip=flip and config.augment,
                                   drop_remainder=True)

    info = data.info(config.dataset)
    with strategy.scope():
        if config.backbone:
            from seqmodels import transfer

            model = transfer.image_backbone_classifier(
                config.backbone, image_shape, info.num_classes,
                weights=config.backbone_weights or None, dropout=config.dropout,
                trainable=_backbone_starts_trainable(config), seed=config.seed)
        elif config.model == "vit":
            model = VisionTransformer(
                image_shape, info.num_classes, variant=f"mu/{config.patch_size}",
                hidden_dim=config.hidden_dim, depth=config.num_layers,
                num_heads=config.num_heads, intermediate_dim=config.intermediate_dim,
                dropout=config.dropout, pooling=config.pooling, stem=config.stem)
        else:
            model = CNNClassifier(image_shape, info.num_classes, dropout=config.dropout)
    class_names = _class_names(config.dataset, info)
    return _task(config, model, train, num_train, batches, _load(config, "validation"),
                 _load(config, "test"),
                 export_kwargs=dict(class_names=class_names))


def _sequence_batches(encode):
    """Batch-level `encode(x, y) -> (inputs, labels)`, plus the weight `labels != 0`."""
    def with_weight(*example):
        inputs, labels = encode(*example)
        return inputs, labels, tf.cast(tf.not_equal(labels, 0), tf.float32)
    return with_weight


def _translation(config, strategy):
    train = _train_split(config)
    num_train = _count(train)
    length = config.sequence_length
    source = data.text_vectorizer(train.map(lambda en, es: en), config.vocab_size,
                                  sequence_length=length, standardize=data.split_punctuation)
    target = data.text_vectorizer(train.map(lambda en, es: f"{START} " + es + f" {END}"),
                                  config.vocab_size, sequence_length=length + 1,
                                  standardize=data.split_punctuation)
    for split in ("train", "validation", "test"):
        pairs = train if split == "train" else _load(config, split)
        counted = pairs.batch(1024).map(lambda en, es: (
            tf.strings.split(data.split_punctuation(en)).row_lengths(),
            tf.strings.split(data.split_punctuation(es)).row_lengths() + 2))
        for en_lengths, es_lengths in counted.as_numpy_iterator():
            _check_lengths(f"{split} source verse", en_lengths, length)
            _check_lengths(f"{split} target verse (with start and end)", es_lengths, length + 1,
                           field="sequence_length + 1")

    def encode(en, es):
        ids = target(f"{START} " + es + f" {END}")  # (batch, length + 1)
        return (source(en), ids[:, :-1]), ids[:, 1:]

    def batches(dataset, epoch=None):
        return (dataset.batch(config.global_batch_size, drop_remainder=epoch is not None)
                .map(_sequence_batches(encode), num_parallel_calls=tf.data.AUTOTUNE)
                .prefetch(tf.data.AUTOTUNE))

    with strategy.scope():
        # The learned vocabularies (at most vocab_size): no logits for ids that never occur.
        model = Translator(source.vocabulary_size(), target.vocabulary_size(),
                           max_source_length=length,
                           max_target_length=length + 1, hidden_dim=config.hidden_dim,
                           num_layers=config.num_layers, num_heads=config.num_heads,
                           intermediate_dim=config.intermediate_dim, dropout=config.dropout)
    vocabulary = target.get_vocabulary()
    en, es = next(iter(_load(config, "test").take(1)))
    (source_ids, target_ids), _ = encode(tf.expand_dims(en, 0), tf.expand_dims(es, 0))
    source_ids, target_ids = source_ids.numpy(), target_ids.numpy()
    n_source, n_target = int((source_ids != 0).sum()), int((target_ids != 0).sum())
    source_vocabulary = source.get_vocabulary()
    return _task(config, model, train, num_train, batches, _load(config, "validation"),
                 _load(config, "test"),
                 export_kwargs=dict(vectorizer=source, vocabulary=vocabulary,
                                   start_id=vocabulary.index(START),
                                   end_id=vocabulary.index(END), max_length=length + 1),
                 attention_input=(source_ids[:, :n_source], target_ids[:, :n_target]),
                 tokens=([source_vocabulary[i] for i in source_ids[0, :n_source]],
                        [vocabulary[i] for i in target_ids[0, :n_target]]))


def _captioning(config, strategy):
    train = _train_split(config)
    num_train = _count(train)
    words = ["", "[UNK]", START, END] + list(data.mnist_sequences.WORDS)
    lookup = keras.layers.StringLookup(vocabulary=words[2:], num_oov_indices=1, mask_token="")
    length = config.sequence_length  # start and end included
    for split in ("train", "validation", "test"):
        captions = train if split == "train" else _load(config, split)
        counted = captions.batch(1024).map(
            lambda image, caption: tf.strings.split(caption).row_lengths() + 2)
        for lengths in counted.as_numpy_iterator():
            _check_lengths(f"{split} caption (with start and end)", lengths, length)

    def encode(image, caption):
        tokens = tf.strings.split(f"{START} " + caption + f" {END}")
        ids = lookup(tokens.to_tensor("", shape=[None, length]))  # (batch, length), 0 = padding
        return (tf.cast(image, tf.float32) / 255.0, ids[:, :-1]), ids[:, 1:]

    def batches(dataset, epoch=None):
        return (dataset.batch(config.global_batch_size, drop_remainder=epoch is not None)
                .map(_sequence_batches(encode), num_parallel_calls=tf.data.AUTOTUNE)
                .prefetch(tf.data.AUTOTUNE))

    image_shape = tuple(train.element_spec[0].shape)
    with strategy.scope():
        model = Captioner(image_shape, len(words), max_length=length, encoder=config.model,
                          patch_size=config.patch_size, hidden_dim=config.hidden_dim,
                          num_layers=config.num_layers, num_heads=config.num_heads,
                          intermediate_dim=config.intermediate_dim, dropout=config.dropout)
    return _task(config, model, train, num_train, batches, _load(config, "validation"),
                 _load(config, "test"),
                 export_kwargs=dict(vocabulary=words, start_id=words.index(START),
                                   end_id=words.index(END), max_length=length))


def _language_modeling(config, strategy):
    train_text = _train_split(config)
    texts = {"train": "\n".join(t.decode() for t in train_text.as_numpy_iterator())}
    for split in ("validation", "test"):
        texts[split] = "\n".join(t.decode() for t in _load(config, split).as_numpy_iterator())
    vocabulary = [""] + sorted(set(texts["train"]))  # id 0: padding and unseen characters
    index = {c: i for i, c in enumerate(vocabulary) if c}
    length = config.sequence_length

    def windows(split):
        ids = np.array([index.get(c, 0) for c in texts[split]], np.int32)
        starts = np.arange(0, len(ids) - length - 1, length)
        if not len(starts):
            raise ValueError(f"The {split} text has {len(ids)} characters, too few for one "
                             f"window of sequence_length={length}.")
        # (windows, length) inputs and the same shifted by one character as labels.
        x = np.stack([ids[s:s + length] for s in starts])
        return tf.data.Dataset.from_tensor_slices((x, np.stack([ids[s + 1:s + length + 1]
                                                                for s in starts])))

    train = windows("train").cache()
    num_train = _count(train)

    def batches(dataset, epoch=None):
        # Unseen characters (id 0) are not targets: they carry no weight.
        return (dataset.batch(config.global_batch_size, drop_remainder=epoch is not None)
                .map(_sequence_batches(lambda x, y: (x, y)))
                .prefetch(tf.data.AUTOTUNE))

    with strategy.scope():
        model = MiniGPT(len(vocabulary), max_length=length,
                        hidden_dim=config.hidden_dim, num_layers=config.num_layers,
                        num_heads=config.num_heads, intermediate_dim=config.intermediate_dim,
                        dropout=config.dropout)
    # Served completions: half a window of new characters after the prompt.
    return _task(config, model, train, num_train, batches, windows("validation"),
                 windows("test"),
                 export_kwargs=dict(vocabulary=vocabulary, max_length=max(1, length // 2)))


BUILDERS = {
    "text_classification": _text_classification,
    "forecasting": _forecasting,
    "image_classification": _image_classification,
    "translation": _translation,
    "captioning": _captioning,
    "language_modeling": _language_modeling,
}


def build_task(config, strategy):
    """Builds `config`'s task: data, tokenizers and the model under `strategy.scope()`.

    Args:
        config: a `TrainConfig`.
        strategy: the `tf.distribute.Strategy` the model is built under.

    Returns:
        A `Task`.

    Example:

    >>> task = build_task(make_config("forecasting", "tiny"), tf.distribute.get_strategy())  # doctest: +SKIP
    >>> task.model.name, task.accuracy  # doctest: +SKIP
    ('forecaster', False)
    """
    _check_model(config)
    return BUILDERS[config.task](config, strategy)
