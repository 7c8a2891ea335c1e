"""A BERT text preprocessor as a `tf.Module`: strings -> TF Hub encoder inputs, vocab an asset."""

import os
import tempfile

import tensorflow as tf
import tensorflow_text as tf_text
from keras_hub.src.tokenizers.word_piece_tokenizer import pretokenize

ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")
MAX_BYTES_PER_WORD = 100  # as keras-hub's WordPieceTokenizer


class WordPiecePreprocessor(tf.Module):
    """Tokenizes and packs sentences for a BERT encoder with the TF Hub text-preprocessor contract.

    `preprocessor(text)` maps a `tf.string` batch `(batch,)` to `input_word_ids`, `input_mask`
    and `input_type_ids`, each int32 `(batch, sequence_length)`: `[CLS]` word pieces `[SEP]`,
    truncated to `sequence_length` and padded with `[PAD]`. The splitting (lower-casing, accent
    stripping, punctuation and CJK splits) is keras-hub's own `pretokenize`, and the word pieces
    come from a lookup table over the vocabulary file, so the ids equal keras-hub's
    `BertTextClassifierPreprocessor` for the same vocabulary and length. The vocabulary file is a
    `tf.saved_model.Asset`: written with `export_reusable` (or `tf.saved_model.save`), the
    SavedModel carries it in `assets/` and needs no other file. Loading it requires
    `import tensorflow_text` (its ops), as every TF Hub BERT preprocessor does.

    Args:
        vocabulary_file: a `vocab.txt` (one word piece a line, the line number is the id).
        sequence_length: the padded length, including `[CLS]` and `[SEP]`.
        lowercase: lower-case (Unicode case folding) before splitting.
        strip_accents: remove accent marks (NFD, then drop marks).
        split_on_cjk: split around CJK characters.
        suffix_indicator: the word-piece continuation prefix.
        unknown_token, start_token, end_token, pad_token: the special tokens.

    Example:

    >>> import os, tempfile
    >>> import tensorflow as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "good", "film", "##s"]
    >>> with open(path, "w") as f:
    ...     _ = f.write("\\n".join(vocabulary))
    >>> preprocessor = WordPiecePreprocessor(path, sequence_length=8)
    >>> preprocessor(tf.constant(["A good films"]))["input_word_ids"].numpy().tolist()
    [[2, 4, 5, 6, 7, 3, 0, 0]]
    """

    def __init__(self, vocabulary_file, sequence_length=128, lowercase=True, strip_accents=False,
                 split_on_cjk=True, suffix_indicator="##", unknown_token="[UNK]",
                 start_token="[CLS]", end_token="[SEP]", pad_token="[PAD]", name=None):
        super().__init__(name=name)
        if not isinstance(sequence_length, int) or sequence_length < 3:
            raise ValueError("`sequence_length` must be an integer >= 3 ([CLS], a word piece, "
                             f"[SEP]). Received: sequence_length={sequence_length!r}")
        vocabulary_file = os.fspath(vocabulary_file)
        if not os.path.isfile(vocabulary_file):
            raise FileNotFoundError("`vocabulary_file` must be a vocab.txt file. "
                                    f"Received: vocabulary_file={vocabulary_file!r}")
        with open(vocabulary_file, encoding="utf-8") as f:
            vocabulary = [line.rstrip("\n") for line in f]
        ids = {}
        for token in (unknown_token, start_token, end_token, pad_token):
            if token not in vocabulary:
                raise ValueError(f"The special token {token!r} is not in `vocabulary_file` "
                                 f"{vocabulary_file!r}")
            ids[token] = vocabulary.index(token)
        self.sequence_length = sequence_length
        self.lowercase = bool(lowercase)
        self.strip_accents = bool(strip_accents)
        self.split_on_cjk = bool(split_on_cjk)
        self.vocabulary_size = len(vocabulary)
        self.start_id, self.end_id, self.pad_id = (ids[start_token], ids[end_token],
                                                   ids[pad_token])
        self.vocabulary_file = tf.saved_model.Asset(vocabulary_file)
        initializer = tf.lookup.TextFileInitializer(
            self.vocabulary_file, key_dtype=tf.string, key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
            value_dtype=tf.int64, value_index=tf.lookup.TextFileIndex.LINE_NUMBER)
        self.table = tf.lookup.StaticHashTable(initializer, default_value=ids[unknown_token])
        self._word_piece = tf_text.WordpieceTokenizer(
            self.table, suffix_indicator=suffix_indicator, max_bytes_per_word=MAX_BYTES_PER_WORD,
            token_out_type=tf.int64, unknown_token=unknown_token)

    @classmethod
    def from_keras_hub(cls, tokenizer, sequence_length=128):
        """Builds the preprocessor equal to a keras-hub `WordPieceTokenizer` (e.g. `BertTokenizer`).

        The vocabulary is written to a temporary `vocab.txt`, which saving copies into the
        SavedModel's assets.

        Args:
            tokenizer: a `keras_hub.tokenizers.WordPieceTokenizer`.
            sequence_length: the padded length.

        Returns:
            A `WordPiecePreprocessor`.
        """
        for attribute in ("get_vocabulary", "lowercase", "suffix_indicator", "oov_token"):
            if not hasattr(tokenizer, attribute):
                raise ValueError("`tokenizer` must be a keras-hub WordPieceTokenizer (e.g. "
                                 f"BertTokenizer). Received: a {type(tokenizer).__name__}")
        if getattr(tokenizer, "special_tokens_in_strings", False):
            raise ValueError("`tokenizer.special_tokens_in_strings=True` is not supported")
        directory = tempfile.mkdtemp(prefix="seqmodels_vocab_")
        path = os.path.join(directory, "vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(token + "\n" for token in tokenizer.get_vocabulary()))
        return cls(path, sequence_length, lowercase=tokenizer.lowercase,
                   strip_accents=tokenizer.strip_accents,
                   split_on_cjk=getattr(tokenizer, "split_on_cjk", True),
                   suffix_indicator=tokenizer.suffix_indicator,
                   unknown_token=tokenizer.oov_token,
                   start_token=getattr(tokenizer, "cls_token", "[CLS]"),
                   end_token=getattr(tokenizer, "sep_token", "[SEP]"),
                   pad_token=getattr(tokenizer, "pad_token", "[PAD]"))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def __call__(self, text):
        words = pretokenize(text, self.lowercase, self.strip_accents, True, self.split_on_cjk,
                            None)  # ragged (batch, words)
        pieces = self._word_piece.tokenize(words).merge_dims(-2, -1)  # ragged (batch, pieces)
        pieces = pieces[:, :self.sequence_length - 2]
        batch = tf.shape(text)[0]
        start = tf.fill([batch, 1], tf.constant(self.start_id, tf.int64))
        end = tf.fill([batch, 1], tf.constant(self.end_id, tf.int64))
        packed = tf.concat([start, pieces, end], axis=1)  # ragged (batch, <= sequence_length)
        ids = packed.to_tensor(self.pad_id, shape=[None, self.sequence_length])
        positions = tf.range(self.sequence_length, dtype=tf.int64)[None, :]
        mask = tf.cast(positions < packed.row_lengths()[:, None], tf.int32)
        ids = tf.cast(ids, tf.int32)
        return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": tf.zeros_like(ids)}

