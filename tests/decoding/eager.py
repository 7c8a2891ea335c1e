"""`eagerly()`: the models' compiled decoders run eagerly inside, for expected values in tests."""

import contextlib

import tensorflow as tf


@contextlib.contextmanager
def eagerly():
    """Runs every `tf.function` eagerly inside (the models' `seqmodels.decoding.compiled`
    decoders among them), restoring the setting after.

    `translate`, `caption` and `generate` run their search as one compiled graph, traced once
    per model and setting; the search is written to run either way and gives the same tokens
    eagerly. Tests use this for a reference answer (a reloaded model's, the Python model's
    beside an export's graph), where a trace would cost seconds and a few eager steps of a tiny
    model cost a fraction of one. The graphs under test are traced as always, outside.

    Example:

    >>> double = tf.function(lambda x: 2 * x)
    >>> with eagerly():
    ...     tf.config.functions_run_eagerly(), int(double(tf.constant(3)))
    (True, 6)
    >>> tf.config.functions_run_eagerly()
    False
    """
    before = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(before)
