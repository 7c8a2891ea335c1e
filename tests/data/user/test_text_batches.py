"""The validation pass's batched path for CSV text learns and fails exactly as record by record."""

import random

import pytest

from seqmodels import data
from seqmodels.data import BadDataError
from seqmodels.data.user import scan, text_batches
from seqmodels.data.user.options import FileOptions
from seqmodels.data.user.spec import FileSpec

GOOD = ["a fine film", "\"a fine, warm film\"", "\"two\nlines\"", "\"say \"\"hi\"\"\"", "plot",
        "caf\u00e9 cr\u00e8me"]
LABELS = ["good", "bad", " good ", "3"]
BAD = [b"one,two,three\n", b"\n", b"caf\xe9,good\n", b"empty label,\n", b"x, \n",
       b"new label,meh\n", b"lonely\n"]


def _write(path, rng, rows, bad_share):
    lines = [b"review,score\n"]
    for number in range(rows):
        if rng.random() < bad_share:
            lines.append(rng.choice(BAD))
            continue
        if rng.random() < bad_share:  # a label seen once: in validation or test, unknown
            lines.append(f"rare {number},only{number}\n".encode())
            continue
        text = rng.choice(GOOD).replace("film", f"film {number}")
        end = "\r\n" if rng.random() < 0.1 else "\n"
        lines.append(f"{text},{rng.choice(LABELS)}{end}".encode())
    path.write_bytes(b"".join(lines))


def _outcome(name, directory, batched, monkeypatch, capsys, **options):
    """What the pass learns (or its error) and prints, batched or record by record."""
    monkeypatch.setattr(scan, "_CACHE", {})
    monkeypatch.setattr(text_batches, "TEXT_TASKS",
                        ("text_classification",) if batched else ())
    spec = FileSpec.parse(name, str(directory))
    values = FileOptions.parse("csv", dict(text_column="review", label_column="score",
                                           task="text_classification", **options)).values
    try:
        found = scan.scan(spec, dict(values))
        result = (found.counts, found.class_names, found.integer_labels, found.skipped,
                  found.bad)  # bad: the records each reader drops
    except BadDataError as e:
        result = str(e)
    return result, capsys.readouterr().out


@pytest.mark.parametrize("seed", range(6))
def test_batched_and_record_by_record_passes_agree(tmp_path, monkeypatch, capsys, seed):
    rng = random.Random(seed)
    monkeypatch.setattr(text_batches, "ROWS", rng.choice([1, 3, 7]))
    for split in ("train", "validation", "test"):
        _write(tmp_path / f"{split}.csv", rng, 40, bad_share=[0.0, 0.02, 0.1][seed % 3])
    _write(tmp_path / "all.csv", rng, 120, bad_share=[0.0, 0.02, 0.1][seed % 3])
    for name in ("csv:{split}.csv", "csv:all.csv"):
        for mode in ("error", "skip"):
            options = dict(on_bad_record=mode, split_fractions="0.6,0.2,0.2")
            if name == "csv:{split}.csv":
                options.pop("split_fractions")
            batched = _outcome(name, tmp_path, True, monkeypatch, capsys, **options)
            assert batched == _outcome(name, tmp_path, False, monkeypatch, capsys, **options)


def test_the_batched_pass_reports_the_first_bad_line(tmp_path, monkeypatch):
    monkeypatch.setattr(text_batches, "ROWS", 4)
    rows = [f"review {i},good\n" for i in range(10)]
    rows[6] = "caf\udce9,good\n"
    (tmp_path / "r.csv").write_bytes(("review,score\n" + "".join(rows)).encode(
        "utf-8", "surrogateescape"))
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/r.csv, line 8, column 'review': "
                                           r"not UTF-8 text \(byte 0xe9 at position 3\)\."):
        data.info("csv:r.csv", data_dir=str(tmp_path), text_column="review",
                  label_column="score")
    rows[6] = "review 6,good\n"
    rows[9] = "\"review\n9\",\n"  # two lines, an empty label
    (tmp_path / "r.csv").write_text("review,score\n" + "".join(rows))
    with pytest.raises(BadDataError, match=rf"^{tmp_path}/r.csv, line 11, column 'score': "
                                           r"empty label\."):
        data.info("csv:r.csv", data_dir=str(tmp_path), text_column="review",
                  label_column="score")


def test_replayed_lines_are_read_forwards_only(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a\nb\nc\nd\n")
    with text_batches.ReplayLines(str(path)) as replay:
        assert replay.lines(1, 2) == ["b\n"]
        assert replay.lines(3, 4) == ["d\n"]
        with pytest.raises(ValueError, match=r"line 4 was read, received start=1"):
            replay.lines(1, 2)
