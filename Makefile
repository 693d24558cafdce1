# Two commands from a fresh clone: `make run` (offline, no key needed) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint quality halves fit-claims crossval edge-oracle edge-alternatives stance-model bench schema-speed longthread imports \
	fault-report output-cost stance-tradeoff report-sizes screenshots bench-scale bench-github-scale bench-scale-posts jobs clean

# The stamp files re-install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/threadbrief run seeds/ -o outputs/

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/ruff format --check pipeline tests bench
	$(BIN)/mypy

# Throughput against the rate-limit bound with the fake server (500 chunks), cost of a warm re-run, CPU per chunk.
bench: $(VENV)/.installed
	$(BIN)/python bench/throughput.py

# One 2,000-post thread end to end against the fake server: calls, tokens, seconds, a cross-chunk plumbing check.
longthread: $(VENV)/.installed
	$(BIN)/python bench/longthread.py

# Time over posts of one thread (2,000 to 50,000 posts, quotes from the parent, far back and nowhere) against the
# fake server: wall, CPU, calls, seconds per 1,000 posts and the fitted growth exponent.
bench-scale-posts: $(VENV)/.installed
	$(BIN)/python bench/scale_posts.py

# Offline extractor quality against ../shared/eval/cmv-dev (in-sample: claims, attack edges, post pairs) and speed.
quality: $(VENV)/.installed
	$(BIN)/python bench/quality.py

# How much the offline scores move with the sample: claim, attack-edge, post-pair F1 on random halves of cmv-dev.
halves: $(VENV)/.installed
	$(BIN)/python bench/halves.py

# Refit the offline extractor's tuned parts on ../shared/eval/cmv-dev and write pipeline/data/offline_model.json.
fit-claims: $(VENV)/.installed
	$(BIN)/python bench/fit_claims.py --write

# The offline extractor cross-validated by thread (8 folds, every tuned part refitted per fold): the headline figures.
crossval: $(VENV)/.installed
	$(BIN)/python bench/crossval.py

# The argued-reply default's cut: CMV attack edges against false rebuttals on eval/nondebate.
stance-tradeoff: $(VENV)/.installed
	$(BIN)/python bench/stance_tradeoff.py

# A perfect and a learned reply stance: CMV attack edges and non-debate false rebuttals (cross-validated by thread).
stance-model: $(VENV)/.installed
	$(BIN)/python bench/stance_model.py

# How much of the offline attack-edge error is the source clause, how much the target clause.
edge-oracle: $(VENV)/.installed
	$(BIN)/python bench/edge_oracle.py

# Other ways to pick an attack edge's clauses (every claim as a source, other targets, a pairwise model), scored.
edge-alternatives: $(VENV)/.installed
	$(BIN)/python bench/edge_alternatives.py

# The compiled schema check (fastjsonschema) against jsonschema on valid model answers and briefs of seeds/.
schema-speed: $(VENV)/.installed
	$(BIN)/python bench/schema_speed.py

# Every core: the offline run with --jobs 1 and --jobs 2 on 50 copies of cmv-dev (wall, speedup, identical outputs),
# the read+tokenize floor, and where one job's time goes, stage by stage (--profile adds cProfile's view).
jobs: $(VENV)/.installed
	$(BIN)/python bench/jobs.py --copies 50 --jobs 1,2 --repeat 3

# Output tokens per claim and per thread, and USD per 1,000 threads, of realistic answers before/after the compact schema.
output-cost: $(VENV)/.installed
	$(BIN)/python bench/output_cost.py

# Time and peak memory against the number of threads (offline run, export, report over cmv-dev copies),
# with the fitted growth exponents; SIZES=1000,3000 for a quick look, DUMP=2000000 for a Reddit dump's load,
# HN=2000000 for a Hacker News items dump's.
SIZES ?= 1000,3000,10000,30000
DUMP ?= 0
HN ?= 0
bench-scale: $(VENV)/.installed
	$(BIN)/python bench/scale.py --sizes $(SIZES) --dump-comments $(DUMP) --hn-items $(HN)

# Peak memory of `threadbrief import` over a folder of a repository's GitHub issues and comments (pages of
# 100, comments in time order), at each number of issues in ISSUES.
ISSUES ?= 2000,20000
bench-github-scale: $(VENV)/.installed
	$(BIN)/python bench/github_scale.py --sizes $(ISSUES)

# The fault-injection table, docs/fault-report.md, from the fault tests' results (the suite writes no file).
fault-report: $(VENV)/.installed-test
	THREADBRIEF_FAULT_REPORT=docs/fault-report.md $(BIN)/python -m pytest tests/test_faults.py tests/test_fake_server_runs.py

# What the importers keep of each real export in tests/fixtures/: threads, posts, authors, reply links, notes.
imports: $(VENV)/.installed
	$(BIN)/python bench/imports.py

# Bytes of brief.md and of the report's thread page for generated debates of 200, 2,000 and 20,000 posts.
report-sizes: $(VENV)/.installed
	$(BIN)/python bench/report_sizes.py

# The README's two screenshots of a real thread's page (docs/report-*.png), by headless chromium.
screenshots: $(VENV)/.installed
	$(BIN)/python bench/screenshots.py

clean:
	rm -rf $(VENV) outputs/*/ outputs/run.json
