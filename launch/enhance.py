"""`python launch/enhance.py ...`: the same command as `jaxsr enhance ...` (and `jaxsr-enhance`), whose code and flags are in
jaxsr/cli/enhance.py (`python launch/enhance.py --help` lists them)."""

import sys

from jaxsr.cli.enhance import *  # noqa: F401,F403  (its public names too, for code that loads this file)
from jaxsr.cli.enhance import main

if __name__ == "__main__":
    sys.exit(main(prog="launch/enhance.py"))
