"""Shared helpers: device description and the JSON results the book shows."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parents[1] / "book" / "_static" / "benchmarks"


def device_name() -> str:
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name()}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def write(name: str, columns: list[str], rows: list[list], **extra) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    data = {
        "device": device_name(),
        "torch": torch.__version__,
        "columns": columns,
        "rows": rows,
        **extra,
    }
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(data, indent=1))
    return path
