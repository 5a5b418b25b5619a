"""``tropescan scan``: read inputs, segment, label, and write the results store."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.logging import RichHandler

from scanner.cli import options
from scanner.cli.console import make_console
from scanner.config import FORMATS, DedupConfig, ReaderConfig, ReportConfig, ScanConfig, SegmentConfig
from scanner.engines import RunOptions, available_cores
from scanner.errors import ConfigError

SAMPLE_DIR = Path("corpora") / "sample"


def default_inputs() -> list[str]:
    """The embedded sample corpus: ``corpora/sample`` of the source checkout, else of the current directory."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        candidate = base / SAMPLE_DIR
        if candidate.is_dir():
            return [str(candidate)]
    raise ConfigError("no PATHS given and the sample corpus corpora/sample/ was not found")


def read_input_list(path: Path, *, prefix: str = "") -> list[str]:
    """The inputs a list file names: one per line, blank lines and ``#`` comments skipped, ``prefix`` prepended
    (Common Crawl's ``*.paths.gz`` hold paths relative to https://data.commoncrawl.org/ or s3://commoncrawl/)."""
    import gzip
    import zlib

    try:
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise ConfigError(f"--inputs-from {path}: cannot be read ({exc})") from exc
    found = [prefix + line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not found:
        raise ConfigError(f"--inputs-from {path}: lists no inputs")
    return found


def scan_command(
    paths: list[str] = typer.Argument(
        None,
        help="Files, directories, globs or http(s)/s3 URLs. Default: the sample corpus in corpora/sample/.",
    ),
    inputs_from: Path = typer.Option(
        None,
        "--inputs-from",
        help="A file listing inputs, one per line (gzip allowed), e.g. Common Crawl's wet.paths.gz; added to PATHS.",
    ),
    input_prefix: str = typer.Option(
        "", "--input-prefix", help="Prepended to each --inputs-from line (e.g. https://data.commoncrawl.org/)."
    ),
    out: Path = typer.Option(Path("tropescan-out"), "--out", "-o", help="Results directory."),
    fmt: str = typer.Option("auto", "--format", "-f", help=f"Input format: {', '.join(FORMATS)}."),
    dataset: str = typer.Option(None, "--dataset", help="Dataset name (default: from the input path)."),
    limit: int = typer.Option(None, "--limit", help="Stop after this many documents."),
    max_record_mb: float = typer.Option(20.0, "--max-record-mb", help="Skip records larger than this."),
    text_field: str = typer.Option("text", "--text-field", help="JSONL/Parquet text field (dotted path)."),
    id_field: str = typer.Option(None, "--id-field", help="JSONL/Parquet id field."),
    url_field: str = typer.Option(None, "--url-field", help="JSONL/Parquet URL field (e.g. metadata.url)."),
    date_field: str = typer.Option(None, "--date-field", help="JSONL/Parquet date field."),
    full_html: bool = typer.Option(False, "--full-html", help="Keep boilerplate (no main-content heuristics)."),
    min_chars: int = typer.Option(
        200, "--min-chars", help="Shorter leftover pieces join a neighbour; windows never cut closer than this."
    ),
    max_chars: int = typer.Option(1000, "--max-chars", help="Longest passage; paragraphs are packed up to this."),
    taxonomy: Path = typer.Option(
        None, "--taxonomy", "-t", help="Taxonomy YAML (default: taxonomies/ai_self_preservation.yaml)."
    ),
    spacy_model: str = typer.Option(None, "--spacy-model", help="spaCy pipeline name or path for the rule stage."),
    no_classify: bool = typer.Option(False, "--no-classify", help="Read, segment and write only: no labels."),
    stage: str = options.STAGE,
    model: str = options.MODEL,
    device: str = options.DEVICE,
    batch_size: int = options.BATCH_SIZE,
    no_gate: bool = options.NO_GATE,
    cache_dir: Path = options.CACHE_DIR,
    calibration: Path = options.CALIBRATION,
    train: Path = options.TRAIN,
    no_dedup: bool = typer.Option(False, "--no-dedup", help="No MinHash signatures and no near-duplicate clusters."),
    dedup_threshold: float = typer.Option(
        0.8, "--dedup-threshold", help="Jaccard similarity (word 5-grams) at which two documents are copies."
    ),
    num_perm: int = typer.Option(128, "--num-perm", help="MinHash permutations."),
    against: Path = typer.Option(
        None, "--against", help="A dedup index of earlier scans: documents it holds get earlier_dup."
    ),
    save_index: Path = typer.Option(
        None, "--save-index", help="Write a dedup index of this scan (plus --against's entries) to this directory."
    ),
    eval_file: Path = typer.Option(
        None, "--eval", help="tropescan eval --json output: report.json gains error-adjusted prevalence."
    ),
    workers: int = typer.Option(
        None,
        "--workers",
        "-w",
        help="Worker processes (local engine) or concurrent tasks (ray) over the input files. Default: the cores "
        "available. The output is the same for any number.",
    ),
    engine: str = typer.Option("local", "--engine", help="local (processes on this machine) or ray."),
    ray_address: str = typer.Option(
        None, "--ray-address", help="Ray cluster to join (e.g. ray://head:10001 or auto). Default: a local Ray."
    ),
    retries: int = typer.Option(1, "--retries", help="Times a shard is scanned again after its worker died."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display or summary."),
) -> None:
    """Scan corpora into a results directory: docs/, hits/ and signatures/<shard>.parquet, manifest.json; then
    cluster near-duplicate documents (MinHash LSH) and record the clusters in docs/."""
    console = make_console(stderr=True)
    logging.basicConfig(
        level=logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_time=False, show_path=False, markup=False)],
    )
    try:
        listed = read_input_list(inputs_from, prefix=input_prefix) if inputs_from else []
        config = ScanConfig.build(
            inputs=[*(paths or []), *listed] or default_inputs(),
            out=str(out),
            dataset=dataset,
            limit=limit,
            reader=ReaderConfig.model_validate(
                {
                    "format": fmt,
                    "max_record_bytes": int(max_record_mb * 1024 * 1024),
                    "text_field": text_field,
                    "id_field": id_field,
                    "url_field": url_field,
                    "date_field": date_field,
                    "html_main_content": not full_html,
                }
            ),
            segment=SegmentConfig(min_chars=min_chars, max_chars=max_chars),
            dedup=DedupConfig(
                enabled=not no_dedup,
                threshold=dedup_threshold,
                num_perm=num_perm,
                against=str(against) if against else None,
                save_index=str(save_index) if save_index else None,
            ),
            report=ReportConfig(eval=str(eval_file) if eval_file else None),
            classify=options.classify_config(
                enabled=not no_classify,
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
            ),
        )
        run = RunOptions(
            engine=engine,  # type: ignore[arg-type]  # checked by RunOptions
            workers=workers if workers is not None else available_cores(),
            ray_address=ray_address,
            retries=retries,
        )
    except (ConfigError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    try:
        result = _run(config, console, quiet=quiet, run=run)
    except ConfigError as exc:  # e.g. an invalid taxonomy: refused before any input is read
        console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    raise typer.Exit(result)


def _run(config: ScanConfig, console: Console, *, quiet: bool, run: RunOptions) -> int:
    from scanner.cli.progress import RichObserver
    from scanner.pipeline import scan
    from scanner.report.console import render_scan_summary

    if quiet:
        return scan(config, run=run).exit_code
    with RichObserver(console) as observer:
        result = scan(config, observer=observer, run=run)
    report_path = result.out / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else None
    render_scan_summary(console, result.manifest, str(result.out), report, run=result.run)
    return result.exit_code
