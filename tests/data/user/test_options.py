import pytest

from seqmodels import data
from seqmodels.data.user.options import DataOptionError, FileOptions, parse_pairs, valid_options
from tests.data.user.files import exactly


def test_strings_from_the_command_line_become_typed_values():
    options = FileOptions.parse("csv", parse_pairs([
        "target_columns=a, b", "split_fractions=0.6,0.2,0.2", "normalize=false"]))
    assert options.task == "forecasting"
    assert options["target_columns"] == ("a", "b")
    assert options["split_fractions"] == (0.6, 0.2, 0.2)
    assert options["normalize"] is False and options["window_length"] == 24


def test_unknown_keys_list_the_valid_ones_for_the_format_and_task():
    with pytest.raises(TypeError, match=(
            r"^A lines dataset for language_modeling takes no option text_column\. Its "
            r"options: on_bad_record, split_fractions, task\.$")):
        FileOptions.parse("lines", {"text_column": "t"})
    with pytest.raises(TypeError, match=r"A tfrecord dataset for translation takes no option "
                                        r"label_column\. Its options: on_bad_record, "
                                        r"source_column, split_fractions, target_column, task\."):
        FileOptions.parse("tfrecord", {"task": "translation", "label_column": "y"})


def test_bad_values_name_the_option():
    with pytest.raises(ValueError, match=r"`split_fractions` must be three non-negative "
                                         r"fractions .* Received: split_fractions='0.5,0.1,0.1'"):
        FileOptions.parse("csv", {"text_column": "t", "split_fractions": "0.5,0.1,0.1"})
    with pytest.raises(ValueError, match=r"`on_bad_record` must be one of error, skip\. "
                                         r"Received: on_bad_record='ignore'"):
        FileOptions.parse("csv", {"text_column": "t", "on_bad_record": "ignore"})
    with pytest.raises(ValueError, match=r"`task` must be one of language_modeling for a lines"):
        FileOptions.parse("lines", {"task": "translation"})


def test_without_columns_or_task_the_task_is_asked_for():
    with pytest.raises(TypeError, match=r"Cannot tell which task a csv dataset is for"):
        FileOptions.parse("csv", {})
    assert valid_options("dir", "image_classification") == [
        "image_size", "on_bad_record", "split_fractions", "task"]
    with pytest.raises(ValueError, match=r"A data option is key=value. Received: 'oops'"):
        parse_pairs(["oops"])


@pytest.mark.parametrize("form, options, message", [
    ("xls", {}, "`form` must be one of csv, tsv, jsonl, tfrecord, dir, lines. Received: "
                "form='xls'"),
    ("csv", {"text_column": "t", "split_fractions": "0.5,0.5"},
     "`split_fractions` must be 3 comma-separated float values. Received: "
     "split_fractions='0.5,0.5'"),
    ("csv", {"text_column": "t", "split_fractions": "nan,0,0"},  # NaN compares False
     "`split_fractions` must be three non-negative fractions (train, validation, test) that "
     "sum to 1. Received: split_fractions='nan,0,0'"),
    ("csv", {"image_column": "f", "image_size": "32"},
     "`image_size` must be 2 comma-separated int values. Received: image_size='32'"),
    ("csv", {"image_column": "f", "image_size": "32,wide"},
     "`image_size` must be 2 comma-separated int values. Received: image_size='32,wide'"),
    ("dir", {"image_size": "0,32"},
     "`image_size` must be two positive integers (height, width). Received: image_size='0,32'"),
    ("csv", {"target_columns": "y", "normalize": "maybe"},
     "`normalize` must be true or false. Received: normalize='maybe'"),
    ("csv", {"target_columns": "y", "horizon": "two"},
     "`horizon` must be an integer. Received: horizon='two'"),
    ("jsonl", {"target_columns": "y", "window_length": 2.5},  # not cut to 2
     "`window_length` must be an integer. Received: window_length=2.5"),
    ("jsonl", {"target_columns": "y", "window_length": True},
     "`window_length` must be an integer. Received: window_length=True"),
])
def test_bad_values_name_the_option_exactly(form, options, message):
    with pytest.raises(DataOptionError, match=exactly(message)):
        FileOptions.parse(form, options)


def test_every_option_error_is_a_type_and_a_value_error():
    # Callers that caught TypeError (an option not taken) or ValueError (a bad value) still do.
    for options in ({"colour": "red"}, {"text_column": "t", "on_bad_record": "ignore"}):
        with pytest.raises(DataOptionError) as error:
            FileOptions.parse("csv", {"task": "text_classification", **options})
        assert isinstance(error.value, TypeError) and isinstance(error.value, ValueError)
    assert data.DataOptionError is DataOptionError
    assert FileOptions.parse("csv", {"target_columns": "y", "window_length": "3"})[
        "window_length"] == 3
