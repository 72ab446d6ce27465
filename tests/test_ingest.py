"""Notes and files become searchable chunks; bad files are refused without touching what is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from clonr import Clonr
from clonr.errors import ConflictError, InvalidInputError


@pytest.fixture
def ada(app: Clonr):
    return app.clones.create("Ada Lovelace")


def test_a_note_is_chunked_indexed_and_listed(app: Clonr, ada) -> None:
    text = "\n\n".join(f"Paragraph {n}: Ada thought about engines and poetry. " * 4 for n in range(10))
    result = app.ingest.add_text("ada-lovelace", text, "Biography")
    assert result.created and result.source.chunk_count > 1
    assert [s.title for s in app.ingest.list_sources("ada-lovelace")] == ["Biography"]
    chunk_ids = [f"{result.source.id}:{n}" for n in range(result.source.chunk_count)]
    stored = app.index_for(ada).get_by_ids(chunk_ids)
    assert len(stored) == result.source.chunk_count
    assert stored[0].metadata["title"] == "Biography"


def test_adding_the_same_text_twice_is_harmless(app: Clonr, ada) -> None:
    first = app.ingest.add_text("ada-lovelace", "Ada loved horses.", "one")
    again = app.ingest.add_text("ada-lovelace", "  Ada loved horses.\n", "two")
    assert not again.created and again.source.id == first.source.id
    assert len(app.ingest.list_sources("ada-lovelace")) == 1


def test_files_are_ingested_one_by_one_and_bad_ones_reported(app: Clonr, ada, tmp_path: Path) -> None:
    good = tmp_path / "notes.md"
    good.write_text("# Notes\nAda met Babbage in 1833.", encoding="utf-8")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    wrong = tmp_path / "resume.pdf"
    wrong.write_bytes(b"%PDF-1.4")
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    progress = []
    paths = [good, binary, latin, wrong, empty, tmp_path / "missing.md"]
    job = app.ingest.run_job(app.ingest.start_job("ada-lovelace", [(str(p), {}) for p in paths]).id,
                             on_progress=lambda job: progress.append((job.finished, job.total)))
    assert [s.title for s in app.ingest.list_sources("ada-lovelace")] == ["notes.md"]
    errors = {Path(item.item).name: item.detail for item in job.failures}
    assert "binary" in errors["photo.txt"]
    assert "not UTF-8" in errors["latin.txt"]
    assert "damaged PDF" in errors["resume.pdf"]
    assert "empty" in errors["empty.md"]
    assert "not a readable file" in errors["missing.md"]
    assert all("\n" not in error for error in errors.values())
    assert progress[-1] == (6, 6)


def test_an_oversized_upload_is_refused_before_it_is_kept(app: Clonr, ada) -> None:
    with pytest.raises(InvalidInputError, match="CLONR_MAX_FILE_BYTES"):
        app.ingest.stage_upload("big.txt", b"a" * (app.settings.max_file_bytes + 1))
    assert not (app.settings.home / "uploads").exists() or not any((app.settings.home / "uploads").iterdir())


@pytest.mark.parametrize("name", ["../../etc/notes.txt", "..\\..\\notes.txt", "/etc/notes.txt", "no<tes>.txt"])
def test_an_upload_name_cannot_escape_with_a_path(app: Clonr, ada, name: str) -> None:
    staged = Path(app.ingest.stage_upload(name, b"Ada's notes"))
    assert staged.parent.parent == app.settings.home / "uploads"
    assert staged.name in ("notes.txt", "no_tes_.txt")
    job = app.ingest.run_job(app.ingest.start_job("ada-lovelace", [(str(staged), {})]).id)
    assert job.items[0].status in ("done", "skipped") and not staged.exists(), "the staged copy is removed"


def test_a_failed_record_write_leaves_no_orphan_vectors(app: Clonr, ada, monkeypatch) -> None:
    def fail(source, candidates=()):
        raise RuntimeError("disk full")

    monkeypatch.setattr(app.store, "add_source", fail)
    with pytest.raises(RuntimeError):
        app.ingest.add_text("ada-lovelace", "Ada loved horses.", "one")
    assert app.index_for(ada).similarity_search("Ada", k=5) == []


def test_a_job_whose_process_was_killed_resumes_at_once(app: Clonr, ada, tmp_path: Path) -> None:
    """`kill -9` leaves the job "running"; the process named in its claim is gone, so `--resume` takes it now,
    while a job held by a live process (this one) stays its own."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    from click.testing import CliRunner

    from clonr.cli import LazyApp, cli

    note = tmp_path / "note.txt"
    note.write_text("Ada wrote the first program.")
    job = app.ingest.start_job("ada-lovelace", [(str(note), {})])
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    app.store.set_job_status(job.id, "running", claimed_by=f"{socket.gethostname()}:{killed.pid}")
    assert [j.id for j in app.ingest.resumable_jobs("ada-lovelace")] == [job.id]
    resumed = CliRunner().invoke(cli, ["ingest", "ada-lovelace", "--resume"], obj=LazyApp(app))
    assert resumed.exit_code == 0 and "note.txt: added" in resumed.output
    held = app.ingest.start_job("ada-lovelace", [(str(note), {})])
    app.store.set_job_status(held.id, "running", claimed_by=f"{socket.gethostname()}:{os.getppid()}")
    assert app.ingest.resumable_jobs("ada-lovelace") == [], "a live process's job is not taken from it"
    with pytest.raises(ConflictError, match="already running in another process"):
        app.ingest.run_job(held.id)
