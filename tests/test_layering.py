"""The package's layering: reading data loads no model, inference or training code (checked in a fresh process)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
HEAVY = (
    "jaxsr.models",
    "jaxsr.inference",
    "jaxsr.train",
    "jaxsr.evaluation",
    "jaxsr.checkpoints",
    "jaxsr.pretrained",
)


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_data_layer_loads_no_model_inference_or_training():
    loaded = _loaded_after("import jaxsr.data.builders, jaxsr.data.pipeline, jaxsr.data.synthetic")
    # (grain itself imports orbax for its iterator checkpoints: that is the loader's, not ours.)
    assert not {m for m in loaded if m.split(".")[0] in ("flax", "optax") or m in HEAVY}


def test_import_jaxsr_is_lazy_and_the_api_resolves():
    loaded = _loaded_after("import jaxsr")
    assert "jax" not in loaded and not loaded & set(HEAVY)
    loaded = _loaded_after("import jaxsr; jaxsr.enhance; jaxsr.load; jaxsr.metrics.snr")
    assert "jaxsr.inference" in loaded and "jaxsr.train" not in loaded


def _modules() -> dict[str, pathlib.Path]:
    """`jaxsr.x.y` -> file, for every module of the package."""
    out = {}
    for path in sorted((ROOT / "jaxsr").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: pathlib.Path, name: str, known: set[str]) -> set[str]:
    """The jaxsr modules `path` imports: when it is imported, and inside its functions when they run.

    A function-level import is a dependency all the same (it only runs later), so it counts; one under
    `if TYPE_CHECKING:` is for annotations only and never runs, so it does not.
    """
    import ast

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    stack: list[ast.AST] = [ast.parse(path.read_text())]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
            stack.extend(n.orelse)
            continue
        if isinstance(n, ast.Import):
            found |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - n.level + 1]
                    + ([base] if base else [])
                )
            found.add(base)
            found |= {f"{base}.{a.name}" for a in n.names}
        stack.extend(ast.iter_child_nodes(n))
    return {m for m in found if m in known and m != name}


# Edges the cycle test leaves out, each for a reason; each must still be an import of the package.
ALLOWED_EDGES = {
    # `Model.enhance` and `Model.streamer` hand the Model to the functions that take one (a convenience
    # the notebooks use); those functions' modules import `Model`, so the methods import them on call.
    ("jaxsr.inference.model", "jaxsr.inference.api"): "Model.enhance",
    ("jaxsr.inference.model", "jaxsr.inference.streaming"): "Model.streamer",
}


def _import_graph() -> dict[str, set[str]]:
    """`module -> the jaxsr modules it imports` (at module level and inside functions)."""
    mods = _modules()
    graph = {name: _imports(path, name, set(mods)) for name, path in mods.items()}
    # A module importing its own package (`from jaxsr import pretrained`, `from jaxsr import
    # __version__`) reaches the package's API, not a job above it: child -> ancestor edges are
    # dropped. Package -> submodule edges stay, so a circle through an `__init__` is seen.
    graph = {n: {m for m in deps if not n.startswith(m + ".")} for n, deps in graph.items()}
    gone = [e for e in ALLOWED_EDGES if e[1] not in graph.get(e[0], ())]
    assert not gone, f"allowed edges that are no longer imports (drop them): {gone}"
    for a, b in ALLOWED_EDGES:
        graph[a].discard(b)
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of `graph` as `[a, b, ..., a]`, or `[]`."""
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(n: str, trail: list[str]) -> bool:
        state[n] = 1
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                cycle.extend(trail[trail.index(m) :] + [m] if m in trail else [n, m])
                return True
            if state.get(m) is None and visit(m, trail + [m]):
                return True
        state[n] = 2
        return False

    for n in sorted(graph):
        if state.get(n) is None and visit(n, [n]):
            break
    return cycle


def test_no_import_cycles_in_the_package():
    # Checked from the source with ast (an independent reading, not Python's import machinery, which
    # tolerates some cycles until a name is used too early, and sees an import inside a function only
    # when the function runs).
    cycle = _find_cycle(_import_graph())
    assert not cycle, " -> ".join(cycle)


def test_the_cycle_check_counts_imports_inside_functions_and_through_packages():
    # What the cycle test relies on: an import that runs only inside a function is an edge, and so is
    # a package's __init__ importing its modules, so a circle made of either is found.
    graph = _import_graph()
    assert "jaxsr.inference" in graph["jaxsr.pretrained.build"]  # inside `build` only
    assert "jaxsr.inference.model" in graph["jaxsr.inference"]
    assert not _find_cycle(graph)
    lazy = {**graph, "jaxsr.deploy.folder": graph["jaxsr.deploy.folder"] | {"jaxsr.inference"}}
    assert "jaxsr.deploy.folder" in _find_cycle(lazy)


def test_deployment_knows_nothing_of_inference():
    # One direction: inference runs a Model through deploy's runtimes and reads export folders with
    # deploy's folder module; deploy takes a Model by its attributes and imports no inference module.
    graph = _import_graph()
    deploy = {n: deps for n, deps in graph.items() if n.startswith("jaxsr.deploy")}
    assert {"jaxsr.deploy.folder", "jaxsr.deploy.export", "jaxsr.deploy.runtimes"} <= set(deploy)
    assert "jaxsr.deploy.runtimes" in graph["jaxsr.inference.model"]
    bad = {
        n: sorted(d for d in deps if d.startswith("jaxsr.inference")) for n, deps in deploy.items()
    }
    assert not any(bad.values()), bad


def _layout_paths() -> set[str]:
    """The paths the README's Layout tree names (`jaxsr/data/`, `jaxsr/data/sources.py`, ...), from its indentation."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("## Layout") :].split("```")[1]
    paths, stack = set(), []  # stack: (indent, folder)
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        for token in line.split()[0].split(","):  # "plots.py, writers.py" names two files
            if token.endswith((".py", "/")):
                paths.add("".join(f for _, f in stack) + token)
        first = line.split()[0]
        if first.endswith("/"):
            stack.append((indent, first))
    # "plots.py, writers.py" puts a space after the comma: take the next word too.
    for line in block.splitlines():
        words = line.split()
        if len(words) > 1 and words[0].endswith(","):
            prefix = next(
                (p.rsplit("/", 1)[0] + "/" for p in paths if p.endswith(words[0].rstrip(","))), ""
            )
            paths.add(prefix + words[1])
    return paths


# Each module does one job and can be read in one sitting. The tree is formatted by ruff at 100 columns,
# which spreads a long call over several lines, so the cap is on lines as formatted; cohesion comes first:
# a module is not split only to pass it.
MAX_MODULE_LINES = 650


def test_no_module_is_over_the_line_cap_and_the_readme_layout_names_every_file():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules().values()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long
    listed = _layout_paths()
    missing = []
    for path in _modules().values():
        rel = str(path.relative_to(ROOT))
        # The nearest folder the layout names decides: one it lists file by file must list this file (its
        # __init__/__main__ are covered by the folder's own line); one it sums up in a line covers everything below.
        ok, folder = False, path.parent
        while folder != ROOT:
            key = str(folder.relative_to(ROOT)) + "/"
            by_file = any(
                p.startswith(key) and p != key and p.count("/") == key.count("/") for p in listed
            )
            if by_file and folder == path.parent:
                ok = rel in listed or path.name in ("__init__.py", "__main__.py")
                break
            if key in listed or key == "jaxsr/":
                ok = (
                    key in listed
                    and not by_file
                    or key == "jaxsr/"
                    and folder == path.parent
                    and rel in listed
                )
                break
            folder = folder.parent
        if not ok:
            missing.append(rel)
    assert not missing, f"README Layout does not name: {missing}"


def test_private_names_stay_in_their_module_and_nothing_is_re_exported():
    # An underscore means private to its module: the package and the benchmarks import no `_name` from another
    # module, and no module imports a name only to hand it on (an unused-import waiver): callers import each name from
    # the module that defines it. (A package's __init__ may gather its public API.)
    import ast

    private, reexports = [], []
    for path in sorted([*(ROOT / "jaxsr").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]):
        text = path.read_text()
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                ("jaxsr", "benchmarks")
            ):
                private += [
                    f"{rel}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
        reexports += [
            f"{rel}:{n}"
            for n, line in enumerate(text.splitlines(), 1)
            if "noqa: F401" in line and path.name != "__init__.py" and "/configs/" not in rel
        ]
    assert not private, f"private names imported across modules: {private}"
    assert not reexports, f"re-exports: {reexports}"


def _all_imports(path: pathlib.Path, name: str) -> set[str]:
    """Every module `path` imports, at module level or inside a function (a lazy import runs too, later),
    `from a import b` counted as both `a` and `a.b`; relative imports resolved against `name`."""
    import ast

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.Import):
            found |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                parts = package.split(".")[: len(package.split(".")) - n.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found |= {base} | {f"{base}.{a.name}" for a in n.names}
    return found


def test_tasks_package_depends_on_nothing_above_it():
    # The degradations are the layer below the config, the data and everything else: every import in
    # jaxsr.tasks, lazy ones included, is of jaxsr.tasks itself, the standard library or the numerical
    # libraries; the config imports no jaxsr module but jaxsr.tasks. So no import cycle can run through
    # the config or the tasks, not even one that only closes when a function first runs.
    allowed = {"numpy", "scipy", "soxr", "soundfile"} | set(sys.stdlib_module_names)
    mods = _modules()
    tasks = {n: p for n, p in mods.items() if n == "jaxsr.tasks" or n.startswith("jaxsr.tasks.")}
    assert {"jaxsr.tasks.options", "jaxsr.tasks.degrade"} <= set(tasks)
    bad = {
        n: sorted(
            m
            for m in _all_imports(p, n)
            if not (m == "jaxsr.tasks" or m.startswith("jaxsr.tasks."))
            and m.split(".")[0] not in allowed
        )
        for n, p in tasks.items()
    }
    assert not any(bad.values()), {n: b for n, b in bad.items() if b}
    config_deps = {
        m for m in _all_imports(mods["jaxsr.config"], "jaxsr.config") if m.startswith("jaxsr")
    }
    assert config_deps and all(m.startswith("jaxsr.tasks") for m in config_deps), config_deps
    # Within the package, lazy imports counted, the modules form no cycle.
    graph = {n: {m for m in _all_imports(p, n) if m in tasks and m != n} for n, p in tasks.items()}
    done: set[str] = set()

    def visit(n: str, trail: tuple[str, ...]) -> None:
        assert n not in trail, " -> ".join(trail + (n,))
        if n not in done:
            for m in sorted(graph[n]):
                visit(m, trail + (n,))
            done.add(n)

    for n in sorted(graph):
        visit(n, ())


def test_benchmarks_use_the_library_not_the_cli_nor_private_names():
    # The benchmarks are clients of the library: what they need from `jaxsr evaluate` or `jaxsr
    # enhance` lives in a library module (jaxsr.evaluation, jaxsr.inference), and they reach no
    # underscore name of jaxsr, by import or as an attribute of a jaxsr module they imported.
    import ast

    problems = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text())
        bound = set()  # local names of jaxsr modules and objects
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "jaxsr":
                        bound.add(a.asname or a.name.split(".")[0])
                        if a.name.startswith("jaxsr.cli"):
                            problems.append(f"{rel}:{node.lineno}: import {a.name}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "jaxsr":
                module = node.module or ""
                for a in node.names:
                    bound.add(a.asname or a.name)
                    full = f"{module}.{a.name}"
                    if full.startswith("jaxsr.cli"):
                        problems.append(f"{rel}:{node.lineno}: from {module} import {a.name}")
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        problems.append(f"{rel}:{node.lineno}: {full}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in bound:
                    problems.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert not problems, problems
