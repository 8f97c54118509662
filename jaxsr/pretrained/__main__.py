"""`python -m jaxsr.pretrained`: the packaged models as a Markdown table (name, task, rates, size, scores).

`python -m jaxsr.pretrained --readme README.md` also writes it between the file's
`<!-- pretrained-table:begin -->` and `<!-- pretrained-table:end -->` markers.
"""

from __future__ import annotations

import pathlib
import sys

from jaxsr.files import write_atomic
from jaxsr.pretrained import available


def table() -> str:
    lines = [
        "| name | task | input -> output | parameters | held-out result |",
        "|---|---|---|---|---|",
    ]
    for m in available():
        task = m["task"] + (f" x{m['ratio']}" if m.get("ratio") else "")
        headline = (m.get("scores") or {}).get("headline", "see its model card")
        lines.append(
            f"| `{m['name']}` | {task} | {m['input_rate'] / 1000:g} -> {m['sample_rate'] / 1000:g} kHz | "
            f"{m['params'] / 1e6:.2f} M | {headline} |"
        )
    return "\n".join(lines)


def write_between_markers(path: pathlib.Path, text: str) -> None:
    doc = path.read_text()
    begin, end = "<!-- pretrained-table:begin -->", "<!-- pretrained-table:end -->"
    if begin not in doc or end not in doc:
        raise SystemExit(f"{path}: no {begin} ... {end} markers to write the table between")
    head, rest = doc.split(begin, 1)
    write_atomic(path, head + begin + "\n" + text + "\n" + end + rest.split(end, 1)[1])


if __name__ == "__main__":
    out = table()
    print(out)
    if len(sys.argv) == 3 and sys.argv[1] == "--readme":
        write_between_markers(pathlib.Path(sys.argv[2]), out)
    elif len(sys.argv) > 1:
        raise SystemExit("usage: python -m jaxsr.pretrained [--readme README.md]")
