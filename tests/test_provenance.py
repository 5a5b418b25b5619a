"""Provenance helpers: registered domains, document ids and shard names."""

from __future__ import annotations

import re

import pytest
from conftest import assert_counts_balance, c4_rows, jsonl_bytes, read_docs

from scanner.provenance import host_of, make_doc_id, registered_domain, shard_name
from scanner.readers.inputs import InputFile, unique_shards


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://blog.example.co.uk/x", "example.co.uk"),
        ("http://example.co.uk", "example.co.uk"),
        ("https://an.wikipedia.org/wiki/Robot", "wikipedia.org"),
        ("an.wikipedia.org", "wikipedia.org"),  # no scheme
        ("an.wikipedia.org/wiki/Robot?x=1", "wikipedia.org"),  # no scheme, with a path
        ("www.Example.COM", "example.com"),  # case folded
        ("https://Sub.Example.org:8443/p?q=1#frag", "example.org"),  # port, query, fragment
        ("https://user:secret@deep.sub.example.net/", "example.net"),  # credentials
        ("https://example.com./", "example.com"),  # trailing dot
        ("//cdn.example.net/lib.js", "example.net"),  # scheme-relative
        ("ftp://files.example.org/a", "example.org"),
        ("https://foo.github.io/", "github.io"),  # ICANN section only
        ("https://a.b.c.kawasaki.jp/", "b.c.kawasaki.jp"),  # wildcard rule *.kawasaki.jp
        ("https://bücher.example.de/", "example.de"),  # IDN host
        ("http://192.168.0.1:8080/admin", "192.168.0.1"),  # IPv4 as it is
        ("10.0.0.7/path", "10.0.0.7"),  # IPv4 without a scheme
        ("http://[2001:db8::1]/x", "2001:db8::1"),  # IPv6 as it is
        ("http://localhost:8000/", "localhost"),  # no public suffix: the host whole
        ("co.uk", "co.uk"),  # a public suffix itself: the host whole
        ("  https://www.example.com/  ", "example.com"),  # surrounding white space
    ],
)
def test_registered_domain(url, expected):
    assert registered_domain(url) == expected


@pytest.mark.parametrize("url", [None, "", "   ", "https://", "http:///path-only"])
def test_registered_domain_none(url):
    assert registered_domain(url) is None


def test_host_of():
    assert host_of("https://Blog.Example.co.uk:443/x") == "blog.example.co.uk"
    assert host_of("example.com") == "example.com"
    assert host_of(None) is None
    assert host_of("http://[::1") is None  # invalid IPv6 literal: no exception


def test_registered_domain_is_idempotent():
    for url in ("https://blog.example.co.uk/x", "an.wikipedia.org", "192.168.0.1", "localhost"):
        domain = registered_domain(url)
        assert registered_domain(domain) == domain


def test_make_doc_id():
    a = make_doc_id("c4/en/c4-train.00000.json.gz", 0)
    assert re.fullmatch(r"[0-9a-f]{20}", a)
    assert a == make_doc_id("c4/en/c4-train.00000.json.gz", 0)
    assert a != make_doc_id("c4/en/c4-train.00000.json.gz", 1)
    assert a != make_doc_id("c4/en/c4-train.00001.json.gz", 0)
    # the separator keeps (key, index) pairs apart
    assert make_doc_id("a1", 0) != make_doc_id("a", 10)
    ids = {make_doc_id("k", i) for i in range(10_000)}
    assert len(ids) == 10_000


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("CC-MAIN-20240220-00000.warc.gz", "CC-MAIN-20240220-00000.warc"),
        ("segments/1707/warc/CC-MAIN-x.warc.wet.gz", "segments__1707__warc__CC-MAIN-x.warc.wet"),
        ("c4/en/c4-train.00000-of-01024.json.gz", "c4__en__c4-train.00000-of-01024.json"),
        ("dolma/v1.7/part-0001.jsonl.zst", "dolma__v1.7__part-0001.jsonl"),
        ("shard.jsonl.zstd", "shard.jsonl"),
        ("data.JSONL.GZ", "data.JSONL"),  # suffix matched case-insensitively, name case kept
        ("x.tar.gz", "x.tar"),  # only one compression suffix is dropped
        ("books/pg1234.txt", "books__pg1234.txt"),
        ("train-00000-of-00001.parquet", "train-00000-of-00001.parquet"),
        ("c4\\en\\x.json.gz", "c4__en__x.json"),  # Windows separators
        ("/leading/and/trailing/", "leading__and__trailing"),
        ("weird name (1)!.txt", "weird_name_1_.txt"),
        ("ünï/cødé.jsonl", "n___c_d_.jsonl"),
        ("", "shard"),
        ("///", "shard"),
        ("!!!", "shard"),
    ],
)
def test_shard_name(path, expected):
    assert shard_name(path) == expected


def test_shard_names_are_file_system_safe():
    for path in ("a/b c/d:e*f?.jsonl", "../../etc/passwd", "x\x00y.txt", "a" * 50 + "/.hidden"):
        name = shard_name(path)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name
        assert "/" not in name and name not in (".", "..")


@pytest.mark.parametrize("path", ["ü.jsonl", ".notes.jsonl", "é/.jsonl", ".."])
def test_shard_names_are_not_hidden(path):
    assert not shard_name(path).startswith(".")


def test_unique_shards_suffixes_repeats():
    files = [
        InputFile(source=f"/d{i}/x.jsonl", key=f"d{i}/x.jsonl", dataset=f"d{i}", shard="x.jsonl", size=1, named=True)
        for i in range(3)
    ]
    assert [f.shard for f in unique_shards(files)] == ["x.jsonl", "x.jsonl-2", "x.jsonl-3"]
    assert [f.source for f in unique_shards(files)] == [f.source for f in files]


def test_same_file_name_in_two_directories_gets_two_shards(tmp_path, scan_into):
    paths = []
    for d in ("one", "two"):
        p = tmp_path / d / "part.jsonl"
        p.parent.mkdir()
        p.write_bytes(jsonl_bytes(c4_rows(2)))
        paths.append(p)
    result = scan_into(paths)
    assert_counts_balance(result)
    assert sorted(p.name for p in (result.out / "docs").glob("*.parquet")) == [
        "part.jsonl-2.parquet",
        "part.jsonl.parquet",
    ]
    assert [f.dataset for f in result.files] == ["one", "two"]
    assert len(set(read_docs(result.out).column("doc_id").to_pylist())) == 4
