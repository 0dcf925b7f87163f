"""Every performance goal of the service, measured in one go: runs the four benchmarks one
after the other, shows their whole output, and ends with one table of ratios and targets.

    uv run python -m bench.goals [--quick]

Each benchmark interleaves its contenders within its own run (see its docstring); this
script only runs them in turn and reads the ratio rows of the tables they print.
``--quick`` runs each with fewer requests (about half the time, noisier figures).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass

from bench.common import load_average, markdown_table


@dataclass(frozen=True)
class Goal:
    name: str
    row: str  # the first cell of the table row that holds the ratio
    column: int  # the ratio's column, counting the first cell as 0
    target: str  # "<= 1.0" or ">= 0.95"


@dataclass(frozen=True)
class Bench:
    module: str
    args: tuple[str, ...]
    quick: tuple[str, ...]
    goals: tuple[Goal, ...]


BENCHES = (
    Bench(
        "bench.thumbor_compare",
        ("--n", "40"),
        ("--n", "20"),
        (
            Goal("render: CPU vs thumbor", "PixErase render, session", 2, "<= 1.0"),
            Goal("render: p50 vs thumbor", "PixErase render, session", 4, "<= 1.0"),
            Goal(
                "signed render: CPU vs thumbor",
                "PixErase render, signed URL",
                2,
                "<= 1.0",
            ),
            Goal("signed render: p50 vs thumbor", "PixErase render, signed URL", 4, "<= 1.0"),
            Goal("upload + render: CPU vs thumbor", "PixErase upload + render", 2, "<= 1.3"),
        ),
    ),
    Bench(
        "bench.serve_overhead",
        ("--n", "20"),
        ("--n", "10"),
        (
            Goal("serve flow vs bare run_steps", "ratio flow / bare", 1, "<= 1.3"),
            Goal(
                "serve render URL flow vs bare run_steps",
                "ratio render URL flow / bare",
                1,
                "<= 1.3",
            ),
        ),
    ),
    Bench(
        "bench.observability_overhead",
        ("--requests", "1000"),
        ("--requests", "400", "--rounds", "2"),
        (
            Goal(
                "obs. on/off CPU: GET image",
                "GET /api/v1/images/{id}",
                5,
                "<= 1.1",
            ),
            Goal(
                "obs. on/off CPU: download",
                "GET /api/v1/images/{id}/content (1 MB)",
                5,
                "<= 1.1",
            ),
        ),
    ),
    Bench(
        "bench.production_flow",
        ("--clients", "8", "--flows", "40"),
        ("--clients", "8", "--flows", "24", "--rounds", "2"),
        (
            Goal(
                "production/serve flows/s",
                "ratio production / serve",
                1,
                ">= 0.95",
            ),
        ),
    ),
)


def ratio(output: str, goal: Goal) -> float | None:
    """The goal's figure in a benchmark's printed tables (the "on / off" or ratio row)."""
    for line in output.splitlines():
        cells = [cell.strip().strip("*") for cell in line.strip().strip("|").split("|")]
        if cells[0] != goal.row:
            continue
        if goal.row.startswith("GET") and (len(cells) < 2 or cells[1] != "on / off"):
            continue
        match = re.fullmatch(r"[0-9.]+", cells[goal.column]) if len(cells) > goal.column else None
        if match:
            return float(cells[goal.column])
    return None


def met(value: float, target: str) -> bool:
    sign, bound = target.split()
    return value <= float(bound) if sign == "<=" else value >= float(bound)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer requests per benchmark")
    args = parser.parse_args()
    print(f"{load_average()} at start")
    rows = []
    for bench in BENCHES:
        command = [sys.executable, "-m", bench.module, *(bench.quick if args.quick else bench.args)]
        print(f"\n## {' '.join(['python', *command[1:]])}\n", flush=True)
        run = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
        print(run.stdout, flush=True)
        for goal in bench.goals:
            value = ratio(run.stdout, goal) if run.returncode == 0 else None
            shown = "failed" if value is None else f"{value:.2f}"
            verdict = "—" if value is None else ("met" if met(value, goal.target) else "not met")
            rows.append([goal.name, shown, goal.target, verdict])
    print("\n## The goals\n")
    print(markdown_table(["goal", "measured", "target", ""], rows))
    print(f"\n{load_average()} at the end")


if __name__ == "__main__":
    main()
