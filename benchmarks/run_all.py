"""Run every benchmark in this folder; each writes its JSON under book/_static/benchmarks/."""

import subprocess
import sys
from pathlib import Path

here = Path(__file__).parent
for script in sorted(here.glob("*.py")):
    if not script.name.startswith("_") and script.name != "run_all.py":
        print(f"== {script.name}")
        subprocess.run([sys.executable, str(script)], check=True)
