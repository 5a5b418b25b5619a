"""tropescan: measure AI-misalignment narratives (and their aligned counter-tropes) in pretraining corpora.

The public API is small: :class:`Document` and :class:`Passage` (the one record type every stage sees),
:func:`scan` (run a scan into a results directory) and :func:`iter_documents` (stream documents from inputs).
Heavy modules are imported on first use, so ``import scanner`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Document", "Passage", "ScanConfig", "__version__", "iter_documents", "scan"]

if TYPE_CHECKING:
    from scanner.config import ScanConfig
    from scanner.data import Document, Passage
    from scanner.pipeline import iter_documents, scan


def __getattr__(name: str) -> Any:
    if name in ("Document", "Passage"):
        from scanner import data

        return getattr(data, name)
    if name == "ScanConfig":
        from scanner.config import ScanConfig

        return ScanConfig
    if name in ("scan", "iter_documents"):
        from scanner import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
