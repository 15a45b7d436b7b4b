"""pkgsrc_core: the framework-free library behind the pkgsrc.deploy collection and the Salt extension.

Standard library only, relative imports only; no ansible and no salt imports (a test enforces it).
"""
from __future__ import annotations

__version__ = "0.1.0"
