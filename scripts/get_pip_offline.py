"""Stand-in for the get-pip script ansible-test downloads from a host this machine cannot reach.

ansible-test looks for ~/.ansible/test/cache/get_pip_<version>.py before downloading; the set-up
copies this file there. It runs pip from the wheel that Python's own ensurepip bundles and
installs what ansible-test asked for from the package index.
"""
import glob
import os
import sys

import ensurepip

WHEELS = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")))
if not WHEELS:
    sys.exit("get_pip_offline: this Python has no bundled pip wheel under ensurepip/_bundled")
sys.path.insert(0, WHEELS[-1])

from pip._internal.cli.main import main  # noqa: E402  pylint: disable=wrong-import-position

ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--upgrade", "--force-reinstall"] + ARGS))
