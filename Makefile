# The two commands of the README: `make demo` (the viewer on its demo data) and `make test`.
PYTHON := .venv/bin/python

.PHONY: setup test bench testdata demo

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

# Build the static site with the built-in demo data source and serve it on 127.0.0.1.
demo: setup
	$(PYTHON) scripts/build_static.py --out dist
	.venv/bin/ohifpy serve --dist dist --port $${PORT:-8000}
