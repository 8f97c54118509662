"""`python launch/export.py ...`: the same command as `jaxsr export ...` (and `jaxsr-export`), whose code and flags are in
jaxsr/cli/export.py (`python launch/export.py --help` lists them)."""

import sys

from jaxsr.cli.export import main

if __name__ == "__main__":
    sys.exit(main(prog="launch/export.py"))
