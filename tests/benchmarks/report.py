"""The benchmark results as a table, and each target with its figure, met or not."""

from __future__ import annotations

from typing import Any


def _target(
    name: str,
    figure: Any,
    baseline: str,
    ratio: Any,
    spread: str,
    goal: str,
    met: bool | None,
) -> dict[str, Any]:
    return {
        "target": name,
        "figure": figure,
        "baseline": baseline,
        "ratio": ratio,
        "spread": spread,
        "goal": goal,
        "met": met,
    }


def _range(spread: dict[str, Any]) -> str:
    return f"{spread['min']}–{spread['max']}"


def _at_least(figure: Any, goal: float) -> bool | None:
    return None if figure is None else figure >= goal


def _at_most(figure: Any, goal: float) -> bool | None:
    return None if figure is None else figure <= goal


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of the issue's target table, with this run's figure, its baseline, the ratio,
    the spread over repetitions, and whether the goal is met."""
    out: list[dict[str, Any]] = []
    if "tokens" in r:
        t = r["tokens"]["2026-07-28"]
        for key, what, goal in (
            ("list_numbers_20", "list_numbers, 20 numbers: text block tokens (cl100k)", 420),
            ("search_available_20", "search_available, 20 offers: text block tokens", 550),
        ):
            row = t[key]
            out.append(
                _target(
                    what,
                    row["text_tokens"],
                    f"JSON text {row['json_tokens']}, KrosAI passthrough {row['passthrough_tokens']}",
                    round(row["text_tokens"] / row["json_tokens"], 3),
                    "0 (deterministic)",
                    f"<= {goal}",
                    row["text_tokens"] <= goal,
                )
            )
    if "http" in r:
        for level in r["http"]["levels"]:
            fair = level["vs_fair"]
            out.append(
                _target(
                    f"stateless HTTP list_numbers vs the fair baseline, {level['concurrency']} "
                    "client(s) (median)",
                    fair["median"],
                    f"fair {level['calls_per_s']['fair']['median']} calls/s; kros-mcp "
                    f"{level['calls_per_s']['kros-mcp']['median']}; floor "
                    f"{level['calls_per_s']['floor']['median']} (x floor {level['vs_floor']['median']})",
                    fair["median"],
                    _range(fair),
                    ">= 0.92",
                    _at_least(fair["median"], 0.92),
                )
            )
        above = [lv["cpu_ms_above_fair"]["median"] for lv in r["http"]["levels"]]
        fair_cpu = [lv["cpu_ms_per_call"]["fair"]["median"] for lv in r["http"]["levels"]]
        ours_cpu = [lv["cpu_ms_per_call"]["kros-mcp"]["median"] for lv in r["http"]["levels"]]
        known = [a for a in above if a is not None]
        worst = round(max(known), 3) if known else None
        out.append(
            _target(
                "kros-mcp's own server CPU per call above the fair baseline (ms, worst level)",
                worst,
                "fair CPU ms/call " + " / ".join(str(x) for x in fair_cpu),
                " / ".join(
                    f"{o / f:.2f}" if o and f else "-"
                    for o, f in zip(ours_cpu, fair_cpu, strict=True)
                ),
                "per level " + " / ".join(str(x) for x in above),
                "<= 0.2",
                _at_most(worst, 0.2),
            )
        )
    if "cold_start" in r:
        cold = r["cold_start"]
        out.append(
            _target(
                "cold start vs a bare MCPServer (stdio, to tools/list answered)",
                cold["warm_ratio"],
                f"bare MCPServer {cold['baseline']['tools_list_ms']} ms; kros-mcp "
                f"{cold['warm']['tools_list_ms']} ms",
                cold["warm_ratio"],
                _range(cold["warm_ratio_spread"]) + f" (fastest runs {cold['warm_ratio_fastest']})",
                "<= 1.08",
                cold["warm_ratio"] <= 1.08,
            )
        )
    if "tokens" in r:
        eras = ("2026-07-28", "2025-11-25")
        worst_era = max(eras, key=lambda e: r["tokens"][e]["tools_list"]["tokens"])
        listing = r["tokens"][worst_era]["tools_list"]
        out.append(
            _target(
                f"tools/list, cl100k tokens ({listing['tools']} tools, larger era)",
                listing["tokens"],
                f"characters / 4: {listing['chars_div_4']}",
                round(listing["tokens"] / listing["chars_div_4"], 3),
                "0 (deterministic)",
                "<= 1500",
                listing["tokens"] <= 1500,
            )
        )
    if "overhead" in r:
        for tool, row in r["overhead"]["auto"].items():
            out.append(
                _target(
                    f"{tool}: latency added in-process (p50 ms)",
                    row["overhead_p50_ms"],
                    f"direct KrosAI call {row['direct_p50_ms']} ms",
                    round(row["mcp_p50_ms"] / row["direct_p50_ms"], 3),
                    f"p99 {row['overhead_p99_ms']}",
                    "(reported)",
                    None,
                )
            )
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
        ["target", "figure", "baseline", "ratio", "spread", "goal", "met"],
        [
            [
                t["target"],
                t["figure"],
                t["baseline"],
                t["ratio"],
                t["spread"],
                t["goal"],
                {True: "met", False: "NOT MET", None: "-"}[t["met"]],
            ]
            for t in r["targets"]
        ],
    )
    if "load" in m:
        lines += ["", f"Load average on the machine when the run began: {m['load']}"]
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
        lines += _http_lines(r["http"])
    if "tokens" in r:
        lines += _token_lines(r["tokens"])
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


def _http_lines(h: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"Stateless streamable HTTP (JSON responses) under uvicorn, list_numbers with "
        f"{h['owned_numbers']} numbers, KrosAI (the sandbox) in its own process; {h['seconds_per_run']} s "
        "a run; medians over repetitions (min–max); server CPU per call, warm-up included:",
        "",
    ]
    rows = []
    for lv in h["levels"]:
        calls, cpu = lv["calls_per_s"], lv["cpu_ms_per_call"]
        rows.append(
            [
                lv["concurrency"],
                lv["repetitions"],
                f"{calls['kros-mcp']['median']} ({_range(calls['kros-mcp'])})",
                f"{calls['fair']['median']} ({_range(calls['fair'])})",
                f"{calls['floor']['median']} ({_range(calls['floor'])})",
                f"{lv['vs_fair']['median']} ({_range(lv['vs_fair'])})",
                f"{lv['vs_floor']['median']} ({_range(lv['vs_floor'])})",
                f"{cpu['kros-mcp']['median']} / {cpu['fair']['median']} / {cpu['floor']['median']}",
                " / ".join(str(lv["p99_ms"][n]["median"]) for n in ("kros-mcp", "fair", "floor")),
            ]
        )
    lines += _table(
        [
            "clients",
            "reps",
            "kros-mcp calls/s",
            "fair baseline calls/s",
            "floor calls/s",
            "x fair",
            "x floor",
            "CPU ms/call (ours / fair / floor)",
            "p99 ms (ours / fair / floor)",
        ],
        rows,
    )
    if "legacy" in h:
        g = h["legacy"]
        lines += [
            "",
            f"2025-11-25 era (initialize first), {g['concurrency']} clients: kros-mcp "
            f"{g['kros-mcp']['calls_per_s']} calls/s, fair baseline {g['fair']['calls_per_s']} "
            f"(x fair {g['vs_fair']})",
        ]
    return lines


def _token_lines(tokens: dict[str, Any]) -> list[str]:
    lines = ["", f"Token footprint, {tokens['tokenizer']}:", ""]
    rows = []
    for era in ("2026-07-28", "2025-11-25"):
        t = tokens[era]
        listing = t["tools_list"]
        rows.append(
            [era, "tools/list", listing["tokens"], "", "", f"chars/4: {listing['chars_div_4']}"]
        )
        for name in (
            "list_numbers_20",
            "search_available_20",
            "purchase_preview",
            "purchase",
            "error",
        ):
            s = t[name]
            rows.append(
                [
                    era,
                    name,
                    s["text_tokens"],
                    s.get("json_tokens", "-"),
                    s.get("passthrough_tokens", "-"),
                    f"chars/4 of JSON: {s['json_chars_div_4']}" if "json_chars_div_4" in s else "",
                ]
            )
    lines += _table(
        ["era", "what", "text block", "as JSON text", "KrosAI passthrough", "estimate"], rows
    )
    return lines
