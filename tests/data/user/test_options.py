import pytest

from seqmodels.data.user.options import FileOptions, parse_pairs, valid_options


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
