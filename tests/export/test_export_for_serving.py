"""export_for_serving for every model kind, verified as TF Serving would run it.

One tiny model per kind is exported once per session (`exports`, conftest.py); a fresh process
that cannot import seqmodels (`fresh_process.py`) loads every export, runs `PredictRequest`s
through the signatures and replays the warmup files, while this process checks bad inputs; the
saved_model_cli commands run beside it (bad inputs as the server feeds them: test_bad_inputs.py).
Outputs must equal the Keras models' (<= 1e-6; decoded strings exactly).
"""

import base64
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from seqmodels import models
from seqmodels.export import export_for_serving, read_warmup
from seqmodels.export.tf_serving import run_predict_request, predict_request
from tests.decoding.eager import eagerly
from tests.export.kinds import CHARACTERS, WORDS, png as _png


def _output(result, name):
    value = result[name]
    if value["dtype"] == "string":
        return [base64.b64decode(v).decode() for v in value["b64"]]
    return np.array(value["value"], value["dtype"])


# In-process checks first: they run while the other processes work.

def test_bad_text_inputs_give_defined_results(exports):
    serve = exports["signature"]("text")
    empty = serve(text=tf.constant([], tf.string))
    assert empty["probabilities"].shape == (0, 2) and empty["class_name"].shape == (0,)
    odd = serve(text=tf.constant(["", b"\xff\xfe not utf-8", "good " * 2000]))
    assert np.isfinite(odd["probabilities"].numpy()).all()
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        serve(text=tf.constant([1.0, 2.0]))  # wrong dtype
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        serve(text=tf.constant([["a good film"]]))  # wrong rank
    translate = exports["signature"]("translate")
    out = translate(text=tf.constant(["", b"\xc3\x28 bad utf-8", "good " * 2000]))["translation"]
    assert out.shape == (3,)
    assert translate(text=tf.constant([], tf.string))["translation"].shape == (0,)


def test_bad_prompts_give_defined_results(exports):
    serve = exports["signature"]("generate")
    out = serve(prompt=tf.constant(["", b"\xff\xfe", "abc" * 1000]))["completion"].numpy()
    # Six new tokens each; id 0 (padding/unknown) writes nothing.
    assert out.shape == (3,) and all(len(c.decode()) <= 6 for c in out)
    assert serve(prompt=tf.constant([], tf.string))["completion"].shape == (0,)
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        serve(prompt=tf.constant([3, 4]))


def test_bad_images_fail_with_a_readable_error(exports):
    for kind, output in (("cnn", "label"), ("caption", "caption")):
        serve = exports["signature"](kind)
        assert serve(images=tf.constant([], tf.string))[output].shape == (0,)
        for corrupt in (b"not an image", b"", b"\x89PNG\r\n\x1a\n truncated"):
            with pytest.raises(tf.errors.InvalidArgumentError) as error:
                serve(images=tf.constant([corrupt]))
            if not corrupt.startswith(b"\x89PNG"):
                assert "`images` must hold encoded PNG, JPEG, GIF or BMP bytes" in str(error.value)
    arrays = exports["signature"]("cnn", "serving_arrays")
    with pytest.raises(tf.errors.InvalidArgumentError, match="must be finite pixel values"):
        arrays(images=tf.fill([1, 8, 8, 3], float("nan")))
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        arrays(images=tf.zeros([1, 9, 8, 3]))  # not the model's size


def test_images_of_any_size_format_and_channels_are_converted(exports):
    serve = exports["signature"]("vit")
    rng = np.random.default_rng(1)
    rgba = _png(rng.integers(0, 256, (20, 30, 4), dtype=np.uint8))
    gray_jpeg = tf.io.encode_jpeg(rng.integers(0, 256, (5, 7, 1), dtype=np.uint8)).numpy()
    out = serve(images=tf.constant([rgba, gray_jpeg]))
    assert np.isfinite(out["probabilities"].numpy()).all()
    assert out["probabilities"].shape == (2, 3)


def test_nan_window_fails_with_a_readable_error(exports):
    serve = exports["signature"]("forecast")
    window = np.zeros((2, 6, 2), np.float32)
    window[1, 3, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="`windows` must be finite"):
        serve(windows=tf.constant(window))
    assert serve(windows=tf.zeros([0, 6, 2]))["forecast"].shape == (0, 2, 1)
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        serve(windows=tf.zeros([2, 5, 2]))  # wrong window length


def test_predict_request_helpers_round_trip(exports):
    request = predict_request("sentiment", {"text": np.array([b"a good film"], object)})
    response = run_predict_request(exports["signature"]("text"), request)
    assert set(response.outputs) == {"probabilities", "label", "class_name"}
    assert tf.make_ndarray(response.outputs["probabilities"]).shape == (1, 2)


def test_warmup_file_and_models_config(exports):
    for kind, directory in exports["dirs"].items():
        logs = read_warmup(directory)
        # One request per signature.
        signatures = ["serving_default"] + {"vit": ["serving_arrays"], "cnn": ["serving_arrays"],
                                            "translate": ["serving_beam"],
                                            "caption": ["serving_beam"],
                                            "generate": ["serving_sample"]}.get(kind, [])
        assert [log.predict_log.request.model_spec.signature_name for log in logs] == signatures
        request = logs[0].predict_log.request
        assert request.model_spec.name == os.path.basename(os.path.dirname(directory))
        config = open(os.path.join(os.path.dirname(directory), "models.config")).read()
        assert f'name: "{request.model_spec.name}"' in config
        assert f'base_path: "{os.path.abspath(os.path.dirname(directory))}"' in config
        assert 'model_platform: "tensorflow"' in config


# The fresh process: parity with the Keras models, outside our code.

def test_fresh_process_never_imports_seqmodels(exports):
    results = exports["fresh"]()
    assert results["seqmodels_imported"] is False
    assert results["repo_on_path"] is False


@pytest.mark.parametrize("case", ["text", "vit", "vit_arrays", "cnn", "cnn_arrays", "forecast"])
def test_numeric_outputs_equal_keras(exports, case):
    result = exports["fresh"]()["cases"][case]
    expected = exports["expected"][case.replace("_arrays", "")]
    key = "forecast" if case == "forecast" else "probabilities"
    np.testing.assert_allclose(_output(result, key), expected, atol=1e-6, rtol=0)
    if key == "probabilities":
        np.testing.assert_array_equal(_output(result, "label"), expected.argmax(-1))
        names = ["rotten", "fresh"] if case == "text" else ["x", "y", "z"]
        assert _output(result, "class_name") == [names[i] for i in expected.argmax(-1)]


@pytest.mark.parametrize("case,output", [
    ("translate", "translation"), ("caption", "caption"), ("generate", "completion"),
    ("translate_beam", "translation"), ("caption_beam", "caption"),
    ("generate_sample", "completion")])
def test_decoded_strings_equal_keras(exports, case, output):
    """Greedy, beam search (each row its own width) and sampling (each prompt its own settings
    and seed): the strings of the Python models' `translate`, `caption` and `generate`."""
    got = _output(exports["fresh"]()["cases"][case], output)
    assert got == exports["expected"][case]
    if not case.startswith("generate"):
        assert any(got), "every decode was empty: the test would not see a difference"


def test_signatures_have_the_documented_names_dtypes_and_shapes(exports):
    signatures = exports["fresh"]()["signatures"]
    dirs = exports["dirs"]
    text_in = {"text": {"dtype": "string", "shape": [None]}}
    classes = lambda n: {"probabilities": {"dtype": "float32", "shape": [None, n]},  # noqa: E731
                         "label": {"dtype": "int64", "shape": [None]},
                         "class_name": {"dtype": "string", "shape": [None]}}
    strings = {"dtype": "string", "shape": [None]}
    assert signatures[dirs["text"]]["serving_default"] == {"inputs": text_in,
                                                           "outputs": classes(2)}
    for kind in ("vit", "cnn"):
        assert signatures[dirs[kind]]["serving_default"] == {
            "inputs": {"images": strings}, "outputs": classes(3)}
        assert signatures[dirs[kind]]["serving_arrays"] == {
            "inputs": {"images": {"dtype": "float32", "shape": [None, 8, 8, 3]}},
            "outputs": classes(3)}
    assert signatures[dirs["forecast"]]["serving_default"] == {
        "inputs": {"windows": {"dtype": "float32", "shape": [None, 6, 2]}},
        "outputs": {"forecast": {"dtype": "float32", "shape": [None, 2, 1]}}}
    assert signatures[dirs["translate"]]["serving_default"] == {
        "inputs": text_in, "outputs": {"translation": strings}}
    assert signatures[dirs["caption"]]["serving_default"] == {
        "inputs": {"images": strings}, "outputs": {"caption": strings}}
    assert signatures[dirs["generate"]]["serving_default"] == {
        "inputs": {"prompt": strings}, "outputs": {"completion": strings}}
    vector = lambda dtype: {"dtype": dtype, "shape": [None]}  # noqa: E731
    assert signatures[dirs["translate"]]["serving_beam"] == {
        "inputs": {**text_in, "beam_width": vector("int32")},
        "outputs": {"translation": strings}}
    assert signatures[dirs["caption"]]["serving_beam"] == {
        "inputs": {"images": strings, "beam_width": vector("int32")},
        "outputs": {"caption": strings}}
    assert signatures[dirs["generate"]]["serving_sample"] == {
        "inputs": {"prompt": strings, "temperature": vector("float32"),
                   "top_k": vector("int32"), "top_p": vector("float32"),
                   "seed": vector("int64")},
        "outputs": {"completion": strings}}
    assert sorted(signatures[dirs["translate"]]) == ["serving_beam", "serving_default"]
    assert sorted(signatures[dirs["generate"]]) == ["serving_default", "serving_sample"]


def test_warmup_requests_run_outside_our_code(exports):
    warmup = exports["fresh"]()["warmup"]
    assert set(warmup) == set(exports["dirs"].values())
    session = exports["fresh"]()["session_warmup"]
    for directory, logs in warmup.items():
        assert len(logs) == len(session[directory]) >= 1, directory
        for log, replayed in zip(logs, session[directory]):
            assert log["outputs"], directory
            # The TF1 session loader (how TF Serving's C++ server loads) gives the same outputs.
            assert set(replayed) == set(log["outputs"]), directory
            for name, value in log["outputs"].items():
                if value["dtype"] == "string":
                    assert replayed[name]["b64"] == value["b64"], (directory, name)
                else:
                    np.testing.assert_allclose(replayed[name]["value"], value["value"],
                                               atol=1e-6, err_msg=f"{directory} {name}")


def test_saved_model_cli_show_and_run(exports):
    show, run = exports["cli_output"]().split("===\n")
    for line in ("signature_def['serving_default']", "signature_def['serving_arrays']",
                 "inputs['images'] tensor_info:", "dtype: DT_STRING", "dtype: DT_FLOAT",
                 "shape: (-1, 8, 8, 3)", "outputs['probabilities'] tensor_info:",
                 "outputs['label'] tensor_info:", "dtype: DT_INT64",
                 "outputs['class_name'] tensor_info:",
                 "Method name is: tensorflow/serving/predict"):
        assert line in show, line
    assert "Result for output key class_name:" in run
    probabilities = re.search(r"output key probabilities:\n(.*?)(\nResult|\Z)", run, re.S)
    expected = exports["expected"]["text"][[0, 4]]
    values = np.array([float(v) for v in re.findall(r"[-\d.e]+", probabilities.group(1))])
    np.testing.assert_allclose(values.reshape(2, 2), expected, atol=1e-6)


# Export-time argument checks.

@pytest.mark.parametrize("kind,kwargs,message", [
    ("text", {}, "`vectorizer` is required to export a TextClassifier"),
    ("text", {"vectorizer": "V", "class_names": ["a"]},
     "`class_names` must name each of the model's 2 classes. Received: 1 names"),
    ("translate", {"vectorizer": "V", "start_id": 2, "end_id": 3},
     "`vocabulary` is required to export a Translator"),
    ("translate", {"vectorizer": "V", "vocabulary": WORDS, "end_id": 3},
     "`start_id` is required to export a Translator"),
    ("translate", {"vectorizer": "V", "vocabulary": WORDS[:5], "start_id": 2, "end_id": 3},
     "`vocabulary` must have one entry per output id of the model (12). Received: 5 entries"),
    ("caption", {"vocabulary": WORDS, "start_id": 2, "end_id": 99},
     "`end_id` must be an id in [0, 12). Received: end_id=99"),
    ("caption", {"vocabulary": WORDS, "start_id": 2, "end_id": 3, "max_length": 7},
     "`max_length` must be an integer in [2, 6] (the model's max_length). Received: "
     "max_length=7"),
    ("generate", {"vocabulary": ["", "ab", "c", "d", "e", "f", "g"]},
     "`vocabulary` of a MiniGPT must hold one character per id (id 0 is padding/unknown). "
     "Received: vocabulary[1]='ab'"),
    ("generate", {"vocabulary": CHARACTERS, "max_length": 16},
     "`max_length` (new characters per completion) must be an integer in [1, 15]. "
     "Received: max_length=16"),
    ("forecast", {"mean": 1.0}, "`mean` and `std` go together"),
    ("forecast", {"mean": [0.0, 0.0, 0.0], "std": 1.0},
     "`mean` must be a scalar or one value per feature (2). Received: shape (3,)"),
    ("forecast", {"mean": 0.0, "std": [1.0, 0.0]}, "`std` must be positive and finite"),
])
def test_missing_or_wrong_arguments_are_named(exports, tmp_path, kind, kwargs, message):
    model = {"text": lambda: exports["models"]["text"],
             "translate": lambda: models.Translator(20, 12, max_source_length=8, hidden_dim=8,
                                                    num_layers=1, num_heads=2,
                                                    intermediate_dim=16),
             "caption": lambda: models.Captioner((8, 16, 1), 12, max_length=6, hidden_dim=8,
                                                 num_heads=2, intermediate_dim=16),
             "generate": lambda: exports["models"]["gpt"],
             "forecast": lambda: models.Forecaster(6, 2, hidden_dim=4)}[kind]()
    if kwargs.get("vectorizer") == "V":
        kwargs = dict(kwargs, vectorizer=exports["models"]["vectorizer"])
    with pytest.raises(ValueError, match=re.escape(message)):
        export_for_serving(model, str(tmp_path / "x"), **kwargs)
    assert not (tmp_path / "x").exists()


def test_other_models_are_refused(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(TypeError, match="`model` must be a TextClassifier, .* Received: a "
                                        "Sequential"):
        export_for_serving(model, str(tmp_path))


def _asset_lines(directory, name):
    with open(os.path.join(directory, "assets", name), encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def test_vocabularies_and_class_names_are_asset_files(exports):
    dirs = exports["dirs"]
    expected = {"text": {"vocabulary.txt", "class_names.txt"}, "vit": {"class_names.txt"},
                "cnn": {"class_names.txt"}, "forecast": set(),
                "translate": {"source_vocabulary.txt", "output_vocabulary.txt"},
                "caption": {"output_vocabulary.txt"}, "generate": {"characters.txt"}}
    for kind, names in expected.items():
        folder = os.path.join(dirs[kind], "assets")
        assert set(os.listdir(folder) if os.path.isdir(folder) else []) == names, kind
    tokens = [str(t) for t in exports["models"]["vectorizer"].get_vocabulary()[2:]]
    assert _asset_lines(dirs["text"], "vocabulary.txt") == tokens
    assert _asset_lines(dirs["translate"], "source_vocabulary.txt") == tokens
    assert _asset_lines(dirs["text"], "class_names.txt") == ["0\trotten", "1\tfresh"]
    assert _asset_lines(dirs["caption"], "output_vocabulary.txt") == [
        f"{i}\t{word}" for i, word in enumerate(WORDS)]
    assert _asset_lines(dirs["generate"], "characters.txt") == [
        f"{i}\t{ord(c)}" for i, c in enumerate(CHARACTERS) if i]


def test_the_served_graph_reads_its_asset_files(exports, tmp_path):
    """Edited asset files change what the export serves: no copy of them hides in the graph."""
    import shutil

    copy = str(tmp_path / "1")
    shutil.copytree(exports["dirs"]["text"], copy)
    assets = os.path.join(copy, "assets")
    with open(os.path.join(assets, "class_names.txt"), "w") as f:
        f.write("0\tbad\n1\tgood\n")
    tokens = _asset_lines(copy, "vocabulary.txt")
    with open(os.path.join(assets, "vocabulary.txt"), "w") as f:
        f.write("".join(f"renamed{i}\n" for i in range(len(tokens))))  # every word unknown
    out = tf.saved_model.load(copy).signatures["serving_default"](
        text=tf.constant(["a good film"]))
    unknown = np.array([[1, 1, 1, 0, 0, 0, 0, 0]])  # three [UNK] tokens
    np.testing.assert_allclose(out["probabilities"].numpy(),
                               tf.nn.softmax(exports["models"]["text"](unknown)).numpy(),
                               atol=1e-6)
    assert out["class_name"].numpy()[0].decode() in ("bad", "good")


def test_a_two_block_translator_serves_the_uncached_search_tokens(tmp_path):
    """The served searches (greedy and beam, with the key/value cache) of a decoder whose
    second block reads padding give the Python model's uncached tokens; id 0 is made likely, so
    that outputs hold it more than once (the steps the cache hands to the full pass)."""
    import keras

    from seqmodels import data, models

    words = ["", "[UNK]", "starttoken", "endtoken", "w0", "w1", "w2"]
    texts = ["a good film", "a bad film", "good acting", "bad plot and bad acting", "film", ""]
    vectorizer = data.text_vectorizer(texts, vocab_size=20, sequence_length=8)
    keras.utils.set_random_seed(1)
    translator = models.Translator(20, len(words), max_source_length=8, max_target_length=7,
                                   hidden_dim=8, num_layers=2, num_heads=2, intermediate_dim=16)
    kernel, bias = translator.head.get_weights()
    bias[0] += 1.0
    bias[3] -= 2.0  # a late end: the beams' answers too run long enough to hold id 0 twice
    translator.head.set_weights([kernel, bias])
    source = vectorizer(tf.constant(texts)).numpy()
    # The Python model's uncached searches, run eagerly (`tests.decoding.eager`): their tokens
    # without a trace per width (the served graphs below are the compiled ones).
    with eagerly():
        uncached = [translator.translate(source, 2, 3, beam_size=width, use_cache=False)
                    for width in range(1, 5)]
    assert ((uncached[0] == 0).sum(axis=1) >= 2).any()
    directory = export_for_serving(translator, str(tmp_path / "translate"),
                                   vectorizer=vectorizer, vocabulary=words, start_id=2, end_id=3)
    signatures = tf.saved_model.load(directory).signatures
    served = signatures["serving_default"](text=tf.constant(texts))["translation"].numpy()
    expected = [" ".join(words[i] for i in row[1:] if i not in (0, 2, 3))
                for row in uncached[0]]
    assert [text.decode() for text in served] == expected
    # serving_beam, widths 1..4: the uncached beam search's tokens, id 0 in them too.
    for width in range(1, 5):
        assert ((uncached[width - 1] == 0).sum(axis=1) >= 2).any(), width
        served = signatures["serving_beam"](text=tf.constant(texts), beam_width=tf.constant(
            [width]))["translation"].numpy()
        assert [text.decode() for text in served] == [
            " ".join(words[i] for i in row[1:] if i not in (0, 2, 3))
            for row in uncached[width - 1]]
