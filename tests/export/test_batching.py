"""Server-side batching: `batching_parameters.txt`, and the same answer alone or in a batch.

TF Serving's batching merges concurrent requests along the batch dimension, pads the merged
batch to an allowed size with copies of a row, and splits the outputs back
(`kinds.run_batched`). Each row's outputs must not depend on its neighbours: the text models
pad each batch to its longest text (the BERT classifier trims its padding per batch), the
decoders run until every row of the batch ended, and `serving_beam` runs every row in as many
slots as the widest beam of the merged batch asks for.
"""

import os

import numpy as np
import pytest
from google.protobuf import text_format

from seqmodels.export import export_for_serving, tf_serving
from tests.export import kinds

CASES = ["text", "vit", "vit_arrays", "cnn", "cnn_arrays", "forecast", "translate", "caption",
         "generate", "translate_beam", "caption_beam", "generate_sample", "bert"]


def _parameters(export_dir):
    with open(os.path.join(export_dir, tf_serving.BATCHING_PARAMETERS)) as f:
        return text_format.Parse(f.read(), tf_serving.batching_parameters_message()())


def test_every_export_writes_the_documented_defaults_next_to_models_config(exports, bert_export):
    for directory in [*exports["dirs"].values(), bert_export[0]]:
        export_dir = os.path.dirname(directory)
        assert sorted(f for f in os.listdir(export_dir) if not f.isdigit()) == [
            "batching_parameters.txt", "models.config"]
        parameters = _parameters(export_dir)
        assert parameters.max_batch_size.value == 32
        assert parameters.batch_timeout_micros.value == 2000
        assert parameters.num_batch_threads.value == 4
        assert parameters.max_enqueued_batches.value == 100
        assert list(parameters.allowed_batch_sizes) == [1, 2, 4, 8, 16, 32]
        assert parameters.pad_variable_length_inputs is False
    with open(os.path.join(os.path.dirname(exports["dirs"]["text"]),
                           "batching_parameters.txt")) as f:
        assert f.read().startswith("max_batch_size {\n  value: 32\n}\nbatch_timeout_micros {\n")


def test_parameters_can_be_changed_and_are_checked_before_writing(tmp_path):
    from seqmodels import models

    model = models.Forecaster(6, 2, hidden_dim=4)
    export_for_serving(model, str(tmp_path / "a"), warmup=False,
                       batching={"max_batch_size": 12, "batch_timeout_micros": 0})
    parameters = _parameters(str(tmp_path / "a"))
    assert parameters.max_batch_size.value == 12
    assert parameters.HasField("batch_timeout_micros")  # 0 is written, not left out
    assert list(parameters.allowed_batch_sizes) == [1, 2, 4, 8, 12]
    for batching, message in (({"max_batch": 3}, r"Unknown batching parameters \['max_batch'\]"),
                              ({"num_batch_threads": 0}, "`num_batch_threads` must be an "
                                                         "integer >= 1"),
                              ({"allowed_batch_sizes": [4, 2]}, "`allowed_batch_sizes` must "
                                                                "increase and end at"),
                              ("yes", "`batching` must be True, False or a dict")):
        with pytest.raises(ValueError, match=message):
            export_for_serving(model, str(tmp_path / "b"), batching=batching)
        assert not (tmp_path / "b").exists()
    export_for_serving(model, str(tmp_path / "c"), warmup=False)
    assert sorted(os.listdir(tmp_path / "c")) == ["1", "models.config"]  # batching=False


def _same(alone, batched, case):
    assert set(alone) == set(batched)
    for name, value in alone.items():
        if value.dtype == object or np.issubdtype(value.dtype, np.integer):
            np.testing.assert_array_equal(batched[name], value, err_msg=f"{case} {name}")
        else:
            np.testing.assert_allclose(batched[name], value, atol=1e-6, rtol=0,
                                       err_msg=f"{case} {name}")


@pytest.mark.parametrize("case", CASES)
def test_requests_alone_and_in_one_server_batch_give_the_same_outputs(sessions, exports,
                                                                      bert_export, case):
    spec = bert_export[1] if case == "bert" else exports["plan"][case]
    session = sessions[case.split("_")[0]]  # "translate_beam": the translator's export
    inputs = {name: kinds.decode(value) for name, value in spec["inputs"].items()}
    count = len(next(iter(inputs.values())))
    requests = [{name: value[i:i + 1] for name, value in inputs.items()} for i in range(count)]
    allowed = list(_parameters(os.path.dirname(spec["dir"])).allowed_batch_sizes)

    def run(merged):
        return session.run(spec["signature"], merged)

    alone = [run(request) for request in requests]
    # All N in one batch, padded to the next allowed size.
    for i, outputs in enumerate(kinds.run_batched(run, requests, allowed)):
        _same(alone[i], outputs, f"{case}[{i}]")
    # Requests of uneven sizes: all N rows in one request, then the first row again.
    whole, again = kinds.run_batched(run, [inputs, requests[0]], allowed)
    for i in range(count):
        _same(alone[i], {k: v[i:i + 1] for k, v in whole.items()}, f"{case}[{i}] of {count}")
    _same(alone[0], again, f"{case}[0] after {count}")
    assert count >= 3 and any(not np.array_equal(alone[0][k], other[k])
                              for other in alone[1:] for k in alone[0]), \
        "the requests give equal outputs: the test would not see rows mixed up"
