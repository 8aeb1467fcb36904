"""Show simulation results: a readable timeline, JSON, and `--explain`'s check-by-check table."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from sim import runner

Obj = dict[str, Any]
# Width of the event-kind column of the timeline.
KIND_WIDTH = 9
# Characters of the progress bar.
BAR_WIDTH = 30


def timeline(result: runner.Result) -> str:
    """The run as `time  kind  text` lines, then PASS or FAIL with every failed expectation."""
    lines = [f"== {result.name} ({result.file})"]
    for event in result.events:
        lines.append(f"{event.time}  {event.kind:<{KIND_WIDTH}} {event.text}")
    if result.ok:
        lines.append(f"PASS {result.name}")
    else:
        lines.append(f"FAIL {result.name}: {len(result.failures)} expectation(s) failed")
        lines.extend(f"  - {f.where}: {f.message}" for f in result.failures)
    return "\n".join(lines)


def summary(results: Sequence[runner.Result]) -> str:
    """One line: how many scenarios passed."""
    passed = sum(1 for r in results if r.ok)
    return f"{passed}/{len(results)} scenario(s) passed"


def to_json(results: Sequence[runner.Result]) -> Obj:
    """`decisions` (every admission decision, with its scenario), `objects` (the final state of
    every object of every scenario) and `scenarios` (name, file, ok, failures, timeline)."""
    return {
        "decisions": [d.to_json() | {"scenario": r.name} for r in results for d in r.decisions],
        "objects": [obj for r in results for obj in r.objects],
        "scenarios": [
            {
                "name": r.name,
                "file": r.file,
                "ok": r.ok,
                "failures": [{"where": f.where, "message": f.message} for f in r.failures],
                "timeline": [{"time": e.time, "kind": e.kind, "text": e.text} for e in r.events],
            }
            for r in results
        ],
    }


def explain(rows: Sequence[Obj], decision: Obj) -> str:
    """One line per admission check in order (outcome, mode, failure), then the decision."""
    width = max((len(str(r["check"])) for r in rows), default=10)
    lines = []
    for i, row in enumerate(rows, start=1):
        line = f"{i:>2}. {row['check']:<{width}}  {row['outcome']:<14} (mode {row['mode']})"
        if row.get("message"):
            line += f"\n      {row['message']}"
        lines.append(line)
    if decision.get("allowed"):
        verdict = "ALLOWED"
        if decision.get("warnings"):
            verdict += f" with warnings: {'; '.join(decision['warnings'])}"
    else:
        # the message starts with the reason already (as kubectl shows it)
        verdict = f"DENIED {decision.get('code')} {decision.get('message')}"
    lines.append(verdict)
    return "\n".join(lines)


class Progress:
    """A progress bar on a terminal's stderr (silent when stderr is not a terminal)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = total > 1 and self.stream.isatty()

    def update(self, done: int, label: str) -> None:
        """Redraw the bar at `done` of `total`."""
        if not self.enabled:
            return
        filled = BAR_WIDTH * done // max(self.total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {done}/{self.total} {label[:40]:<40}")
        self.stream.flush()

    def close(self) -> None:
        """Clear the bar's line."""
        if self.enabled:
            self.stream.write("\r" + " " * (BAR_WIDTH + 60) + "\r")
            self.stream.flush()
