"""Figures of the read benchmark: medians over rounds, ratios and the read targets."""

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


def ratios(
    runs: list[Measurement], other: str, metrics: tuple[str, ...] = RATIO_METRICS
) -> dict[str, dict[str, float]]:
    """workload -> metric -> hub / `other`: the median over rounds of each round's ratio.
    A round's runs are seconds apart, so a ratio within a round is what the machine's
    drift over minutes disturbs least."""
    out = {}
    for workload in dict.fromkeys(r.workload for r in runs):
        per_round: dict[str, list[float]] = {m: [] for m in metrics}
        for n in sorted({r.round for r in runs}):
            pair = {
                r.target: r
                for r in runs
                if r.workload == workload and r.round == n and r.target in ("hub", other)
            }
            if "hub" in pair and other in pair:
                for m in metrics:
                    them = getattr(pair[other], m)
                    per_round[m].append(getattr(pair["hub"], m) / them if them else float("nan"))
        if per_round[metrics[0]]:
            out[workload] = {m: statistics.median(v) for m, v in per_round.items()}
    return out


def cross_ratio(runs: list[Measurement], workload: str, other_workload: str) -> float | None:
    """Median over rounds of hub `workload` throughput / hub `other_workload` throughput."""
    values = []
    for n in sorted({r.round for r in runs}):
        mine = [r for r in runs if r.round == n and r.target == "hub"]
        a = [r.throughput for r in mine if r.workload == workload]
        b = [r.throughput for r in mine if r.workload == other_workload]
        if a and b and b[0]:
            values.append(a[0] / b[0])
    return statistics.median(values) if values else None


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


def ratio_table(summary: Summary, runs: list[Measurement]) -> str:
    floor, pg = ratios(runs, "floor"), ratios(runs, "postgraphile")
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
    value: Callable[[list[Measurement], Summary], float | None]
    threshold: float
    at_most: bool = False

    def judge(self, runs: list[Measurement], summary: Summary) -> tuple[str, float | None]:
        try:
            value = self.value(runs, summary)
        except KeyError:
            value = None
        if value is None:
            return "-", None
        met = value <= self.threshold if self.at_most else value >= self.threshold
        return ("✓" if met else "✗"), value


def _ratio(workload: str, other: str) -> Callable[[list[Measurement], Summary], float | None]:
    def value(runs: list[Measurement], _summary: Summary) -> float | None:
        return ratios(runs, other, ("throughput",)).get(workload, {}).get("throughput")

    return value


def _cross(workload: str, other_workload: str) -> Callable[[list[Measurement], Summary], float | None]:
    return lambda runs, _summary: cross_ratio(runs, workload, other_workload)


def _queries(_runs: list[Measurement], s: Summary) -> float | None:
    return s["W3"]["hub"].get("source_queries_per_req")


TARGETS = (
    Target("W1", "hub >= 0.8x floor (req/s)", _ratio("W1", "floor"), 0.8),
    Target("W1", "hub >= 1.3x PostGraphile (req/s)", _ratio("W1", "postgraphile"), 1.3),
    Target("W2", "hub >= 0.7x floor (req/s)", _ratio("W2", "floor"), 0.7),
    Target("W2", "hub >= 2x PostGraphile (req/s)", _ratio("W2", "postgraphile"), 2.0),
    Target("W3", "at most 2 source queries per request", _queries, 2.0, at_most=True),
    Target("W3", "hub W3 >= 0.8x hub W1 (req/s)", _cross("W3", "W1"), 0.8),
    Target("W4", "hub >= 0.5x floor (req/s; floor: one nik = ANY(…) query)", _ratio("W4", "floor"), 0.5),
)


def targets_table(runs: list[Measurement], summary: Summary) -> tuple[str, list[dict[str, Any]]]:
    lines = ["| workload | target | measured | met |", "| --- | --- | ---: | :---: |"]
    judged = []
    for t in TARGETS:
        mark, value = t.judge(runs, summary)
        shown = NA if value is None else (f"{value:.2f}" if t.at_most else f"{value:.2f}x")
        lines.append(f"| {t.workload} | {t.text} | {shown} | {mark} |")
        judged.append({"workload": t.workload, "target": t.text, "value": value, "met": mark == "✓"})
    return "\n".join(lines), judged
