"""Test-wide settings: quiet TensorFlow, deterministic seeds."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The kernels the training binary runs (trainers/train.py turns TensorFlow's oneDNN kernels on),
# so that a test in this process computes what the binary's processes compute.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# One thread per op: the tests' ops are small, and two pytest workers (`-n 2`) on the 2 cores
# each with a pool of 2 threads for every op spend more on handing work between threads than
# they gain (tests/models: 202 -> 185 s). Processes the tests start inherit it.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

# jax is installed for the backend tests only (`make setup`; `pip install seqmodels` has
# none), yet TensorFlow imports it at every start when it is there (TF Lite's optional
# `from jax import jit`, ~2 s). This process and the ones the tests start (they inherit
# PYTHONPATH) find tests/hidden_jax's stand-in first, which raises ImportError as a missing
# jax does; the jax backend test takes it off the path (`without_hidden_jax`).
HIDDEN_JAX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hidden_jax")


def without_hidden_jax(env):
    """`env` (a dict of environment variables) with tests/hidden_jax off its PYTHONPATH."""
    paths = [path for path in env.get("PYTHONPATH", "").split(os.pathsep)
             if path and path != HIDDEN_JAX]
    return {**env, "PYTHONPATH": os.pathsep.join(paths)}


sys.path.insert(0, HIDDEN_JAX)
_rest = without_hidden_jax(os.environ)["PYTHONPATH"]
os.environ["PYTHONPATH"] = os.pathsep.join([HIDDEN_JAX, _rest]) if _rest else HIDDEN_JAX


import gc  # noqa: E402

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`-n 2`'s `--dist load`, with the modules sharing a costly session fixture on one worker
    (tests/scheduling.py)."""
    if config.getvalue("dist") == "load":
        from tests.scheduling import SharedFixtureScheduling

        return SharedFixtureScheduling(config, log)
    return None


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture()
def young_heap():
    """Garbage collections during the test walk only the objects made since it began.

    Some code calls `gc.collect()` itself (TFLite's converter once per conversion, Keras'
    `Layer.__delattr__` once per variable deleted, so `quantize("int8")` once per kernel it
    replaces): in a test process full of objects from earlier tests each such collection takes
    0.5-1.5 s. Freezing the heap first (`gc.freeze`) leaves those objects out of every
    collection until the test ends, when `gc.unfreeze` hands them back; garbage the test makes
    is still collected.
    """
    gc.freeze()
    yield
    gc.unfreeze()
