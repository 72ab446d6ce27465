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


def test_surfaces_go_through_services_not_adapters() -> None:
    adapters = ("clonr.store.sql", "clonr.vectors.", "clonr.llm.", "sqlalchemy", "llama_cpp")
    assert offenders("studio", adapters) == [] and offenders("widget", adapters) == []
