#!/usr/bin/env bash
# make demo: svc-demo delivered with pkgsrc to four real systemd test hosts, two by Ansible and two by
# Salt (and a fifth, real1, with the real pkg_install and pkgin where the real kit is), proven over
# HTTP and summarised, then torn down (tests/demo/README.md). Needs root on Linux.
# First run on a fresh machine: set-up (Debian packages, .venv) and the test hosts' root (about 90 s).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/setup.sh
# The fixtures (and the stand-in tools they build) import the core as pkgsrc_core, as pytest does.
export PYTHONPATH="$top/plugins/module_utils:$top${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python -m tests.demo "$@"
