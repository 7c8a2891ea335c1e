"""Bad inputs at every signature, fed as TF Serving's server feeds them (`kinds.ServerSession`).

The server runs whatever tensor a request holds: a wrong rank or size must fail with an
`InvalidArgumentError` that names the input, the expected shape and the received one, before an
op deep inside the graph fails with its own words. Empty batches and empty texts give the
documented outputs.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from tests.export import kinds

STRING_CASES = [("text", "text"), ("vit", "images"), ("cnn", "images"), ("translate", "text"),
                ("caption", "images"), ("generate", "prompt")]


def _fails_naming(session, signature, inputs, message):
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        session.run(signature, inputs)
    assert message in str(error.value), str(error.value)[:500]


@pytest.mark.parametrize("kind,name", STRING_CASES + [("bert", "text")])
def test_string_inputs_of_another_rank_are_named(sessions, kind, name):
    session = sessions[kind]
    grid = np.array([[b"a", b"b"], [b"c", b"d"]], object)
    _fails_naming(session, "serving_default", {name: grid},
                  f"`{name}` must have shape (batch,); received shape [2 2]")
    _fails_naming(session, "serving_default", {name: np.array(b"a", object)},
                  f"`{name}` must have shape (batch,); received shape []")


@pytest.mark.parametrize("kind,signature,name,shape", [
    ("forecast", "serving_default", "windows", (6, 2)),
    ("vit", "serving_arrays", "images", (8, 8, 3)),
    ("cnn", "serving_arrays", "images", (8, 8, 3))])
def test_arrays_of_another_shape_are_named(sessions, kind, signature, name, shape):
    expected = "(batch, " + ", ".join(map(str, shape)) + ")"
    for bad in ((2, shape[0] - 1, *shape[1:]), (2, *shape, 1), shape, (2, *shape[:-1], 0)):
        _fails_naming(sessions[kind], signature, {name: np.zeros(bad, np.float32)},
                      f"`{name}` must have shape {expected}; received shape "
                      f"[{' '.join(map(str, bad))}]")


@pytest.mark.parametrize("kind,signature,name", [
    *[(kind, "serving_default", name) for kind, name in STRING_CASES],
    ("forecast", "serving_default", "windows"), ("cnn", "serving_arrays", "images")])
def test_another_dtype_is_refused_before_the_graph_runs(sessions, exports, kind, signature,
                                                        name):
    """The session checks the dtype of a fed tensor against the signature's before the graph
    runs (so the graph cannot name the input): the server answers INVALID_ARGUMENT with the
    input's position; `tf.saved_model.load` callers get a like error."""
    wrong = np.zeros([1], np.int32) if name != "windows" and signature == "serving_default" \
        else np.full([1, 6, 2] if name == "windows" else [1, 8, 8, 3], "x", object)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expects arg\[0\] to be \w+ but "
                                                             r"\w+ is provided"):
        sessions[kind].run(signature, {name: wrong})
    loaded = exports["signature"](kind, signature)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input #0\(zero-based\) was "
                                                             r"expected to be a \w+ tensor"):
        loaded(**{name: tf.constant(wrong)})


@pytest.mark.parametrize("case", ["text", "vit", "vit_arrays", "cnn", "cnn_arrays", "forecast",
                                  "translate", "caption", "generate", "translate_beam",
                                  "caption_beam", "generate_sample", "bert"])
def test_empty_batches_give_empty_outputs(sessions, exports, bert_export, case):
    spec = bert_export[1] if case == "bert" else exports["plan"][case]
    kind = case.split("_")[0]
    inputs = {name: kinds.decode(value)[:0] for name, value in spec["inputs"].items()}
    outputs = sessions[kind].run(spec["signature"], inputs)
    assert outputs and all(value.shape[0] == 0 for value in outputs.values()), outputs


def test_an_empty_text_reads_as_one_unknown_token(sessions, exports):
    """As documented: `""` (and a text of punctuation only) scores as one unknown word."""
    out = sessions["text"].run("serving_default", {
        "text": np.array([b"", b"zzqx", b"...", b"a good film"], object)})["probabilities"]
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])
    assert not np.allclose(out[0], out[3])
    unknown = np.array([[1, 0, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(out[0], tf.nn.softmax(exports["models"]["text"](unknown))[0],
                               atol=1e-6)


def test_empty_texts_translate_complete_and_classify_with_bert(sessions):
    empty = {"text": np.array([b"", b"a good film"], object)}
    assert sessions["translate"].run("serving_default", empty)["translation"].shape == (2,)
    assert sessions["bert"].run("serving_default", empty)["probabilities"].shape == (2, 2)
    prompt = {"prompt": np.array([b"", b"ab"], object)}
    assert sessions["generate"].run("serving_default", prompt)["completion"].shape == (2,)


@pytest.mark.parametrize("kind", ["vit", "caption"])
def test_empty_or_corrupt_image_bytes_are_named(sessions, kind):
    for corrupt in (b"", b"not an image"):
        _fails_naming(sessions[kind], "serving_default",
                      {"images": np.array([kinds.png(np.zeros((8, 8, 3), np.uint8)), corrupt],
                                          object)},
                      "`images` must hold encoded PNG, JPEG, GIF or BMP bytes")


def test_non_finite_numbers_are_named(sessions):
    window = np.zeros((1, 6, 2), np.float32)
    window[0, 2, 1] = np.inf
    _fails_naming(sessions["forecast"], "serving_default", {"windows": window},
                  "`windows` must be finite numbers")
    _fails_naming(sessions["cnn"], "serving_arrays",
                  {"images": np.full((1, 8, 8, 3), np.nan, np.float32)},
                  "`images` must be finite pixel values in [0, 1]")


def test_the_rank_check_is_the_first_error(sessions):
    """Before the check, a 2-D `text` failed inside the tokenizer, without naming `text`."""
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        sessions["text"].run("serving_default", {"text": np.array([[b"a", b"b"]], object)})
    assert "StringSplit" not in str(error.value)
    assert re.search(r"assertion failed: \[`text` must have shape", str(error.value))
