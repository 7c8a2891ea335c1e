"""The recurrent layers' tests run the scan loop they check.

On TensorFlow a sequence of known length up to `time_loop.AUTO_UNROLL_STEPS` steps is written
out without a loop (`time_loop.writes_out`); the tests' sequences (1-23 steps) would all take
that path, and the chunked scan (chunks, remainders, masks through the loop's arrays) would go
untested. Here the bound is 0, so the default path is the loop; `unroll=True` tests the
written-out steps against the Keras built-ins, and `test_rnn.test_short_sequences_are_written_out`
sets the bound back and checks that both paths agree.
"""

import pytest

from seqmodels.layers import time_loop


@pytest.fixture(autouse=True)
def scan_loop(monkeypatch):
    monkeypatch.setattr(time_loop, "AUTO_UNROLL_STEPS", 0)

