"""Functional-API models, one for each sequence-modelling type of the lecture."""

from seqmodels.models.cnn_classifier import CNNClassifier
from seqmodels.models.forecaster import Forecaster
from seqmodels.models.text_classifier import TextClassifier
from seqmodels.models.vision_transformer import VisionTransformer, parse_variant
