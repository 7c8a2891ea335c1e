"""The exit statuses of the training binary, so that a cluster's scheduler can act on them.

| status | meaning | what to do |
|---|---|---|
| 0 | the run finished | nothing |
| 1 | an error with a traceback (a bug, or a failure not foreseen) | read it |
| 2 | `REFUSED`: a flag, the environment or `model_dir` makes the run impossible (preflight, the config guard, missing or bad data (the validation pass runs before the run directory is written), a `--data_option` the dataset does not take or a bad value of one, history without a readable checkpoint); nothing was written | fix what the one-line message names |
| 42 | `PREEMPTED`: SIGTERM; a checkpoint of the step it arrived in was written (`seqmodels.training.preemption`) | run the same command again: it resumes from that step |
| 43 | `LOST_WORKER`: another task of a multi-worker job died; the survivor names it (`seqmodels.training.lost_worker`) | restart every task with the same command: it resumes from the chief's last checkpoint |

`run_refusing` turns the refusals into one line on stderr and status 2 instead of a traceback.
"""

import sys

from seqmodels.data import BadDataError, DataNotFoundError, DataOptionError
from seqmodels.training.checkpoints import CheckpointsLostError
from seqmodels.training.config_guard import ConfigMismatchError
from seqmodels.training.lost_worker import LOST_WORKER  # noqa: F401 (documented here)
from seqmodels.training.preemption import PREEMPTED  # noqa: F401 (documented here)
from seqmodels.training.preflight import PreflightError

REFUSED = 2
REFUSALS = (PreflightError, ConfigMismatchError, DataNotFoundError, BadDataError,
            DataOptionError, CheckpointsLostError)


def run_refusing(function, *args, **kwargs):
    """Calls `function`; a refusal (`REFUSALS`) exits with status `REFUSED` and its message.

    Args:
        function: what the binary runs (e.g. `train_and_evaluate`).
        *args, **kwargs: its arguments.

    Returns:
        What `function` returns.

    Raises:
        SystemExit: with status `REFUSED`, after printing the refusal to stderr.

    Example:

    >>> def refuse():
    ...     raise PreflightError("`--model_dir` must name a directory.")
    >>> try:
    ...     run_refusing(refuse)
    ... except SystemExit as exit:
    ...     exit.code
    2
    """
    try:
        return function(*args, **kwargs)
    except REFUSALS as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        raise SystemExit(REFUSED) from None
