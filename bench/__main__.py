"""`python -m bench`: see bench/cli.py and docs/bench.md."""

from bench.cli import entry

entry()
