# Two commands set everything up on a fresh machine:
#   make demo   - create .venv, install nfbl with its extras, run the bundled demo
#   make test   - create .venv, install nfbl with its extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nfbl-installed
DEMO_DIR ?= demo-out

.PHONY: demo test install clean bench

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[train,pose-runtime,extras,cluster,poseformat,pats,dev]'
	# mediapipe 0.10.21 without its numpy<2/jax pins (its legacy solutions run on numpy 2).
	$(BIN)/python -m pip install --quiet --no-deps mediapipe==0.10.21
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/nfbl demo $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/nfbl bench speed

clean:
	rm -rf $(VENV) $(DEMO_DIR) build *.egg-info
