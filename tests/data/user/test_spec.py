import pytest

from seqmodels.data import DataNotFoundError
from seqmodels.data.user.spec import FileSpec, is_file_spec
from tests.data.user.files import exactly


def test_forms_are_recognised_and_bundled_names_are_not():
    assert all(is_file_spec(f"{form}:x") for form in ("csv", "tsv", "jsonl", "tfrecord", "dir",
                                                     "lines"))
    assert not is_file_spec("sunspots") and not is_file_spec("tfds:mnist")


def test_relative_patterns_start_at_data_dir_and_globs_sort(tmp_path):
    for name in ("b.csv", "a.csv"):
        (tmp_path / name).write_text("x\n1\n")
    spec = FileSpec.parse("csv:*.csv", data_dir=str(tmp_path))
    assert spec.files("train") == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]


def test_a_glob_that_matches_nothing_names_the_pattern(tmp_path):
    spec = FileSpec.parse("csv:shards-*.csv", data_dir=str(tmp_path))
    with pytest.raises(DataNotFoundError, match=rf"Dataset 'csv:shards-\*.csv': no file matches "
                                                rf"{tmp_path}/shards-\*.csv\.$"):
        spec.files("train")


def test_a_missing_split_file_names_the_path_it_looked_for(tmp_path):
    (tmp_path / "train.csv").write_text("x\n1\n")
    spec = FileSpec.parse("csv:{split}.csv", data_dir=str(tmp_path))
    assert spec.files("train") == [str(tmp_path / "train.csv")]
    with pytest.raises(DataNotFoundError, match=(
            rf"Dataset 'csv:{{split}}.csv': file {tmp_path}/validation.csv not found \(the "
            r"validation split; \{split\} expands to train, validation, test, each split needs "
            r"its files\)\.")):
        spec.files("validation")


def test_an_unknown_form_is_an_error():
    with pytest.raises(ValueError, match="form of csv, tsv, jsonl, tfrecord, dir, lines"):
        FileSpec.parse("xls:a.xls")


def test_a_split_glob_that_matches_nothing_names_the_split(tmp_path):
    (tmp_path / "train-0.csv").write_text("x\n1\n")
    spec = FileSpec.parse("csv:{split}-*.csv", data_dir=str(tmp_path))
    assert spec.files("train") == [str(tmp_path / "train-0.csv")]
    with pytest.raises(DataNotFoundError, match=exactly(
            f"Dataset 'csv:{{split}}-*.csv': no file matches {tmp_path}/validation-*.csv (the "
            "validation split; {split} expands to train, validation, test, each split needs its "
            "files).")):
        spec.files("validation")


def test_a_missing_folder_and_a_form_without_a_path(tmp_path):
    with pytest.raises(DataNotFoundError, match=exactly(
            f"Dataset 'dir:photos': folder {tmp_path}/photos not found.")):
        FileSpec.parse("dir:photos", data_dir=str(tmp_path)).files("train")
    with pytest.raises(ValueError, match=exactly(
            "Dataset 'csv:' names no path: expected csv:<path or glob>.")):
        FileSpec.parse("csv:")
