"""bouncing_ball (physics) and mnist_sequences (captions): determinism, disjointness, contracts."""

import numpy as np
import tensorflow as tf

from seqmodels.data import bouncing_ball, mnist_sequences


def test_ball_stays_in_the_box_falls_and_bounces():
    path = bouncing_ball.simulate(0, steps=300)
    assert path.min() >= 0.0 and path.max() <= 1.0
    vertical = np.diff(path[:, 1])
    assert (vertical < 0).any() and (vertical > 0).any()  # falls and comes back up
    np.testing.assert_array_equal(path, bouncing_ball.simulate(0, steps=300))


def test_splits_use_disjoint_trajectories():
    train = bouncing_ball.trajectories("train", 5)
    test = bouncing_ball.trajectories("test", 5)
    assert not any(np.array_equal(a, b) for a in train for b in test)
    x, y = bouncing_ball.windows(test, 20, 3)
    assert x.shape == (5 * 78, 20, 2) and y.shape == (5 * 78, 3, 2)
    np.testing.assert_array_equal(y[0], test[0, 20:23])


def test_captions_match_the_digits_drawn():
    digits = np.zeros((10, 28, 28, 1), np.uint8)
    for d in range(10):
        digits[d, d, d] = 255  # a marker pixel per digit
    canvases, captions = mnist_sequences.build(digits, np.arange(10), 50, seed=0)
    assert canvases.shape == (50, 28, 112, 1)
    for canvas, caption in zip(canvases, captions):
        words = caption.split()
        assert 1 <= len(words) <= 4
        for slot, word in enumerate(words):
            d = mnist_sequences.WORDS.index(word)
            assert canvas[d, 28 * slot + d, 0] == 255
        assert not canvas[:, 28 * len(words):].any()  # padding stays empty


def test_mnist_sequences_element_contract(tmp_path):
    from tests.data.fixtures import write_digits_csv
    from seqmodels.data import images

    write_digits_csv(tmp_path, "mnist_5k.csv.gz", 5000, 28)
    images.mnist_arrays.cache_clear()
    dataset = mnist_sequences.load("test", str(tmp_path), num_examples=3)
    assert dataset.element_spec == (tf.TensorSpec((28, 112, 1), tf.uint8),
                                    tf.TensorSpec((), tf.string))
    first = [c.numpy() for _, c in dataset]
    again = [c.numpy() for _, c in mnist_sequences.load("test", str(tmp_path), num_examples=3)]
    assert first == again
