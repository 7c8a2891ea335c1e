"""The training binary run in the test's own process (no second TensorFlow start).

absl flags are process-global: each run parses its argv into them and unparses them after, so
that the next test starts from the defaults. A test about the process itself (its exit status,
its stderr, a kill) starts `python -m trainers.train` instead.
"""

from absl import flags

from trainers import train as binary


def run_train_binary(argv):
    """Runs `seqmodels-train` with `argv` (the flags, without the program name) through
    `trainers.train.main`."""
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["seqmodels-train"] + list(argv))
    try:
        binary.main(["seqmodels-train"])
    finally:
        flags.FLAGS.unparse_flags()
