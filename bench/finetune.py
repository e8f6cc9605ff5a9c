"""Does a LoRA fine-tune (TALLRec-style yes/no) make the small LLM rank better than the untuned one?

    CHATREC_TORCH_THREADS=1 OMP_NUM_THREADS=1 python -m bench.finetune --seconds 480 --users 60

Runs the same code as the nightly (`chatrec.llm.finetune.finetune_llm_ranker`) on a scratch MovieLens
100K warehouse: the adapter is trained on the first 90% of ratings by time (as many steps as fit in
`--seconds`), then the untuned and the fine-tuned SmolLM2 score the SAME validation users' SAME
first-stage candidates (EASE top-20 trained on that 90%; users with a held-out rating >= 4 in the
last 10%) in yesno mode. Reported: AUC of P(Yes) against relevance, NDCG@5 / P@5 of the LLM-only
ranking and of the first stage alone, training wall time and examples/s. Results go to
bench/results/finetune.json.
"""

from __future__ import annotations

import argparse
import time

import torch

from bench.common import ml100k_warehouse, write_result
from chatrec.llm.finetune import finetune_llm_ranker
from chatrec.settings import Settings
from chatrec.warehouse import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=480.0, help="training time budget")
    parser.add_argument("--examples", type=int, default=1024, help="yes/no training examples built")
    parser.add_argument("--users", type=int, default=60, help="validation users")
    parser.add_argument("--prompt-tokens", type=int, default=256, help="prompt budget (training and scoring)")
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = ml100k_warehouse()
    settings = Settings(
        warehouse_path=path, artifacts_dir=path.parent / "artifacts", cache_dir=path.parent / "cache",
        llm_finetune_examples=args.examples, llm_finetune_steps=100_000, llm_finetune_lr=args.lr,
        llm_prompt_tokens=args.prompt_tokens, llm_blend_users=args.users, candidate_model="ease",
        top_k_candidates=20, top_k_final=5, torch_threads=1,
    )  # fmt: skip
    con = connect(settings)
    started = time.perf_counter()
    version = finetune_llm_ranker(con, settings, max_seconds=args.seconds)
    total = time.perf_counter() - started
    con.close()
    m = version.metrics
    table = {
        "first stage (EASE top-20 order)": {"ndcg_at_5": m["stage1_ndcg_at_5"], "precision_at_5": m["stage1_precision_at_5"]},
        "SmolLM2-135M untuned, yesno": {
            "auc": m["untuned_auc"], "ndcg_at_5": m["untuned_ndcg_at_5"], "precision_at_5": m["untuned_precision_at_5"],
            "p_yes_mean": m["untuned_p_yes_mean"],
        },
        "SmolLM2-135M + LoRA, yesno": {
            "auc": m["tuned_auc"], "ndcg_at_5": m["tuned_ndcg_at_5"], "precision_at_5": m["tuned_precision_at_5"],
            "p_yes_mean": m["tuned_p_yes_mean"],
        },
    }  # fmt: skip
    result = write_result(
        "finetune",
        {
            "command": f"python -m bench.finetune --seconds {args.seconds:g} --examples {args.examples} "
            f"--users {args.users} --prompt-tokens {args.prompt_tokens} --lr {args.lr:g}",
            "config": {**vars(args), "lora": "r=8, alpha=16, q_proj+v_proj, batch 4", "model": settings.llm_model},
            "table": table,
            "training": {
                "wall_seconds": m["train_seconds"],
                "steps": m["train_steps"],
                "examples_seen": m["examples_seen"],
                "examples_per_second": m["examples_per_second"],
                "examples_built": m["train_examples"],
                "loss_first": m["loss_first"],
                "loss_last10": m["loss_last10"],
            },
            "validation_users": m["validation_users"],
            "gate": {"status": version.status, "reason": version.reason},
            "total_seconds": total,
        },
    )
    print(f"{result}\n{version.reason}")
    for name, row in table.items():
        print(f"{name:34s} " + "  ".join(f"{k}={v:.4f}" for k, v in row.items()))


if __name__ == "__main__":
    main()
