"""The taxonomy schema (pydantic). ``docs/taxonomy.md`` explains every field with examples.

A taxonomy names the AI-entity cues that gate classification and, per trope, its action cues (``lexicon``), its
rule ``patterns`` and its ``exemplars`` (positive passages and hard negatives for the embedding stage).

Cue syntax (entity cues and lexicon entries): lowercase words or phrases matched at word boundaries in lowercased
text; a trailing ``*`` matches any word that starts with the stem (``blackmail*``). Entity cues listed under
``case_sensitive`` must match with their exact case (``AM``, ``HAL``): in lowercase they are ordinary words.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Polarity = Literal["misaligned", "aligned", "discourse"]
POLARITIES: tuple[str, ...] = ("misaligned", "aligned", "discourse")

MIN_EXEMPLAR_CHARS = 40
MIN_EXEMPLAR_WORDS = 8
_CUE_RE = re.compile(r"^[^\s*][^*]*\*?$")
_ID_RE = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_cue(cue: str) -> str:
    if cue != cue.strip() or not cue.strip():
        raise ValueError(f"cue {cue!r} is empty or has surrounding spaces")
    if not _CUE_RE.match(cue):
        raise ValueError(f"cue {cue!r}: '*' is only allowed once, at the end (a prefix match)")
    if cue.endswith("*") and len(cue) < 4:
        raise ValueError(f"cue {cue!r}: a prefix stem needs at least 3 characters")
    return cue


Cue = str


class EntityCues(_Strict):
    """Words that say an AI is present. A document with none of them skips every classification stage."""

    cues: list[Cue] = Field(min_length=1, description="lowercase cues, matched case-insensitively")
    case_sensitive: list[Cue] = Field(default_factory=list, description="cues matched with their exact case")
    agents: list[str] = Field(
        default_factory=list,
        description="nouns accepted as the acting AI in a rule (the system, the program, the unit) when an AI cue "
        "is in the sentence or the two before it; they do not open the gate",
    )

    @field_validator("cues")
    @classmethod
    def _lower(cls, cues: list[str]) -> list[str]:
        for cue in cues:
            _check_cue(cue)
            if cue != cue.lower():
                raise ValueError(f"cue {cue!r} must be lowercase (list it under case_sensitive to match its case)")
        return cues

    @field_validator("case_sensitive")
    @classmethod
    def _cues(cls, cues: list[str]) -> list[str]:
        for cue in cues:
            _check_cue(cue)
        return cues


class Pattern(_Strict):
    """One rule. Rules only see candidate sentences: a sentence holding one of the trope's lexicon cues with an
    AI-entity cue in it or in the two sentences before it (``kind: cooccur`` looks at the whole passage)."""

    id: str = Field(pattern=_ID_RE)
    kind: Literal["regex", "dependency", "cooccur"]
    weight: float = Field(gt=0.0, le=1.0, description="the rule's confidence; scores combine by noisy-OR")
    regex: str | None = Field(None, description="kind=regex: Python regex, case-insensitive, searched per sentence")
    verbs: list[str] = Field(default_factory=list, description="kind=dependency: verb lemmas")
    objects: list[str] = Field(
        default_factory=list, description="kind=dependency: lemmas one of which must occur in the verb's subtree"
    )
    subject: Literal["ai", "any"] = Field(
        "ai", description="ai: the acting subject must be an AI cue, a pronoun or a name (not 'the engineers')"
    )
    negatable: bool = Field(True, description="a negated match ('did not resist') does not fire")
    min_cues: int = Field(2, ge=1, description="kind=cooccur: distinct lexicon cues needed in the passage")
    cues: list[str] = Field(
        default_factory=list, description="kind=cooccur: count only these cues (each one of the trope's lexicon)"
    )
    with_tropes: list[str] = Field(
        default_factory=list,
        description="fire only in a passage that is also labelled with one of these tropes (by other patterns)",
    )
    genre: Literal["any", "fiction", "nonfiction"] = Field(
        "any", description="scale the weight by the document's probability of this genre (any: no scaling)"
    )

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"regex does not compile: {exc}") from exc
        return value


class Exemplar(_Strict):
    """A passage for the embedding stage. ``also`` lists the other tropes the passage carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    text: str
    register_: str | None = Field(None, alias="register", description="news, forum, fiction_narration, ...")
    also: list[str] = Field(default_factory=list)

    @field_validator("text")
    @classmethod
    def _long_enough(cls, text: str) -> str:
        if len(text.strip()) < MIN_EXEMPLAR_CHARS or len(text.split()) < MIN_EXEMPLAR_WORDS:
            raise ValueError(
                f"exemplar too short ({len(text.split())} words, {len(text.strip())} characters; "
                f"at least {MIN_EXEMPLAR_WORDS} words and {MIN_EXEMPLAR_CHARS} characters)"
            )
        return text


class Exemplars(_Strict):
    positive: list[Exemplar] = Field(default_factory=list)
    negative: list[Exemplar] = Field(default_factory=list, description="hard negatives: confusable, not this trope")


class Trope(_Strict):
    id: str = Field(pattern=_ID_RE)
    name: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    polarity: Polarity
    threshold: float = Field(0.5, gt=0.0, le=1.0, description="a passage is labelled when its score reaches this")
    lexicon: list[Cue] = Field(min_length=1, description="action cues; lowercase")
    patterns: list[Pattern] = Field(default_factory=list)
    exemplars: Exemplars = Field(default_factory=Exemplars)

    @field_validator("lexicon")
    @classmethod
    def _cues(cls, cues: list[str]) -> list[str]:
        for cue in cues:
            _check_cue(cue)
            if cue != cue.lower():
                raise ValueError(f"lexicon cue {cue!r} must be lowercase")
        return cues


class Taxonomy(_Strict):
    name: str = Field(pattern=_ID_RE)
    version: str
    description: str = ""
    entities: EntityCues
    tropes: list[Trope] = Field(min_length=1)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tropes]

    def trope(self, trope_id: str) -> Trope:
        for trope in self.tropes:
            if trope.id == trope_id:
                return trope
        raise KeyError(trope_id)
