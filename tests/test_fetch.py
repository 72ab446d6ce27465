"""Safe fetching: no way into private networks (also after DNS and redirects), size and type caps, robots.txt,
and a politeness delay per host."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from clonr import load_settings
from clonr.ingest import AddressPolicy, FetchError, SafeFetcher, UnsafeURLError
from clonr.ingest.fetch import UnresolvedHostError
from tests.conftest import FixtureSite

PAGE = "<html><head><title>Ada</title></head><body><p>Hello from Ada.</p></body></html>"


class OnlyThisLoopbackIsPublic(AddressPolicy):
    """Plays the internet: 127.0.0.2 counts as a public address; every other rule is the production one."""

    def check(self, host: str, address: str) -> None:
        if address != "127.0.0.2":
            super().check(host, address)


def fetcher_with(policy: AddressPolicy | None = None, **changes: object) -> SafeFetcher:
    """A fetcher on the default settings, with no politeness delay unless a test sets one."""
    defaults = load_settings({}, env_file=None)
    return SafeFetcher(replace(defaults, **{"crawl_delay": 0.0, **changes}), policy=policy)


@pytest.fixture
def public_site() -> FixtureSite:
    server = FixtureSite("127.0.0.2")
    yield server
    server.close()


@pytest.mark.parametrize("url, message", [
    ("file:///etc/passwd", "not an http"),
    ("ftp://example.com/x", "not an http"),
    ("gopher://127.0.0.1:6379/_INFO", "not an http"),
    ("http:///nohost", "no host name"),
    ("http://127.0.0.1/", "private or loopback"),
    ("http://10.0.0.8/admin", "private or loopback"),
    ("http://192.168.1.1/", "private or loopback"),
    ("http://[::1]/", "private or loopback"),
    ("http://[::ffff:127.0.0.1]/", "private or loopback"),
    ("http://0.0.0.0/", "reserved"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://localhost/", "private or loopback"),  # a host name that resolves to a private address
    # IPv6 spellings of an IPv4 address are judged by the address inside:
    ("http://[64:ff9b::7f00:1]/", "private or loopback"),  # NAT64 (RFC 6052)
    ("http://[64:ff9b:1:7f00:0:100::]/", "private or loopback"),  # local-use NAT64 (RFC 8215), a /48
    ("http://[2002:7f00:1::]/", "private or loopback"),  # 6to4
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "private or loopback"),  # Teredo, client 127.0.0.1
    ("http://[::127.0.0.1]/", "private or loopback"),  # IPv4-compatible
    ("http://[::ffff:a9fe:a9fe]/", "metadata"),
    ("http://[64:ff9b::a9fe:a9fe]/", "metadata"),
    ("http://0177.0.0.1/", "not a valid URL"),  # octal: refused, never guessed at
])
def test_private_addresses_and_other_schemes_are_refused(url: str, message: str) -> None:
    fetcher = fetcher_with()
    with pytest.raises(UnsafeURLError, match=message):
        fetcher.get(url, ("text/html",))


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://[64:ff9b::a9fe:a9fe]/",
                                 "http://[2002:a9fe:a9fe::]/"])
def test_metadata_addresses_stay_refused_when_private_ones_are_allowed(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="metadata"):
        fetcher_with(allow_private_urls=True).get(url, ("text/html",))


def test_a_redirect_to_a_nat64_spelling_of_loopback_is_refused(public_site: FixtureSite) -> None:
    public_site.add("/go", "", status=302, headers={"Location": "http://[64:ff9b::7f00:1]/secret"})
    public_site.add("/robots.txt", "", status=404)
    with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1"):
        fetcher_with(policy=OnlyThisLoopbackIsPublic()).get(public_site.url("/go"), ("text/html",))


def test_a_name_that_does_not_resolve_says_so() -> None:
    with pytest.raises(UnresolvedHostError, match="does not resolve") as raised:
        fetcher_with().get("http://no-such-host.invalid/about", ("text/html",))
    assert "robots" not in str(raised.value)


def test_a_redirect_to_loopback_is_refused(public_site: FixtureSite, site: FixtureSite) -> None:
    site.add("/secret", "internal admin page")
    public_site.add("/go", "", status=302, headers={"Location": site.url("/secret")})
    public_site.add("/robots.txt", "", status=404)
    fetcher = fetcher_with(policy=OnlyThisLoopbackIsPublic())
    with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1"):
        fetcher.get(public_site.url("/go"), ("text/html",))
    assert "/secret" not in site.paths(), "the private server was never contacted"


def test_a_redirect_to_another_scheme_is_refused(public_site: FixtureSite) -> None:
    public_site.add("/go", "", status=301, headers={"Location": "file:///etc/passwd"})
    fetcher = fetcher_with(policy=OnlyThisLoopbackIsPublic())
    with pytest.raises(UnsafeURLError, match="not an http"):
        fetcher.get(public_site.url("/go"), ("text/html",))


def test_a_public_page_is_fetched_through_redirects(public_site: FixtureSite) -> None:
    public_site.add("/old", "", status=301, headers={"Location": "/new"})
    public_site.add("/new", PAGE)
    fetched = fetcher_with(policy=OnlyThisLoopbackIsPublic()).get(public_site.url("/old"), ("text/html",))
    assert fetched.url.endswith("/new") and "Hello from Ada" in fetched.text


def test_size_type_and_status_are_checked(site: FixtureSite) -> None:
    fetcher = fetcher_with(allow_private_urls=True, max_file_bytes=1000)
    site.add("/big", "x" * 5000)
    site.add("/image", b"\x89PNG", content_type="image/png")
    site.add("/gone", "gone", status=410)
    with pytest.raises(FetchError, match="limit is 1,000"):
        fetcher.get(site.url("/big"), ("text/html",))
    with pytest.raises(FetchError, match="image/png, not text/html"):
        fetcher.get(site.url("/image"), ("text/html",))
    with pytest.raises(FetchError, match="HTTP 410"):
        fetcher.get(site.url("/gone"), ("text/html",))


def test_robots_txt_is_obeyed(site: FixtureSite) -> None:
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.add("/private/diary", PAGE)
    site.add("/public", PAGE)
    fetcher = fetcher_with(allow_private_urls=True)
    with pytest.raises(FetchError, match=r"robots\.txt"):
        fetcher.get(site.url("/private/diary"), ("text/html",))
    assert fetcher.get(site.url("/public"), ("text/html",)).text == PAGE
    assert "/private/diary" not in site.paths()
    assert site.paths().count("/robots.txt") == 1, "robots.txt is read once per site"


def test_requests_to_one_host_are_spaced_by_the_delay(site: FixtureSite) -> None:
    site.add("/robots.txt", "", status=404)
    for n in range(3):
        site.add(f"/p{n}", PAGE)
    fetcher = fetcher_with(crawl_delay=0.3, allow_private_urls=True)
    for n in range(3):
        fetcher.get(site.url(f"/p{n}"), ("text/html",))
    times = [t for path, t in site.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3 and min(gaps) >= 0.28
