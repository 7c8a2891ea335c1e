"""TF Serving's side files parsed back with its own protos: models.config (version labels and the
version policy they need) and the warmup file (the server's record limit, existing signatures)."""

import builtins
import os

import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from seqmodels import models
from seqmodels.export import export_for_serving, read_warmup, tf_serving


def _config(export_dir):
    with open(os.path.join(export_dir, "models.config")) as f:
        parsed = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
    (model,) = parsed.model_config_list.config
    return model


@pytest.fixture(scope="module")
def forecaster():
    return models.Forecaster(6, 2, hidden_dim=4)


def test_labels_are_kept_moved_and_their_versions_served(forecaster, tmp_path):
    export_dir = str(tmp_path / "sunspots")
    export_for_serving(forecaster, export_dir, warmup=False)
    model = _config(export_dir)
    assert (model.name, model.base_path, model.model_platform) == ("sunspots", export_dir,
                                                                   "tensorflow")
    assert not model.version_labels and not model.HasField("model_version_policy")
    export_for_serving(forecaster, export_dir, warmup=False, version_labels="stable",
                       version=1 + 1)
    export_for_serving(forecaster, export_dir, warmup=False, version_labels=["canary", "new"])
    model = _config(export_dir)
    assert dict(model.version_labels) == {"stable": 2, "canary": 3, "new": 3}
    # Labelled versions must be loaded for the server to accept the labels.
    assert list(model.model_version_policy.specific.versions) == [2, 3]
    export_for_serving(forecaster, export_dir, warmup=False, version_labels="stable")
    export_for_serving(forecaster, export_dir, warmup=False)  # unlabelled: labels stay
    model = _config(export_dir)
    assert dict(model.version_labels) == {"stable": 4, "canary": 3, "new": 3}
    assert list(model.model_version_policy.specific.versions) == [3, 4, 5]
    assert tf_serving.read_models_config(export_dir).model_config_list.config[0] == model


def test_the_fixture_text_export_carries_its_label(exports):
    model = _config(os.path.dirname(exports["dirs"]["text"]))
    assert dict(model.version_labels) == {"stable": 1}
    assert list(model.model_version_policy.specific.versions) == [1]


def test_bad_labels_are_refused_before_anything_is_written(forecaster, tmp_path):
    for label in ("", "can ary", "a/b", "x:y", 3):
        with pytest.raises(ValueError, match="A version label must be letters, digits"):
            export_for_serving(forecaster, str(tmp_path / "x"), version_labels=[label])
        assert not (tmp_path / "x").exists()
    os.makedirs(tmp_path / "y" / "1")
    with pytest.raises(ValueError, match=r"names version 7, which is not under .*Versions "
                                         r"there: \[1\]"):
        tf_serving.write_models_config(str(tmp_path / "y"), version_labels={"stable": 7})


def test_every_warmup_record_names_a_signature_of_its_export(exports, bert_export):
    for directory in [*exports["dirs"].values(), bert_export[0]]:
        logs = read_warmup(directory)
        assert 1 <= len(logs) <= tf_serving.MAX_WARMUP_RECORDS == 1000
        names = tf_serving.signature_names(directory)
        assert {log.predict_log.request.model_spec.signature_name for log in logs} == names - {
            "__saved_model_init_op"}, directory


def test_own_warmup_requests_are_written_checked_and_limited(forecaster, tmp_path):
    windows = {"windows": np.ones((2, 6, 2), np.float32)}
    path = export_for_serving(forecaster, str(tmp_path / "a"),
                              warmup=[("serving_default", windows)] * 3)
    logs = read_warmup(path)
    assert len(logs) == 3 and logs[0].predict_log.request.inputs["windows"].tensor_shape.dim[
        0].size == 2
    too_many = [("serving_default", windows)] * 1001
    with pytest.raises(ValueError, match=r"`warmup` must hold 1 to 1000 requests \(TF Serving "
                                         r"refuses a version with more\). Received: 1001"):
        export_for_serving(forecaster, str(tmp_path / "b"), warmup=too_many)
    with pytest.raises(ValueError, match=r"names the signature 'serving_arrays', which the "
                                         r"export does not have. Its signatures: "
                                         r"\['serving_default'\]"):
        export_for_serving(forecaster, str(tmp_path / "b"), warmup=[("serving_arrays",
                                                                      windows)])
    assert not (tmp_path / "b").exists()
    with pytest.raises(ValueError, match="names the signature 'other'"):
        tf_serving.write_warmup(path, "a", [("other", windows)])  # read from saved_model.pb


def test_a_failure_while_writing_models_config_leaves_the_old_file(tmp_path, monkeypatch):
    """The server re-reads models.config while it serves (`--model_config_file_poll_wait_
    seconds`): a write that fails half way (a full disk) must leave the old file whole, and no
    temporary file behind. Written in place, the file would hold half of the new text."""
    export_dir = tmp_path / "sunspots"
    for version in ("1", "2"):
        os.makedirs(export_dir / version)
    path = tf_serving.write_models_config(str(export_dir), version_labels={"stable": 1})
    before = open(path).read()
    written = []

    class FullDisk:
        """A text file whose writes stop half way with ENOSPC."""

        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *error):
            self.file.close()

        def write(self, text):
            self.file.write(text[:len(text) // 2])
            self.file.flush()
            written.append(text)
            raise OSError(28, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.file, name)

    real_open = builtins.open
    with monkeypatch.context() as patch, pytest.raises(OSError, match="No space left on device"):
        patch.setattr(builtins, "open", lambda *a, **k: FullDisk(real_open(*a, **k)))
        tf_serving.write_models_config(str(export_dir), version_labels={"canary": 2})
    assert written and "canary" in written[0]  # the fault hit the new file's text
    assert open(path).read() == before
    assert sorted(os.listdir(export_dir)) == ["1", "2", "models.config"]
    tf_serving.write_models_config(str(export_dir), version_labels={"canary": 2})
    assert dict(_config(str(export_dir)).version_labels) == {"stable": 1, "canary": 2}
