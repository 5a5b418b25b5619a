"""Taxonomies as data: the schema of ``taxonomies/*.yaml``, and loading with every problem located."""

from scanner.taxonomy.load import Problem, default_taxonomy_path, load_taxonomy, validate_taxonomy_file
from scanner.taxonomy.schema import Cue, Exemplar, Pattern, Taxonomy, Trope

__all__ = [
    "Cue",
    "Exemplar",
    "Pattern",
    "Problem",
    "Taxonomy",
    "Trope",
    "default_taxonomy_path",
    "load_taxonomy",
    "validate_taxonomy_file",
]
