"""Stands in for jax in the tests' TensorFlow processes (see tests/conftest.py).

TensorFlow imports jax at its own start whenever jax is installed (TF Lite's optional
`from jax import jit`), ~2 s a process; `pip install seqmodels` installs no jax, only
`make setup` does, for the backend tests, whose processes get the real one
(tests/layers/test_backends.py).
"""

raise ImportError("jax is hidden from the tests' TensorFlow processes (tests/conftest.py "
                  "puts tests/hidden_jax first on their path); the backend tests run jax in "
                  "processes of their own")
