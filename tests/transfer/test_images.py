"""Image classifiers on Keras Applications and hub backbones; the two-phase fine-tune schedule."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels import transfer
from seqmodels.hub import export_reusable
from seqmodels.models import CNNClassifier

UNFREEZE_TOP = 12


def _images(n=8, shape=(28, 28, 1), seed=0):
    rng = np.random.RandomState(seed)
    images = rng.rand(n, *shape).astype("float32")
    labels = np.arange(n) % 2
    images[labels == 1] *= 0.3  # learnable: bright vs dark
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)


@pytest.fixture(scope="module")
def mobilenet():
    return transfer.image_backbone_classifier("keras_app:MobileNetV3Small", (28, 28, 1), 2,
                                              seed=0)


def test_application_classifier_shapes_and_layout(mobilenet):
    assert mobilenet(np.zeros((3, 28, 28, 1), "float32")).shape == (3, 2)
    assert mobilenet.get_layer("resize").output.shape == (None, 32, 32, 3)  # gray -> RGB, >= 32
    assert mobilenet.get_layer("backbone").input.shape == (None, 32, 32, 3)
    rgb = transfer.image_backbone_classifier("keras_app:MobileNetV3Small", (40, 40, 3), 5,
                                             input_size=48)
    assert rgb.get_layer("backbone").input.shape == (None, 48, 48, 3)
    assert rgb(np.zeros((1, 40, 40, 3), "float32")).shape == (1, 5)


def test_application_preprocessing_scales():
    images = np.full((1, 2, 2, 3), 0.5, "float32")
    layer = transfer.ApplicationPreprocessing("ResNet50")  # caffe: BGR, ImageNet mean removed
    np.testing.assert_allclose(layer(images).numpy()[0, 0, 0],
                               [127.5 - 103.939, 127.5 - 116.779, 127.5 - 123.68], rtol=1e-5)
    np.testing.assert_allclose(transfer.ApplicationPreprocessing("MobileNetV2")(images), 0.0,
                               atol=1e-6)
    config = layer.get_config()
    assert transfer.ApplicationPreprocessing.from_config(config).application == "ResNet50"


def test_application_errors(tmp_path):
    with pytest.raises(ValueError, match="`application` must be a keras.applications model"):
        transfer.image_backbone_classifier("keras_app:NotANet", (32, 32, 3), 2)
    with pytest.raises(ValueError, match="must start with one of keras_app:, hub:"):
        transfer.image_backbone_classifier("preset:bert", (32, 32, 3), 2)
    with pytest.raises(ValueError, match="must start with one of"):
        transfer.image_backbone_classifier("foo:bar", (32, 32, 3), 2)
    with pytest.raises(ValueError, match="1 \\(grayscale\\) or 3 channels"):
        transfer.image_backbone_classifier("keras_app:MobileNetV3Small", (32, 32, 2), 2)
    with pytest.raises(FileNotFoundError, match="`weights` must be an existing weights file"):
        transfer.image_backbone_classifier("keras_app:MobileNetV3Small", (32, 32, 3), 2,
                                           weights=str(tmp_path / "none.h5"))
    with pytest.raises(ValueError, match="`input_size` must be None or an integer >= 75"):
        transfer.image_backbone_classifier("keras_app:InceptionV3", (32, 32, 3), 2, input_size=40)
    with pytest.raises(ValueError, match="`image_shape` must be \\(height, width, channels\\)"):
        transfer.image_backbone_classifier("keras_app:MobileNetV3Small", (32, 32), 2)


def test_weights_from_a_file(mobilenet, tmp_path):
    path = str(tmp_path / "backbone.weights.h5")
    mobilenet.get_layer("backbone").save_weights(path)
    loaded = transfer.image_backbone_classifier("keras_app:MobileNetV3Small", (28, 28, 1), 2,
                                                weights=path)
    for a, b in zip(mobilenet.get_layer("backbone").weights, loaded.get_layer("backbone").weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


class _Recorder(keras.callbacks.Callback):
    """The trainable weights' paths at the start of each phase (each `fit`)."""

    def __init__(self):
        super().__init__()
        self.phases = []

    def on_train_begin(self, logs=None):
        self.phases.append({w.path for w in self.model.trainable_weights})


def test_fine_tune_schedule_freezes_what_it_says(mobilenet):
    model = mobilenet
    backbone = model.get_layer("backbone")
    batch_norms = [l for l in backbone.layers if isinstance(l, keras.layers.BatchNormalization)]
    statistics = [w for l in batch_norms for w in l.non_trainable_weights]
    assert len(statistics) == 2 * len(batch_norms) > 0
    before = {w.path: w.numpy().copy() for w in model.weights}
    head = {"logits/kernel", "logits/bias"}
    recorder = _Recorder()
    # Eager steps: what is frozen is the same either way, and tracing MobileNet's two train
    # steps was most of this test (8 s of 9.6; test_tasks.py trains one traced).
    history = transfer.fine_tune(model, _images(), None, head_epochs=1,
                                 fine_tune_epochs=1, unfreeze_top=UNFREEZE_TOP,
                                 learning_rate=1e-2, fine_tune_learning_rate=1e-2,
                                 callbacks=[recorder], run_eagerly=True)
    assert len(history["head"]["loss"]) == len(history["fine_tune"]["loss"]) == 1
    assert model.run_eagerly
    # Phase 1: only the head.
    assert recorder.phases[0] == head
    # Phase 2: the head and exactly the non-BatchNorm layers among the top UNFREEZE_TOP.
    top = backbone.layers[-UNFREEZE_TOP:]
    expected = head | {w.path for l in top if not isinstance(l, keras.layers.BatchNormalization)
                       for w in l.weights}
    assert len(expected) > len(head) + 2
    assert recorder.phases[1] == expected
    assert any(isinstance(l, keras.layers.BatchNormalization) for l in top)
    # BatchNorm statistics and everything frozen kept their values; the unfrozen ones moved.
    after = {w.path: w.numpy() for w in model.weights}
    for w in statistics:
        np.testing.assert_array_equal(after[w.path], before[w.path])
    for path in after:
        if path not in expected:
            np.testing.assert_array_equal(after[path], before[path], err_msg=path)
    moved = [not np.array_equal(after[p], before[p]) for p in sorted(expected)]
    assert sum(moved) > len(moved) // 2
    assert transfer.set_backbone_trainable(model) and all(
        not l.trainable for l in batch_norms)  # unfreeze all: BatchNorm still frozen
    assert len(model.trainable_weights) > len(expected)


def test_fine_tune_errors(mobilenet):
    with pytest.raises(ValueError, match="`unfreeze_top` must be None \\(all layers\\) or a "
                                         "positive integer. Received: unfreeze_top=0"):
        transfer.set_backbone_trainable(mobilenet, unfreeze_top=0)
    with pytest.raises(ValueError, match="`head_epochs` must be a non-negative integer"):
        transfer.fine_tune(mobilenet, _images(), None, head_epochs=-1, fine_tune_epochs=1)
    with pytest.raises(ValueError, match="`run_eagerly` must be True or False. Received: "
                                         "run_eagerly='yes'"):
        transfer.fine_tune(mobilenet, _images(), None, 1, 1, run_eagerly="yes")
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])
    with pytest.raises(ValueError, match="must have a layer named 'backbone'"):
        transfer.fine_tune(plain, _images(), None, 1, 1)


def test_pretrained_cnn_through_hub(tmp_path):
    cnn = CNNClassifier((28, 28, 1), 10, filters=(4,))
    features = transfer.feature_extractor(cnn)
    assert features.output.shape == (None, 4)
    path = export_reusable(features, str(tmp_path / "features"))
    model = transfer.image_backbone_classifier("hub:" + path, (28, 28, 1), 2, trainable=False,
                                               seed=0)
    x = np.random.RandomState(0).rand(3, 28, 28, 1).astype("float32")
    np.testing.assert_allclose(model.get_layer("backbone")(x), features(x, training=False),
                               atol=1e-5)
    backbone_weights = [w.numpy().copy() for w in model.get_layer("backbone").weights]
    transfer.fine_tune(model, _images(), None, head_epochs=1, fine_tune_epochs=2,
                       learning_rate=1e-2, fine_tune_learning_rate=1e-2)
    changed = [not np.array_equal(b, w.numpy())
               for b, w in zip(backbone_weights, model.get_layer("backbone").weights)]
    assert any(changed)  # fine-tuning reached the SavedModel's variables
    with pytest.raises(ValueError, match="unfreezes whole: pass unfreeze_top=None"):
        transfer.set_backbone_trainable(model, unfreeze_top=3)
    with pytest.raises(ValueError, match="`weights` applies to Keras Applications"):
        transfer.image_backbone_classifier("hub:" + path, (28, 28, 1), 2, weights="imagenet")
    with pytest.raises(ValueError, match="a functional model with a layer named 'logits'"):
        transfer.feature_extractor(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
