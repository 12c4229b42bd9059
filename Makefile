# Two commands for a new machine (python3, pip and apt are enough):
#   make run    create .venv, install, replay the bundled scenarios offline and print the report
#   make test   install the test tools, start what the tests need, run the eval gate and pytest

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
CD     := $(VENV)/bin/cloud-doctor
STAMP  := $(VENV)/.installed

.PHONY: install run test eval eval-spent bench checkov browser healer-tools guard-programs nginx demo postgres clean llm-sessions

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU build of torch first (the embedding model needs it); pip finds the local wheel where one exists.
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# checkov pins old boto3/packaging and ships a module named hcl2 that shadows python-hcl2:
# it lives in its own virtual environment and is called as a CLI.
checkov: .venv-checkov/bin/checkov
.venv-checkov/bin/checkov:
	bash scripts/install_checkov.sh

run: install
	$(CD) replay evals/scenarios --out out/replay

eval: install
	$(CD) eval evals/scenarios --out out/eval

# The sets written blind and then tuned on (evals/spent/README.md): regression figures, one line per set.
eval-spent: install
	@for set in evals/spent/*/; do printf '%s ' "$$(basename $$set)"; $(CD) eval $$set --out out/spent/$$(basename $$set) --json \
	  | $(PY) -m evals.figures; done

browser:
	-bash scripts/install_browser.sh

# Debian's PostgreSQL for the checkpoint and scale-out tests (tests/postgres_harness.py starts its own cluster).
postgres:
	-bash scripts/install_postgres.sh

# Go for the Go sample repository and node-postgres for the Node one (tests/test_code_healer_repos.py).
healer-tools:
	-bash scripts/install_code_healer_tools.sh

# The real programs and throwaway servers the guard's differential tests run (tests/test_guard_differential.py).
guard-programs:
	-bash scripts/install_guard_programs.sh

# Debian's nginx for the rollout tests and `cloud-doctor rollout demo` (needs root; without it they skip / say how).
nginx:
	-bash scripts/install_nginx.sh

demo: install nginx
	$(CD) rollout demo

test: install checkov browser healer-tools guard-programs nginx postgres
	mkdir -p out
	$(CD) eval evals/scenarios --out out/eval-ci --json > out/eval-ci.json || (cat out/eval-ci.json; exit 1)
	$(PY) -m pytest -q -p no:cacheprovider

bench: install
	$(PY) -m benchmarks

# Re-record the model sessions CI replays (after a prompt, evidence or tool catalogue change).
llm-sessions: install
	$(PY) -m evals.record_llm_sessions evals/scenarios evals/llm_sessions

clean:
	rm -rf $(VENV) .venv-checkov out .cloud-doctor
