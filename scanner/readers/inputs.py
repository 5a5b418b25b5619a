"""Turning what the user named (files, directories, globs, URLs) into a sorted list of input files."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from scanner.errors import ShardError
from scanner.provenance import shard_name

# Names a directory walk picks up; anything else found in a directory is listed as ignored, never read.
SCANNABLE_SUFFIXES = (
    ".warc",
    ".wet",
    ".wat",
    ".jsonl",
    ".json",
    ".ndjson",
    ".parquet",
    ".txt",
)
COMPRESSION_SUFFIXES = (".gz", ".zst", ".zstd")


@dataclass(slots=True, frozen=True)
class InputFile:
    """One file to scan. ``key`` is its path relative to the input root: the basis of doc ids and shard names."""

    source: str
    key: str
    dataset: str
    shard: str
    size: int | None
    named: bool  # named on the command line (not found by walking a directory or expanding a glob)


@dataclass(slots=True, frozen=True)
class Ignored:
    source: str
    reason: str


def is_url(text: str) -> bool:
    scheme = urlsplit(text).scheme
    return len(scheme) > 1 and scheme != "file"


def looks_scannable(name: str) -> bool:
    lowered = name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if lowered.endswith(suffix):
            lowered = lowered[: -len(suffix)]
            break
    return lowered.endswith(SCANNABLE_SUFFIXES)


def resolve_inputs(paths: list[str], *, dataset: str | None = None) -> tuple[list[InputFile], list[Ignored]]:
    """Expand paths into input files, in a deterministic order (each argument's files sorted by key).

    Raises :class:`ShardError` (reason ``missing_input``) for a named path, glob or URL that matches nothing.
    """
    files: list[InputFile] = []
    ignored: list[Ignored] = []
    for arg in paths:
        if is_url(arg):
            files.extend(_resolve_url(arg, dataset))
            continue
        if arg.startswith("file://"):
            arg = arg.removeprefix("file://")
        path = Path(arg)
        if any(ch in arg for ch in "*?["):
            matches = sorted(glob.glob(arg, recursive=True))  # noqa: PTH207 - a user pattern, maybe absolute
            if not matches:
                raise ShardError(arg, "missing_input", "no file matches this pattern")
            root = Path(_glob_root(arg))
            for match in matches:
                mpath = Path(match)
                if mpath.is_file():
                    files.append(_local(mpath, root, dataset, named=False))
            continue
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
            for p in found:
                if looks_scannable(p.name):
                    files.append(_local(p, path, dataset, named=False))
                else:
                    ignored.append(Ignored(str(p), "not a recognised input file name"))
            continue
        if path.is_file():
            files.append(_local(path, path.parent, dataset, named=True))
            continue
        raise ShardError(arg, "missing_input", "no such file or directory")
    return unique_shards(files), ignored


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _glob_root(pattern: str) -> str:
    parts = PurePosixPath(pattern.replace("\\", "/")).parts
    fixed: list[str] = []
    for part in parts:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    return str(PurePosixPath(*fixed)) if fixed else "."


def _dataset_for(rel: PurePosixPath, root: Path) -> str:
    # A file directly under the root belongs to the root's dataset; deeper files to their first directory.
    if len(rel.parts) > 1:
        return rel.parts[0]
    name = root.resolve().name
    return name or "default"


def _local(path: Path, root: Path, dataset: str | None, *, named: bool) -> InputFile:
    # The key (the basis of doc ids) is the path below the input root, prefixed with the root's own name, so
    # ids do not depend on where the corpus lives on disk, nor on --dataset.
    root_name = root.resolve().name or "root"
    if named:
        rel = PurePosixPath(path.name)
        ds = dataset or root_name
    else:
        rel = PurePosixPath(path.relative_to(root).as_posix())
        ds = dataset or _dataset_for(rel, root)
    return InputFile(
        source=str(path),
        key=f"{root_name}/{rel}",
        dataset=ds,
        shard=shard_name(str(rel)),
        size=path.stat().st_size,
        named=named,
    )


def _resolve_url(url: str, dataset: str | None) -> list[InputFile]:
    """One URL, or every object a remote glob (``s3://bucket/crawl/*.warc.gz``) matches."""
    import fsspec

    try:
        fs, _, expanded = fsspec.get_fs_token_paths(url)
    except Exception as exc:  # an unknown protocol or a missing driver: the input is unreadable
        raise ShardError(url, "missing_input", f"cannot be opened ({exc})") from exc
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https") or not any(ch in url for ch in "*?["):
        targets = [url]
    else:
        targets = [f"{scheme}://{path}" for path in sorted(expanded)]
        if not targets:
            raise ShardError(url, "missing_input", "no object matches this pattern")
    files = []
    for target in targets:
        parts = urlsplit(target)
        name = PurePosixPath(parts.path).name or parts.netloc
        parent = PurePosixPath(parts.path).parent.name or parts.netloc
        try:
            info = fs.info(target if scheme in ("http", "https") else fs._strip_protocol(target))
        except FileNotFoundError as exc:
            raise ShardError(target, "missing_input", "not found") from exc
        except Exception as exc:  # any transport error means the named input is unreadable
            raise ShardError(target, "missing_input", f"cannot be opened ({exc})") from exc
        files.append(
            InputFile(
                source=target,
                key=f"{parent}/{name}",
                dataset=dataset or parent,
                shard=shard_name(name),
                size=info.get("size"),
                named=len(targets) == 1,
            )
        )
    return files


def unique_shards(files: list[InputFile]) -> list[InputFile]:
    """Shard names and file keys must be unique within a scan (keys make doc ids): a repeated shard name gets
    the next free ``-N`` suffix, a repeated key the next free ``#N``. Deterministic for the same inputs."""
    shards: set[str] = set()
    keys: set[str] = set()
    out: list[InputFile] = []
    for f in files:
        shard = _next_free(f.shard, shards, "-")
        key = _next_free(f.key, keys, "#")
        out.append(
            f if (shard, key) == (f.shard, f.key) else InputFile(f.source, key, f.dataset, shard, f.size, f.named)
        )
    return out


def _next_free(name: str, taken: set[str], sep: str) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}{sep}{n}"
    taken.add(candidate)
    return candidate
