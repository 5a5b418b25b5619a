"""Provenance helpers: registered domains, stable document ids, dataset and shard names."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import ipaddress
import re
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList


@functools.cache
def _psl() -> PublicSuffixList:
    # ICANN section only: the registered domain of ``foo.github.io`` is ``github.io`` (as tldextract's default).
    # The list ships inside the package (publicsuffixlist updates its release with the upstream list), so no
    # network access is needed.
    return PublicSuffixList(only_icann=True)


_BAD_HOST = re.compile(r"[\s<>\"{}|\\^`]")
# scheme://[userinfo@]host[:port]... : the common case, without urlsplit's generality (and cost)
_URL_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^:/?#\[\]@]+)(?::\d*)?(?:[/?#]|$)")


def host_of(url: str | None) -> str | None:
    """The lower-cased host of a URL, or ``None`` when it has none."""
    if not url:
        return None
    m = _URL_HOST.match(url)
    if m is not None:
        host: str | None = m.group(1)
    else:
        try:
            parts = urlsplit(url.strip() if "//" in url else "//" + url.strip())
            host = parts.hostname
        except ValueError:
            return None
    if not host or _BAD_HOST.search(host):
        return None
    return host.rstrip(".").lower()


def registered_domain(url: str | None) -> str | None:
    """eTLD+1 of a URL's host (``https://blog.example.co.uk/x`` -> ``example.co.uk``).

    IP addresses are returned as they are; a host that is itself a public suffix (or ``localhost``) is returned
    whole, so every URL with a host gets a domain to aggregate by.
    """
    host = host_of(url)
    return None if host is None else domain_of_host(host)


@functools.lru_cache(maxsize=1 << 16)
def domain_of_host(host: str) -> str:
    """eTLD+1 of a lower-cased host name (cached: a crawl shard repeats its hosts)."""
    if host[0].isdigit() or ":" in host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return host
    if not host.isascii():
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return _psl().privatesuffix(host) or host


def make_doc_id(source_key: str, record_index: int) -> str:
    """A stable id from the source file's key (its path relative to the input root) and record position."""
    digest = hashlib.blake2b(f"{source_key}\x00{record_index}".encode(), digest_size=10)
    return digest.hexdigest()


_COMPRESSION_SUFFIXES = (".gz", ".zst", ".zstd", ".bz2", ".xz")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def shard_name(relative_path: str) -> str:
    """A file-system-safe shard name from a path relative to its input root (compression suffix dropped)."""
    name = relative_path.replace("\\", "/").strip("/")
    lowered = name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            name = name[: -len(suffix)]
            break
    name = name.replace("/", "__")
    return _UNSAFE.sub("_", name).strip("_.") or "shard"
