"""Stand-ins for the pkgsrc and illumos/macOS tools that cannot run on Linux.

Test code only: nothing under plugins/ or salt_states/ knows about it. Each tool is a module
here with `main(argv, config) -> int`; launcher.py writes the small executables that fixture
kits and test hosts ship in place of the real programs. Modules use relative imports only, so
the package works both as `tests.sim` (pytest) and as `sim` (copied onto a test host).
"""
