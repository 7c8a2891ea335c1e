"""Bouncing-ball trajectories: "where does the ball go next?", simulated from physics.

A ball in a unit box under gravity and quadratic air drag, bouncing off the floor and the walls
with a coefficient of restitution; semi-implicit Euler at dt = 0.02 s. Each trajectory starts
from a random position and velocity drawn from its own seed: training, validation and test use
disjoint seed ranges, so no trajectory is shared. Elements are windows of past (x, y)
positions and the next `horizon` positions.
"""

import numpy as np

from seqmodels.data.dataset_info import DatasetInfo

SPLITS = ("train", "validation", "test")
GRAVITY = 9.81
DRAG = 0.1        # quadratic drag coefficient per unit mass (1/m)
RESTITUTION = 0.85
DT = 0.02
SPLIT_TRAJECTORIES = {"train": 400, "validation": 50, "test": 50}
SPLIT_SEED_OFFSET = {"train": 0, "validation": 1_000_000, "test": 2_000_000}
INFO = DatasetInfo(
    name="bouncing_ball", task="forecasting",
    description="Simulated 2-D trajectories of a ball under gravity, drag and bounces in a unit "
                "box (100 steps of 0.02 s each); disjoint trajectories per split.",
    features={"window": "float32 (window_length, 2)", "target": "float32 (horizon, 2)"},
    num_classes=0, splits=dict(SPLIT_TRAJECTORIES), license="Apache-2.0 (generated)",
    source="seqmodels.data.bouncing_ball.simulate", fetch="(generated; nothing to fetch)")


def simulate(seed, steps=100):
    """One trajectory: `(steps, 2)` float32 positions (x, y) in the unit box.

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


def trajectories(split, num_trajectories=None, steps=100):
    """`(num_trajectories, steps, 2)` trajectories of `split`, from its own seed range."""
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")
    count = SPLIT_TRAJECTORIES[split] if num_trajectories is None else num_trajectories
    offset = SPLIT_SEED_OFFSET[split]
    return np.stack([simulate(offset + i, steps) for i in range(count)])


def windows(paths, window_length, horizon):
    """All `(window, target)` pairs of consecutive positions in each trajectory."""
    inputs, targets = [], []
    for path in paths:
        for start in range(len(path) - window_length - horizon + 1):
            inputs.append(path[start:start + window_length])
            targets.append(path[start + window_length:start + window_length + horizon])
    return np.asarray(inputs, np.float32), np.asarray(targets, np.float32)
