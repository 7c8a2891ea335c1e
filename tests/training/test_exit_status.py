"""The binary's refusals: one line on stderr and exit status 2, nothing written.

(The binary itself in a subprocess: tests/trainers/test_train_binary.py.)
"""

import pytest

from seqmodels import data
from seqmodels.data.user import FileOptions
from seqmodels.training.config import make_config
from seqmodels.training.exit_status import REFUSED, run_refusing
from seqmodels.training.train import train_and_evaluate
from tests.data.user.files import REVIEWS, write_csv


@pytest.mark.parametrize("function, args, kwargs, message", [
    (FileOptions.parse, ("csv", {"text_column": "review", "colour": "red"}), {},
     "A csv dataset for text_classification takes no option colour. Its options: label_column, "
     "on_bad_record, split_fractions, task, text_column."),
    (data.load, ("sunspots", "train"), {"window": 3},  # a bundled dataset's options
     "Dataset 'sunspots' takes no option window. Its options: window_length, horizon, "
     "normalize."),
])
def test_a_bad_data_option_is_a_one_line_refusal(capsys, function, args, kwargs, message):
    with pytest.raises(SystemExit) as exit:
        run_refusing(function, *args, **kwargs)
    assert exit.value.code == REFUSED == 2
    assert capsys.readouterr().err == f"DataOptionError: {message}\n"


@pytest.mark.parametrize("task, options, message", [
    ("text_classification", ("text_column=review", "label_column=score", "colour=red"),
     "A csv dataset for text_classification takes no option colour. Its options: label_column, "
     "on_bad_record, split_fractions, task, text_column."),
    ("text_classification", ("text_column=review", "on_bad_record=ignore"),
     "`on_bad_record` must be one of error, skip. Received: on_bad_record='ignore'"),
    ("forecasting", ("target_columns=score", "window_length=3"),
     "Data option window_length=3 is set by the task's field `window_length`; give it as "
     "--override=window_length=3 instead."),
])
def test_train_and_evaluate_refuses_a_bad_data_option_before_writing(tmp_path, capsys, task,
                                                                      options, message):
    write_csv(tmp_path / "r.csv", ["review", "score"], REVIEWS)
    config = make_config(task, "tiny", dataset="csv:r.csv", data_dir=str(tmp_path),
                         data_options=options)
    with pytest.raises(SystemExit) as exit:
        run_refusing(train_and_evaluate, config, str(tmp_path / "run"))
    assert exit.value.code == REFUSED
    assert capsys.readouterr().err == f"DataOptionError: {message}\n"
    assert not (tmp_path / "run").exists()
