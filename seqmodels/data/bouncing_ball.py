"""Bouncing-ball trajectories: "where does the ball go next?", simulated from physics.

A ball in a unit box under gravity and quadratic air drag, bouncing off the floor and the walls
with a coefficient of restitution; semi-implicit Euler at dt = 0.02 s. Each trajectory starts
from a random position and velocity drawn from its own random stream, `(seed, split, index)`:
training, validation and test never share a trajectory, and the same seed gives the same
data. Elements are windows of past (x, y) positions and the next `horizon` positions.

Example:

>>> paths = trajectories("test", num_trajectories=2)
>>> paths.shape
(2, 100, 2)
"""

import numpy as np
import tensorflow as tf

from seqmodels.data.dataset_info import DatasetInfo

SPLITS = ("train", "validation", "test")
GRAVITY = 9.81
DRAG = 0.1        # quadratic drag coefficient per unit mass (1/m)
RESTITUTION = 0.85
DT = 0.02
SPLIT_TRAJECTORIES = {"train": 400, "validation": 50, "test": 50}
SPLIT_STREAM = {"train": 0, "validation": 1, "test": 2}
INFO = DatasetInfo(
    name="bouncing_ball", task="forecasting",
    description="Simulated 2-D trajectories of a ball under gravity, drag and bounces in a unit "
                "box (100 steps of 0.02 s each); splits count trajectories, none shared.",
    features={"window": "float32 (window_length, 2)", "target": "float32 (horizon, 2)"},
    num_classes=0, splits=dict(SPLIT_TRAJECTORIES), license="Apache-2.0 (generated)",
    source="seqmodels.data.bouncing_ball.simulate", fetch="(generated; nothing to fetch)")


def simulate(seed, steps=100):
    """One trajectory: `(steps, 2)` float32 positions (x, y) in the unit box.

    Args:
        seed: an int or a sequence of ints (`numpy.random.default_rng`'s seed).
        steps: positions to record, `DT` seconds apart.

    Example:

    >>> simulate(0).shape
    (100, 2)
    """
    rng = np.random.default_rng(seed)
    position = rng.uniform([0.1, 0.3], [0.9, 0.9])
    velocity = rng.uniform([-2.0, -1.0], [2.0, 2.0])
    path = np.empty((steps, 2), np.float32)
    for t in range(steps):
        path[t] = position
        speed = np.linalg.norm(velocity)
        acceleration = np.array([0.0, -GRAVITY]) - DRAG * speed * velocity
        velocity = velocity + DT * acceleration
        position = position + DT * velocity
        for axis in (0, 1):  # bounce off the walls (axis 0) and the floor/ceiling (axis 1)
            if position[axis] < 0.0:
                position[axis] = -position[axis]
                velocity[axis] = -RESTITUTION * velocity[axis]
            elif position[axis] > 1.0:
                position[axis] = 2.0 - position[axis]
                velocity[axis] = -RESTITUTION * velocity[axis]
    return path


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def trajectories(split, num_trajectories=None, steps=100, seed=0):
    """`(num_trajectories, steps, 2)` trajectories of `split`, each from its own random stream.

    Args:
        split: `"train"`, `"validation"` or `"test"`.
        num_trajectories: how many (default: 400 / 50 / 50).
        steps: positions per trajectory.
        seed: the dataset seed; trajectory `i` of `split` uses `(seed, split, i)`.

    Example:

    >>> trajectories("validation", num_trajectories=3, steps=10).shape
    (3, 10, 2)
    """
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")
    count = SPLIT_TRAJECTORIES[split] if num_trajectories is None else num_trajectories
    _check_positive("num_trajectories", count)
    _check_positive("steps", steps)
    return np.stack([simulate([seed, SPLIT_STREAM[split], i], steps) for i in range(count)])


def windows(paths, window_length, horizon):
    """All `(window, target)` pairs of consecutive positions inside each trajectory.

    Args:
        paths: array (trajectories, steps, 2).
        window_length: past positions per window.
        horizon: future positions per target.

    Returns:
        float32 arrays `(n, window_length, 2)` and `(n, horizon, 2)`,
        `n = trajectories * (steps - window_length - horizon + 1)`; no window crosses two
        trajectories.

    Example:

    >>> x, y = windows(np.zeros((2, 10, 2)), 4, 2)
    >>> x.shape, y.shape
    ((10, 4, 2), (10, 2, 2))
    """
    _check_positive("window_length", window_length)
    _check_positive("horizon", horizon)
    paths = np.asarray(paths, np.float32)
    if window_length + horizon > paths.shape[1]:
        raise ValueError(f"`window_length + horizon` must be at most the trajectory length "
                         f"{paths.shape[1]}. Received: window_length={window_length}, "
                         f"horizon={horizon}")
    # (trajectories, starts, 2, window_length + horizon) -> (trajectories * starts, length, 2)
    cut = np.lib.stride_tricks.sliding_window_view(paths, window_length + horizon, axis=1)
    cut = cut.transpose(0, 1, 3, 2).reshape(-1, window_length + horizon, paths.shape[2])
    return (np.ascontiguousarray(cut[:, :window_length]),
            np.ascontiguousarray(cut[:, window_length:]))


def load(split, window_length=24, horizon=1, num_trajectories=None, steps=100, seed=0):
    """`(window (window_length, 2), target (horizon, 2))` float32 pairs of `split`.

    Args:
        split: `"train"`, `"validation"` or `"test"`.
        window_length: past positions per window.
        horizon: future positions to predict.
        num_trajectories: trajectories to simulate (default: 400 / 50 / 50).
        steps: positions per trajectory.
        seed: the dataset seed.

    Example:

    >>> ds = load("test", window_length=10, horizon=3, num_trajectories=1)
    >>> [tuple(t.shape) for t in next(iter(ds))]
    [(10, 2), (3, 2)]
    """
    inputs, targets = windows(trajectories(split, num_trajectories, steps, seed),
                              window_length, horizon)
    return tf.data.Dataset.from_tensor_slices((inputs, targets))
