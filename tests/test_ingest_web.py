"""Web pages, crawls, Wikipedia, YouTube and discovery, run as resumable jobs, all against local fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner

from clonr import Clonr
from clonr.cli import LazyApp, cli
from clonr.errors import ClonrError, InvalidInputError
from clonr.ingest.youtube import fetch_transcript, video_id
from tests.conftest import FixtureSite


def article(title: str, body: str, links: str = "") -> str:
    paragraphs = "".join(f"<p>{body} This sentence makes paragraph {n} long enough to count as real text.</p>"
                         for n in range(3))
    return (f"<html><head><title>{title}</title><meta name='author' content='Ada Lovelace'>"
            f"<meta property='article:published_time' content='2024-03-01'></head><body><nav>{links}</nav>"
            f"<article><h1>{title}</h1>{paragraphs}</article></body></html>")


@pytest.fixture
def ada_site(site: FixtureSite) -> FixtureSite:
    links = ("<a href='/about'>About</a> <a href='/blog/1#top'>Post</a> <a href='/private/diary'>Diary</a> "
             "<a href='https://elsewhere.example/x'>Elsewhere</a> <a href='/logo.png'>Logo</a>")
    site.add("/", article("Ada's home", "Welcome to my home page about engines.", links))
    site.add("/about", article("About Ada", "I was born in London in 1815 and love poetical science.",
                               "<a href='/about/deeper'>Deeper</a>"))
    site.add("/about/deeper", article("Deeper", "Two links away from home."))
    site.add("/blog/1", article("First post", "My first post is about the Analytical Engine."))
    site.add("/blog/2", article("Second post", "Only the sitemap knows this post about Bernoulli numbers."))
    site.add("/private/diary", article("Diary", "Secret thoughts."))
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.add("/sitemap.xml", "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
             f"<url><loc>{site.url('/blog/2')}</loc></url><url><loc>https://elsewhere.example/y</loc></url>"
             "</urlset>", content_type="application/xml")
    return site


def test_a_page_is_ingested_with_its_provenance(web_app: Clonr, ada_site: FixtureSite) -> None:
    ada = web_app.clones.create("Ada")
    job = web_app.ingest.run_job(web_app.ingest.start_job("ada", [(ada_site.url("/about"), {})]).id)
    assert job.status == "done" and [i.status for i in job.items] == ["done"]
    [source] = web_app.ingest.list_sources("ada")
    assert (source.kind, source.location, source.author, source.published) == (
        "page", ada_site.url("/about"), "Ada Lovelace", "2024-03-01")
    chunk = web_app.index_for(ada).get_by_ids([f"{source.id}:0"])[0]
    assert "born in London" in chunk.page_content and chunk.metadata["location"] == ada_site.url("/about")


def test_a_crawl_follows_same_site_links_to_a_depth_and_page_count(web_app: Clonr, ada_site: FixtureSite) -> None:
    web_app.clones.create("Ada")
    options = {"depth": 1, "max_pages": 10}
    job = web_app.ingest.run_job(web_app.ingest.start_job("ada", [(ada_site.url("/"), options)]).id)
    assert sorted(i.item.removeprefix(ada_site.base) for i in job.items) == ["/", "/about", "/blog/1"]
    assert all(i.status == "done" for i in job.items)
    assert "/private/diary" not in ada_site.paths() and "/about/deeper" not in ada_site.paths()
    progress = []
    web_app.clones.create("Bea")
    capped = web_app.ingest.start_job("bea", [(ada_site.url("/"), {"depth": 2, "max_pages": 2})])
    web_app.ingest.run_job(capped.id, on_progress=lambda j: progress.append((j.finished, j.total)))
    assert len(web_app.ingest.job(capped.id).items) == 2, "max_pages counts the first page"
    assert progress[0] == (0, 1) and progress[-1] == (2, 2)


def test_a_sitemap_adds_pages_no_link_reaches(web_app: Clonr, ada_site: FixtureSite) -> None:
    web_app.clones.create("Ada")
    job = web_app.ingest.start_job("ada", [(ada_site.url("/"), {"depth": 0, "max_pages": 5, "sitemap": True})])
    items = [i.item for i in web_app.ingest.run_job(job.id).items]
    assert items == [ada_site.url("/"), ada_site.url("/blog/2")], "other hosts in the sitemap are ignored"


def test_one_bad_item_does_not_stop_the_others(web_app: Clonr, ada_site: FixtureSite, tmp_path: Path) -> None:
    web_app.clones.create("Ada")
    (tmp_path / "notes.md").write_text("Ada's notes on the engine.")
    items = [ada_site.url("/missing"), "http://169.254.169.254/latest/meta-data/", "ftp://x.example/",
             str(tmp_path / "notes.md"), ada_site.url("/private/diary"), ada_site.url("/about")]
    job = web_app.ingest.run_job(web_app.ingest.start_job("ada", [(i, {}) for i in items]).id)
    assert [i.status for i in job.items] == ["failed", "failed", "failed", "done", "failed", "done"]
    assert "HTTP 404" in job.items[0].detail and "metadata" in job.items[1].detail
    assert "robots.txt" in job.items[4].detail
    assert len(web_app.ingest.list_sources("ada")) == 2


def test_ctrl_c_interrupts_a_job_and_resuming_adds_no_duplicates(web_app: Clonr, ada_site: FixtureSite,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    web_app.clones.create("Ada")
    urls = [ada_site.url(p) for p in ("/about", "/blog/1", "/blog/2")]
    job = web_app.ingest.start_job("ada", [(u, {}) for u in urls])
    original = web_app.ingest.add_document
    calls = []

    def interrupt_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(web_app.ingest, "add_document", interrupt_on_second)
    with pytest.raises(KeyboardInterrupt):
        web_app.ingest.run_job(job.id)
    assert web_app.ingest.job(job.id).status == "interrupted"
    assert [j.id for j in web_app.ingest.resumable_jobs("ada")] == [job.id]
    monkeypatch.setattr(web_app.ingest, "add_document", original)
    done = web_app.ingest.run_job(job.id)
    assert done.status == "done" and [i.status for i in done.items] == ["done", "done", "done"]
    assert len(web_app.ingest.list_sources("ada")) == 3
    assert ada_site.paths().count("/about") == 1, "finished items are not fetched again"


def test_a_crash_while_writing_leaves_no_orphan_vectors_after_resume(web_app: Clonr, ada_site: FixtureSite) -> None:
    ada = web_app.clones.create("Ada")
    job = web_app.ingest.start_job("ada", [(ada_site.url("/about"), {})])
    # The state a killed process leaves: the item was writing vectors for a source that never got recorded
    # (and the page has changed since, so the new content gets another source id).
    orphan = "f" * 32
    web_app.index_for(ada).add_texts(["old text 0", "old text 1"], ids=[f"{orphan}:0", f"{orphan}:1"])
    web_app.store.update_job_item(job.id, 0, status="writing", source_id=orphan, chunk_count=2)
    web_app.store.set_job_status(job.id, "interrupted")
    web_app.ingest.run_job(job.id)
    assert web_app.index_for(ada).get_by_ids([f"{orphan}:0", f"{orphan}:1"]) == []
    [source] = web_app.ingest.list_sources("ada")
    assert len(web_app.index_for(ada).get_by_ids([f"{source.id}:{n}" for n in range(source.chunk_count)])) \
        == source.chunk_count


def test_deleting_a_source_removes_its_chunks(web_app: Clonr, ada_site: FixtureSite) -> None:
    ada = web_app.clones.create("Ada")
    web_app.ingest.run_job(web_app.ingest.start_job("ada", [(ada_site.url("/about"), {})]).id)
    [source] = web_app.ingest.list_sources("ada")
    assert web_app.ingest.source_chunks("ada", source.id)
    web_app.ingest.delete_source("ada", source.id)
    assert web_app.ingest.list_sources("ada") == []
    assert web_app.index_for(ada).similarity_search("London", k=5) == []
    with pytest.raises(ClonrError, match="no source"):
        web_app.ingest.delete_source("ada", source.id)


# -- Wikipedia -------------------------------------------------------------------------------------------

def wikipedia_answer(title: str, extract: str | None) -> str:
    page = {"title": title, "missing": True} if extract is None else {
        "title": title, "extract": extract, "fullurl": f"https://en.wikipedia.org/wiki/{title.replace(' ', '_')}",
        "touched": "2024-05-02T10:00:00Z"}
    return json.dumps({"batchcomplete": True, "query": {"pages": [page]}})


def test_a_wikipedia_article_by_title(web_app: Clonr, site: FixtureSite) -> None:
    site.add("/w/api.php", wikipedia_answer("Ada Lovelace", "Augusta Ada King, Countess of Lovelace, was an "
                                            "English mathematician.\n\n== Early life ==\nShe was born in London."),
             content_type="application/json; charset=utf-8")
    site.add("/robots.txt", "User-agent: *\nDisallow: /w/\n", content_type="text/plain")
    web_app.clones.create("Ada")
    job = web_app.ingest.run_job(web_app.ingest.start_job("ada", [("wiki:Ada Lovelace", {})]).id)
    assert job.items[0].status == "done", job.items[0].detail
    [source] = web_app.ingest.list_sources("ada")
    assert (source.kind, source.title, source.location) == (
        "wikipedia", "Wikipedia: Ada Lovelace", "https://en.wikipedia.org/wiki/Ada_Lovelace")
    request = next(path for path in site.paths() if path.startswith("/w/api.php"))
    assert "titles=Ada+Lovelace" in request and "explaintext=1" in request


def test_a_missing_wikipedia_article_says_so(web_app: Clonr, site: FixtureSite) -> None:
    site.add("/w/api.php", wikipedia_answer("Ada Lovelaec", None), content_type="application/json")
    web_app.clones.create("Ada")
    job = web_app.ingest.run_job(web_app.ingest.start_job("ada", [("wiki:Ada Lovelaec", {})]).id)
    assert "no article titled 'Ada Lovelaec'" in job.items[0].detail


# -- YouTube (youtube-transcript-api's recorded payloads, replayed) -----------------------------------------

def youtube_asset(name: str) -> bytes:
    return files("youtube_transcript_api").joinpath("test", "assets", name).read_bytes()


@pytest.fixture
def youtube() -> responses.RequestsMock:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get("https://www.youtube.com/watch", body=youtube_asset("youtube.html.static"))
        mock.post("https://www.youtube.com/youtubei/v1/player", body=youtube_asset("youtube.innertube.json.static"),
                  content_type="application/json")
        mock.get("https://www.youtube.com/api/timedtext", body=youtube_asset("transcript.xml.static"))
        yield mock


@pytest.mark.parametrize("reference", ["https://www.youtube.com/watch?v=GJLlxj_dtq8&t=42s", "https://youtu.be/GJLlxj_dtq8",
                                       "youtube:GJLlxj_dtq8", "https://www.youtube.com/shorts/GJLlxj_dtq8"])
def test_youtube_references(reference: str) -> None:
    assert video_id(reference) == "GJLlxj_dtq8"


def test_a_youtube_transcript_keeps_its_timestamps(app: Clonr, youtube: responses.RequestsMock) -> None:
    ada = app.clones.create("Ada")
    job = app.ingest.run_job(app.ingest.start_job("ada", [("https://youtu.be/GJLlxj_dtq8", {})]).id)
    assert job.items[0].status == "done", job.items[0].detail
    [source] = app.ingest.list_sources("ada")
    assert source.kind == "youtube" and source.location == "https://www.youtube.com/watch?v=GJLlxj_dtq8"
    chunk = app.index_for(ada).get_by_ids([f"{source.id}:0"])[0]
    assert chunk.page_content.splitlines()[0] == "Hey, this is just a test" and chunk.metadata["at"] == "00:00:00"


def test_a_missing_language_lists_the_ones_there_are(youtube: responses.RequestsMock) -> None:
    with pytest.raises(InvalidInputError, match=r"no transcript in fr; it has .*choose one with --lang"):
        fetch_transcript("youtube:GJLlxj_dtq8", ["fr"])


@pytest.mark.parametrize("asset, message", [
    ("youtube_transcripts_disabled.innertube.json.static", "captions are turned off"),
    ("youtube_video_unavailable.innertube.json.static", "is unavailable"),
])
def test_videos_without_transcripts_get_a_clear_message(youtube: responses.RequestsMock, asset: str,
                                                        message: str) -> None:
    youtube.replace(responses.POST, "https://www.youtube.com/youtubei/v1/player", body=youtube_asset(asset),
                    content_type="application/json")
    with pytest.raises(InvalidInputError, match=message):
        fetch_transcript("youtube:GJLlxj_dtq8", ["en"])


# -- Discovery (ddgs's DuckDuckGo engine and parser over a local results page) --------------------------------

def results_page(results: list[tuple[str, str, str]]) -> str:
    blocks = "".join(
        f"<div class='result results_links web-result'><div class='links_main links_deep result__body'>"
        f"<h2 class='result__title'><a class='result__a' href='{href}'>{title}</a></h2>"
        f"<a class='result__snippet' href='{href}'>{snippet}</a></div></div>" for href, title, snippet in results)
    return f"<html><body><div id='links'>{blocks}</div></body></html>"


@pytest.fixture
def search(site: FixtureSite, ada_site: FixtureSite) -> FixtureSite:
    site.add("/html/", results_page([
        ("https://duckduckgo.com/y.js?ad=1", "Buy engines", "An ad"),
        ("https://www.linkedin.com/in/someone-else", "Ada Smith - Baker", "A baker in Leeds."),
        (ada_site.url("/about"), "About Ada Lovelace", "Ada Lovelace, mathematician, London. Poetical science."),
        ("https://en.wikipedia.org/wiki/Ada_Lovelace", "Ada Lovelace - Wikipedia",
         "Augusta Ada King, Countess of Lovelace, was an English mathematician."),
    ]))
    return site


def test_discovery_ranks_pages_about_the_person_first(web_app: Clonr, search: FixtureSite) -> None:
    candidates = web_app.ingest.discover("Ada Lovelace", ["London"], max_results=5)
    assert [c.url for c in candidates][:2] == [search.url("/about"), "https://en.wikipedia.org/wiki/Ada_Lovelace"]
    assert candidates[-1].url == "https://www.linkedin.com/in/someone-else" and candidates[-1].likelihood < 0.3
    assert "full name in the title" in candidates[0].reasons and "mentions London" in candidates[0].reasons
    assert not any("duckduckgo.com" in c.url for c in candidates), "ads are dropped"


def test_discover_cli_adds_only_what_the_creator_approves(web_app: Clonr, search: FixtureSite) -> None:
    web_app.clones.create("Ada")
    result = CliRunner().invoke(cli, ["discover", "ada", "Ada Lovelace", "--hint", "London"], input="1\n",
                                obj=LazyApp(web_app))
    assert result.exit_code == 0, result.output
    assert "[" in result.output and "why: full name in the title" in result.output
    assert [s.location for s in web_app.ingest.list_sources("ada")] == [search.url("/about")]
    assert "en.wikipedia.org" not in " ".join(search.paths())


# -- CLI ---------------------------------------------------------------------------------------------------

def test_ingest_and_sources_cli(web_app: Clonr, ada_site: FixtureSite, tmp_path: Path) -> None:
    web_app.clones.create("Ada")
    chat = tmp_path / "WhatsApp Chat with Bob.txt"
    chat.write_text("1/1/22, 10:00 AM - Bob: Tea?\n1/1/22, 10:01 AM - Ada L: Always.\n")
    run = CliRunner().invoke
    result = run(cli, ["ingest", "ada", ada_site.url("/"), "--follow", "1", "--max-pages", "2", "--chat", str(chat),
                       "--me", "Ada L"], obj=LazyApp(web_app))
    assert result.exit_code == 0, result.output
    assert "Ada's home: added" in result.output and "WhatsApp: Bob: added (1 chunks)" in result.output
    assert "1 dialogue candidates" in result.output
    listed = json.loads(run(cli, ["sources", "ada", "--json"], obj=LazyApp(web_app)).output)
    assert sorted((s["kind"], bool(s["url"]), bool(s["path"])) for s in listed) == [
        ("chat", False, True), ("page", True, False), ("page", True, False)]
    assert all({"title", "chunks"} <= s.keys() for s in listed)
    page = next(s for s in listed if s["kind"] == "page")
    shown = run(cli, ["sources", "ada", "--show", page["id"][:8]], obj=LazyApp(web_app)).output
    assert "--- chunk 0" in shown
    deleted = run(cli, ["sources", "ada", "--delete", page["id"][:8]], obj=LazyApp(web_app))
    assert deleted.exit_code == 0 and "Deleted" in deleted.output
    assert len(json.loads(run(cli, ["sources", "ada", "--json"], obj=LazyApp(web_app)).output)) == 2
    missing = run(cli, ["sources", "ada", "--delete", "zzzz"], obj=LazyApp(web_app))
    assert missing.exit_code == 1 and "No source" in missing.output
    assert run(cli, ["ingest", "ada", "--chat", str(chat)], obj=LazyApp(web_app)).exit_code == 2, "--me is required"
    assert "Nothing to resume" in run(cli, ["ingest", "ada", "--resume"], obj=LazyApp(web_app)).output


@pytest.mark.real_model
def test_the_real_command_crawls_with_progress_and_real_embeddings_find_the_page(ada_site: FixtureSite,
                                                                                 isolated_env: Path) -> None:
    env = {**os.environ, "CLONR_ALLOW_PRIVATE_URLS": "on", "CLONR_CRAWL_DELAY": "0"}
    command = [sys.executable, "-m", "clonr"]
    assert subprocess.run([*command, "create", "Ada"], env=env, timeout=60).returncode == 0
    crawl = subprocess.run([*command, "ingest", "ada", ada_site.url("/"), "--follow", "1"], env=env,
                           capture_output=True, text=True, timeout=240)
    assert crawl.returncode == 0, crawl.stderr
    assert "Ingesting" in crawl.stderr and "3/3" in crawl.stderr, "a progress bar on stderr"
    assert crawl.stdout.count(": added") == 3
    app = Clonr()  # the same CLONR_HOME, with the real MiniLM embeddings
    [hit] = app.index_for(app.clones.get("ada")).similarity_search("Where and when was she born?", k=1)
    assert hit.metadata["location"] == ada_site.url("/about")


def test_youtube_fetches_go_through_the_address_guard(app: Clonr, monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver that points youtube.com at loopback (DNS rebinding, a hostile network): refused before any
    connection, with the same words as every other fetch."""
    import socket

    real = socket.getaddrinfo

    def rebound(host: str, *args: object, **kwargs: object) -> list:
        return real("127.0.0.1", *args, **kwargs) if "youtube" in str(host) else real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    app.clones.create("Ada")
    job = app.ingest.run_job(app.ingest.start_job("ada", [("https://youtu.be/GJLlxj_dtq8", {})]).id)
    assert job.items[0].status == "failed" and "private or loopback" in job.items[0].detail
