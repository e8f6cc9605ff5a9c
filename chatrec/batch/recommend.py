"""Batch top-k for all (or selected) users from the production candidate model, with explanations.

With the LLM layer on, the run's LLM users (all, or `llm_users_per_run` most recently active) get
their top-20 candidates re-ranked by the blend of first-stage and LLM scores (weight fitted on
validation; see chatrec.llm.pipeline) and LLM-phrased, checked explanations; the other users keep
the first-stage order and template explanations (`source = 'template_only'`).

A run is inserted as `running` (so operators see it), and its rows plus the switch to `complete`
are written in ONE transaction: the analyst views only ever show complete runs, and a run that
fails is marked `failed` with the error.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import polars as pl

from chatrec.batch.partitions import in_chunks
from chatrec.chat.feedback import apply_pending, exclusions_of, merge_exclusions
from chatrec.data.frames import (
    feedback_events,
    interactions_frame,
    items_frame,
    tagged_items,
    user_events,
    users_frame,
)
from chatrec.explain.evidence import EvidenceIndex, template_explanation
from chatrec.llm.backends.base import LLMBackend
from chatrec.llm.finetune import production_adapter
from chatrec.llm.pipeline import (
    BlendRecord,
    LLMInputs,
    fit_blend,
    latest_blend,
    llm_enabled,
    llm_on_dask,
    llm_rerank_and_explain,
    llm_users,
    use_dask_for_llm,
)
from chatrec.memory import check_budget, data_size, scoring_bytes
from chatrec.models.base import Recommender
from chatrec.models.training import ModelVersion, load_version, model_version, serving_version, verify_artifact
from chatrec.progress import progress
from chatrec.settings import Settings
from chatrec.warehouse import transaction


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    model_id: str
    n_users: int
    n_recommendations: int
    n_explanations: int
    seconds: float
    llm_users: int = 0
    llm_metrics: dict[str, float] | None = None
    blend: str | None = None
    # seconds per phase, where a slow run spent its time: load (the serving version's checks, the LLM
    # backend and blend when on, the run's row), inputs (model, frames, evidence index in this process),
    # llm (the LLM users), score (the other users, in-process or on Dask), publish (the one transaction)
    phases: dict[str, float] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def recommend_batch(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    user_ids: list[str] | None = None,
    model_id: str | None = None,
    backend: LLMBackend | None = None,
) -> RunSummary:
    started = time.perf_counter()
    phases: dict[str, float] = {}
    lap = [started]

    def phase(name: str) -> None:
        now = time.perf_counter()
        phases[name] = round(phases.get(name, 0.0) + now - lap[0], 2)
        lap[0] = now

    fallback_notes: list[str] = []
    # which version serves, its artifact checked; it is loaded below where it is needed (not in this
    # process when Dask workers score every user: they load it themselves)
    if model_id is None:
        serving = serving_version(con, settings, "candidate", settings.candidate_model)
        if serving is None:
            raise LookupError(
                f"no production '{settings.candidate_model}' model in models.registry: run `chatrec run retrain` first"
            )
        version, fallback_notes = serving
        model_id = version.model_id
        for note in fallback_notes:
            print(f"warning: {note}; serving {model_id}, the previous production version, instead", file=sys.stderr)
    else:
        version = model_version(con, model_id)
        verify_artifact(settings, version)
    if version.kind != "candidate":
        raise TypeError(f"{model_id} is not a candidate recommender")
    users = user_ids or [row[0] for row in con.execute("SELECT user_id FROM core.users ORDER BY user_id").fetchall()]
    if not users:
        raise ValueError("no users to recommend for")
    size = data_size(con, feedback_events(con))
    check_budget(
        f"the batch run ({len(users):,} users, {size.items:,} items)",
        scoring_bytes(size, settings),
        settings,
        "lower score_chunk_users (CHATREC_SCORE_CHUNK_USERS)",
    )
    use_llm = llm_enabled(settings)
    blend_record: BlendRecord | None = None
    if use_llm:
        if backend is None:
            from chatrec.llm import make_backend

            backend = make_backend(settings)
        if settings.llm_rerank_mode != "off":
            # the nightly retrain fits it; a standalone run fits it first when none exists yet
            blend_record = latest_blend(con, settings) or fit_blend(con, settings, backend)
    run_id = f"run-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    params = {
        "candidates": settings.top_k_candidates,
        "k": settings.top_k_final,
        "reranker": f"llm {settings.llm_rerank_mode}, blend {blend_record.verdict}"
        + ("" if blend_record.weight > 0 or settings.llm_rerank_at_weight_zero else " (LLM scores not computed)")
        if blend_record
        else "none (first-stage order)",
        "explanations": (
            f"llm ({settings.llm_explanation_approach}, checked, template fallback)"
            if settings.llm_explanations == "llm"
            else "template from evidence"
        )
        if use_llm
        else "template from evidence",
        "llm_users_per_run": settings.llm_users_per_run if use_llm else 0,
        "blend_id": blend_record.blend_id if blend_record else None,
        "fallback": fallback_notes or None,
    }
    with transaction(con):
        # DuckDB lets one process write the file at a time, so a run still 'running' now belongs to a
        # process that died (killed, out of memory) before completing: say so instead of leaving it
        con.execute(
            "UPDATE recs.runs SET status = 'failed', finished_at = ?, error = ? WHERE status = 'running'",
            [_now(), "abandoned: its process ended before the run completed (found by the next run)"],
        )
        con.execute(
            "INSERT INTO recs.runs (run_id, started_at, status, model_id, llm_model, k, n_users, params)"
            " VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
            [
                run_id,
                _now(),
                model_id,
                settings.llm_model if use_llm else None,
                settings.top_k_final,
                len(users),
                json.dumps(params),
            ],
        )
    # each chunk's rows go to Parquet files in a folder beside the warehouse (its disk, never the working
    # directory; a real Dask cluster's workers must see that folder); one transaction then makes the
    # whole run visible
    parts = Path(tempfile.mkdtemp(prefix=f".{run_id}-parts-", dir=settings.warehouse_path.parent))
    try:
        # a tagged item is one the user knows, though the models never trained on the tag event; an item
        # the user disliked or had seen, said in a chat (recs.exclusions), is out from this run on,
        # before any retrain learns from that feedback (chat feedback still pending is stored first)
        phase("load")
        apply_pending(con, settings)
        tagged = merge_exclusions(
            tagged_items(con, users) if settings.tagged_items_seen else None, exclusions_of(con, users)
        )
        chosen = llm_users(con, users, settings.llm_users_per_run) if use_llm else []
        served_by_llm = set(chosen)
        rest = [u for u in users if u not in served_by_llm]
        on_dask = use_dask_for(len(rest), settings)
        # Dask workers load the model and build the evidence index themselves (WorkerInputs); this
        # process needs them only for the LLM users or to score in-process
        model: Recommender | None = None
        index: EvidenceIndex | None = None
        if chosen or not on_dask:
            loaded = load_version(version, settings, verified=True)  # checked above
            assert isinstance(loaded, Recommender)
            model = loaded
            index = EvidenceIndex.of_user_events(user_events(con))
        llm_metrics: dict[str, float] | None = None
        phase("inputs")
        if chosen:
            assert backend is not None and model is not None and index is not None
            # the LLM users first, together (the LLM batches prompts across users)
            candidates = model.recommend(chosen, settings.top_k_candidates, exclude=tagged)
            inputs = LLMInputs(index, interactions_frame(con), items_frame(con), users_frame(con))
            if use_dask_for_llm(len(chosen), settings):
                adapter = settings.llm_adapter or production_adapter(settings, con)
                output = llm_on_dask(settings, candidates, inputs, chosen, blend_record, adapter)
            else:
                output = llm_rerank_and_explain(settings, candidates, inputs, chosen, blend_record, backend)
            explanations = [
                {"user_id": e.user_id, "item_id": e.item_id, "text": e.text,
                 "evidence": json.dumps(index.evidence(e.user_id, e.item_id).to_json()), "source": e.source,
                 "check_passed": e.check_passed, "check_failure": e.check_failure}
                for e in output.explanations
            ]  # fmt: skip
            final = output.final.select(RECOMMENDATION_COLUMNS).sort("user_id", "rank")
            write_part(parts, 0, final, explanations_frame(final, explanations, index, "template_only"))
            llm_metrics = output.metrics
        phase("llm")
        source = "template_only" if use_llm else "template"
        with progress("recommend", total=len(users), unit="users") as advance:
            advance(len(chosen))
            if on_dask:
                # checked above, on the disk a LocalCluster's workers read; a real cluster's check it again
                worker_inputs = WorkerInputs.at(version, settings, parts / "inputs", verified=not settings.dask_address)
                score_on_dask(
                    worker_inputs, lambda: worker_inputs.write(con), rest, settings, source, parts, advance, tagged
                )
            else:
                assert model is not None and index is not None
                # the other users in chunks: memory is bounded by one chunk's scores, whatever the user count
                for number, chunk in enumerate(in_chunks(rest, settings.score_chunk_users), start=1):
                    advance(
                        score_and_write(model, index, chunk, settings, source, parts, number, of_users(tagged, chunk))
                    )
        phase("score")
        n_recommendations, n_explanations = publish_parts(con, run_id, parts, llm_metrics)
        phase("publish")
    except Exception as exc:
        con.execute(
            "UPDATE recs.runs SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ?",
            [_now(), f"{type(exc).__name__}: {exc}", run_id],
        )
        raise
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    return RunSummary(
        run_id, model_id, len(users), n_recommendations, n_explanations, time.perf_counter() - started,
        llm_users=len(chosen), llm_metrics=llm_metrics, blend=blend_record.verdict if blend_record else None,
        phases=phases,
    )  # fmt: skip


def sample_recommendations(con: duckdb.DuckDBPyConnection, run_id: str, n_users: int = 5) -> list[dict[str, Any]]:
    """The run's recommendations for its first `n_users` users, with titles and explanations (for a glance)."""
    sql = (Path(__file__).parent / "queries" / "sample_recommendations.sql").read_text()
    return con.sql(sql, params={"run_id": run_id, "n_users": n_users}).pl().to_dicts()


RECOMMENDATION_COLUMNS = ["user_id", "rank", "item_id", "score", "stage1_score", "llm_score"]


def explanations_frame(
    final: pl.DataFrame, explained: list[dict[str, Any]], index: EvidenceIndex, source: str
) -> pl.DataFrame:
    """`explained` plus a template explanation for every recommendation it does not cover."""
    done = {(e["user_id"], e["item_id"]) for e in explained}
    rows = list(explained)
    pending = [pair for pair in final.select("user_id", "item_id").iter_rows() if pair not in done]
    index.prepare({item for _, item in pending})  # the popular items' evidence rows together
    for user, item in pending:
        evidence = index.evidence(user, item)
        rows.append(
            {"user_id": user, "item_id": item, "text": template_explanation(evidence),
             "evidence": json.dumps(evidence.to_json()), "source": source, "check_passed": True,
             "check_failure": None}
        )  # fmt: skip
    schema = {"user_id": pl.Utf8, "item_id": pl.Utf8, "text": pl.Utf8, "evidence": pl.Utf8, "source": pl.Utf8,
              "check_passed": pl.Boolean, "check_failure": pl.Utf8}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def score_chunk(
    model: Recommender,
    index: EvidenceIndex,
    users: list[str],
    settings: Settings,
    source: str,
    exclude: Mapping[str, Collection[str]] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """First-stage top-k and template explanations for one chunk of users (no warehouse access: it
    runs in this process or on a Dask worker); `exclude`: items not to recommend per user (tagged)."""
    candidates = model.recommend(users, settings.top_k_candidates, exclude=exclude)
    final = candidates.filter(pl.col("rank") <= settings.top_k_final).with_columns(
        pl.col("score").alias("stage1_score"), pl.lit(None, dtype=pl.Float64).alias("llm_score")
    )
    return final.select(RECOMMENDATION_COLUMNS), explanations_frame(final, [], index, source)


def score_and_write(
    model: Recommender,
    index: EvidenceIndex,
    users: list[str],
    settings: Settings,
    source: str,
    parts: Path,
    number: int,
    exclude: Mapping[str, Collection[str]] | None = None,
) -> int:
    """One chunk scored, explained and written as Parquet part `number`; returns its user count."""
    final, explained = score_chunk(model, index, users, settings, source, exclude)
    write_part(parts, number, final, explained)
    return len(users)


def use_dask_for(n_users: int, settings: Settings) -> bool:
    """Dask pays only past a size (starting workers and shipping the model cost seconds; bench.scale):
    `dask_batch_min_users` decides; a configured cluster address does not change that."""
    return settings.dask_batch_min_users is not None and n_users >= settings.dask_batch_min_users


# Dask partitions per worker: enough that the last ones to finish are small (workers that are
# slowed by other load still balance), few enough that per-task overhead stays negligible
PARTITIONS_PER_WORKER = 4


def partition_size(n_users: int, workers: int, settings: Settings) -> int:
    """Users per Dask partition: at most `score_chunk_users`, and small enough for PARTITIONS_PER_WORKER
    partitions per worker."""
    return max(1, min(settings.score_chunk_users, -(-n_users // (workers * PARTITIONS_PER_WORKER))))


@dataclass(frozen=True)
class WorkerInputs:
    """Where a Dask worker finds the serving model and the run's evidence index, to load them itself.

    Shipping them from this process cost more than the scoring saved: at 5M interactions the model
    pickles to 676 MB (its training data, its user x item matrix and its 10K x 10K weights) and the
    evidence index to 179 MB, and scattering both to 2 workers took 27 s of a 95 s batch run
    (bench.scale). A worker instead maps the model's artifact (`read_artifact`: pages shared with the
    other workers) and the evidence index this process built and saved once (`write`;
    `EvidenceIndex.save`: its arrays, which each worker built again before, ~2 s per worker at 5M)
    with the popular items' evidence rows the workers computed in shares (`rows_on_worker`), once per
    worker process (`worker_model`, `worker_index`). The paths must be readable by the workers: the artifacts
    folder and the run's parts folder, local disk for a LocalCluster, a shared mount for a real
    cluster. `verified`: this process checked the artifact's checksum on the disk the workers read (a
    LocalCluster), so they do not read the whole file again to check it; a real cluster's workers,
    which may see another copy, check it themselves.
    """

    version: ModelVersion
    settings: Settings
    index: Path
    verified: bool = False

    @classmethod
    def at(cls, version: ModelVersion, settings: Settings, folder: Path, *, verified: bool = False) -> WorkerInputs:
        """The inputs of a run whose files will be in `folder` (`write` writes them)."""
        return cls(version, settings, folder / "evidence-index", verified)

    def write(self, con: duckdb.DuckDBPyConnection) -> None:
        """The run's evidence index, built here from the interactions and items and saved for the
        workers (`EvidenceIndex.save`); it runs while the workers start (`score_on_dask`)."""
        EvidenceIndex.of_user_events(user_events(con)).save(self.index)

    @property
    def model_key(self) -> tuple[str, str]:
        return (self.version.model_id, str(self.version.artifact_sha256))

    @property
    def index_key(self) -> str:
        return str(self.index)


# what this worker process loaded for the last run (one model and one index: a run's only)
_worker_models: dict[tuple[str, str], Recommender] = {}
_worker_indexes: dict[str, EvidenceIndex] = {}
_worker_lock = threading.Lock()


def worker_model(inputs: WorkerInputs) -> Recommender:
    """The serving model of `inputs`, loaded once per worker process."""
    with _worker_lock:
        model = _worker_models.get(inputs.model_key)
        if model is None:
            loaded = load_version(inputs.version, inputs.settings, verified=inputs.verified)
            if not isinstance(loaded, Recommender):
                raise TypeError(f"{inputs.version.model_id} is not a candidate recommender")
            _worker_models.clear()
            model = _worker_models[inputs.model_key] = loaded
        return model


def worker_index(inputs: WorkerInputs) -> EvidenceIndex:
    """The run's evidence index (`WorkerInputs.write` saved it), loaded once per worker process, with
    the rows every worker's share saved so far (`rows_on_worker`)."""
    with _worker_lock:
        index = _worker_indexes.get(inputs.index_key)
        if index is None:
            _worker_indexes.clear()
            index = EvidenceIndex.load(inputs.index)
            _worker_indexes[inputs.index_key] = index
        else:
            index.map_rows(inputs.index)
        return index


def rows_on_worker(inputs: WorkerInputs, share: int, shares: int) -> None:
    """This worker's share of the popular items' evidence rows, computed and saved for every worker
    (`EvidenceIndex.save_rows`; returns nothing: a result would travel back to the client)."""
    index = worker_index(inputs)
    with _worker_lock:
        index.save_rows(inputs.index, share, shares)


def load_on_worker(inputs: WorkerInputs) -> None:
    """Load the model into this worker process ahead of its partitions (returns nothing: a result
    would travel back to the client)."""
    worker_model(inputs)


def forget_worker_loads() -> None:
    """Drop what this process loaded as a worker (a fresh worker process, for tests)."""
    with _worker_lock:
        _worker_models.clear()
        _worker_indexes.clear()


def score_and_write_on_worker(
    inputs: WorkerInputs,
    users: list[str],
    settings: Settings,
    source: str,
    parts: Path,
    number: int,
    exclude: Mapping[str, Collection[str]] | None = None,
) -> int:
    """`score_and_write` on a Dask worker, with the model and index the worker loaded itself."""
    return score_and_write(worker_model(inputs), worker_index(inputs), users, settings, source, parts, number, exclude)


T = TypeVar("T")


def score_on_dask(
    inputs: WorkerInputs,
    write_inputs: Callable[[], None],
    users: list[str],
    settings: Settings,
    source: str,
    parts: Path,
    advance: Callable[[T], None],
    exclude: Mapping[str, Collection[str]] | None = None,
    *,
    task: Callable[..., T] = score_and_write_on_worker,  # type: ignore[assignment]
) -> None:
    """Users scored on Dask workers in partitions: each worker loads the model and evidence index once
    (WorkerInputs: nothing big travels from this process), every partition writes its own Parquet part
    (so `parts` must be a folder the workers share with this process: local disk for a LocalCluster,
    a shared mount for a real cluster). Partitions are at most `score_chunk_users` and small enough
    for PARTITIONS_PER_WORKER per worker, so no worker idles while one finishes a big last chunk.
    Workers run one thread each, with BLAS/OpenMP at one thread (Dask's nanny sets OMP_NUM_THREADS=1
    and the like), so torch and numpy do not oversubscribe the cores.

    The cluster starts first and every worker loads the model while this process builds and saves the
    run's evidence index (`write_inputs`): a worker's imports and model load overlap that work instead
    of following it (bench.dask_timeline). Then each worker computes a share of the popular items'
    evidence rows (`rows_on_worker`), and the partitions start. `task` runs each partition (`advance` gets its
    result); the benchmark passes a timed one."""
    from concurrent.futures import ThreadPoolExecutor

    from distributed import as_completed

    from chatrec.features.extract import dask_client

    with ThreadPoolExecutor(1, thread_name_prefix="chatrec-worker-inputs") as pool:
        writing = pool.submit(write_inputs)  # while the cluster starts
        client = dask_client(settings)
        try:
            workers = list(client.scheduler_info()["workers"])
            # one model load per worker, first in its queue (one thread per worker: partitions wait
            # behind it); a worker that is gone by then leaves its load to any other, where it is a no-op
            loads = [
                client.submit(load_on_worker, inputs, workers=[worker], allow_other_workers=True, pure=False)
                for worker in workers
            ]
            writing.result()
            # the popular items' evidence rows, a share per worker, all saved before any partition starts
            # (every partition needs most of them; each worker computed them all before, the same work)
            client.gather(
                [
                    client.submit(
                        rows_on_worker, inputs, share, len(workers), workers=[worker], allow_other_workers=True,
                        pure=False,
                    )
                    for share, worker in enumerate(workers)
                ]
            )  # fmt: skip
            chunks = in_chunks(users, partition_size(len(users), max(1, len(workers)), settings))
            futures = [
                client.submit(
                    task, inputs, chunk, settings, source, parts, number, of_users(exclude, chunk), pure=False
                )
                for number, chunk in enumerate(chunks, start=1)
            ]
            for future in as_completed(futures):
                advance(future.result())
            client.gather(loads)
        finally:
            cluster = client.cluster
            client.close()
            if not settings.dask_address and cluster is not None:
                cluster.close()


def of_users(exclude: Mapping[str, Collection[str]] | None, users: list[str]) -> dict[str, Collection[str]] | None:
    """The exclusions of one chunk's users (what a Dask task needs, not every user's)."""
    if exclude is None:
        return None
    return {user: exclude[user] for user in users if user in exclude}


def write_part(parts: Path, number: int, final: pl.DataFrame, explanations: pl.DataFrame) -> None:
    final.write_parquet(parts / f"recommendations-{number:06d}.parquet")
    explanations.write_parquet(parts / f"explanations-{number:06d}.parquet")


def publish_parts(
    con: duckdb.DuckDBPyConnection, run_id: str, parts: Path, llm_metrics: dict[str, float] | None
) -> tuple[int, int]:
    """Every chunk's Parquet files into the run's tables and the run marked complete, in ONE transaction:
    readers see the whole run or none of it."""
    counts = []
    with transaction(con):
        for table, columns in (
            ("recommendations", "user_id, rank, item_id, score, stage1_score, llm_score"),
            ("explanations", "user_id, item_id, text, evidence, source, check_passed, check_failure"),
        ):
            files = sorted(str(p) for p in parts.glob(f"{table}-*.parquet"))
            before = con.execute(f"SELECT count(*) FROM recs.{table} WHERE run_id = ?", [run_id]).fetchall()[0][0]
            if files:
                con.execute(
                    f"INSERT INTO recs.{table} (run_id, {columns}) SELECT ?, {columns} FROM read_parquet(?)",
                    [run_id, files],
                )
            after = con.execute(f"SELECT count(*) FROM recs.{table} WHERE run_id = ?", [run_id]).fetchall()[0][0]
            counts.append(int(after - before))
        if llm_metrics:
            con.executemany(
                "INSERT INTO monitoring.metrics (run_id, scope, subject, metric, value) VALUES (?, 'llm', ?, ?, ?)",
                [[run_id, run_id, name, value] for name, value in llm_metrics.items()],
            )
        con.execute("UPDATE recs.runs SET status = 'complete', finished_at = ? WHERE run_id = ?", [_now(), run_id])
    return counts[0], counts[1]
