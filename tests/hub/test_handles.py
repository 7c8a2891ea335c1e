"""resolve_handle: local directories, file:// URLs, remote handles through tensorflow_hub's cache,
failing fast without network, and the errors of bad handles."""

import hashlib
import http.server
import os
import re
import shutil
import socket
import tarfile
import threading
import time

import numpy as np
import pytest

from seqmodels.hub import HubLayer, resolve_handle

TFHUB = "https://tfhub.dev/google/nnlm-en-dim50/2"
KAGGLE = "https://www.kaggle.com/models/google/bert/TensorFlow2/en-uncased-l-2-h-128-a-2/2"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty TF Hub cache and no proxy settings from the environment."""
    cache = tmp_path / "tfhub_cache"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy",
                 "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return cache


def _offline_message(handle, cache):
    digest = hashlib.sha1(handle.encode("utf8")).hexdigest()
    return (f"Could not download the hub handle {handle!r}: it needs network access or a local "
            "copy. Pass the directory of a downloaded copy of the SavedModel (or a file:// URL) "
            "as `handle`, or put the unpacked SavedModel in tensorflow_hub's cache at "
            f"{os.path.join(str(cache), digest)}. Cause: ")


def test_local_directory_and_file_url(backbone_dir):
    x = np.ones((2, 6), "float32")
    assert resolve_handle(backbone_dir) == backbone_dir
    assert resolve_handle("file://" + backbone_dir) == backbone_dir
    np.testing.assert_array_equal(HubLayer("file://" + backbone_dir)(x).numpy(),
                                  HubLayer(backbone_dir)(x).numpy())


def test_cached_remote_handle_loads_without_network(backbone_dir, hub_cache, monkeypatch):
    entry = hub_cache / hashlib.sha1(KAGGLE.encode("utf8")).hexdigest()
    shutil.copytree(backbone_dir, entry)

    def no_network(*args, **kwargs):
        raise AssertionError("a cached handle must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    assert resolve_handle(KAGGLE) == str(entry)
    layer = HubLayer(KAGGLE, trainable=True)
    assert layer.get_config()["handle"] == KAGGLE
    assert len(layer.trainable_weights) == 6


def test_remote_handle_downloads_once_through_tensorflow_hub(backbone_dir, hub_cache,
                                                             tmp_path):
    # A local web server stands in for tfhub.dev: tensorflow_hub downloads the .tar.gz, unpacks
    # it into TFHUB_CACHE_DIR, and later loads come from the cache.
    archive = tmp_path / "www" / "backbone.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(backbone_dir, arcname=".")
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(archive.parent), **kwargs)

        def translate_path(self, path):
            requests.append(path)
            return super().translate_path(path.split("?")[0])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    handle = f"http://127.0.0.1:{server.server_address[1]}/backbone.tar.gz"
    try:
        layer = HubLayer(handle, trainable=True)
    finally:
        server.shutdown()
        server.server_close()
    assert requests == ["/backbone.tar.gz?tf-hub-format=compressed"]
    entry = hub_cache / hashlib.sha1(handle.encode("utf8")).hexdigest()
    assert resolve_handle(handle) == str(entry)  # the server is gone: served from the cache
    x = np.ones((2, 6), "float32")
    np.testing.assert_array_equal(layer(x).numpy(), HubLayer(handle)(x).numpy())
    np.testing.assert_array_equal(layer(x).numpy(), HubLayer(backbone_dir)(x).numpy())


def test_remote_handle_refused_fails_at_once(hub_cache, monkeypatch):
    # A proxy on a port that is bound but not listening: every connection is refused.
    with socket.socket() as blocked:
        blocked.bind(("127.0.0.1", 0))
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{blocked.getsockname()[1]}")
        start = time.monotonic()
        with pytest.raises(ConnectionError, match=re.escape(_offline_message(TFHUB, hub_cache))):
            HubLayer(TFHUB)
        assert time.monotonic() - start < 5  # no retries, no waiting
    assert not os.path.exists(hub_cache) or not os.listdir(hub_cache)


def test_remote_handle_without_name_service_times_out(hub_cache, monkeypatch):
    # A name lookup that never answers (a network that drops packets) is cut at the timeout.
    # When it finally gives up, it fails as a real one would, inside the probe's daemon thread.
    def silent_name_service(*args, **kwargs):
        time.sleep(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", silent_name_service)
    monkeypatch.setenv("SEQMODELS_HUB_CONNECT_TIMEOUT", "0.5")
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=re.escape(
            _offline_message(KAGGLE, hub_cache) + "no connection to www.kaggle.com:443 within "
            "0.5 s")):
        resolve_handle(KAGGLE)
    assert time.monotonic() - start < 5


def test_tensorflow_hub_resolver_errors_are_translated(hub_cache, monkeypatch):
    # The connection opens (so the probe passes) but the proxy hangs up: the error comes from
    # tensorflow_hub's own resolver, downloading.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def hang_up():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connection.close()

    threading.Thread(target=hang_up, daemon=True).start()
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{server.getsockname()[1]}")
    try:
        with pytest.raises(ConnectionError, match=re.escape(_offline_message(TFHUB, hub_cache))):
            resolve_handle(TFHUB)
    finally:
        server.close()


def test_bad_handles(tmp_path):
    missing = str(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"The hub handle {missing!r} points to {missing}, which is not a directory holding a "
            "SavedModel.")):
        HubLayer(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=re.escape(
            f"The hub handle {str(empty)!r} points to {empty}, which holds no saved_model.pb: "
            "it is not a SavedModel.")):
        resolve_handle(str(empty))
    tf1 = tmp_path / "tf1"
    tf1.mkdir()
    (tf1 / "saved_model.pb").write_bytes(b"")
    (tf1 / "tfhub_module.pb").write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(
            f"The hub handle {str(tf1)!r} is in the TF1 Hub format (hub.Module), which HubLayer "
            "does not load.")):
        resolve_handle(str(tf1))
    with pytest.raises(ValueError, match=re.escape(
            "`handle` must be a non-empty string: a directory, a file:// URL or a TF Hub / Kaggle "
            "Models URL. Received: handle=''")):
        HubLayer("")
