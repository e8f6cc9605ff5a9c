"""Render the result JSONs of bench/results/ as the markdown tables pasted into docs/benchmarks.md.

python -m bench.report quality_chatrec quality_full quality_msr quality_temporal quality_rating reference_bivae llm uncertainty
python -m bench.report --before GIT_REV quality_chatrec   # before/after table against the result file at GIT_REV
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
COLUMNS = {
    "chatrec": ["precision_at_5", "recall_at_5", "ndcg_at_5", "candidate_recall_at_20"],
    "full": ["map_at_10", "ndcg_at_10", "precision_at_10", "recall_at_10", "coverage", "novelty", "diversity"],
    "msr": ["map_at_10", "ndcg_at_10", "precision_at_10", "recall_at_10", "coverage", "novelty", "diversity"],
    "temporal": ["map_at_10", "ndcg_at_10", "precision_at_10", "recall_at_10"],
    "rating": ["rmse", "mae", "temporal_rmse", "temporal_mae"],
}


def fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("–" if value is None else str(value))


def table(name: str) -> str:
    result = json.loads((RESULTS / f"{name}.json").read_text())
    columns = COLUMNS[result["protocol"]]
    lines = [
        "| model | chosen params | " + " | ".join(columns) + " | fit s | peak RSS rise MB |",
        "|---|---|" + "---|" * (len(columns) + 2),
    ]
    for row in result["rows"]:
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "–"
        lines.append(
            f"| {row['model']} | {params} | "
            + " | ".join(fmt(row.get(c)) for c in columns)
            + f" | {row['train_seconds']:.1f} | {fmt_mb(row.get('peak_rss_increase_mb'))} |"
        )
    for anchor, values in result["anchors"].items():
        lines.append(f"| *{anchor}* | published | " + " | ".join(fmt(values.get(c)) for c in columns) + " | | |")
    machine = result["machine"]
    lines.append("")
    lines.append(
        f"Seed {result['seed']}; models on {result.get('device', 'cpu')}; {machine['cpu_count']} CPU cores, "
        f"torch {machine['torch']} ({machine['torch_threads']} threads, CUDA: {machine['cuda']}); run "
        f"{machine['when']}; whole protocol incl. tuning {result['seconds']:.0f} s."
    )
    return "\n".join(lines)


def fmt_mb(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"  # not measured off the CPU


def reference_table() -> str:
    """Cornac's BiVAE on both full-catalogue splits (python -m bench.reference_bivae)."""
    result = json.loads((RESULTS / "reference_bivae.json").read_text())
    columns = ["map_at_10", "ndcg_at_10", "precision_at_10", "recall_at_10", "fit_seconds"]
    lines = ["| split | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for row in result["rows"]:
        cells = [fmt(row[c]) for c in columns[:-1]] + [f"{row['fit_seconds']:.0f}"]
        lines.append(f"| {row['split']} | " + " | ".join(cells) + " |")
    machine = result["machine"]
    params = ", ".join(f"{k}={v}" for k, v in result["params"].items())
    lines += ["", f"{result['model']} ({params}), seed 42; {machine['cpu_count']} CPU cores, torch {machine['torch']} "
              f"(CUDA: {machine['cuda']}); run {machine['when']}."]  # fmt: skip
    return "\n".join(lines)


def explain_lines(explain: dict) -> list[str]:
    """Explanation pass rate and fallback reasons per approach (or the older batched/single table)."""
    if "approaches" not in explain:
        lines = ["| explanations | batch | explanations | completion tokens | s | tokens/s | users/min | check pass | fallback |",
                 "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for label in ("batched", "single"):
            e = explain[label]
            lines.append(f"| {label} | {e['batch_size']} | {e['explanations']} | {e['completion_tokens']} | {e['seconds']:.0f} "
                         f"| {e['tokens_per_second']:.1f} | {e['users_per_minute']:.2f} | {e['check_pass_rate']:.0%} | {e['fallback_rate']:.0%} |")  # fmt: skip
        return lines
    lines = [f"Same {explain['requests']} explanations (top-5 of {explain['users']} users) for every approach.", "",
             "| approach | check pass | fallback | retried | completion tokens | s | users/min |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, e in explain["approaches"].items():
        lines.append(f"| {name} | {e['check_pass_rate']:.1%} | {e['fallback_rate']:.1%} | {e['retried']} | "
                     f"{e['completion_tokens']} | {e['seconds']:.0f} | {e['users_per_minute']:.2f} |")  # fmt: skip
    reasons = sorted({r for e in explain["approaches"].values() for r in e["fallback_reasons"]})
    names = list(explain["approaches"])
    lines += ["", "| fallback reason (count) | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for reason in reasons:
        counts = [str(explain["approaches"][n]["fallback_reasons"].get(reason, 0)) for n in names]
        lines.append(f"| {reason} | " + " | ".join(counts) + " |")
    if "single" in explain:
        lines += ["", f"Batching speed-up of the free approach (tokens/s, batch {explain['approaches']['free']['batch_size']} "
                  f"/ batch 1 on {explain['single']['explanations']} requests): {explain['batching_speedup_tokens_per_second']:.2f}x."]  # fmt: skip
    return lines


def llm_explain_tables(names: tuple[str, ...] = ("llm_explain", "llm_explain_slots", "llm_explain_free")) -> str:
    """bench/results/llm_explain*.json (python -m bench.llm --sections explain --result-name NAME): the
    approaches of every file present in one table (a later file's approach replaces an earlier one's);
    files on other requests are refused."""
    results = [json.loads((RESULTS / f"{n}.json").read_text()) for n in names if (RESULTS / f"{n}.json").exists()]

    def explain_of(result: dict) -> dict:  # one backend's explanations in a multi-backend run
        return result.get("explain") or next(iter(result["backends"].values()))["explain"]

    merged = {**explain_of(results[0]), "approaches": {}}
    source: dict[str, int] = {}
    for n, result in enumerate(results):
        explain = explain_of(result)
        if (explain["users"], explain["requests"]) != (merged["users"], merged["requests"]):
            raise ValueError("explanation results on different requests cannot share a table")
        merged["approaches"] |= explain["approaches"]
        source |= dict.fromkeys(explain["approaches"], n)
    notes = []
    for n, result in enumerate(results):
        used = [a for a in merged["approaches"] if source[a] == n]
        if used:
            notes.append(f"{', '.join(used)}: run ended {result['machine']['when']} ({result['seconds'] / 60:.0f} min)")
    machine = results[0]["machine"]
    return "\n".join([*explain_lines(merged), "", f"Model {results[0]['model']}; {machine['cpu_count']} CPU cores, "
                      f"torch {machine['torch']} ({machine['torch_threads']} threads). " + "; ".join(notes) + "."])  # fmt: skip


def explain_rate(explain: dict, label: str) -> float:
    """Completion tokens per second of free (unconstrained) explanations, batched or one at a time."""
    if "approaches" in explain:
        return float((explain["approaches"]["free"] if label == "batched" else explain["single"])["tokens_per_second"])
    return float(explain[label]["tokens_per_second"])


def llm_tables() -> str:
    """The LLM layer's tables from bench/results/llm.json (python -m bench.llm), one row per backend."""
    result = json.loads((RESULTS / "llm.json").read_text())
    if "backends" not in result:  # a result from before the backend comparison: one transformers run
        rows = result["rerank"]["rows"]
        result["rerank"]["first_stage"] = rows[0]
        run = {"rows": rows[1:], "load_seconds": result.get("model_load_seconds", float("nan"))}
        result["backends"] = {
            "transformers": {**run, **({"explain": result["explain"]} if "explain" in result else {})}
        }
        result.setdefault("args", {"threads": 1})
        result.setdefault("load_average_start", [float("nan")])
        result.setdefault("load_average_end", [float("nan")])
    rerank, runs = result["rerank"], result["backends"]
    lines = [
        f"Same {rerank['test_users']} test users and EASE top-20 candidates for every row "
        f"(candidate recall@20 {rerank['candidate_recall_at_20']:.4f}); blend weights fitted on "
        f"{rerank['val_users']} other (validation) users; every backend on the same prompts.",
        "",
        "| backend | ranking | weight w | P@5 | R@5 | NDCG@5 | valid output | invented / duplicate items | ms per user | users per min | prompt tokens |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    first = rerank["first_stage"]
    lines.append(f"| – | {first['mode']} | 0 | {fmt(first['precision_at_5'])} | {fmt(first['recall_at_5'])} "
                 f"| {fmt(first['ndcg_at_5'])} | – | – | – | – | – |")  # fmt: skip
    for name, run in runs.items():
        for row in run["rows"]:
            health = (
                f"{row['valid_output_rate']:.0%} | {row['invented_items']:.0f} / {row['duplicate_items']:.0f} | "
                f"{row['latency_ms_per_user']:.0f} | {row['users_per_minute']:.1f} | {row['prompt_tokens_mean']:.0f}"
            )
            lines.append(f"| {name} | {row['mode']} | {row['weight']:g} | {fmt(row['precision_at_5'])} | {fmt(row['recall_at_5'])} "
                         f"| {fmt(row['ndcg_at_5'])} | {health} |")  # fmt: skip
    explained = {name: run["explain"] for name, run in runs.items() if "explain" in run}
    for name, explain in explained.items():
        lines += ["", f"Explanations, {name} backend:", "", *explain_lines(explain)]
    lines += [
        "",
        "| backend | load s | RSS after imports MB | RSS loaded MB | peak RSS decoding a batch MB |",
        "|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        if "memory" not in run:
            continue
        m = run["memory"]
        lines.append(
            f"| {name} | {run['load_seconds']:.1f} | {m['rss_before_load_mb']:.0f} | {m['rss_loaded_mb']:.0f} | {m['peak_rss_mb']:.0f} |"
        )
    if {"transformers", "ctranslate2"} <= set(runs):
        fast, slow = runs["ctranslate2"], runs["transformers"]
        slow_by_mode = {row["mode"]: row for row in slow["rows"][::2]}
        ratios = [f"{f['mode']}: {slow_by_mode[f['mode']]['latency_ms_per_user'] / f['latency_ms_per_user']:.1f}x"
                  for f in fast["rows"][::2] if f["mode"] in slow_by_mode]  # fmt: skip
        if "explain" in fast and "explain" in slow:
            for label in ("batched", "single"):
                ratio = explain_rate(fast["explain"], label) / explain_rate(slow["explain"], label)
                ratios.append(f"explanation tokens/s {label}: {ratio:.1f}x")
        lines += [
            "",
            "ctranslate2 / transformers speed (users per minute, tokens per second; same run): "
            + "; ".join(ratios)
            + ".",
        ]
    for name, run in runs.items():
        if "rating" not in run:
            continue
        rating = run["rating"]
        lines += ["", f"| rating, {name} (u1..u5, sampled test pairs) | " + " | ".join(f"u{f['fold']}" for f in rating["folds"]) + " | mean |",
                  "|---|" + "---|" * (len(rating["folds"]) + 1)]  # fmt: skip
        for key, label in (
            ("rmse_mf", "biased MF RMSE"),
            ("rmse_llm", "LLM alone RMSE"),
            ("rmse_blend", "blend RMSE (cross-fitted w)"),
        ):
            lines.append(
                f"| {label} | "
                + " | ".join(f"{f[key]:.4f}" for f in rating["folds"])
                + f" | {rating['mean'][key]:.4f} |"
            )
    machine = result["machine"]
    lines += ["", f"Model {result['model']}; {machine['cpu_count']} CPU cores, torch {machine['torch']} "
              f"({machine['torch_threads']} threads, CUDA: {machine['cuda']}), ctranslate2 int8 with "
              f"{result['args']['threads']} thread(s); run {machine['when']}; whole benchmark {result['seconds'] / 60:.0f} min; "
              f"load average {result['load_average_start'][0]:.1f} at start, {result['load_average_end'][0]:.1f} at end (2 cores)."]  # fmt: skip
    return "\n".join(lines)


def before_after(name: str, before_rev: str, *, before_name: str | None = None) -> str:
    """Each model's chosen params and metrics in the result file at git revision `before_rev` (or its
    `before_name` there) against the current file, with the change."""
    old_text = subprocess.run(
        ["git", "show", f"{before_rev}:bench/results/{before_name or name}.json"],
        capture_output=True, text=True, check=True, cwd=RESULTS.parents[1],
    ).stdout  # fmt: skip
    old, new = json.loads(old_text), json.loads((RESULTS / f"{name}.json").read_text())
    columns = COLUMNS[new["protocol"]]
    before_rows = {row["model"]: row for row in old["rows"]}
    lines = ["| model | params before → after | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for row in new["rows"]:
        was = before_rows.get(row["model"])
        if was is None:
            continue

        def params(r: dict) -> str:
            return ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "–"

        chosen = params(row) if was["params"] == row["params"] else f"{params(was)} → {params(row)}"
        cells = [
            f"{was[c]:.4f} → {row[c]:.4f} ({row[c] - was[c]:+.4f})" if isinstance(row.get(c), float) else "–"
            for c in columns
        ]
        lines.append(f"| {row['model']} | {chosen} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def uncertainty_tables() -> str:
    """Per-user spread of NDCG and paired model differences (python -m bench.uncertainty)."""
    result = json.loads((RESULTS / "uncertainty.json").read_text())
    out = []
    for protocol, part in result["protocols"].items():
        metric = part["metric"]
        lines = [f"**{protocol}** ({metric}, {part['users']} users; settings of the bench.quality run of "
                 f"{part['quality_run']})", "", f"| model | {metric} | sd over users | standard error |",
                 "|---|---|---|---|"]  # fmt: skip
        lines += [f"| {m} | {s['mean']:.4f} | {s['sd']:.4f} | {s['se']:.4f} |" for m, s in part["models"].items()]
        lines += ["", "| paired difference | mean | standard error | 95% interval | users better / worse |",
                  "|---|---|---|---|---|"]  # fmt: skip
        lines += [
            f"| {p['a']} − {p['b']} | {p['mean']:+.4f} | {p['se']:.4f} | {p['ci_low']:+.4f}..{p['ci_high']:+.4f} "
            f"| {p['users_a_better']} / {p['users_b_better']} |"
            for p in part["pairs"]
        ]
        out.append("\n".join(lines))
    return "\n\n".join(out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--before"]:
        for name in sys.argv[3:]:
            print(f"### {name}: before ({sys.argv[2]}) → after\n\n{before_after(name, sys.argv[2])}\n")
        sys.exit(0)
    for name in sys.argv[1:] or ["quality_chatrec", "quality_full", "quality_rating"]:
        render = {
            "llm": llm_tables,
            "llm_explain": llm_explain_tables,
            "reference_bivae": reference_table,
            "uncertainty": uncertainty_tables,
        }.get(name, lambda name=name: table(name))
        print(f"### {name}\n\n{render()}\n")
