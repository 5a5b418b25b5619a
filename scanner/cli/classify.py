"""``tropescan classify``: label standalone texts, one JSON line out per JSON line in, same order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import typer

from scanner.cli import options
from scanner.cli.console import make_console
from scanner.cli.options import build_classifier
from scanner.errors import ConfigError


def _read_items(path: Path) -> Iterator[tuple[str, str]]:
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or not isinstance(record.get("text"), str) or "id" not in record:
                raise ConfigError(f'{path}:{n}: each line must be {{"id": ..., "text": "..."}}')
            yield str(record["id"]), record["text"]


def classify_command(
    input_file: Path = typer.Argument(..., help='JSON Lines input: {"id": str, "text": str} per line.'),
    output: Path = typer.Option(..., "--output", "-o", help="JSON Lines output (one line per input line)."),
    taxonomy: Path = options.TAXONOMY,
    spacy_model: str = options.SPACY_MODEL,
    stage: str = options.STAGE,
    model: str = options.MODEL,
    device: str = options.DEVICE,
    batch_size: int = options.BATCH_SIZE,
    no_gate: bool = options.NO_GATE,
    cache_dir: Path = options.CACHE_DIR,
    calibration: Path = options.CALIBRATION,
    train: Path = options.TRAIN,
) -> None:
    """Classify texts into {"id", "labels", "scores" (every trope), "evidence": [{"trope", "start", "end", "stage",
    "detail"}]}, one output line per input line, in order."""
    from scanner.classify.texts import classify_texts

    err = make_console(stderr=True)
    try:
        classifier = build_classifier(
            taxonomy=taxonomy,
            spacy_model=spacy_model,
            stage=stage,
            model=model,
            device=device,
            batch_size=batch_size,
            no_gate=no_gate,
            cache_dir=cache_dir,
            calibration=calibration,
            train=train,
        )
        tmp = output.with_name(f".{output.name}.tmp")
        n = 0
        try:
            with tmp.open("w", encoding="utf-8") as out:
                for result in classify_texts(classifier, _read_items(input_file)):
                    out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
                    n += 1
            tmp.replace(output)
        finally:
            tmp.unlink(missing_ok=True)  # only left when writing failed: no partial output
    except (ConfigError, OSError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    err.print(f"classified {n} texts -> {output}", markup=False, highlight=False)
