"""The benchmark results as a table, and each target with its figure, met or not."""

from __future__ import annotations

from typing import Any


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target the issue sets, with the figure this run measured."""
    out: list[dict[str, Any]] = []

    def add(name: str, figure: Any, target: str, met: bool | None) -> None:
        out.append({"target": name, "figure": figure, "goal": target, "met": met})

    if "cold_start" in r:
        cold = r["cold_start"]
        add(
            "cold start, warm data dir (x baseline)",
            cold["warm_ratio"],
            "<= 1.15",
            cold["warm_ratio"] <= 1.15,
        )
        add(
            "cold start, warm, fastest runs (x baseline)",
            cold["warm_ratio_fastest"],
            "(reported)",
            None,
        )
        add("cold start, first run ever (x baseline)", cold["first_run_ratio"], "(reported)", None)
    if "overhead" in r:
        for tool, row in r["overhead"]["auto"].items():
            add(
                f"{tool} overhead p50 (ms)",
                row["overhead_p50_ms"],
                "<= 1.0",
                row["overhead_p50_ms"] <= 1.0,
            )
    if "http" in r:
        ratio = r["http"]["min_throughput_ratio"]
        add("HTTP calls/s, worst run (x baseline)", ratio, ">= 0.8", ratio >= 0.8)
    if "tokens" in r:
        worst = max(
            r["tokens"][era]["tools_list"]["tokens"] for era in ("2026-07-28", "2025-11-25")
        )
        add("tools/list, larger era (tokens)", worst, "<= 1500", worst <= 1500)
    return out


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(row) for row in rows)]


def markdown(r: dict[str, Any]) -> str:
    """The results as markdown tables (what `python -m tests.benchmarks` prints)."""
    m = r["machine"]
    lines = [
        f"kros-mcp benchmarks ({r['size']} run), {m['date']}: {m['cpus']} CPUs, {m['cpu_model']}, "
        f"{m['python']}",
        "",
    ]
    lines += _table(
        ["target", "figure", "goal", "met"],
        [
            [t["target"], t["figure"], t["goal"], {True: "yes", False: "NO", None: "-"}[t["met"]]]
            for t in r["targets"]
        ],
    )
    if "cold_start" in r:
        c = r["cold_start"]
        lines += [
            "",
            f"Cold start over stdio, spawn to initialize / tools/list answered (median of {c['runs']}):",
            "",
        ]
        lines += _table(
            ["server", "initialize ms", "tools/list ms", "CPU ms", "x baseline"],
            [
                [
                    "baseline (1 no-op tool)",
                    c["baseline"]["initialize_ms"],
                    c["baseline"]["tools_list_ms"],
                    c["baseline"]["cpu_ms"],
                    1.0,
                ],
                [
                    "kros-mcp, warm data dir",
                    c["warm"]["initialize_ms"],
                    c["warm"]["tools_list_ms"],
                    c["warm"]["cpu_ms"],
                    c["warm_ratio"],
                ],
                [
                    "kros-mcp, first run ever",
                    c["first_run"]["initialize_ms"],
                    c["first_run"]["tools_list_ms"],
                    c["first_run"]["cpu_ms"],
                    c["first_run_ratio"],
                ],
            ],
        )
        if "extra_imports" in c:
            top = ", ".join(f"{i['module']} {i['ms']}" for i in c["extra_imports"]["top"][:6])
            lines += [
                "",
                f"Imported beyond the baseline: {c['extra_imports']['modules']} modules; by package "
                f"(ms, -X importtime): {top}",
            ]
    if "overhead" in r:
        lines += [
            "",
            "Per-call overhead, in-process MCP client (auto: 2026-07-28, legacy: 2025-11-25) vs the "
            "same KrosAI call made directly:",
            "",
        ]
        rows = []
        for mode, tools in r["overhead"].items():
            if not isinstance(tools, dict):
                continue
            for tool, o in tools.items():
                rows.append(
                    [
                        f"{tool} ({mode})",
                        o["calls"],
                        o["mcp_p50_ms"],
                        o["direct_p50_ms"],
                        o["overhead_p50_ms"],
                        o["mcp_p99_ms"],
                        o["direct_p99_ms"],
                        o["overhead_p99_ms"],
                        o["sdk_floor_p50_ms"],
                    ]
                )
        lines += _table(
            [
                "call",
                "calls",
                "MCP p50",
                "direct p50",
                "added p50",
                "MCP p99",
                "direct p99",
                "added p99",
                "SDK floor p50",
            ],
            rows,
        )
        lines += [
            "",
            "(ms; added = MCP minus direct, call by call; SDK floor = the baseline's no-op tool "
            "through the same kind of client)",
        ]
    if "http" in r:
        h = r["http"]
        lines += [
            "",
            f"Stateless streamable HTTP under uvicorn, {h['seconds_per_run']} s a run: kros-mcp "
            "list_numbers (20 numbers) vs the baseline's no-op tool:",
            "",
        ]
        lines += _table(
            [
                "era",
                "body",
                "KrosAI",
                "clients",
                "calls/s",
                "p99 ms",
                "baseline calls/s",
                "baseline p99 ms",
                "x baseline",
                "server CPU s",
                "load CPU s",
            ],
            [
                [
                    x["era"],
                    x["response"],
                    x.get("krosai", "in-process"),
                    x["concurrency"],
                    x["ours"]["calls_per_s"],
                    x["ours"]["p99_ms"],
                    x["baseline"]["calls_per_s"],
                    x["baseline"]["p99_ms"],
                    x["throughput_ratio"],
                    x["ours"]["server_cpu_s"],
                    x["ours"]["load_cpu_s"],
                ]
                for x in h["runs"]
            ],
        )
    if "tokens" in r:
        lines += ["", "Token footprint (characters of compact JSON, tokens ~ characters / 4):", ""]
        rows = []
        for era in ("2026-07-28", "2025-11-25"):
            t = r["tokens"][era]
            rows.append(
                [era, "tools/list", t["tools_list"]["chars"], t["tools_list"]["tokens"], "", ""]
            )
            for name in ("list_numbers_20", "search_available_20"):
                s = t[name]
                rows.append(
                    [
                        era,
                        name,
                        s["whole"]["chars"],
                        s["whole"]["tokens"],
                        s["text"]["tokens"],
                        s["structured"]["tokens"],
                    ]
                )
        lines += _table(
            ["era", "what", "chars", "tokens", "text block tokens", "structured tokens"], rows
        )
    if "scale" in r:
        s, p = r["scale"]["search"], r["scale"]["list_numbers_paging"]
        lines += ["", "Scale:", ""]
        lines += _table(
            ["measure", "figure"],
            [
                [
                    f"search p50 / p99 over {s['inventory_numbers']:,} numbers (ms)",
                    f"{s['p50_ms']} / {s['p99_ms']}",
                ],
                [
                    f"same searches over {s['baseline_inventory_numbers']:,} numbers (ms)",
                    f"{s['baseline_p50_ms']} / {s['baseline_p99_ms']}",
                ],
                ["inventory seeding (s)", s["seed_seconds"]],
                [
                    f"list_numbers through {p['owned_numbers']:,} numbers, {p['pages']} pages (s)",
                    p["total_s"],
                ],
                ["page p50 / p99 (ms)", f"{p['page_p50_ms']} / {p['page_p99_ms']}"],
                ["first / last page (ms)", f"{p['first_page_ms']} / {p['last_page_ms']}"],
                ["tracemalloc peak while paging (MB)", p["tracemalloc_peak_mb"]],
                ["peak RSS of the scale process (MB)", r["scale"]["peak_rss_mb"]],
            ],
        )
    if "http" in r:
        rss = r["http"]["peak_rss_mb"]
        lines += [
            "",
            "Peak RSS of the HTTP servers (MB): " + ", ".join(f"{k} {v}" for k, v in rss.items()),
        ]
    return "\n".join(lines)
