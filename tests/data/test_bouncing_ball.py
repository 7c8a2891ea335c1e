"""bouncing_ball: physics, determinism by seed, disjoint splits, windows, contracts."""

import re

import numpy as np
import pytest
import tensorflow as tf

from seqmodels import data
from seqmodels.data import bouncing_ball


def test_ball_stays_in_the_box_falls_and_bounces():
    path = bouncing_ball.simulate(0, steps=300)
    assert path.dtype == np.float32 and path.shape == (300, 2)
    assert path.min() >= 0.0 and path.max() <= 1.0
    vertical = np.diff(path[:, 1])
    assert (vertical < 0).any() and (vertical > 0).any()  # falls and comes back up


def test_free_flight_follows_gravity_and_drag():
    path = bouncing_ball.simulate(3).astype(np.float64)
    velocity = np.diff(path, axis=0) / bouncing_ball.DT  # (steps - 1, 2)
    acceleration = np.diff(velocity, axis=0) / bouncing_ball.DT
    # Semi-implicit Euler: a_t = g - drag * |v| v, with v the velocity before the step.
    speed = np.linalg.norm(velocity[:-1], axis=1, keepdims=True)
    expected = np.array([0.0, -bouncing_ball.GRAVITY]) - bouncing_ball.DRAG * speed * velocity[:-1]
    free = np.all(np.abs(acceleration - expected) < 1e-2, axis=1)
    assert free.mean() > 0.75  # all but the steps around a bounce (85% here)
    assert not free.all()  # and there are bounces


def test_same_seed_same_data_and_splits_disjoint():
    first = bouncing_ball.trajectories("test", 4, steps=30, seed=5)
    np.testing.assert_array_equal(first, bouncing_ball.trajectories("test", 4, steps=30, seed=5))
    assert not np.array_equal(first, bouncing_ball.trajectories("test", 4, steps=30, seed=6))
    starts = {split: bouncing_ball.trajectories(split, 20, steps=2)[:, 0]
              for split in bouncing_ball.SPLITS}
    for a in bouncing_ball.SPLITS:
        for b in bouncing_ball.SPLITS:
            if a < b:
                assert not any(np.array_equal(x, y) for x in starts[a] for y in starts[b])


def test_windows_are_consecutive_positions_of_one_trajectory():
    paths = bouncing_ball.trajectories("validation", 3, steps=30)
    x, y = bouncing_ball.windows(paths, 20, 3)
    assert x.shape == (3 * 8, 20, 2) and y.shape == (3 * 8, 3, 2)
    expected = [(p[s:s + 20], p[s + 20:s + 23]) for p in paths for s in range(8)]
    for (window, target), (ex, ey) in zip(zip(x, y), expected):
        np.testing.assert_array_equal(window, ex)
        np.testing.assert_array_equal(target, ey)


def test_load_contract():
    dataset = data.load("bouncing_ball", "validation", window_length=10, horizon=2,
                        num_trajectories=2)
    assert dataset.element_spec == (tf.TensorSpec((10, 2), tf.float32),
                                    tf.TensorSpec((2, 2), tf.float32))
    assert dataset.cardinality().numpy() == 2 * (100 - 12 + 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match=re.escape(
            "`window_length + horizon` must be at most the trajectory length 10. "
            "Received: window_length=8, horizon=3")):
        bouncing_ball.load("train", window_length=8, horizon=3, num_trajectories=1, steps=10)
    with pytest.raises(ValueError, match=re.escape(
            "`num_trajectories` must be a positive integer. Received: num_trajectories=0")):
        bouncing_ball.trajectories("train", 0)
    with pytest.raises(ValueError, match=re.escape(
            "`split` must be one of train, validation, test. Received: split='dev'")):
        bouncing_ball.trajectories("dev")
