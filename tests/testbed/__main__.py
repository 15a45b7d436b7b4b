"""``python -m tests.testbed``: see tests/testbed/cli.py."""
from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
