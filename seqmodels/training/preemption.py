"""Preemption: SIGTERM (how clusters preempt) becomes a checkpoint at the next step boundary.

A cluster that reclaims a machine sends SIGTERM and, after a grace period, SIGKILL. While a
`PreemptionWatcher` is active, SIGTERM only sets a flag; `CustomTrainingLoop` looks at it after
each step, writes a checkpoint of that step and raises `Preempted`, a `SystemExit` with status
`PREEMPTED` (42, TensorFlow's own restart code for preemption).
Run the same command again and training resumes from that very step.
"""

import signal
import threading

PREEMPTED = 42  # the exit status; TensorFlow's PreemptionCheckpointHandler exits with 42 too


class Preempted(SystemExit):
    """Training stopped on SIGTERM after checkpointing; the process exits with `PREEMPTED`.

    Args:
        step: the global step of the checkpoint written.
        path: the checkpoint's prefix.
    """

    def __init__(self, step, path):
        super().__init__(PREEMPTED)
        self.step = step
        self.path = path

    def __str__(self):
        return (f"Preempted (SIGTERM): checkpoint {self.path} written at step {self.step}; "
                f"exiting with status {PREEMPTED}. Run the same command again to resume from "
                "that step.")


class PreemptionWatcher:
    """A context manager during which SIGTERM sets `requested` instead of ending the process.

    Outside the main thread (where Python cannot install signal handlers) it watches nothing.
    The previous handler comes back on exit.

    Example:

    >>> import os
    >>> with PreemptionWatcher() as watcher:
    ...     os.kill(os.getpid(), signal.SIGTERM)
    ...     watcher.requested
    True
    >>> signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    True
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame):
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None
        return False
