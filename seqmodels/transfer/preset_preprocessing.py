"""Wraps a keras-hub text preprocessor so a functional model holding it reloads from `.keras`."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="seqmodels")
class PresetPreprocessing(keras.layers.Layer):
    """Runs a keras-hub text preprocessor (strings -> token ids, masks) inside a functional model.

    Calling a keras-hub preprocessor directly on a `keras.Input` works, but such a model fails
    to reload from a `.keras` file: rebuilding the graph calls the tokenizer before keras-hub
    has loaded its vocabulary (an asset restored after the graph). This layer gives the output
    specs from `output_dtypes`, recorded when the model is first built (one eager call on an
    empty string) and kept in its config, so rebuilding the graph never calls the tokenizer and
    the vocabulary is restored with the other assets.

    Args:
        preprocessor: a keras-hub `TextClassifierPreprocessor` (or its serialized config).
        output_dtypes: the dtype of each output (found by the first symbolic call if None).
        **kwargs: base layer arguments.

    Example:

    >>> import keras_hub
    >>> tokenizer = keras_hub.models.BertTokenizer(
    ...     vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "film"])
    >>> layer = PresetPreprocessing(
    ...     keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=4))
    >>> layer(keras.Input((), dtype="string"))["token_ids"].shape
    (None, 4)
    """

    def __init__(self, preprocessor, output_dtypes=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(preprocessor, dict):
            preprocessor = keras.saving.deserialize_keras_object(preprocessor)
        if not hasattr(preprocessor, "sequence_length") or not callable(preprocessor):
            raise ValueError("`preprocessor` must be a keras-hub text preprocessor with a "
                             f"sequence_length. Received: {type(preprocessor).__name__}")
        self.preprocessor = preprocessor
        self.output_dtypes = dict(output_dtypes) if output_dtypes else None

    def call(self, text):
        return self.preprocessor(text)

    def compute_output_spec(self, text):
        if self.output_dtypes is None:
            # One eager call on one string gives the dtypes: tracing the tokenizer into a
            # graph (what `compute_output_spec` does) costs seconds, this a few milliseconds.
            with tf.init_scope():
                outputs = self.preprocessor(tf.constant([""]))
            self.output_dtypes = {key: keras.backend.standardize_dtype(value.dtype)
                                  for key, value in outputs.items()}
        shape = (text.shape[0], self.preprocessor.sequence_length)
        return {key: keras.KerasTensor(shape, dtype=dtype)
                for key, dtype in self.output_dtypes.items()}

    def get_config(self):
        return {**super().get_config(),
                "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
                "output_dtypes": self.output_dtypes}
