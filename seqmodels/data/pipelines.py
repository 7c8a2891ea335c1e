"""tf.data pipelines: text (vocabulary from the training split), time-series windows, images.

Every pipeline ends with `prefetch(AUTOTUNE)` and shuffles deterministically under a seed (the
same seed gives the same order, epoch after epoch in a fresh process).

Text: a tokenizer is a Keras layer whose vocabulary is learned from the training split only
(`text_vectorizer`: `keras.layers.TextVectorization`; `word_piece_tokenizer`: keras-hub's
`WordPieceTokenizer`). Put it in the model (or the export) and the vocabulary is saved with it.
Token id 0 is padding in both, so `padding_mask = token_ids != 0`, and
`keras.layers.Embedding(mask_zero=True)` derives the same mask.
"""

import keras
import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


@keras.saving.register_keras_serializable(package="seqmodels")
def split_punctuation(text):
    """Lower-cases Unicode text and sets every punctuation mark apart as a token of its own.

    A standardisation for `text_vectorizer` where punctuation carries meaning (translation
    targets, generated text). Letters of any script stay words: `\\p{L}` and `\\p{N}` are
    Unicode classes, where RE2's `\\w` is ASCII-only and would cut "canción" into
    "canci ó n".

    Example:

    >>> split_punctuation(tf.constant("¿Dónde está?")).numpy().decode()
    ' ¿ dónde está ? '
    """
    lowered = tf.strings.lower(text, encoding="utf-8")
    return tf.strings.regex_replace(lowered, r"([^\p{L}\p{N}\s])", r" \1 ")


def text_vectorizer(train_texts, vocab_size, sequence_length=None,
                    standardize="lower_and_strip_punctuation"):
    """A `keras.layers.TextVectorization` whose vocabulary is learned from `train_texts` only.

    The layer maps strings to int token ids (0 = padding, 1 = out of vocabulary). It is a Keras
    layer: put it in a model (or export) and its vocabulary is saved with it.

    Args:
        train_texts: a `tf.data.Dataset` of strings, or a list of strings, from the training
            split (never validation or test: that would leak their words).
        vocab_size: the largest vocabulary, padding and OOV included.
        sequence_length: pad/truncate every text to this many tokens; `None` pads each batch to
            its longest text (use with `bucket_by_length`).
        standardize: TextVectorization's standardisation.

    Example:

    >>> vectorize = text_vectorizer(["a good film", "a bad film"], vocab_size=10)
    >>> vectorize(["good film"]).shape
    TensorShape([1, 2])
    """
    layer = keras.layers.TextVectorization(
        max_tokens=vocab_size, output_sequence_length=sequence_length, standardize=standardize)
    layer.adapt(train_texts.batch(1024) if isinstance(train_texts, tf.data.Dataset) else train_texts)
    return layer


def word_piece_tokenizer(train_texts, vocab_size, sequence_length=None, lowercase=True,
                         reserved_tokens=("[PAD]", "[UNK]", "[START]", "[END]")):
    """A keras-hub `WordPieceTokenizer` whose sub-word vocabulary is learned from `train_texts`.

    Sub-words keep rare words (names, Spanish inflections) apart from the out-of-vocabulary
    token. `"[PAD]"` is id 0 (padding), `"[UNK]"` id 1; `"[START]"` and `"[END]"` are there
    for decoders. The tokenizer is a Keras layer: inside a model its vocabulary is saved with
    it.

    Args:
        train_texts: a `tf.data.Dataset` of strings, or a list of strings, from the training
            split only.
        vocab_size: the largest vocabulary, reserved tokens included.
        sequence_length: pad/truncate to this many tokens; `None` returns ragged ids for a
            batch (the pipelines pad them with 0).
        lowercase: lower-case before splitting.
        reserved_tokens: tokens placed first in the vocabulary, `"[PAD]"` and `"[UNK]"` first.

    Example:

    >>> tokenizer = word_piece_tokenizer(["a good film", "a bad film"], vocab_size=30)
    >>> tokenizer.id_to_token(0), tokenizer.id_to_token(1)
    ('[PAD]', '[UNK]')
    """
    import keras_hub

    if list(reserved_tokens[:2]) != ["[PAD]", "[UNK]"]:
        raise ValueError("`reserved_tokens` must start with '[PAD]', '[UNK]'. Received: "
                         f"reserved_tokens={tuple(reserved_tokens)}")
    if not isinstance(train_texts, tf.data.Dataset):
        train_texts = tf.data.Dataset.from_tensor_slices(tf.constant(list(train_texts), tf.string))
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        train_texts.batch(1024), vocab_size, lowercase=lowercase,
        reserved_tokens=list(reserved_tokens))
    return keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=vocabulary, sequence_length=sequence_length, lowercase=lowercase,
        oov_token="[UNK]")


def _token_ids(tokenizer, texts):
    """Dense token ids of a batch of strings, padded with 0 (ragged outputs too)."""
    ids = tokenizer(texts)
    return ids.to_tensor(0) if isinstance(ids, tf.RaggedTensor) else ids


def padding_mask(token_ids):
    """`token_ids != 0`: True on tokens, False on padding.

    Example:

    >>> padding_mask(tf.constant([[5, 3, 0]])).numpy().tolist()
    [[True, True, False]]
    """
    return tf.not_equal(token_ids, 0)


def text_classification_pipeline(dataset, vectorizer, batch_size, shuffle=False, seed=0,
                                 bucket_boundaries=None, drop_remainder=False,
                                 return_padding_mask=False):
    """Batches `(text, label)` into `(token_ids, label)`, padded with 0 (the mask's zero).

    With `bucket_boundaries`, texts are tokenized one by one and grouped by length with
    `tf.data.Dataset.bucket_by_sequence_length`, so a batch holds texts of similar length and
    is padded only to its own longest text.

    Args:
        dataset: unbatched `(text, label)` pairs.
        vectorizer: the tokenizer layer learned on the training split (`text_vectorizer` or
            `word_piece_tokenizer`).
        batch_size: examples per batch.
        shuffle: shuffle every epoch (deterministic under `seed`).
        seed: the shuffle seed.
        bucket_boundaries: increasing token-length boundaries (`None`: plain batches).
        drop_remainder: drop the last short batch (of each bucket).
        return_padding_mask: yield `({"token_ids": ids, "padding_mask": ids != 0}, label)`,
            the input format of keras-hub backbones.

    Example:

    >>> texts = ["a good film", "a bad film", "good acting"]
    >>> ds = tf.data.Dataset.from_tensor_slices((texts, [1, 0, 1]))
    >>> vectorize = text_vectorizer(texts, vocab_size=20)
    >>> ids, labels = next(iter(text_classification_pipeline(ds, vectorize, 2)))
    >>> ids.numpy().shape
    (2, 3)
    """
    if shuffle:
        dataset = dataset.shuffle(16384, seed=seed, reshuffle_each_iteration=True)
    if bucket_boundaries:
        boundaries = list(bucket_boundaries)
        if boundaries != sorted(set(boundaries)) or boundaries[0] < 1:
            raise ValueError("`bucket_boundaries` must be strictly increasing positive integers. "
                             f"Received: bucket_boundaries={bucket_boundaries!r}")

        def tokenize(text, label):
            ids = _token_ids(vectorizer, tf.expand_dims(text, 0))[0]
            return tf.boolean_mask(ids, ids > 0), label  # drop padding; buckets pad again

        dataset = dataset.map(tokenize, num_parallel_calls=AUTOTUNE).bucket_by_sequence_length(
            lambda ids, label: tf.shape(ids)[0], boundaries,
            [batch_size] * (len(boundaries) + 1), drop_remainder=drop_remainder)
    else:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).map(
            lambda text, label: (_token_ids(vectorizer, text), label),
            num_parallel_calls=AUTOTUNE)
    if return_padding_mask:
        dataset = dataset.map(
            lambda ids, label: ({"token_ids": ids, "padding_mask": padding_mask(ids)}, label),
            num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)


def forecasting_pipeline(dataset, batch_size, shuffle=False, seed=0, drop_remainder=False):
    """Batches `(window, target)` pairs (already normalised by `seqmodels.data.load`).

    Args:
        dataset: unbatched `(window, target)` pairs.
        batch_size: windows per batch.
        shuffle: shuffle every epoch (deterministic under `seed`); the windows of the training
            split may be shuffled, the splits themselves stay chronological.
        seed: the shuffle seed.
        drop_remainder: drop the last short batch.

    Example:

    >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 4, 1)), np.zeros((5, 2, 1))))
    >>> [tuple(x.shape) for x, _ in forecasting_pipeline(ds, 2)]
    [(2, 4, 1), (2, 4, 1), (1, 4, 1)]
    """
    if shuffle:
        dataset = dataset.shuffle(16384, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)


def windows_from_array(values, window_length, horizon, batch_size, shuffle=False, seed=0):
    """`(window, target)` batches of a (time, features) array via Keras' window utility.

    Each example is `window_length + horizon` consecutive steps: the first `window_length` are
    the input, the last `horizon` the target.

    Example:

    >>> batches = windows_from_array(np.arange(20.0)[:, None], 5, 2, batch_size=4)
    >>> [tuple(t.shape) for t in next(iter(batches))]
    [(4, 5, 1), (4, 2, 1)]
    """
    values = np.asarray(values, np.float32)
    dataset = keras.utils.timeseries_dataset_from_array(
        values, None, sequence_length=window_length + horizon, batch_size=batch_size,
        shuffle=shuffle, seed=seed)
    # (batch, window_length + horizon, features) -> input (.., window_length, ..), target (.., horizon, ..)
    dataset = dataset.map(lambda w: (w[:, :window_length], w[:, window_length:]),
                          num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)


def image_pipeline(dataset, batch_size, shuffle=False, seed=0, augment=False, flip=False,
                   drop_remainder=False):
    """Scales `(image uint8, label)` to float32 in [0, 1] and batches; optional augmentation.

    Augmentation (for the training split only): a random shift of up to 2 pixels in each
    direction (zero padding, then a stateless random crop back to the original size, keyed
    by a seeded random stream: the same seed gives the same shifts) and, with `flip`, a random
    left-right flip. Flips suit clothes (Fashion-MNIST), not digits or the left-right order of
    `mnist_sequences`, so they are off by default.

    Args:
        dataset: unbatched `(image uint8 (h, w, c), label)` pairs (the label may be a caption).
        batch_size: images per batch.
        shuffle: shuffle every epoch (deterministic under `seed`).
        seed: the shuffle and augmentation seed.
        augment: apply the random shift.
        flip: with `augment`, also flip left-right at random.
        drop_remainder: drop the last short batch.

    Example:

    >>> ds = tf.data.Dataset.from_tensor_slices((np.full((3, 8, 8, 1), 255, np.uint8), [0, 1, 2]))
    >>> images, labels = next(iter(image_pipeline(ds, 2)))
    >>> images.dtype.name, float(images.numpy().max())
    ('float32', 1.0)
    """
    if flip and not augment:
        raise ValueError("`flip=True` is part of the augmentation: pass `augment=True` too. "
                         "Received: augment=False, flip=True")
    if shuffle:
        dataset = dataset.shuffle(16384, seed=seed, reshuffle_each_iteration=True)

    def scale(image, label):
        return tf.cast(image, tf.float32) / 255.0, label

    dataset = dataset.map(scale, num_parallel_calls=AUTOTUNE)
    if augment:
        def shift(example, key):
            image, label = example
            padded = tf.pad(image, [[2, 2], [2, 2], [0, 0]])
            image = tf.image.stateless_random_crop(padded, tf.shape(image), seed=key)
            if flip:
                image = tf.image.stateless_random_flip_left_right(image, seed=key[::-1])
            return image, label

        # A seeded stream of per-image keys: the same shifts for the same seed in any process,
        # new ones each epoch.
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip((dataset, keys)).map(shift, num_parallel_calls=AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)
