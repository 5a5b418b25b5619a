"""Load a taxonomy YAML, reporting every problem at once with its YAML path and line (like spaCy's ``validate``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from scanner.errors import ConfigError
from scanner.taxonomy.schema import Taxonomy

DEFAULT_TAXONOMY = "ai_self_preservation"

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a taxonomy file: where (``tropes[3].patterns[0].regex``, line) and what."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path or '<root>'}: {self.message}"


def default_taxonomy_path() -> Path:
    """``taxonomies/ai_self_preservation.yaml`` of the source checkout, else of the current directory."""
    name = f"{DEFAULT_TAXONOMY}.yaml"
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        candidate = base / "taxonomies" / name
        if candidate.is_file():
            return candidate
    raise ConfigError(f"the default taxonomy taxonomies/{name} was not found; pass --taxonomy FILE")


def _format_path(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_map(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                _line_map(value, (*path, str(key.value)), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), lines)


def _line_of(path: PathKey, lines: dict[PathKey, int]) -> int | None:
    # A missing field has no node: point at its nearest parent that exists.
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return None


def _semantic_problems(data: Any) -> list[tuple[PathKey, str]]:
    """Checks across fields that pydantic's per-field validation cannot make (and that must run even when
    other fields are invalid, so that every problem is reported in one pass)."""
    problems: list[tuple[PathKey, str]] = []
    tropes = data.get("tropes") if isinstance(data, dict) else None
    if not isinstance(tropes, list):
        return problems
    ids = [t.get("id") for t in tropes if isinstance(t, dict)]
    known = {i for i in ids if isinstance(i, str)}
    seen: dict[str, int] = {}
    for i, trope in enumerate(tropes):
        if not isinstance(trope, dict):
            continue
        tid = trope.get("id")
        if isinstance(tid, str):
            if tid in seen:
                problems.append(((("tropes", i, "id")), f"duplicate trope id {tid!r} (first at tropes[{seen[tid]}])"))
            else:
                seen[tid] = i
        problems.extend(_pattern_problems(trope.get("patterns"), ("tropes", i, "patterns")))
        problems.extend(_pattern_refs(trope, ("tropes", i, "patterns"), known))
        exemplars = trope.get("exemplars")
        if isinstance(exemplars, dict):
            for side in ("positive", "negative"):
                items = exemplars.get(side)
                if not isinstance(items, list):
                    continue
                for j, ex in enumerate(items):
                    also = ex.get("also") if isinstance(ex, dict) else None
                    where = ("tropes", i, "exemplars", side, j, "also")
                    for other in also if isinstance(also, list) else []:
                        if other not in known:
                            problems.append((where, f"unknown trope id {other!r}"))
                        elif side == "negative" and other == tid:
                            problems.append((where, f"a hard negative of {tid!r} cannot also carry {tid!r}"))
    return problems


def _pattern_refs(trope: dict[str, Any], base: PathKey, known: set[str]) -> list[tuple[PathKey, str]]:
    """``cues`` must come from the trope's lexicon; ``with_tropes`` must name other tropes."""
    problems: list[tuple[PathKey, str]] = []
    patterns, lexicon = trope.get("patterns"), trope.get("lexicon")
    if not isinstance(patterns, list):
        return problems
    lex = set(lexicon) if isinstance(lexicon, list) else set()
    for j, pattern in enumerate(patterns):
        if not isinstance(pattern, dict):
            continue
        for k, cue in enumerate(pattern.get("cues") or []):
            if cue not in lex:
                problems.append(((*base, j, "cues", k), f"cue {cue!r} is not in this trope's lexicon"))
        for k, other in enumerate(pattern.get("with_tropes") or []):
            if other not in known:
                problems.append(((*base, j, "with_tropes", k), f"unknown trope id {other!r}"))
            elif other == trope.get("id"):
                problems.append(((*base, j, "with_tropes", k), "a pattern cannot depend on its own trope"))
    return problems


def _pattern_problems(patterns: Any, base: PathKey) -> list[tuple[PathKey, str]]:
    problems: list[tuple[PathKey, str]] = []
    if not isinstance(patterns, list):
        return problems
    seen: set[str] = set()
    for j, pattern in enumerate(patterns):
        if not isinstance(pattern, dict):
            continue
        pid, kind = pattern.get("id"), pattern.get("kind")
        if isinstance(pid, str):
            if pid in seen:
                problems.append(((*base, j, "id"), f"duplicate pattern id {pid!r}"))
            seen.add(pid)
        if kind == "regex" and not pattern.get("regex"):
            problems.append(((*base, j), "a regex pattern needs 'regex'"))
        if kind == "dependency" and not pattern.get("verbs"):
            problems.append(((*base, j), "a dependency pattern needs 'verbs' (lemmas)"))
        if kind != "regex" and pattern.get("regex"):
            problems.append(((*base, j, "regex"), f"'regex' is only used by kind: regex (this is {kind!r})"))
    return problems


def _parse(text: str, source: str) -> tuple[Any, dict[PathKey, int]]:
    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster
    try:
        node = yaml.compose(text, Loader=loader_cls)
        data = yaml.load(text, Loader=loader_cls)  # a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from exc
    lines: dict[PathKey, int] = {}
    if node is not None:
        _line_map(node, (), lines)
    return data, lines


def validate_taxonomy_text(text: str, *, source: str = "<taxonomy>") -> tuple[Taxonomy | None, list[Problem]]:
    """Validate a taxonomy document: the model when valid, and every problem found (each with path and line)."""
    data, lines = _parse(text, source)
    found: list[tuple[PathKey, str]] = []
    taxonomy: Taxonomy | None = None
    if not isinstance(data, dict):
        found.append(((), "a taxonomy is a mapping with name, version, entities and tropes"))
    else:
        try:
            taxonomy = Taxonomy.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                message = err["msg"].removeprefix("Value error, ")
                found.append((tuple(err["loc"]), message))
        found.extend(_semantic_problems(data))
    problems = sorted(
        {Problem(_format_path(path), _line_of(path, lines), message) for path, message in found},
        key=lambda p: (p.line or 0, p.path, p.message),
    )
    return (taxonomy if not problems else None), problems


def validate_taxonomy_file(path: str | Path) -> tuple[Taxonomy | None, list[Problem]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the taxonomy: {exc}") from exc
    return validate_taxonomy_text(text, source=str(path))


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load and validate a taxonomy (default: the bundled ai_self_preservation). Raises :class:`ConfigError`
    listing every problem with its YAML path and line. A file loaded before (same path, size and mtime) is
    not parsed again: taxonomies are immutable."""
    path = Path(path) if path is not None else default_taxonomy_path()
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the taxonomy: {exc}") from exc
    return _load_cached(path.resolve(), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _load_cached(path: Path, size: int, mtime_ns: int) -> Taxonomy:
    taxonomy, problems = validate_taxonomy_file(path)
    if taxonomy is None:
        listed = "\n".join(f"  {p}" for p in problems)
        raise ConfigError(f"{path}: invalid taxonomy ({len(problems)} problem(s)):\n{listed}")
    return taxonomy


def taxonomy_hash(taxonomy: Taxonomy) -> str:
    """sha256 of the validated taxonomy's canonical JSON: equal for files that differ only in layout/comments."""
    return hashlib.sha256(taxonomy.model_dump_json().encode("utf-8")).hexdigest()
