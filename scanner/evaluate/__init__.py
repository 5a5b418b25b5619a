"""Measuring the measurer: gold sets (written passages and references into real corpora) and metrics."""

from scanner.evaluate.gold import GoldItem, load_gold
from scanner.evaluate.metrics import evaluate

__all__ = ["GoldItem", "evaluate", "load_gold"]
