"""`python -m jaxsr.cli ...`: the `jaxsr` command."""

import sys

from jaxsr.cli import main

sys.exit(main())
