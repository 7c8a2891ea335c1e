"""Writes one benchmark's table into bench/RESULTS.md, with the machine, versions and date.

Each benchmark script owns one section of RESULTS.md, delimited by HTML comments, and rewrites only
that section; the other scripts' tables stay as they were measured.
"""

import datetime
import os
import platform
import re

RESULTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
HEADER = "# Benchmark results\n\nWritten by `make bench` (scripts in `bench/`); each section says where and when it ran.\n"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment():
    """Returns a one-paragraph description of the machine, library versions and date."""
    import keras

    versions = [f"Python {platform.python_version()}", f"Keras {keras.__version__}",
                f"backend {keras.backend.backend()}"]
    for name in ("tensorflow", "keras_hub", "torch", "jax"):
        try:
            module = __import__(name)
            versions.append(f"{name} {module.__version__}")
        except ImportError:
            pass
    # Times depend on what else ran: the 1-minute load average says how busy the cores were
    # (about 2.0 = both busy with this benchmark alone on 2 cores; more = sharing).
    load = f" Load average at write: {os.getloadavg()[0]:.1f}." if hasattr(os, "getloadavg") \
        else ""
    return (f"Machine: {_cpu_name()}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.machine()}. Versions: {', '.join(versions)}. "
            f"Date: {datetime.date.today().isoformat()}.{load}")


def markdown_table(headers, rows):
    """Formats `rows` (lists of cells) under `headers` as a Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name, title, body):
    """Replaces (or appends) section `name` of RESULTS.md with `title`, the environment and `body`."""
    text = HEADER
    if os.path.exists(RESULTS_PATH):
        with open(RESULTS_PATH) as f:
            text = f.read()
    begin, end = f"<!-- begin:{name} -->", f"<!-- end:{name} -->"
    section = f"{begin}\n## {title}\n\n{environment()}\n\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    with open(RESULTS_PATH, "w") as f:
        f.write(text)
    return RESULTS_PATH
