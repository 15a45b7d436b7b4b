"""``python -m tests.demo``: run the demo (see run.py)."""
from __future__ import annotations

import sys

from tests.demo.run import main

sys.exit(main(sys.argv[1:]))
