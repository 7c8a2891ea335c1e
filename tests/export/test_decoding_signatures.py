"""`serving_beam` (Translator, Captioner) and `serving_sample` (MiniGPT), run as the server runs
them (`kinds.ServerSession`) on the session's exports (conftest.py): the Python models' tokens
for the same inputs, exactly; a left-out beam width is the default; bad inputs are named.

The fresh process (test_export_for_serving.py) checks the plan's cases of these signatures
outside our code, and test_batching.py that each row keeps its answer in a server batch.
"""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from seqmodels.export.decoding_signatures import DEFAULT_BEAM_WIDTH, MAX_BEAM_WIDTH
from tests.decoding.eager import eagerly
from tests.export import kinds

OUTPUT = {"translate": "translation", "caption": "caption"}
BATCH_INPUT = {"translate": "text", "caption": "images"}


def _inputs(exports, kind):
    """The plan's batch input of `kind` (texts or encoded images), decoded."""
    name = BATCH_INPUT[kind]
    return {name: kinds.decode(exports["plan"][kind]["inputs"][name])}


def _python(exports, kind, beam_size):
    """The Python model's strings for the plan's inputs, decoded with `beam_size` (its decoder
    run eagerly, `tests.decoding.eager`: the same tokens without a trace per width).

    Each (kind, width) is decoded once a session and kept with the exports: the models do not
    change, and the tests below ask for the same widths again (width 1, the default width)."""
    cache = exports["python_strings"]  # width 1 filled from `expected` (conftest.py)
    if (kind, beam_size) not in cache:
        built = exports["models"]
        with eagerly():
            if kind == "translate":
                ids = built["translator"].translate(built["source_ids"], 2, 3,
                                                    beam_size=beam_size)
            else:
                ids = built["captioner"].caption(built["gray"].astype(np.float32) / 255.0, 2, 3,
                                                 beam_size=beam_size)
        cache[kind, beam_size] = [kinds.sentence(row, 2, 3) for row in ids]
    return list(cache[kind, beam_size])


def _strings(outputs, name):
    return [value.decode() for value in outputs[name]]


@pytest.mark.parametrize("kind", ["translate", "caption"])
def test_beam_widths_one_to_four_give_the_python_models_tokens(sessions, exports, kind):
    """Each width, sent per row or once for all rows, gives `translate(beam_size=w)` /
    `caption(beam_size=w)` of the batch exactly; width 1 is `serving_default` (greedy)."""
    session, inputs = sessions[kind], _inputs(exports, kind)
    rows = len(next(iter(inputs.values())))
    answers = set()
    for width in range(1, 5):
        expected = _python(exports, kind, width)
        for beam_width in (np.full([rows], width, np.int32), np.array([width], np.int32)):
            got = _strings(session.run("serving_beam", dict(inputs, beam_width=beam_width)),
                           OUTPUT[kind])
            assert got == expected, (width, beam_width.shape)
        answers.add(tuple(expected))
    assert _strings(session.run("serving_default", inputs), OUTPUT[kind]) == _python(
        exports, kind, 1)
    assert any(any(row) for row in answers), "every decode was empty"
    if kind == "translate":
        assert len(answers) > 1, "the width changed nothing: the test would not see it ignored"


@pytest.mark.parametrize("kind", ["translate", "caption"])
def test_a_left_out_beam_width_is_the_default(sessions, exports, kind):
    """The SignatureDef carries `beam_width`'s default, which the server feeds for a request
    without it (TF Serving 2.14+); the session graph's placeholder holds the same default."""
    directory = exports["dirs"][kind]
    with open(os.path.join(directory, "saved_model.pb"), "rb") as f:
        saved_model = saved_model_pb2.SavedModel.FromString(f.read())
    signature = saved_model.meta_graphs[0].signature_def["serving_beam"]
    assert sorted(signature.defaults) == ["beam_width"]
    np.testing.assert_array_equal(tf.make_ndarray(signature.defaults["beam_width"]),
                                  [DEFAULT_BEAM_WIDTH])
    inputs = _inputs(exports, kind)
    for rows in (1, len(next(iter(inputs.values())))):
        request = {name: value[:rows] for name, value in inputs.items()}
        left_out = sessions[kind].run("serving_beam", request)
        assert _strings(left_out, OUTPUT[kind]) == _python(exports, kind,
                                                           DEFAULT_BEAM_WIDTH)[:rows]


def _sampling_request(exports):
    plan = exports["plan"]["generate_sample"]["inputs"]
    return {name: kinds.decode(value) for name, value in plan.items()}


def test_sampling_under_a_fixed_seed_gives_the_python_models_tokens(sessions, exports):
    """Each prompt with its own temperature, top-k, top-p and seed: `generate(strategy=
    "sample", seed=...)` of that prompt, run twice the same; other seeds draw otherwise; one
    setting sent once for all rows is that setting sent per row."""
    session, request = sessions["generate"], _sampling_request(exports)
    first = _strings(session.run("serving_sample", request), "completion")
    assert first == exports["expected"]["generate_sample"]
    assert _strings(session.run("serving_sample", request), "completion") == first
    reseeded = dict(request, seed=request["seed"] + 1000)
    assert _strings(session.run("serving_sample", reseeded), "completion") != first
    rows = len(request["prompt"])
    once = {"prompt": request["prompt"], "temperature": np.array([0.9], np.float32),
            "top_k": np.array([3], np.int32), "top_p": np.array([0.8], np.float32),
            "seed": np.array([7], np.int64)}
    per_row = {name: np.repeat(value, rows) if name != "prompt" else value
               for name, value in once.items()}
    assert _strings(session.run("serving_sample", once), "completion") == _strings(
        session.run("serving_sample", per_row), "completion")
    gpt, prompts = exports["models"]["gpt"], exports["models"]["prompts"]
    ids = [kinds.CHARACTERS.index(c) for c in prompts[0]]
    with eagerly():
        out = gpt.generate(np.array([ids]), 6, strategy="sample", temperature=0.9, top_k=3,
                           top_p=0.8, seed=7)[0, len(ids):]
    assert _strings(session.run("serving_sample", once), "completion")[0] == "".join(
        kinds.CHARACTERS[i] for i in out)


def _fails_naming(session, signature, inputs, message):
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        session.run(signature, inputs)
    assert message in str(error.value), str(error.value)[:600]


TWO_TEXTS = {"text": np.array([b"a good film", b"bad"], object)}
GRID = np.array([[b"a", b"b"], [b"c", b"d"]], object)


def _width_rule(received, rows=2, of="text"):
    return (f"`beam_width` must have shape (batch,) (one per row of `{of}`) or (1,) (one for "
            f"all); received shape {received} for a batch of {rows}")


@pytest.mark.parametrize("inputs,message", [
    (dict(TWO_TEXTS, beam_width=np.array([[1], [2]], np.int32)), _width_rule("[2 1]")),
    (dict(TWO_TEXTS, beam_width=np.array(2, np.int32)), _width_rule("[]")),
    (dict(TWO_TEXTS, beam_width=np.array([1, 2, 3], np.int32)), _width_rule("[3]")),
    (dict(TWO_TEXTS, beam_width=np.zeros([0], np.int32)), _width_rule("[0]")),
    (dict(TWO_TEXTS, beam_width=np.array([0, 2], np.int32)),
     f"`beam_width` must be in [1, {MAX_BEAM_WIDTH}]; received [0 2]"),
    (dict(TWO_TEXTS, beam_width=np.array([MAX_BEAM_WIDTH + 1], np.int32)),
     f"`beam_width` must be in [1, {MAX_BEAM_WIDTH}]; received [9 9]"),
    ({"text": GRID, "beam_width": np.array([2], np.int32)},
     "`text` must have shape (batch,); received shape [2 2]"),
    ({"text": GRID}, "`text` must have shape (batch,); received shape [2 2]"),
])
def test_bad_beam_requests_are_named(sessions, inputs, message):
    _fails_naming(sessions["translate"], "serving_beam", inputs, message)


def test_bad_caption_beam_requests_are_named(sessions):
    image = kinds.png(np.zeros((8, 16, 1), np.uint8))
    _fails_naming(sessions["caption"], "serving_beam",
                  {"images": np.array([image], object), "beam_width": np.array([1, 2], np.int32)},
                  _width_rule("[2]", rows=1, of="images"))
    _fails_naming(sessions["caption"], "serving_beam",
                  {"images": np.array([image, b"not an image"], object)},
                  "`images` must hold encoded PNG, JPEG, GIF or BMP bytes")


def _sampling(**changes):
    request = {"prompt": np.array([b"ab", b"c"], object),
               "temperature": np.array([1.0, 1.0], np.float32),
               "top_k": np.array([0, 2], np.int32), "top_p": np.array([1.0, 0.5], np.float32),
               "seed": np.array([1, 2], np.int64)}
    return dict(request, **changes)


@pytest.mark.parametrize("inputs,message", [
    (_sampling(temperature=np.array([0.0, 1.0], np.float32)),
     "`temperature` must be positive and finite; received [0 1]"),
    (_sampling(temperature=np.array([np.nan], np.float32)),
     "`temperature` must be positive and finite; received [nan nan]"),
    (_sampling(top_k=np.array([-1], np.int32)), "`top_k` must be >= 0 (0, or the vocabulary "
                                                "size 7 or more: every token); received [-1 -1]"),
    (_sampling(top_p=np.array([0.5, 1.5], np.float32)),
     "`top_p` must be in (0, 1]; received [0.5 1.5]"),
    (_sampling(top_p=np.array([0.0], np.float32)), "`top_p` must be in (0, 1]; received [0 0]"),
    (_sampling(seed=np.array([[1, 2]], np.int64)),
     "`seed` must have shape (batch,) (one per row of `prompt`) or (1,) (one for all); "
     "received shape [1 2] for a batch of 2"),
    (_sampling(top_k=np.array([1, 2, 3], np.int32)),
     "`top_k` must have shape (batch,) (one per row of `prompt`) or (1,) (one for all); "
     "received shape [3] for a batch of 2"),
    (_sampling(prompt=GRID), "`prompt` must have shape (batch,); received shape [2 2]"),
])
def test_bad_sampling_requests_are_named(sessions, inputs, message):
    _fails_naming(sessions["generate"], "serving_sample", inputs, message)


def test_a_parameter_of_another_dtype_is_refused_before_the_graph_runs(sessions):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expects arg\[\d\] to be int32 but "
                                                             r"float is provided"):
        sessions["translate"].run("serving_beam",
                                  dict(TWO_TEXTS, beam_width=np.array([2.0], np.float32)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expects arg\[\d\] to be int64 but "
                                                             r"int32 is provided"):
        sessions["generate"].run("serving_sample", _sampling(seed=np.array([1, 2], np.int32)))
