"""A `TextVectorization` vocabulary counted in the tf.data pipeline: exact, one pass, every core.

`keras.layers.TextVectorization.adapt` tokenises and counts one batch at a time, in the
calling thread: 18.5 s for 100 MB of short reviews (bench/data.py's) on 2 quiet cores, four
times the reading; `learn_vectorizer` learns the same vocabulary from them in 5.4 s, and the
texts' lengths with it. It does the same work in the input pipeline: each batch of texts is
standardised and split as the layer's defaults do (`tf.strings.lower`, the layer's
punctuation pattern removed, `tf.strings.split` at whitespace) and counted
(`tf.unique_with_counts`) in a parallel map; the loop only adds each batch's counts of its
distinct tokens (`TokenTally`). The layer then gets the vocabulary `adapt` would have learned
(`set_vocabulary`): the `max_tokens - 2` most frequent tokens, ties broken by the larger
token, as its `finalize_state` sorts them. The same split gives each text's token count, for
the report of texts longer than the model reads.
"""

import keras
import numpy as np
import tensorflow as tf

# TextVectorization's "lower_and_strip_punctuation" (keras/src/layers/preprocessing).
PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
SPECIAL = (b"", b"[UNK]")  # the mask and out-of-vocabulary tokens: never learned
HASHES = 2**63 - 1  # fingerprint values
SIPHASH_KEY = [0x5EC0D15, 0xC0FFEE]


def tokens(texts):
    """The tokens of a batch of texts, as a default `TextVectorization` makes them (ragged).

    Example:

    >>> tokens(tf.constant(["A fine, WARM film!", "  "])).to_list()
    [[b'a', b'fine', b'warm', b'film'], []]
    """
    return tf.strings.split(tf.strings.regex_replace(tf.strings.lower(texts), PUNCTUATION, ""))


def learn_vectorizer(batches, vocab_size, sequence_length=None):
    """A default `TextVectorization` learned from batches of texts, and each text's token count.

    Args:
        batches: a `tf.data.Dataset` of 1-D string tensors: the training split's texts,
            batched (thousands a batch: each batch's distinct tokens are counted at once).
        vocab_size: the layer's `max_tokens` (padding and out-of-vocabulary included).
        sequence_length: its `output_sequence_length`.

    Returns:
        `(vectorizer, lengths)`: the layer, with the vocabulary its `adapt` on the texts
        learns, and an int64 array of the token count of every text, in order.

    Example:

    >>> texts = ["a good film", "a bad one, a", "good fun", "bad one"]
    >>> batches = tf.data.Dataset.from_tensor_slices(texts).batch(3)
    >>> vectorizer, lengths = learn_vectorizer(batches, 5, 4)
    >>> [str(token) for token in vectorizer.get_vocabulary()], lengths.tolist()
    (['', '[UNK]', 'a', 'one', 'good'], [3, 4, 2, 2])
    >>> adapted = keras.layers.TextVectorization(max_tokens=5, output_sequence_length=4)
    >>> adapted.adapt(texts)
    >>> adapted.get_vocabulary() == vectorizer.get_vocabulary()
    True
    """
    def count(batch):
        split = tokens(batch)
        unique, _, counts = tf.unique_with_counts(split.flat_values, out_idx=tf.int64)
        return (unique, *fingerprints(unique), counts, split.row_lengths())

    tally, lengths = TokenTally(), []
    counted = batches.map(count, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True).prefetch(tf.data.AUTOTUNE)
    vectorizer = keras.layers.TextVectorization(max_tokens=vocab_size,
                                                output_sequence_length=sequence_length)
    try:
        for unique, first, second, counts, row_lengths in counted:
            tally.add(unique, first.numpy(), second.numpy(), counts.numpy())
            lengths.append(row_lengths.numpy())
    except TokenCollision as e:
        print(f"{e}: the vocabulary is learned by TextVectorization.adapt instead (slower).")
        vectorizer.adapt(batches)
        return vectorizer, np.concatenate(
            [tokens(batch).row_lengths().numpy() for batch in batches] or [np.zeros(0, np.int64)])
    vocabulary = tally.most_frequent(vocab_size - 2)
    if len(vocabulary):
        vectorizer.set_vocabulary(vocabulary)
    else:  # nothing to learn: as `adapt` leaves it, the special tokens only
        vectorizer.adapt(tf.constant([""]))
    return vectorizer, np.concatenate(lengths or [np.zeros(0, np.int64)])


def fingerprints(strings):
    """Two independent 63-bit hashes of each string (FarmHash's fingerprint, and SipHash)."""
    return (tf.strings.to_hash_bucket_fast(strings, HASHES),
            tf.strings.to_hash_bucket_strong(strings, HASHES, SIPHASH_KEY))


class TokenCollision(Exception):
    """Two distinct tokens share a first fingerprint (about 1 in 10^8 at a million tokens)."""


class TokenTally:
    """Exact token counts, added a batch of distinct tokens at a time in vectorized numpy.

    A token is known by its two fingerprints (`fingerprints`): sorted arrays of the first
    one, the second, the count, and the token's place in `tokens` (the strings, kept once
    each). Adding a batch is a `searchsorted` and one insertion of the new tokens: no Python
    step a token (a dict took about 1 us a token, more than all the rest of the pass). Two
    tokens with the same first fingerprint are found by their second one (or by being in
    one batch) and raise `TokenCollision`; two that share both 63-bit fingerprints, the one
    case a count could merge, have a chance of about 1 in 10^25 at a million distinct tokens.

    Example:

    >>> tally = TokenTally()
    >>> for batch in (["a", "b"], ["b", "c"]):
    ...     strings = tf.constant(batch)
    ...     first, second = (f.numpy() for f in fingerprints(strings))
    ...     tally.add(strings, first, second, np.array([2, 1]))
    >>> tally.most_frequent(2)
    array([b'b', b'a'], dtype=object)
    """

    def __init__(self):
        self.first, self.second, self.counts, self.places = (
            np.zeros(0, np.int64) for _ in range(4))
        self.tokens = []

    def add(self, strings, first, second, counts):
        """Adds `counts` of the distinct `strings` (a tensor) of fingerprints `first`, `second`."""
        order = np.argsort(first, kind="stable")
        first, second, counts = first[order], second[order], counts[order]
        if np.any(first[1:] == first[:-1]):
            raise TokenCollision("Two tokens of one batch share a fingerprint")
        at = np.searchsorted(self.first, first)
        known = at < len(self.first)
        known[known] = self.first[at[known]] == first[known]
        if np.any(self.second[at[known]] != second[known]):
            raise TokenCollision("Two tokens share a fingerprint")
        self.counts[at[known]] += counts[known]
        new = ~known
        if new.any():
            added = int(new.sum())
            places = np.arange(len(self.tokens), len(self.tokens) + added)
            self.tokens.extend(tf.gather(strings, order[new]).numpy().tolist())
            # Their places in the merged arrays: each after the known ones before it.
            where = at[new] + np.arange(added)
            old = np.ones(len(self.first) + added, bool)
            old[where] = False
            self.first, self.second, self.counts, self.places = (
                _merged(kept, old, where, values) for kept, values in (
                    (self.first, first[new]), (self.second, second[new]),
                    (self.counts, counts[new]), (self.places, places)))

    def most_frequent(self, limit):
        """The `limit` most frequent tokens (bytes), ties broken by the larger token.

        The order of `TextVectorization`'s `finalize_state` (`np.lexsort((tokens, counts))`
        reversed), the mask and out-of-vocabulary tokens left out; only the tokens that can
        be among the first `limit` are sorted.
        """
        counts = self.counts.copy()
        for special in SPECIAL:
            first = fingerprints(tf.constant([special]))[0].numpy()[0]
            at = np.searchsorted(self.first, first)
            if at < len(self.first) and self.tokens[self.places[at]] == special:
                counts[at] = -1
        candidates = np.flatnonzero(counts >= 0)
        if limit < len(candidates):
            floor = np.partition(counts[candidates], len(candidates) - limit)[
                len(candidates) - limit]
            candidates = candidates[counts[candidates] >= floor]
        tokens = np.array([self.tokens[i] for i in self.places[candidates]], dtype=object)
        return tokens[np.lexsort((tokens, counts[candidates]))[::-1]][:limit]


def _merged(kept, old, where, values):
    merged = np.empty(len(old), np.int64)
    merged[old] = kept
    merged[where] = values
    return merged
