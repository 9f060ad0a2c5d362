"""The seams hold: only the engine (domain/ and workflows/) words or reads what is said to people.

Surfaces (portal, CLI, demo) and adapters render a prompt from its typed context and show its question as it is;
they never pull facts out of a question, a notice or an id, and never write a notice of their own. These tests
read the source, so a regex over a question added anywhere fails here before any reviewer has to notice it.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import ROOT

ENGINE = {"domain", "workflows"}
OUTSIDE = ["activities", "portal", "demo", "flipside_client.py", "starter.py", "worker.py", "codec_server.py"]
# What people are told, on prompts and notices; and what names a workflow, prompt or notice.
WORDS = {"question", "note", "subject", "body"}
IDS = {"id", "prompt_id", "workflow_id", "pairing_id", "program_id", "key", "notice_key"}
READING = {
    "split",
    "rsplit",
    "partition",
    "rpartition",
    "startswith",
    "endswith",
    "removeprefix",
    "removesuffix",
    "find",
    "index",
    "count",
}
WORDING = {"Notice", "Words", "Prompt"}  # building one of these is wording a message


def _files() -> Iterator[Path]:
    for name in OUTSIDE:
        path = ROOT / name
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _attribute(node: ast.AST) -> str | None:
    return node.attr if isinstance(node, ast.Attribute) else None


def _reads_text(node: ast.AST) -> str | None:
    """A description of `node` if it takes words or an id apart; None otherwise."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        method, target = node.func.attr, _attribute(node.func.value)
        if method in READING and target in WORDS | IDS:
            return f".{target}.{method}()"
        if isinstance(node.func.value, ast.Name) and node.func.value.id == "re":
            used = {_attribute(arg) for arg in node.args} & (WORDS | IDS)
            if used:
                return f"re.{method}() over .{used.pop()}"
    if isinstance(node, ast.Subscript) and _attribute(node.value) in WORDS:
        return f".{_attribute(node.value)}[...]"
    if isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
        searched = [a for c in node.comparators if (a := _attribute(c)) in WORDS]
        if searched:
            return f"a search in .{searched[0]}"
    return None


def _words_a_message(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else _attribute(node.func)
        if name in WORDING:
            return f"{name}(...)"
        if any(k.arg in ("subject", "body", "question") for k in node.keywords):
            return "a subject, body or question given as a keyword"
    return None


def _findings(check: object) -> list[str]:
    found = []
    for path in _files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            what = check(node)  # type: ignore[operator]
            if what:
                found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}: {what}")
    return found


def test_no_surface_or_adapter_takes_a_question_notice_or_id_apart() -> None:
    assert _findings(_reads_text) == []


def test_no_surface_or_adapter_words_a_message_of_its_own() -> None:
    assert _findings(_words_a_message) == []


def test_the_checks_see_what_they_look_for() -> None:
    """The two checks above pass because nothing offends, not because they see nothing: each finds its target."""
    offending = """
import re
partner = re.search(r"Meet (.+?):", prompt.question)
cycle = prompt.id.rsplit("-", 1)[-1]
reason = notice.key.rpartition("-")[0]
first = notice.subject[0]
low = "leadership" in prompt.question
notice = Notice(key="k", to="a@b.c", subject="Hello", body="Hi")
"""
    tree = ast.parse(offending)
    read = [what for node in ast.walk(tree) if (what := _reads_text(node))]
    worded = [what for node in ast.walk(tree) if (what := _words_a_message(node))]
    assert sorted(read) == sorted(
        [
            "re.search() over .question",
            ".id.rsplit()",
            ".key.rpartition()",
            ".subject[...]",
            "a search in .question",
        ]
    )
    assert worded == ["Notice(...)"]


def test_the_engine_is_where_the_words_are() -> None:
    """The notices, questions and replies live in domain/; the workflows build none inline."""
    for name in ("pairing.py", "program.py", "base.py"):
        tree = ast.parse((ROOT / "workflows" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _attribute(node.func) in ("notify", "notify_coordinators"):
                strings = [a for a in node.args if isinstance(a, ast.JoinedStr)]
                texts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                # A key ("declined") is a constant too: only a sentence (spaces) would be words written inline.
                assert not strings or all(_is_key(s) for s in strings), f"workflows/{name}:{node.lineno}"
                assert all(" " not in t for t in texts), f"workflows/{name}:{node.lineno}: {texts}"


def _is_key(node: ast.JoinedStr) -> bool:
    """An f-string key such as f"rematch/{record.pairing_id}": no spaces in its constant parts."""
    return all(" " not in v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))


# The layers, lowest first. A top-level package may import only from layers below it, so no import runs back up
# and no two packages import each other. docs/ARCHITECTURE.md draws the same picture.
LAYERS: list[set[str]] = [
    {"domain"},
    {"adapters"},
    {"settings", "activities"},
    {"bootstrap", "workflows"},
    {"flipside_client", "worker"},
    {"portal", "starter", "codec_server"},
    {"demo"},
]
PRODUCT = {name for layer in LAYERS for name in layer}


def _top_level(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imports_between_packages() -> dict[tuple[str, str], str]:
    """(importer, imported) -> the first file where it happens, over every product module."""
    found: dict[tuple[str, str], str] = {}
    for name in PRODUCT:
        path = ROOT / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [ROOT / f"{name}.py"]:
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    target = module.split(".")[0]
                    if target in PRODUCT and target != name:
                        found.setdefault((name, target), str(file.relative_to(ROOT)))
    return found


def _layer(name: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if name in layer)


def test_every_top_level_module_is_in_a_layer() -> None:
    modules = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    modules |= {p.stem for p in ROOT.glob("*.py")}
    assert modules - {"tests", "bench", "migrations"} == PRODUCT


def test_imports_only_run_down_the_layers() -> None:
    upward = {
        f"{importer} imports {imported} ({where})"
        for (importer, imported), where in imports_between_packages().items()
        if _layer(imported) >= _layer(importer)
    }
    assert upward == set()


def test_there_is_no_import_cycle_between_top_level_packages() -> None:
    graph: dict[str, set[str]] = {name: set() for name in PRODUCT}
    for importer, imported in imports_between_packages():
        graph[importer].add(imported)
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, " -> ".join([*visiting[visiting.index(name) :], name])
        if name in done:
            return
        visiting.append(name)
        for target in sorted(graph[name]):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


# Size: a handler reads at a glance; no function is longer than a screen.
HANDLER_LINES = 25
FUNCTION_LINES = 60
HANDLER_DECORATORS = {"run", "update", "signal", "query", "validator"}


def _functions(paths: list[Path]) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", node


def _lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return (node.end_lineno or node.lineno) - node.lineno + 1


def _is_handler(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(_attribute(d.func if isinstance(d, ast.Call) else d) in HANDLER_DECORATORS for d in node.decorator_list)


def test_every_workflow_handler_reads_at_a_glance() -> None:
    handlers = [(w, n) for w, n in _functions(sorted((ROOT / "workflows").glob("*.py"))) if _is_handler(n)]
    assert len(handlers) > 40  # runs, updates and their validators, signals, queries: the check sees them
    long = {f"{where}: {_lines(node)} lines" for where, node in handlers if _lines(node) > HANDLER_LINES}
    assert long == set()


def test_no_function_is_longer_than_a_screen() -> None:
    code = [p for name in PRODUCT for p in ([ROOT / f"{name}.py"] if (ROOT / f"{name}.py").exists() else [])]
    folders = [*(name for name in PRODUCT if (ROOT / name).is_dir()), "tests", "bench"]  # not migrations/
    code += [p for name in folders for p in sorted((ROOT / name).rglob("*.py"))]
    long = {f"{where}: {_lines(node)} lines" for where, node in _functions(code) if _lines(node) > FUNCTION_LINES}
    assert long == set()
