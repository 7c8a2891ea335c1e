"""Small SavedModels and layers for the hub tests (the fixtures in conftest.py build them once).

- `build_encoder`: a hand-made TF2 reusable SavedModel (an AutoTrackable, no Keras) with the TF Hub
  text-encoder contract: `__call__(inputs, training=False, output_scale=1.0)` on a dict
  (`input_word_ids`, `input_mask`, `input_type_ids`) returning `pooled_output` and
  `sequence_output`; dropout and a call counter when training; an L2 regularization loss on the
  pooler kernel; a `serving_default` signature.
- `build_backbone`: a tiny Keras model (Dense with an L2 regularizer, BatchNormalization, Dense)
  written with `export_reusable`.
- `VocabPreprocessor`: a Keras layer mapping tf.string (batch,) to the encoder's dict inputs
  through a StringLookup built from a vocabulary file.
"""

import keras
import numpy as np
import tensorflow as tf

VOCAB_SIZE = 12
WIDTH = 4
ENCODER_KEYS = ("input_word_ids", "input_mask", "input_type_ids")
REGULARIZATION = 0.01
WORDS = ["good", "bad", "film", "plot", "great", "dull", "acting", "story", "fun"]
SEQ_LENGTH = 5


def build_encoder(path):
    """Writes the hand-made encoder SavedModel to `path`; returns its initial variable values."""
    rng = np.random.RandomState(0)
    root = tf.__internal__.tracking.AutoTrackable()
    embeddings = tf.Variable(rng.randn(VOCAB_SIZE, WIDTH).astype("float32"),
                             name="encoder/embeddings")
    type_embeddings = tf.Variable(rng.randn(2, WIDTH).astype("float32"),
                                  name="encoder/type_embeddings")
    kernel = tf.Variable(rng.randn(WIDTH, WIDTH).astype("float32"), name="encoder/pooler/kernel")
    calls = tf.Variable(0, dtype=tf.int64, trainable=False, name="encoder/training_calls")
    root.variables = [embeddings, type_embeddings, kernel, calls]
    root.trainable_variables = [embeddings, type_embeddings, kernel]

    def encode(inputs, training=False, output_scale=1.0):
        mask = tf.cast(inputs["input_mask"], tf.float32)[..., None]  # (batch, seq, 1)
        sequence = (tf.gather(embeddings, inputs["input_word_ids"])
                    + tf.gather(type_embeddings, inputs["input_type_ids"]))  # (batch, seq, width)
        if training:
            sequence = tf.nn.dropout(sequence, rate=0.5)
            calls.assign_add(1)
        sequence = sequence * mask
        mean = tf.reduce_sum(sequence, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0)  # (batch, w)
        pooled = tf.tanh(mean @ kernel) * output_scale
        return {"pooled_output": pooled, "sequence_output": sequence}

    spec = {key: tf.TensorSpec([None, None], tf.int32) for key in ENCODER_KEYS}
    call = tf.function(encode)
    for training in (False, True):
        for scale in (1.0, 2.0):
            call.get_concrete_function(spec, training=training, output_scale=scale)
    root.__call__ = call
    loss = tf.function(lambda: REGULARIZATION * tf.reduce_sum(kernel ** 2), input_signature=[])
    loss.get_concrete_function()
    root.regularization_losses = [loss]

    def serve(input_word_ids, input_mask, input_type_ids):
        return encode({"input_word_ids": input_word_ids, "input_mask": input_mask,
                       "input_type_ids": input_type_ids})

    serving = tf.function(serve, input_signature=[
        tf.TensorSpec([None, None], tf.int32, name=key) for key in ENCODER_KEYS])
    tf.saved_model.save(root, path, signatures={"serving_default": serving})
    return [v.numpy() for v in root.variables]


def encoder_inputs(ids):
    ids = np.asarray(ids, "int32")
    return {"input_word_ids": ids, "input_mask": (ids > 0).astype("int32"),
            "input_type_ids": np.zeros_like(ids)}


def build_backbone():
    keras.utils.set_random_seed(1)
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="tanh",
                           kernel_regularizer=keras.regularizers.L2(REGULARIZATION)),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(3),
    ], name="backbone")


@keras.saving.register_keras_serializable(package="seqmodels_tests")
class VocabPreprocessor(keras.layers.Layer):
    """Lower-cases, splits on whitespace, looks words up in a vocabulary file, pads."""

    def __init__(self, vocabulary_file, seq_length=SEQ_LENGTH, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_file = vocabulary_file
        self.seq_length = seq_length
        self.lookup = keras.layers.StringLookup(vocabulary=vocabulary_file, mask_token="[PAD]",
                                                oov_token="[UNK]")

    def call(self, text):
        tokens = tf.strings.split(tf.strings.lower(text))  # ragged (batch, words)
        ids = tf.ragged.map_flat_values(self.lookup, tokens)
        ids = tf.cast(ids, tf.int32).to_tensor(0, shape=[None, self.seq_length])  # (batch, seq)
        return {"input_word_ids": ids, "input_mask": tf.cast(ids > 0, tf.int32),
                "input_type_ids": tf.zeros_like(ids)}
