"""Fetching from the web without becoming a way into the creator's network (SSRF).

Every connection is checked where it is made: the host name is resolved once, every address it resolves to
must be public, and the socket connects to that checked address (so a DNS answer that changes between the
check and the connection cannot slip through). Redirects are followed by hand, each hop checked again.
Only http and https; a size cap and a timeout per response; robots.txt and a politeness delay per host.
`CLONR_ALLOW_PRIVATE_URLS=on` lets private and loopback addresses through (an intranet, local tests); cloud
metadata addresses stay refused even then. An IPv6 address that carries an IPv4 one (IPv4-mapped and
-compatible, NAT64, 6to4, Teredo) is judged by the IPv4 address inside, as a translator would reach it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import urllib.robotparser
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
import requests
import urllib3

from clonr import __version__
from clonr.config import Settings
from clonr.errors import InvalidInputError

__all__ = ["USER_AGENT", "AddressPolicy", "FetchError", "Fetched", "SafeFetcher", "UnresolvedHostError",
           "UnsafeURLError", "embedded_ipv4"]

USER_AGENT = f"Clonr/{__version__} (+https://github.com/clonr; builds a person's clone from pages they approve)"
_METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: bits 48-63 and 72-87 (RFC 6052, a /48)
_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d
_MAX_REDIRECTS = 5
_UNRESOLVED = " does not resolve"
_ROBOTS_CACHE = 1000  # sites whose robots.txt (and last visit) is remembered


class UnsafeURLError(InvalidInputError):
    """A URL that points at a private, loopback, link-local or metadata address, or uses another scheme."""


class FetchError(InvalidInputError):
    """The page could not be fetched (network error, HTTP error, wrong type, too big, refused by robots.txt)."""


class UnresolvedHostError(FetchError):
    """The host name is not in DNS."""


class _UnreachableError(FetchError):
    """Nothing answered at the address (refused, unreachable, timed out): said as such, even for robots.txt."""


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries, if any: a translator or tunnel would connect to it."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]  # the client, whose traffic the relay forwards
    value = int(ip)
    if ip in _NAT64 or (ip in _COMPATIBLE and value > 1):  # ::1 and :: are IPv6's own loopback and unspecified
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if ip in _LOCAL_NAT64:
        return ipaddress.IPv4Address(((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF)
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which IP addresses a fetch may connect to."""

    allow_private: bool = False

    def check(self, host: str, address: str) -> None:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address):
            ip = embedded_ipv4(ip) or ip
        if ip in _METADATA_ADDRESSES or ip.is_unspecified or ip.is_multicast:
            raise UnsafeURLError(f"{host} points at {ip}, a cloud-metadata or reserved address: Clonr never "
                                 "fetches it.")
        if not ip.is_global and not self.allow_private:
            raise UnsafeURLError(f"{host} points at {ip}, a private or loopback address: give a public URL "
                                 "(or set CLONR_ALLOW_PRIVATE_URLS=on for an intranet).")


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself, checks every address, then connects to a checked one."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise httpcore.ConnectError(f"{host}{_UNRESOLVED}") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:  # all of them: a name with one public and one private address is refused
            self._policy.check(host, address)
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


def _guarded_connection(base: type, policy: AddressPolicy) -> type:
    """A urllib3 connection class (for libraries built on requests) that resolves the host itself, checks every
    address, and connects to a checked one; TLS still verifies the host name."""

    class GuardedConnection(base):  # type: ignore[misc, valid-type]
        def _new_conn(self) -> socket.socket:
            try:
                infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError):
                raise UnresolvedHostError(f"{self.host} does not resolve (no such name in DNS): check the "
                                          "address.") from None
            addresses = list(dict.fromkeys(info[4][0] for info in infos))
            for address in addresses:
                policy.check(self.host, address)
            self._dns_host = addresses[0]  # what urllib3 connects to; SNI and certificates use self.host
            return super()._new_conn()

    return GuardedConnection


class _GuardedRequestsAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter over guarded connections (youtube-transcript-api fetches with requests)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {  # a new dict: urllib3's own is shared by every pool manager
            scheme: type(f"Guarded{pool.__name__}", (pool,), {
                "ConnectionCls": _guarded_connection(pool.ConnectionCls, self._policy)})
            for scheme, pool in (("http", urllib3.HTTPConnectionPool), ("https", urllib3.HTTPSConnectionPool))}


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses the guarded backend (httpx has no public hook)."""

    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__(trust_env=False)  # a proxy would resolve names itself, past the guard
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), max_connections=10,
                                             network_backend=_GuardedBackend(policy))


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content_type: str  # e.g. "text/html"
    body: bytes
    charset: str | None
    etag: str | None = None  # validators for a conditional request next time
    last_modified: str | None = None
    not_modified: bool = False  # a conditional request answered 304: nothing new, no body

    @property
    def text(self) -> str:
        return self.body.decode(self.charset or "utf-8", errors="replace")


def check_url(url: str) -> str:
    """The URL, stripped, if its scheme and host can be fetched at all; else a one-line error.

    A URL that does not parse (`http://[::1`, a port of 99999, an octal or malformed IPv4 host such as
    `0177.0.0.1`, which httpx refuses rather than guess at) is refused here, named as the user gave it.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        if parts.port == 0:  # reading the port raises for one that is not a number or is out of range
            raise ValueError("port 0 is no port")
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise UnsafeURLError(f"{url[:80]!r} is not a valid URL ({str(exc)[:80]}): give a full address such as "
                             "https://example.com/about.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeURLError(f"{url[:80]!r} is not an http(s) URL: only web pages can be fetched.")
    if not parts.hostname:
        raise UnsafeURLError(f"{url[:80]!r} has no host name: give a full URL such as https://example.com/about.")
    return url


class SafeFetcher:
    """GETs public web resources politely. One instance per process is enough; it is thread-safe."""

    def __init__(self, settings: Settings, *, policy: AddressPolicy | None = None) -> None:
        """Limits come from `settings` (private addresses, timeout, size cap, delay); `policy` replaces the
        address rules (tests use it to play the public internet on loopback)."""
        self.policy = policy or AddressPolicy(allow_private=settings.allow_private_urls)
        self._client = httpx.Client(transport=_GuardedTransport(self.policy), timeout=settings.fetch_timeout,
                                    follow_redirects=False, headers={"User-Agent": USER_AGENT})
        self._max_bytes = settings.max_file_bytes
        self._delay = settings.crawl_delay
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._last_visit: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, url: str, accept: tuple[str, ...], *, obey_robots: bool = True,
            params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Fetched:
        """Fetch `url` whose content type starts with one of `accept`, following checked redirects. `headers` go
        with the request (validators for a conditional one, a token); an `Authorization` header is dropped when
        a redirect leaves the host, as browsers do."""
        url = check_url(url)
        for _ in range(_MAX_REDIRECTS + 1):
            if obey_robots and not self.allowed_by_robots(url):
                raise FetchError(f"{url} is disallowed by the site's robots.txt: Clonr does not fetch it.")
            self._wait_turn(url)
            response = self._request(url, params, headers)
            if response.has_redirect_location:
                target = check_url(urljoin(url, response.headers.get("location", "")))
                if headers and urlsplit(target).netloc != urlsplit(url).netloc:
                    headers = {name: value for name, value in headers.items() if name.lower() != "authorization"}
                url, params = target, None
                continue
            return self._read(response, url, accept)
        raise FetchError(f"{url} redirects more than {_MAX_REDIRECTS} times: give the final address.")

    def _request(self, url: str, params: dict[str, str] | None,
                 headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            request = self._client.build_request("GET", url, params=params, headers=headers)
        except httpx.InvalidURL as exc:
            raise UnsafeURLError(f"{url[:80]!r} is not a valid URL ({exc}): give a full address such as "
                                 "https://example.com/about.") from None
        try:
            response = self._client.send(request, stream=True)
        except UnsafeURLError:
            raise
        except httpx.ConnectError as exc:
            if str(exc).endswith(_UNRESOLVED):
                raise UnresolvedHostError(f"{urlsplit(url).hostname} does not resolve (no such name in DNS): "
                                          "check the address.") from None
            raise _UnreachableError(f"{url} could not be fetched ({exc}): check the address.") from None
        except httpx.TimeoutException:
            raise _UnreachableError(f"{url} did not answer in time: try again later.") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"{url} could not be fetched ({exc}): check the address.") from None
        if response.has_redirect_location:
            response.close()
        return response

    def _read(self, response: httpx.Response, url: str, accept: tuple[str, ...]) -> Fetched:
        try:
            if response.status_code == 304:
                return Fetched(url=str(response.url), content_type="", body=b"", charset=None,
                               etag=response.headers.get("etag"), last_modified=response.headers.get("last-modified"),
                               not_modified=True)
            if response.status_code >= 300:
                raise FetchError(f"{url} answered HTTP {response.status_code}: check the address.")
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if not content_type.startswith(accept):
                raise FetchError(f"{url} is {content_type or 'of no stated type'}, not "
                                 f"{' or '.join(accept)}: give the address of a page.")
            declared = int(response.headers.get("content-length") or 0)
            if declared > self._max_bytes:
                raise FetchError(f"{url} is {declared:,} bytes; the limit is {self._max_bytes:,} "
                                 "(CLONR_MAX_FILE_BYTES).")
            body = bytearray()
            try:
                for piece in response.iter_bytes():
                    body += piece
                    if len(body) > self._max_bytes:
                        raise FetchError(f"{url} is larger than {self._max_bytes:,} bytes "
                                         "(CLONR_MAX_FILE_BYTES): Clonr stopped reading it.")
            except httpx.HTTPError as exc:
                raise FetchError(f"{url} broke off while downloading ({exc}): try again.") from None
            return Fetched(url=str(response.url), content_type=content_type, body=bytes(body),
                           charset=response.charset_encoding, etag=response.headers.get("etag"),
                           last_modified=response.headers.get("last-modified"))
        finally:
            response.close()

    def allowed_by_robots(self, url: str) -> bool:
        """robots.txt for the URL's site, fetched once per site: missing (4xx) allows all, unreachable denies."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            parser = self._robots.get(site)
        if parser is None:
            parser = urllib.robotparser.RobotFileParser(site + "/robots.txt")
            try:
                self._wait_turn(site)
                response = self._request(site + "/robots.txt", None)
            except (UnresolvedHostError, _UnreachableError):
                raise  # say so, not that robots.txt refused it
            except FetchError:
                response = None
            if response is None or response.status_code >= 500 or response.status_code in (401, 403):
                parser.disallow_all = True  # as Python's robotparser: unreachable or forbidden means keep out
            elif response.status_code >= 300:
                parser.allow_all = True  # no robots.txt (or a redirect away from it): nothing is disallowed
            else:
                try:
                    parser.parse(self._read(response, site, ("text/", "application/octet-stream")).text.splitlines())
                except FetchError:
                    parser.disallow_all = True
            if response is not None:
                response.close()
            with self._lock:
                if len(self._robots) >= _ROBOTS_CACHE:  # a long-running server: forget the oldest sites
                    del self._robots[next(iter(self._robots))]
                self._robots[site] = parser
        return parser.can_fetch(USER_AGENT, url)

    def _wait_turn(self, url: str) -> None:
        """Sleep so that one host sees at most one request per delay (or its robots.txt Crawl-delay)."""
        host = urlsplit(url).netloc
        with self._lock:
            robots = self._robots.get(f"{urlsplit(url).scheme}://{host}")
            delay = max(self._delay, float((robots.crawl_delay(USER_AGENT) if robots else None) or 0))
            now = time.monotonic()
            start = max(now, self._last_visit.get(host, 0.0) + delay)
            if len(self._last_visit) >= _ROBOTS_CACHE:  # forget hosts not visited in the last minute
                self._last_visit = {h: t for h, t in self._last_visit.items() if t > now - 60}
            self._last_visit[host] = start
        if start > now:
            time.sleep(start - now)

    def requests_session(self) -> requests.Session:
        """A requests session whose every connection goes through the same address guard (for libraries that
        fetch with requests, such as youtube-transcript-api); no proxies from the environment."""
        session = requests.Session()
        session.trust_env = False
        adapter = _GuardedRequestsAdapter(self.policy)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        self._client.close()
