"""Imports point one way: surfaces → services → ports → adapters; the core knows no UI."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def offenders(folder: str, forbidden: tuple[str, ...], allowed_in: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in (ROOT / folder).rglob("*.py"):
        relative = str(path.relative_to(ROOT))
        if relative.startswith(allowed_in):
            continue
        for name in imports_of(path):
            if name.split(".")[0] in forbidden or name.startswith(forbidden):
                found.append(f"{relative} imports {name}")
    return found


def test_the_core_imports_no_ui() -> None:
    assert offenders("clonr", ("streamlit", "gradio", "studio", "widget")) == []


def test_only_the_cli_imports_click() -> None:
    assert offenders("clonr", ("click",), allowed_in=("clonr/cli/",)) == []


def test_only_llm_adapters_touch_model_runtimes() -> None:
    runtimes = ("llama_cpp", "onnxruntime", "openai", "langchain_openai", "tokenizers")
    assert offenders("clonr", runtimes, allowed_in=("clonr/llm/",)) == []


def test_only_the_discord_integration_loads_discord_py() -> None:
    assert offenders("clonr", ("discord",), allowed_in=("clonr/integrations/discord/bot.py",)) == []


def test_only_the_billing_package_talks_to_stripe() -> None:
    assert offenders("clonr", ("stripe",), allowed_in=("clonr/billing/",)) == []
    assert offenders("studio", ("stripe",)) == [] and offenders("widget", ("stripe",)) == []


def test_only_the_weaviate_adapter_imports_the_weaviate_client() -> None:
    assert offenders("clonr", ("weaviate",), allowed_in=("clonr/vectors/weaviate.py",)) == []
    assert all(offenders(folder, ("weaviate",)) == [] for folder in ("studio", "widget", "tests"))


def test_only_the_postgres_job_queue_uses_procrastinate() -> None:
    allowed = ("clonr/jobs/postgres.py", "clonr/store/migrations/versions/0024_procrastinate.py")
    assert offenders("clonr", ("procrastinate",), allowed_in=allowed) == []
    assert offenders("studio", ("procrastinate",)) == [] and offenders("widget", ("procrastinate",)) == []


def test_surfaces_go_through_services_not_adapters() -> None:
    adapters = ("clonr.store.sql", "clonr.vectors.", "clonr.llm.", "sqlalchemy", "llama_cpp")
    assert offenders("studio", adapters) == [] and offenders("widget", adapters) == []


# Each package of the core may import only those before it; a TYPE_CHECKING import (a type in a signature)
# is exempt. The top-level `clonr` package is the public API built from all of them.
PACKAGE_ORDER = ("errors", "config", "store", "access", "llm", "vectors", "jobs", "clones", "ingest", "memory",
                 "persona", "feeds", "chat", "billing", "voice", "fans", "integrations", "app", "api", "cli")


def _clonr_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every runtime import of clonr in a file."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "clonr":
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.split(".")[0] == "clonr"]
    return found


def test_core_packages_import_only_packages_before_them_and_no_private_names() -> None:
    problems = []
    for path in (ROOT / "clonr").rglob("*.py"):
        parts = path.relative_to(ROOT / "clonr").with_suffix("").parts
        if parts[0] in ("__init__", "__main__") or "migrations" in parts:
            continue
        own = parts[0]
        assert own in PACKAGE_ORDER, f"clonr/{own} has no place in PACKAGE_ORDER: give it one"
        for module, names in _clonr_imports(path):
            other = module.split(".")[1] if "." in module else None
            if other is None:
                if set(names) - {"__version__"}:
                    problems.append(f"{path.relative_to(ROOT)} imports {names} from the top-level package")
            elif other != own and PACKAGE_ORDER.index(other) > PACKAGE_ORDER.index(own):
                problems.append(f"{path.relative_to(ROOT)} imports {module}, which comes after {own}")
            if other != own and any(p.startswith("_") and not p.startswith("__")
                                    for p in [*module.split(".")[2:], *names]):
                problems.append(f"{path.relative_to(ROOT)} imports private {module} {names}")
    assert problems == []
