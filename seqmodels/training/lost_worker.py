"""A lost worker under multi-worker training: one readable line and a status, not a traceback.

When one process of a `MultiWorkerMirroredStrategy` job dies, TensorFlow's coordination
service notices that it stopped sending heartbeats (about 10-20 s here) and aborts the
survivors' collectives with an `UnavailableError` naming the unhealthy task. The survivors
cannot go on alone (the all-reduce needs every worker), so `CustomTrainingLoop` turns that
error into `LostWorker`: a `SystemExit` with status `LOST_WORKER` (43) whose message names the
lost task and says what to do. Restarting every task with the same command resumes from the
chief's last checkpoint.
"""

import re

LOST_WORKER = 43  # the exit status
_TASK = re.compile(r"/job:\w+/replica:\d+/task:\d+")
_SIGNS = ("unhealthy", "Collective ops is aborted", "stopped sending heartbeats",
          "Socket closed", "Connection reset", "failed to connect")


def is_peer_failure(error):
    """Whether a TensorFlow error says that another task of the cluster is gone.

    Example:

    >>> import tensorflow as tf
    >>> is_peer_failure(tf.errors.UnavailableError(None, None, "Collective ops is aborted by: "
    ...                 "The following tasks are unhealthy: /job:worker/replica:0/task:1"))
    True
    >>> is_peer_failure(tf.errors.InvalidArgumentError(None, None, "shapes differ"))
    False
    """
    import tensorflow as tf

    if isinstance(error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                          tf.errors.AbortedError)):
        return True
    return isinstance(error, tf.errors.OpError) and any(s in str(error) for s in _SIGNS)


def lost_tasks(message, own_task=None):
    """The task names (`/job:worker/replica:0/task:1`) an error message blames, own task aside.

    Example:

    >>> lost_tasks("aborted by: ... /job:worker/replica:0/task:0/device:CPU:0 ... unhealthy "
    ...            "(stopped sending heartbeats):\\n/job:worker/replica:0/task:1",
    ...            own_task="/job:worker/replica:0/task:0")
    ['/job:worker/replica:0/task:1']
    """
    names = []
    for name in _TASK.findall(message):
        if name != own_task and name not in names:
            names.append(name)
    return names


class LostWorker(SystemExit):
    """Another task of the job is gone; this one stops with status `LOST_WORKER`.

    Args:
        tasks: the lost tasks' names (may be empty when the error named none).
        checkpoint: the newest readable checkpoint the restarted job resumes from, or None.
        step: its global step.
        reason: the error's type name.
    """

    def __init__(self, tasks, checkpoint, step, reason):
        super().__init__(LOST_WORKER)
        self.tasks = tasks
        self.checkpoint = checkpoint
        self.step = step
        self.reason = reason

    def __str__(self):
        lost = " and ".join(self.tasks) or "another task of the cluster"
        resume = (f"it resumes from {self.checkpoint} (step {self.step})" if self.checkpoint
                  else "it starts from the beginning (no checkpoint yet)")
        return (f"Lost {lost} ({self.reason}): training cannot go on without it; exiting with "
                f"status {LOST_WORKER}. Restart every task of the job with the same command: "
                f"{resume}.")
