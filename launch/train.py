"""`python launch/train.py ...`: the same command as `jaxsr train ...` (and `jaxsr-train`), whose code and flags are in
jaxsr/cli/train.py (`python launch/train.py --help` lists them)."""

import sys

from jaxsr.cli.train import *  # noqa: F401,F403  (its public names too, for code that loads this file)
from jaxsr.cli.train import main

if __name__ == "__main__":
    sys.exit(main(prog="launch/train.py"))
