"""TALLRec-style LoRA fine-tuning of the LLM ranker on the warehouse's own interactions.

An example is the exact prompt the `yesno` re-rank mode sends at inference (the user's history as it
was *before* the target interaction, then one candidate movie) with the answer "Yes" when the user
rated the candidate >= 4 and "No" otherwise. A LoRA adapter (peft) is trained with the loss on that
answer token only, saved atomically under `artifacts_dir/llm-adapters/<id>/` and registered in
models.registry (kind 'llm_ranker'). It is promoted only if, on a temporal validation split, it does
not regress the untuned model's AUC of P(Yes) nor the NDCG@k of yes/no re-ranking of first-stage
candidates. Knows nothing of Prefect; `tasks/llm.py` wraps `finetune_llm_ranker` for the flows.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import resource
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import polars as pl
import torch

from chatrec.data.frames import items_frame, users_frame
from chatrec.evaluation.metrics import ndcg_at_k, precision_at_k
from chatrec.evaluation.splitting import temporal_split
from chatrec.llm.backends.base import Chat
from chatrec.llm.context import LIKED_RATING, Catalogue, ContextBuilder
from chatrec.llm.prompts import PromptBuilder
from chatrec.llm.rerank import LLMReranker, LLMScores, blend
from chatrec.models import make_model
from chatrec.models.artifacts import ArtifactError, tree_sha256
from chatrec.models.base import Recommender
from chatrec.models.training import console, fingerprint, set_status, training_interactions
from chatrec.settings import Settings
from chatrec.warehouse import transaction

if TYPE_CHECKING:
    from peft import PeftModel

    from chatrec.llm.backends.transformers_backend import TransformersBackend

log = logging.getLogger(__name__)
KIND = "llm_ranker"
ANSWERS = ("Yes", "No")  # the options the yesno re-rank mode reads (renormalised over the two)
ADAPTER_DIR = "llm-adapters"
# LoRA on the attention query/value projections, as TALLRec (Bao et al., 2023) and the LoRA paper do;
# every Llama-architecture model (SmolLM2, Llama, Qwen, Mistral) names them so
LORA_TARGETS = ("q_proj", "v_proj")
LORA_RANK = 8
LORA_ALPHA = 16
LORA_DROPOUT = 0.05
BATCH_SIZE = 4
MIN_HISTORY = 5  # target interactions need this many earlier ones: a prompt with no taste teaches nothing
# Share of the negatives that are unseen items rather than items rated < 4. At inference the yes/no
# scorer judges first-stage candidates, and the ones that turn out not relevant are mostly movies the
# user never rated, not movies they rated badly. Rated negatives alone would teach "liked given
# watched" only; popularity-sampled unseen items (first-stage candidates are popular items) also
# teach "would not pick this one". Half and half keeps both signals.
UNSEEN_NEGATIVE_SHARE = 0.5


@dataclass(frozen=True)
class Example:
    user_id: str
    item_id: str
    label: bool  # True = "Yes"
    source: str  # rated | unseen
    target_ts: datetime  # the target interaction's time (for unseen negatives: the anchor's time)
    history_last_ts: datetime | None  # newest interaction in the prompt's history; always < target_ts
    history_size: int
    chat: Chat

    @property
    def answer(self) -> str:
        return ANSWERS[0] if self.label else ANSWERS[1]


def build_examples(
    interactions: pl.DataFrame,
    items: pl.DataFrame,
    users: pl.DataFrame | None,
    builder: PromptBuilder,
    *,
    n: int,
    seed: int,
    unseen_share: float = UNSEEN_NEGATIVE_SHARE,
    history_size: int = 10,
) -> list[Example]:
    """`n` yes/no examples, half "Yes" (rated >= 4) and half "No" (rated < 4, or unseen).

    Each prompt is built from the user's interactions strictly before the target's timestamp, so no
    example can see its own answer or anything after it. Classes are balanced because ML-style
    ratings are ~55% >= 4 and a ranker trained on the skew just learns to say "Yes".
    """
    rng = random.Random(seed)
    catalogue = Catalogue(items)
    frame = interactions.filter(pl.col("item_id").is_in(list(catalogue.items))).sort("ts", maintain_order=True)
    frame = frame.with_columns(
        pl.col("rating").fill_null(LIKED_RATING),  # implicit events count as liked, as ContextBuilder does
        # earlier interactions of the same user, ties excluded (same-second ratings are not "before")
        (pl.col("ts").rank("min").over("user_id") - 1).cast(pl.Int64).alias("_before"),
    )
    eligible = frame.filter(pl.col("_before") >= MIN_HISTORY)
    positives = eligible.filter(pl.col("rating") >= LIKED_RATING)
    rated_negatives = eligible.filter(pl.col("rating") < LIKED_RATING)
    n_yes = n // 2
    n_unseen = round((n - n_yes) * unseen_share)
    n_rated_no = min(n - n_yes - n_unseen, rated_negatives.height)
    n_unseen = n - n_yes - n_rated_no  # too few rated negatives: unseen items make up the rest
    picks: list[tuple[str, str, datetime, bool, str]] = []
    for source, pool, count, label in (
        ("rated", positives, n_yes, True),
        ("rated", rated_negatives, n_rated_no, False),
    ):
        rows = pool.select("user_id", "item_id", "ts").rows()
        picks += [(u, i, t, label, source) for u, i, t in rng.sample(rows, min(count, len(rows)))]
    if n_unseen:
        seen_by_user = {u: set(g) for u, g in frame.group_by("user_id").agg("item_id").iter_rows()}
        popularity = frame.group_by("item_id").len().sort("item_id")
        pool_items, weights = popularity["item_id"].to_list(), popularity["len"].to_list()
        anchors = eligible.select("user_id", "ts").rows()
        for user, ts in rng.sample(anchors, min(n_unseen, len(anchors))):
            while (item := rng.choices(pool_items, weights)[0]) in seen_by_user[user]:
                pass  # popular items a user never rated exist for every real user; resample until one
            picks.append((user, item, ts, False, "unseen"))
    histories = frame.partition_by("user_id", as_dict=True)
    profiles = users.partition_by("user_id", as_dict=True) if users is not None else {}
    examples = []
    for user, item, ts, label, source in picks:
        history = histories[(user,)].filter(pl.col("ts") < ts)
        contexts = ContextBuilder(catalogue, history, profiles.get((user,)), history_size=history_size)
        chat, _ = builder.yesno(contexts.user(user), catalogue[item])
        last = history["ts"].max() if history.height else None
        examples.append(Example(user, item, label, source, ts, last, history.height, chat))  # type: ignore[arg-type]
    rng.shuffle(examples)
    return examples


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)  # mean answer-token loss of each step
    seconds: float = 0.0
    steps: int = 0
    examples_seen: int = 0
    device: str = "cpu"

    @property
    def examples_per_second(self) -> float:
        return self.examples_seen / self.seconds if self.seconds else float("nan")


def _answer_token(tokenizer: Any, answer: str) -> int:
    # the chat template ends the prompt with "assistant\n", after which the model writes the answer
    # with no leading space; the yesno scorer reads both spellings, training teaches this one
    ids = tokenizer.encode(answer, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"answer {answer!r} is {len(ids)} tokens for this tokenizer; yes/no tuning needs one")
    return int(ids[0])


def _batch(backend: TransformersBackend, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
    """Left-padded prompts with explicit positions (so padding does not shift them) and answer ids."""
    encoded = [backend.tokenizer.encode(backend.render(e.chat), add_special_tokens=False) for e in examples]
    width = max(len(ids) for ids in encoded)
    pad = backend.tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(x)) + x for x in encoded])
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in encoded])
    targets = torch.tensor([_answer_token(backend.tokenizer, e.answer) for e in examples])
    tensors = {"input_ids": ids, "attention_mask": mask, "position_ids": (mask.cumsum(-1) - 1).clamp(min=0)}
    return {**{k: v.to(backend.device) for k, v in tensors.items()}, "targets": targets.to(backend.device)}


def answer_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the answer token after each prompt: the loss is on that one token only.

    Feeding the prompt and reading the last position's logits is the same as masking every prompt
    token's label in a prompt+answer sequence, without computing vocabulary logits for the prompt.
    """
    inputs = {k: v for k, v in batch.items() if k != "targets"}
    logits = model(**inputs, logits_to_keep=1, use_cache=False).logits[:, -1, :].float()
    return torch.nn.functional.cross_entropy(logits, batch["targets"])


def attach_lora(backend: TransformersBackend, seed: int) -> PeftModel:
    """Wrap the backend's model with a fresh LoRA adapter, in place (no second copy of the weights:
    on a GPU the base model is the memory). `detach_lora` restores the untouched base model."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)  # the adapter's initial A matrices
    config = LoraConfig(
        r=LORA_RANK, lora_alpha=LORA_ALPHA, lora_dropout=LORA_DROPOUT, target_modules=list(LORA_TARGETS),
        bias="none", task_type="CAUSAL_LM",
    )  # fmt: skip
    peft_model = get_peft_model(backend.model, config)
    backend.model = peft_model
    return peft_model


def detach_lora(backend: TransformersBackend, peft_model: PeftModel) -> None:
    """Remove the LoRA layers without merging them: the base weights are exactly as they were."""
    backend.model = peft_model.unload().eval()


def train_adapter(
    backend: TransformersBackend,
    peft_model: PeftModel,
    examples: Sequence[Example],
    *,
    steps: int,
    lr: float,
    seed: int,
    batch_size: int = BATCH_SIZE,
    max_seconds: float | None = None,
    log_every: int = 10,
) -> TrainResult:
    """AdamW on the LoRA parameters for `steps` batches (cycling through `examples` in a seeded
    order), or until `max_seconds` have passed. Returns the per-step losses."""
    if not examples:
        raise ValueError("no fine-tuning examples: the interactions have no user with enough history")
    generator = random.Random(seed)
    torch.manual_seed(seed)  # LoRA dropout masks
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    result = TrainResult(device=backend.device)
    order: list[int] = []
    peft_model.train()
    started = time.perf_counter()
    try:
        for step in range(1, steps + 1):
            if len(order) < batch_size:
                order += generator.sample(range(len(examples)), len(examples))
            chosen, order = order[:batch_size], order[batch_size:]
            loss = answer_loss(peft_model, _batch(backend, [examples[i] for i in chosen]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            result.losses.append(float(loss.detach()))
            result.steps, result.examples_seen = step, result.examples_seen + len(chosen)
            result.seconds = time.perf_counter() - started
            if step % log_every == 0 or step == steps:
                recent = result.losses[-log_every:]
                console.log(
                    f"LoRA step {step}/{steps}: loss {np.mean(recent):.4f}, "
                    f"{result.examples_per_second:.2f} examples/s ({backend.device})"
                )
            if max_seconds is not None and result.seconds >= max_seconds:
                console.log(f"LoRA training stopped at step {step}: {max_seconds:.0f} s time budget reached")
                break
    finally:
        peft_model.eval()
    return result


def save_adapter(peft_model: PeftModel, target: Path, meta: dict[str, Any]) -> str:
    """Write the adapter to a temporary sibling folder and rename it into place, so a crash never
    leaves a half-written adapter that the backend would load. Returns the folder's checksum
    (`tree_sha256`), taken before the rename, for the registry."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=target.parent))
    try:
        peft_model.save_pretrained(staging)
        (staging / "chatrec.json").write_text(json.dumps(meta, indent=2, default=str))
        checksum = tree_sha256(staging)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return checksum


def verify_adapter(model_id: str, path: Path, recorded: str | None) -> Path:
    """`path` after checking its files are the ones registered for `model_id` (ArtifactError names the
    fix when not). An adapter registered before checksums were recorded is loaded with a warning."""
    if recorded is None:
        log.warning("LLM adapter %s (%s) was registered without a checksum: loaded unverified", model_id, path)
        return path
    actual = tree_sha256(path)
    if actual != recorded:
        raise ArtifactError(
            f"LLM adapter {model_id}: its folder {path} changed since it was registered (sha256 {actual[:12]}..., "
            f"registry {recorded[:12]}...); not loading it. Delete the folder to serve the untuned model until "
            "the next fine-tune (`chatrec run retrain` with llm_finetune on) trains it again"
        )
    return path


# --- evaluation ------------------------------------------------------------------------------------
def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); NaN with one class."""
    labels = labels.astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pl.Series(scores).rank("average").to_numpy()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def ranking_metrics(
    candidates: pl.DataFrame, scores: Sequence[LLMScores], relevant: pl.DataFrame, k: int
) -> dict[str, float]:
    """AUC of the LLM's P(Yes) against relevance over every (user, candidate) pair, and NDCG/P@k of
    the LLM-only ranking (blend weight 1) of the first-stage candidates."""
    liked = set(relevant.select("user_id", "item_id").iter_rows())
    values = np.concatenate([s.scores for s in scores])
    labels = np.asarray([(s.user_id, item) in liked for s in scores for item in s.item_ids])
    final = blend(candidates, scores, 1.0, k)
    return {
        "auc": auc(values, labels),
        f"ndcg_at_{k}": ndcg_at_k(final, relevant, k),
        f"precision_at_{k}": precision_at_k(final, relevant, k),
        "p_yes_mean": float(values.mean()),
    }


def stage1_metrics(candidates: pl.DataFrame, relevant: pl.DataFrame, k: int) -> dict[str, float]:
    final = blend(candidates, [], 0.0, k)
    return {f"ndcg_at_{k}": ndcg_at_k(final, relevant, k), f"precision_at_{k}": precision_at_k(final, relevant, k)}


@dataclass
class ValidationSet:
    """Validation users, their first-stage candidates and held-out liked items, and the prompt builders."""

    candidates: pl.DataFrame
    relevant: pl.DataFrame
    reranker_contexts: ContextBuilder
    k: int

    def score(self, backend: TransformersBackend, builder: PromptBuilder) -> dict[str, float]:
        scores, _ = LLMReranker(backend, builder, self.reranker_contexts, "yesno").score(self.candidates, self.k)
        return ranking_metrics(self.candidates, scores, self.relevant, self.k)


def validation_set(
    settings: Settings, train: pl.DataFrame, holdout: pl.DataFrame, items: pl.DataFrame, users: pl.DataFrame | None
) -> ValidationSet:
    """Users with a liked (>= 4) held-out interaction, sampled (seeded) up to `llm_blend_users`; the
    configured first-stage model trained on `train` gives their `top_k_candidates` candidates."""
    known = set(train["user_id"].unique().to_list())
    relevant = holdout.filter(
        (pl.col("rating").fill_null(LIKED_RATING) >= LIKED_RATING) & pl.col("user_id").is_in(known)
    )
    pool = sorted(relevant["user_id"].unique().to_list())
    if not pool:
        raise ValueError("no validation users with liked held-out interactions (needed to judge an LLM ranker)")
    chosen = sorted(random.Random(settings.seed).sample(pool, min(settings.llm_blend_users, len(pool))))
    model = make_model(settings.candidate_model, settings)
    assert isinstance(model, Recommender)
    model.fit(train, items)
    candidates = model.recommend(chosen, settings.top_k_candidates)
    contexts = ContextBuilder(Catalogue(items), train, users)
    return ValidationSet(candidates, relevant.filter(pl.col("user_id").is_in(chosen)), contexts, settings.top_k_final)


def gate(untuned: dict[str, float], tuned: dict[str, float], k: int, tolerance: float) -> tuple[bool, str]:
    """Promote only if neither AUC nor NDCG@k regresses the untuned model beyond `tolerance` (relative)."""
    ndcg = f"ndcg_at_{k}"
    worse = [
        f"{name} {tuned[name]:.4f} < untuned {untuned[name]:.4f}"
        for name in ("auc", ndcg)
        if not math.isnan(untuned[name]) and tuned[name] < untuned[name] * (1 - tolerance)
    ]
    summary = f"AUC {untuned['auc']:.4f} -> {tuned['auc']:.4f}, NDCG@{k} {untuned[ndcg]:.4f} -> {tuned[ndcg]:.4f}"
    if worse:
        return (
            False,
            f"not promoted: regresses the untuned model ({'; '.join(worse)}; tolerance {tolerance:.0%}); {summary}",
        )
    return True, f"promoted: no regression vs the untuned model on validation ({summary})"


# --- the registry ----------------------------------------------------------------------------------
def registry_name(llm_model: str) -> str:
    """The registry name of a base model's adapters (one production adapter per base model)."""
    base = Path(llm_model).name or llm_model
    return "lora-" + re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-")


@dataclass(frozen=True)
class AdapterVersion:
    model_id: str
    status: str
    path: Path
    metrics: dict[str, Any]
    reason: str
    reused: bool


def production_adapter(settings: Settings, con: duckdb.DuckDBPyConnection | None = None) -> Path | None:
    """The production adapter folder registered for `settings.llm_model`, or None.

    Without a connection the warehouse file is opened only if it exists; any failure to read it
    (no registry yet, locked by another process) means "no adapter", so serving never breaks on it.
    An adapter folder whose files changed since it was registered raises ArtifactError (verify_adapter).
    """
    own = con is None
    if own:
        if not Path(settings.warehouse_path).is_file():
            return None
        try:
            con = duckdb.connect(str(settings.warehouse_path))
        except duckdb.Error as exc:
            log.warning("cannot read the LLM adapter registry (%s): using the untuned model", exc)
            return None
    assert con is not None
    try:
        rows = con.execute(
            "SELECT model_id, artifact_path, artifact_sha256 FROM models.registry"
            " WHERE kind = ? AND status = 'production' AND name = ?"
            " AND json_extract_string(params, '$.llm_model') = ? ORDER BY created_at DESC LIMIT 1",
            [KIND, registry_name(settings.llm_model), settings.llm_model],
        ).fetchall()
    except duckdb.CatalogException:
        rows = []
    finally:
        if own:
            con.close()
    if not rows:
        return None
    model_id, folder, recorded = rows[0]
    path = Path(folder)
    if not (path / "adapter_config.json").is_file():
        log.warning("production LLM adapter %s is missing on disk: using the untuned model", path)
        return None
    return verify_adapter(model_id, path, recorded)


def finetune_params(settings: Settings) -> dict[str, Any]:
    return {
        "llm_model": settings.llm_model, "steps": settings.llm_finetune_steps,
        "examples": settings.llm_finetune_examples, "lr": settings.llm_finetune_lr, "batch_size": BATCH_SIZE,
        "r": LORA_RANK, "alpha": LORA_ALPHA, "dropout": LORA_DROPOUT, "targets": list(LORA_TARGETS),
        "unseen_negative_share": UNSEEN_NEGATIVE_SHARE, "min_history": MIN_HISTORY,
        "prompt_tokens": settings.llm_prompt_tokens, "seed": settings.seed,
        "validation_users": settings.llm_blend_users, "candidate_model": settings.candidate_model,
        "k": settings.top_k_final, "n": settings.top_k_candidates,
    }  # fmt: skip


def finetune_llm_ranker(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    backend: TransformersBackend | None = None,
    *,
    max_seconds: float | None = None,
) -> AdapterVersion:
    """Train, judge and register a LoRA adapter of `settings.llm_model` (or reuse the row when the
    data and parameters are unchanged). The adapter is trained on the first 90% of interactions by
    time and judged on users with liked interactions in the last 10%; that trained adapter is the
    one registered (no refit on the full window: on CPU a second fine-tune would double the cost)."""
    from chatrec.llm.backends.transformers_backend import TransformersBackend

    interactions = training_interactions(con, settings, "fine-tuning the LLM ranker")
    params = finetune_params(settings)
    name = registry_name(settings.llm_model)
    digest = fingerprint(f"{KIND}:{name}", params, interactions)
    existing = con.execute(
        "SELECT model_id, status, artifact_path, metrics, status_reason, artifact_sha256 FROM models.registry"
        " WHERE fingerprint = ? AND status <> 'failed'",
        [digest],
    ).fetchall()
    if existing and (Path(existing[0][2]) / "adapter_config.json").is_file():
        model_id, status, path, metrics, reason, recorded = existing[0]
        verify_adapter(model_id, Path(path), recorded)
        console.log(f"reusing {model_id}: the LLM ranker was already fine-tuned on these interactions")
        return AdapterVersion(model_id, status, Path(path), json.loads(metrics or "{}"), reason, reused=True)

    if backend is None:
        backend = TransformersBackend(
            settings.llm_model, cache_dir=settings.cache_dir, device=settings.torch_device(), batch_size=BATCH_SIZE
        )
    if not isinstance(backend, TransformersBackend):
        raise TypeError("LoRA fine-tuning needs the transformers backend (llm_backend = 'transformers')")
    items, users = items_frame(con), users_frame(con)
    train, holdout = temporal_split(interactions, 0.1)
    builder = PromptBuilder(backend.count_tokens, settings.llm_prompt_tokens)
    examples = build_examples(train, items, users, builder, n=settings.llm_finetune_examples, seed=settings.seed)
    validation = validation_set(settings, train, holdout, items, users)
    untuned = validation.score(backend, builder)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peft_model = attach_lora(backend, settings.seed)
    try:
        result = train_adapter(
            backend, peft_model, examples, steps=settings.llm_finetune_steps, lr=settings.llm_finetune_lr,
            seed=settings.seed, max_seconds=max_seconds,
        )  # fmt: skip
        tuned = validation.score(backend, builder)  # the adapter is active, unmerged, on the same model
        if existing:  # same fingerprint, adapter folder gone (cleaned var/): refill the row's folder
            model_id, version = existing[0][0], None
            target = Path(existing[0][2])
            shutil.rmtree(target, ignore_errors=True)
        else:
            version = int(
                con.execute(
                    "SELECT coalesce(max(version), 0) + 1 FROM models.registry WHERE name = ?", [name]
                ).fetchall()[0][0]
            )
            model_id = f"{name}@{version}"
            target = Path(settings.artifacts_dir) / ADAPTER_DIR / f"{name}-v{version}-{uuid.uuid4().hex[:6]}"
        checksum = save_adapter(peft_model, target, {"model_id": model_id, "params": params})
    finally:
        detach_lora(backend, peft_model)
    peak_rise_mb = max((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 0.0)
    k = settings.top_k_final
    metrics: dict[str, Any] = {
        **{f"untuned_{m}": v for m, v in untuned.items()},
        **{f"tuned_{m}": v for m, v in tuned.items()},
        **{f"stage1_{m}": v for m, v in stage1_metrics(validation.candidates, validation.relevant, k).items()},
        "validation_users": validation.candidates["user_id"].n_unique(),
        "train_examples": len(examples), "train_steps": result.steps, "examples_seen": result.examples_seen,
        "train_seconds": result.seconds, "examples_per_second": result.examples_per_second, "loss_first": result.losses[0],
        "loss_last10": float(np.mean(result.losses[-10:])),
    }  # fmt: skip
    promoted, reason = gate(untuned, tuned, k, settings.promotion_tolerance)
    if version is None:
        con.execute(
            "UPDATE models.registry SET metrics = ?, train_seconds = ?, device = ?, artifact_sha256 = ? WHERE model_id = ?",
            [json.dumps(metrics), result.seconds, result.device, checksum, model_id],
        )
    else:
        with transaction(con):
            con.execute(
                "INSERT INTO models.registry (model_id, name, kind, version, params, fingerprint, train_start,"
                " train_end, metrics, artifact_path, artifact_sha256, status, device, train_seconds, peak_memory_mb,"
                " status_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'candidate', ?, ?, ?, ?)",
                [
                    model_id, name, KIND, version, json.dumps(params), digest, train["ts"].min(), train["ts"].max(),
                    json.dumps(metrics), str(target), checksum, result.device, result.seconds, peak_rise_mb,
                    f"LoRA fine-tuned on {len(examples)} examples from {train.height} interactions",
                ],
            )  # fmt: skip
    set_status(con, model_id, "production" if promoted else "candidate", reason)
    console.log(f"{model_id}: {reason}")
    return AdapterVersion(model_id, "production" if promoted else "candidate", target, metrics, reason, reused=False)
