# pkgsrc.deploy: one entry point. `make demo` is the main job, `make test` runs every test.
# Both install what they need (scripts/setup.sh) on a fresh Debian 12 machine, as root.
.PHONY: setup test pytest sanity units lint bench demo clean

setup:
	scripts/setup.sh

test:
	scripts/test.sh

pytest: setup
	.venv/bin/python -m pytest

sanity: setup
	scripts/test.sh sanity

units: setup
	scripts/test.sh units

lint: setup
	scripts/test.sh lint

bench: setup
	.venv/bin/python benchmarks/summary_parse.py
	.venv/bin/python benchmarks/packages_converge.py
	.venv/bin/python benchmarks/bootstrap_kit.py
	.venv/bin/python benchmarks/testbed_timing.py

demo:
	scripts/demo.sh

clean:
	rm -rf build tests/output .pytest_cache
