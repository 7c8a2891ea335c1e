"""Checkpoints you can trust: the newest one that reads back whole, and what was wrong with others.

`tf.train.latest_checkpoint` answers None when the newest checkpoint's `.index` file is gone
(a run would silently start over), raises on an empty or garbled `checkpoint` state file, and a
truncated or bit-flipped data file surfaces only inside `restore` (`IndexError: Read less bytes
than requested`, `DataLossError: Checksum does not match`). Here the candidates are every
`ckpt-<step>` the state file lists or the directory holds, newest first; each is read whole
(every tensor's checksum is verified) until one passes, and each one that fails is named with
its reason.
"""

import glob
import os
import re

import tensorflow as tf

_PREFIX = re.compile(r"^ckpt-(\d+)$")


class CheckpointsLostError(RuntimeError):
    """A run directory logs trained epochs but holds no checkpoint that reads back."""


def candidates(directory):
    """The checkpoint prefixes of `directory`, newest (highest step) first.

    Both the prefixes the `checkpoint` state file lists (even when their files are gone) and
    those whose `.index` file is present count; an unreadable state file is skipped.

    Args:
        directory: a `tf.train.CheckpointManager` directory (prefixes `ckpt-<step>`).

    Returns:
        A list of `(prefix, step)`.

    Example:

    >>> import tempfile
    >>> directory = tempfile.mkdtemp()
    >>> for step in (2, 10):
    ...     open(os.path.join(directory, f"ckpt-{step}.index"), "w").close()
    >>> [step for _, step in candidates(directory)]
    [10, 2]
    """
    indexes = glob.glob(os.path.join(directory, "ckpt-*.index"))
    prefixes = {path[:-len(".index")] for path in indexes}
    state = read_state(directory)
    if state is not None:
        prefixes.update(os.path.join(directory, os.path.basename(p))
                        for p in state.all_model_checkpoint_paths)
    found = []
    for prefix in prefixes:
        match = _PREFIX.match(os.path.basename(prefix))
        if match:
            found.append((prefix, int(match.group(1))))
    return sorted(found, key=lambda item: -item[1])


def read_state(directory):
    """The `checkpoint` state proto of `directory`, or None when it is missing or unreadable."""
    try:
        return tf.train.get_checkpoint_state(directory)
    except Exception:  # an empty or garbled text proto: ValueError or a ParseError
        return None


def state_problem(directory):
    """Why the `checkpoint` state file cannot be read, or None when it is fine or absent."""
    path = os.path.join(directory, "checkpoint")
    if not os.path.exists(path):
        return None
    try:
        tf.train.get_checkpoint_state(directory)
    except Exception as error:
        return f"{path} is unreadable ({type(error).__name__}: {_first_line(error)})"
    return None


def repair_state(directory):
    """Rewrites an unreadable `checkpoint` state file from the checkpoints present.

    Returns:
        A line saying what was wrong and done, or None when nothing was.
    """
    problem = state_problem(directory)
    if problem is None:
        return None
    present = [prefix for prefix, _ in candidates(directory)
               if os.path.exists(prefix + ".index")]
    if present:
        tf.compat.v1.train.update_checkpoint_state(
            directory, present[0], all_model_checkpoint_paths=list(reversed(present)))
    else:
        os.remove(os.path.join(directory, "checkpoint"))
    return f"{problem}; rewritten from the checkpoints present ({len(present)})."


def _first_line(error):
    return (str(error).strip().splitlines() or [""])[0][:200]


def check_readable(prefix):
    """Reads every tensor of the checkpoint `prefix`; returns why it failed, or None.

    Example:

    >>> check_readable("/nonexistent/ckpt-3")
    'its index file /nonexistent/ckpt-3.index is missing'
    """
    if not os.path.exists(prefix + ".index"):
        return f"its index file {prefix}.index is missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as error:  # DataLossError, IndexError, OpError: whatever the bytes say
        return f"{type(error).__name__}: {_first_line(error)}"
    return None


def newest_readable(directory):
    """The newest checkpoint of `directory` that reads back whole.

    Args:
        directory: a `tf.train.CheckpointManager` directory.

    Returns:
        `(prefix, step, problems)`: the prefix and step of the newest readable checkpoint
        (`(None, 0, ...)` when none is), and one line per newer checkpoint (or state file) that
        failed, naming its file and the reason.
    """
    problems = [p for p in (state_problem(directory),) if p]
    for prefix, step in candidates(directory):
        problem = check_readable(prefix)
        if problem is None:
            return prefix, step, problems
        problems.append(f"checkpoint {prefix} is unreadable: {problem}")
    return None, 0, problems
