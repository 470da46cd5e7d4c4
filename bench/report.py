"""Figures of the read benchmark: medians over rounds, ratios and issue 6's targets."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

METRICS = (
    "throughput", "p50_ms", "p99_ms", "server_cpu_ms_per_req", "client_cpu", "client_cpu_ms_per_req",
)  # fmt: skip
RATIO_METRICS = ("throughput", "p50_ms", "p99_ms", "server_cpu_ms_per_req")
NA = "n/a"

Summary = dict[str, dict[str, dict[str, float]]]  # workload -> target -> metric -> median


@dataclass(frozen=True)
class Measurement:
    round: int
    workload: str
    target: str
    requests: int
    answered: int
    throughput: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_ms_per_req: float
    client_cpu: float
    client_cpu_ms_per_req: float
    source_queries_per_req: float | None  # the hub only: its calls to sources / answers


def summarise(runs: list[Measurement]) -> Summary:
    out: Summary = {}
    for r in runs:
        out.setdefault(r.workload, {}).setdefault(r.target, {})
    for workload, targets in out.items():
        for target in targets:
            mine = [r for r in runs if r.workload == workload and r.target == target]
            figures = {m: statistics.median(getattr(r, m) for r in mine) for m in METRICS}
            queries = [r.source_queries_per_req for r in mine if r.source_queries_per_req is not None]
            if queries:
                figures["source_queries_per_req"] = max(queries)
            targets[target] = figures
    return out


def ratios(summary: Summary, other: str) -> dict[str, dict[str, float]]:
    """workload -> metric -> hub / `other`, where both were measured."""
    out = {}
    for workload, by_target in summary.items():
        if "hub" in by_target and other in by_target:
            hub, them = by_target["hub"], by_target[other]
            out[workload] = {m: hub[m] / them[m] if them[m] else float("nan") for m in RATIO_METRICS}
    return out


def _x(value: float | None) -> str:
    return NA if value is None else f"{value:.2f}x"


def figures_table(summary: Summary, labels: dict[str, str]) -> str:
    lines = [
        "| workload | target | req/s | p50 ms | p99 ms | server CPU ms/req | client CPU | client CPU ms/req "
        "| source queries/req |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workload, by_target in summary.items():
        for target, s in by_target.items():
            queries = s.get("source_queries_per_req")
            lines.append(
                f"| {workload} ({labels[workload]}) | {target} | {s['throughput']:.0f} | {s['p50_ms']:.2f} "
                f"| {s['p99_ms']:.2f} | {s['server_cpu_ms_per_req']:.2f} | {s['client_cpu']:.0%} "
                f"| {s['client_cpu_ms_per_req']:.3f} | {NA if queries is None else f'{queries:.2f}'} |"
            )
    return "\n".join(lines)


def ratio_table(summary: Summary) -> str:
    floor, pg = ratios(summary, "floor"), ratios(summary, "postgraphile")
    lines = [
        "| workload | hub/floor req/s | p50 | p99 | server CPU/req | hub/PostGraphile req/s | p50 | p99 "
        "| server CPU/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workload in summary:
        cells = []
        for rat in (floor, pg):
            r = rat.get(workload)
            cells += [_x(r[m]) if r else NA for m in RATIO_METRICS]
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    workload: str
    text: str
    value: Callable[[Summary], float | None]
    threshold: float
    at_most: bool = False

    def judge(self, summary: Summary) -> tuple[str, float | None]:
        try:
            value = self.value(summary)
        except KeyError:
            value = None
        if value is None:
            return "-", None
        met = value <= self.threshold if self.at_most else value >= self.threshold
        return ("✓" if met else "✗"), value


def _ratio(workload: str, other: str, other_workload: str | None = None) -> Callable[[Summary], float]:
    def value(s: Summary) -> float:
        them = s[other_workload or workload][other]["throughput"]
        return s[workload]["hub"]["throughput"] / them

    return value


def _queries(s: Summary) -> float | None:
    return s["W3"]["hub"].get("source_queries_per_req")


TARGETS = (
    Target("W1", "hub >= 0.8x floor (req/s)", _ratio("W1", "floor"), 0.8),
    Target("W1", "hub >= 1.3x PostGraphile (req/s)", _ratio("W1", "postgraphile"), 1.3),
    Target("W2", "hub >= 0.7x floor (req/s)", _ratio("W2", "floor"), 0.7),
    Target("W2", "hub >= 2x PostGraphile (req/s)", _ratio("W2", "postgraphile"), 2.0),
    Target("W3", "at most 2 source queries per request", _queries, 2.0, at_most=True),
    Target("W3", "hub W3 >= 0.8x hub W1 (req/s)", _ratio("W3", "hub", "W1"), 0.8),
    Target("W4", "hub >= 0.5x floor (req/s; floor: one nik = ANY($1) query)", _ratio("W4", "floor"), 0.5),
)


def targets_table(summary: Summary) -> tuple[str, list[dict[str, Any]]]:
    lines = ["| workload | target | measured | met |", "| --- | --- | ---: | :---: |"]
    judged = []
    for t in TARGETS:
        mark, value = t.judge(summary)
        shown = NA if value is None else (f"{value:.2f}" if t.at_most else f"{value:.2f}x")
        lines.append(f"| {t.workload} | {t.text} | {shown} | {mark} |")
        judged.append({"workload": t.workload, "target": t.text, "value": value, "met": mark == "✓"})
    return "\n".join(lines), judged
