# Two commands on a fresh machine:  make book   and   make test
# Both create .venv and install the pinned set on first use.
PROFILE ?= quick
JOBS ?= 2
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book check test install explore benchmark clean

$(STAMP): pyproject.toml requirements.lock package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and exactly: a range would let pip pull a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[book,test]"
	npm ci --no-audit --no-fund --silent
	touch $@

install: $(STAMP)

book: $(STAMP)
	$(BIN)/seemlab book --profile $(PROFILE) --jobs $(JOBS)

# after `make book`: fails when an item book/items.yml expects reproduced is not
check: $(STAMP)
	$(BIN)/seemlab check --profile $(PROFILE)

# the classroom explorer: JupyterLab on a copy of the explore notebook with live sliders
# (the copy is made once under _explore/; delete it to start again from notebooks/)
explore: $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[explore]"
	mkdir -p _explore
	test -f _explore/explore_self_excitation.ipynb || $(BIN)/papermill --prepare-only --no-progress-bar \
		notebooks/explore_self_excitation.ipynb _explore/explore_self_excitation.ipynb -p live True
	$(BIN)/jupyter lab _explore/explore_self_excitation.ipynb

test: $(STAMP)
	$(BIN)/python -m pytest -q

benchmark: $(STAMP)
	$(BIN)/python benchmarks/ntk_seem.py --threads 2 --reps-large 3 --out benchmarks/results/ntk_seem_cpu.md
	$(BIN)/python benchmarks/train_throughput.py --repeats 5 --out benchmarks/results/train_throughput_cpu.md

clean:
	rm -rf _build book/_executed
