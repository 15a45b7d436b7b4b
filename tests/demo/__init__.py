"""The pkgsrc.deploy demo (``make demo``): see run.py and README.md."""
