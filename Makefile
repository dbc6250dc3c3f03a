# The two commands: `make test` (everything, from a fresh machine) and `make bench`.
PYTHON := .venv/bin/python

.PHONY: setup test bench testdata

setup:
	scripts/setup.sh

test: setup
	$(PYTHON) -m pytest -p no:cacheprovider

# Each benchmarks/bench_*.py is a script that prints its numbers.
bench: setup testdata
	@for script in benchmarks/bench_*.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script"; $(PYTHON) "$$script" || exit 1; \
	done

testdata: setup
	$(PYTHON) scripts/make_test_data.py
