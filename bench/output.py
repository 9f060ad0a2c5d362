"""Where every benchmark writes: the last run's figures as bench/results/<name>.json, beside its Markdown table."""

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def save_figures(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path
