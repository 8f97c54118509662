"""`python -m jaxsr.demo`: the same as `jaxsr demo`."""

import sys

from jaxsr.demo import main

sys.exit(main(prog="python -m jaxsr.demo"))
