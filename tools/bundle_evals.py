"""Bundle ``tropescan eval --json`` outputs next to a taxonomy, where every report's methods section reads them.

    tropescan eval corpora/labeled/dev.jsonl --json dev.json
    tropescan eval corpora/labeled/dev-shared-refs.jsonl --refs-root ../shared/corpora --json refs.json
    python tools/bundle_evals.py dev.json refs.json      # -> taxonomies/ai_self_preservation.evals.json

Only the summary figures are kept (no per-item predictions). A report uses an eval only while its taxonomy hash
matches the scan's, so refresh the bundle after changing the taxonomy or its calibration.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scanner.taxonomy.load import default_taxonomy_path

KEEP = ("gold", "classifier", "stage", "tropescan_version", "n", "per_trope", "micro", "macro_f1", "any_trope")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evals", nargs="+", type=Path)
    parser.add_argument("--taxonomy", type=Path, default=None)
    args = parser.parse_args()
    taxonomy = args.taxonomy or default_taxonomy_path()
    evals = []
    for path in args.evals:
        data = json.loads(path.read_text(encoding="utf-8"))
        evals.append({k: data[k] for k in KEEP if k in data})
    out = taxonomy.with_name(f"{taxonomy.stem}.evals.json")
    out.write_text(json.dumps({"evals": evals}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
