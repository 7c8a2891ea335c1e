"""Strategy selection: names, errors, and the configuration of the paths without hardware here."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.training import distribute
from seqmodels.training.custom_loop import CustomTrainingLoop, NonFiniteLossError


def test_default_and_one_device():
    assert distribute.get_strategy("default") is tf.distribute.get_strategy()
    strategy = distribute.get_strategy("one_device")
    assert isinstance(strategy, tf.distribute.OneDeviceStrategy)
    assert strategy.num_replicas_in_sync == 1


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match=re.escape(
            "`strategy` must be one of default, one_device, mirrored, multi_worker_mirrored, "
            "parameter_server, tpu. Received: strategy='gpu'")):
        distribute.get_strategy("gpu")


@pytest.mark.parametrize("name", ["multi_worker_mirrored", "parameter_server"])
def test_cluster_strategies_need_tf_config(name, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match=re.escape(
            f"strategy={name!r} reads the cluster from the TF_CONFIG environment variable, "
            "which is not set.")):
        distribute.get_strategy(name)


def test_parameter_server_reads_the_cluster_from_tf_config(monkeypatch):
    seen = {}

    class FakeParameterServerStrategy:
        def __init__(self, resolver):
            seen["cluster"] = resolver.cluster_spec().as_dict()

    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"], "ps": ["127.0.0.1:3"]},
        "task": {"type": "chief", "index": 0}}))
    monkeypatch.setattr(tf.distribute.experimental, "ParameterServerStrategy",
                        FakeParameterServerStrategy)
    distribute.get_strategy("parameter_server")
    assert seen["cluster"]["ps"] == ["127.0.0.1:3"]


def test_tpu_connects_initialises_and_builds_tpu_strategy(monkeypatch):
    calls = []

    class FakeResolver:
        def __init__(self, tpu):
            calls.append(("resolver", tpu))

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", FakeResolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster",
                        lambda r: calls.append(("connect", type(r).__name__)))
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system",
                        lambda r: calls.append(("initialize", type(r).__name__)))
    monkeypatch.setattr(tf.distribute, "TPUStrategy", lambda r: ("TPUStrategy", r))
    strategy = distribute.get_strategy("tpu", tpu="grpc://10.0.0.2:8470")
    assert strategy[0] == "TPUStrategy"
    assert calls == [("resolver", "grpc://10.0.0.2:8470"), ("connect", "FakeResolver"),
                     ("initialize", "FakeResolver")]


def test_num_cpu_devices_must_be_positive():
    with pytest.raises(ValueError, match=re.escape(
            "`num_cpu_devices` must be a positive integer. Received: num_cpu_devices=-1")):
        distribute.configure_cpu_devices(-1)


def test_nan_loss_stops_with_a_clear_message(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    loop = CustomTrainingLoop(model, keras.optimizers.SGD(0.1),
                              keras.losses.MeanSquaredError(reduction=None),
                              tf.distribute.get_strategy(), str(tmp_path), 2, verbose=0)
    x = np.array([[1.0, np.nan], [0.0, 1.0]], "float32")

    def dataset_fn(epoch):
        return tf.data.Dataset.from_tensor_slices((x, np.zeros((2, 1), "float32"))).batch(2)

    with pytest.raises(NonFiniteLossError, match=re.escape(
            "Training loss became nan at step 1 (epoch 1); stopping.")):
        loop.fit(dataset_fn, epochs=1, steps_per_epoch=1)


def test_short_dataset_is_a_clear_error(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    loop = CustomTrainingLoop(model, keras.optimizers.SGD(0.1),
                              keras.losses.MeanSquaredError(reduction=None),
                              tf.distribute.get_strategy(), str(tmp_path), 2, verbose=0)

    def dataset_fn(epoch):
        return tf.data.Dataset.from_tensor_slices(
            (np.ones((2, 2), "float32"), np.zeros((2, 1), "float32"))).batch(2)

    with pytest.raises(ValueError, match=re.escape(
            "`dataset_fn(0)` yielded 1 batches after skipping 0; expected steps_per_epoch=3.")):
        loop.fit(dataset_fn, epochs=1, steps_per_epoch=3)


def test_jit_compile_is_dropped_for_layers_without_xla(tmp_path, capsys):
    from seqmodels.layers import LSTM

    model = keras.Sequential([keras.Input((3, 2)), LSTM(2), keras.layers.Dense(1)])
    loop = CustomTrainingLoop(model, keras.optimizers.SGD(0.1),
                              keras.losses.MeanSquaredError(reduction=None),
                              tf.distribute.get_strategy(), str(tmp_path), 2, jit_compile=True,
                              verbose=0)
    assert loop.jit_compile is (model.layers[0].supports_jit is not False)
    if not loop.jit_compile:
        assert "do not support XLA" in capsys.readouterr().out
    dense = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert CustomTrainingLoop(dense, keras.optimizers.SGD(0.1),
                              keras.losses.MeanSquaredError(reduction=None),
                              tf.distribute.get_strategy(), str(tmp_path / "d"), 2,
                              jit_compile=True, verbose=0).jit_compile
