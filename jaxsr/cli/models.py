"""`jaxsr models`: the packaged pretrained models (`jaxsr.pretrained.available()`) as a table, or as JSON."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split(": ", 1)[1])
    p.add_argument(
        "--json", action="store_true", help="print jaxsr.pretrained.available() as one JSON list"
    )
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    from jaxsr.pretrained import available
    from jaxsr.pretrained.__main__ import table

    print(json.dumps(available()) if args.json else table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
