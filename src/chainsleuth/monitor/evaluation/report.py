"""Evaluation reports as JSON (complete, per seed) and a markdown table (mean ± std, base rate alongside)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

HEADLINE = ("pr_auc", "f1", "illicit_f1", "precision", "recall", "recall_at_0.01", "fp_per_1000")


def _fmt(cell: Any) -> str:
    if isinstance(cell, dict) and "mean" in cell:
        m, s = cell["mean"], cell["std"]
        return "n/a" if m is None or (isinstance(m, float) and math.isnan(m)) else f"{m:.3f} ± {s:.3f}"
    return "–"


def to_markdown(report: dict[str, Any]) -> str:
    """One row per method with the headline metrics present, then recall per group (pattern / typology)."""
    methods: dict[str, Any] = report.get("methods", {})
    cols = [c for c in HEADLINE if any(c in m.get("summary", {}) for m in methods.values())]
    test = report.get("data", {}).get("test", {})
    lines = [f"### {report.get('task', 'evaluation')}", ""]
    if "base_rate" in test:
        pos = test.get("positives", test.get("illicit", "?"))
        lines.append(f"Test set: {test.get('n')} items, {pos} positive, base rate {test['base_rate']:.4f}.")
        lines.append("")
    lines += ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, m in methods.items():
        if "skipped" in m:
            lines.append(f"| {name} | " + " | ".join(["skipped"] * len(cols)) + " |")
            continue
        s = m["summary"]
        label = f"{name} (`{m['rule']}`)" if "rule" in m else name
        lines.append(f"| {label} | " + " | ".join(_fmt(s.get(c)) for c in cols) + " |")
    groups = sorted({g for m in methods.values() for g in m.get("summary", {}).get("recall_by_group", {})})
    if groups:
        lines += ["", "Recall per group at the validation-chosen threshold:", ""]
        lines += ["| method | " + " | ".join(groups) + " |", "|---" * (len(groups) + 1) + "|"]
        for name, m in methods.items():
            rbg = m.get("summary", {}).get("recall_by_group", {})
            lines.append(f"| {name} | " + " | ".join(_fmt(rbg.get(g, {}).get("recall")) for g in groups) + " |")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_dir: Path, stem: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    jp, mp = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    jp.write_text(json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")
    mp.write_text(to_markdown(report))
    return jp, mp
