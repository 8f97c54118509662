"""`python launch/evaluate.py ...`: the same command as `jaxsr evaluate ...` (and `jaxsr-evaluate`), whose code and flags are in
jaxsr/cli/evaluate.py (`python launch/evaluate.py --help` lists them)."""

import sys

from jaxsr.cli.evaluate import *  # noqa: F401,F403  (its public names too, for code that loads this file)
from jaxsr.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main(prog="launch/evaluate.py"))
