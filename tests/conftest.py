"""Test-wide settings: quiet TensorFlow, deterministic seeds."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield


# Session fixtures that build for tens of seconds (every kind of model exported, a trained tiny
# run, a Hugging Face checkpoint). Under `pytest -n 2 --dist loadgroup` (`make test`) the tests
# that use one go to one worker, so each is built once instead of once per worker.
SHARED_SESSION_FIXTURES = ("exports", "tiny_run", "tiny_hf")


def pytest_collection_modifyitems(items):
    for item in items:
        for name in SHARED_SESSION_FIXTURES:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(name))
                break
