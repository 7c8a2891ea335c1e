"""Functional-API models, one for each sequence-modelling type of the lecture."""

from seqmodels.models.captioner import Captioner
from seqmodels.models.cnn_classifier import CNNClassifier
from seqmodels.models.forecaster import Forecaster
from seqmodels.models.mini_gpt import MiniGPT
from seqmodels.models.text_classifier import TextClassifier
from seqmodels.models.translator import Translator
from seqmodels.models.vision_transformer import VisionTransformer, parse_variant
from seqmodels.models.bert_encoder import BertEncoder
