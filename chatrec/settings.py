"""One typed settings object for the whole workspace.

Values come, highest priority first, from keyword arguments, environment variables
(`CHATREC_<FIELD>`), a TOML file (`$CHATREC_CONFIG`, else `./chatrec.toml` when present) and the
defaults below. `describe_sources` tells where each effective value came from (`chatrec config show`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "CHATREC_"
DEFAULT_CONFIG_FILE = Path("chatrec.toml")


def config_file() -> Path | None:
    """The TOML file settings are read from, or None when there is none."""
    explicit = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"{ENV_PREFIX}CONFIG points to {path}, which is not a file")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


class Settings(BaseSettings):
    """Everything a run of chatrec can be configured with."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    # --- storage -------------------------------------------------------------------------------
    warehouse_path: Path = Field(Path("var/chatrec.duckdb"), description="DuckDB warehouse file")
    landing_dir: Path = Field(Path("var/landing"), description="folder the ingest flow picks new files from")
    artifacts_dir: Path = Field(Path("var/artifacts"), description="trained model artifacts")
    reports_dir: Path = Field(Path("var/reports"), description="Evidently HTML/JSON reports and index page")
    evidently_workspace: Path = Field(Path("var/evidently"), description="Evidently UI workspace")
    cache_dir: Path = Field(Path("var/cache"), description="converted model weights and embeddings")
    warehouse_lock_wait_s: float = Field(
        1800.0, ge=0, description="how long a second writer waits for the warehouse lock before exiting (code 75)"
    )

    verbose_logs: bool = Field(
        False, description="show third-party INFO logs and warnings (Dask, Evidently, tqdm); `chatrec --verbose`"
    )

    # --- data ----------------------------------------------------------------------------------
    data_source: Literal["movielens", "movielens-latest", "csv"] | None = Field(
        None,
        description="source format the nightly ingests; None = the source the warehouse's first load recorded "
        "(raw.data_sources), and the packaged MovieLens 100K demo only for an empty warehouse",
    )
    data_path: Path | None = Field(
        None, description="path to the source files; None = the warehouse's recorded source (see data_source)"
    )
    data_mapping: str | None = Field(
        None, description="column mapping of a csv data_source (as `chatrec ingest csv --map`)"
    )
    tagged_items_seen: bool = Field(
        True,
        description="an item a user tagged counts as seen: never recommended to them (tags are implicit events "
        "the rating-trained models do not learn from, so without this a tagged item can come back as new)",
    )
    item_descriptions_path: Path | None = Field(
        None, description="optional CSV of item descriptions (item_id, description) joined to items"
    )

    ingest_earliest_timestamp: datetime = Field(
        datetime(1990, 1, 1),
        description="plausible window start (UTC): older interactions are quarantined (catches unit mix-ups)",
    )
    ingest_latest_timestamp: datetime | None = Field(
        None, description="plausible window end (UTC): newer interactions are quarantined; None = now + 1 day"
    )

    # --- models --------------------------------------------------------------------------------
    candidate_models: list[str] = Field(
        ["popularity", "itemknn", "ease", "dlae"],
        description="first-stage models the nightly retrain trains (bpr, sasrec, textknn are available too)",
    )
    candidate_model: str = Field(
        "dlae", description="first-stage model used for recommendations (best on all three ranking benchmarks)"
    )
    rating_model: str = Field(
        "biasedmf", description="rating predictor (bayesianmf is better on random splits, worse on temporal ones)"
    )
    embedding_model: str = Field(
        "all-MiniLM-L6-v2", description="sentence-transformers model id/path; default is the packaged MiniLM"
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="torch device; auto = CUDA when present")
    torch_threads: int | None = Field(
        None, ge=1, description="CPU threads for torch; None = torch's default (1 is faster on a busy shared machine)"
    )

    # --- LLM -----------------------------------------------------------------------------------
    llm_backend: Literal["auto", "ctranslate2", "transformers", "openai", "none"] = Field(
        "auto",
        description="LLM backend: transformers = any Hugging Face model or the packaged GGUF (CUDA in bf16; on CPU "
        "dynamic int8 linear layers, llm_int8); ctranslate2 = int8 CPU inference of a local model (converted once, "
        "cached; batch-invariant, but its guided explanations are ~8x slower); openai = an OpenAI-compatible "
        "endpoint; auto (default) = transformers (see docs/llm.md and docs/benchmarks.md)",
    )
    llm_model: str = Field(
        "SmolLM2-135M-Instruct",
        description="transformers model id/path, or the endpoint's model name; default is the packaged SmolLM2",
    )
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    llm_api_key: str | None = Field(None, description="API key for the endpoint", repr=False)
    llm_timeout_s: float = Field(60.0, gt=0, description="per-request timeout")
    llm_max_retries: int = Field(2, ge=0, description="retries on transient LLM errors")
    llm_batch_size: int = Field(16, ge=1, description="prompts decoded together")
    llm_int8: bool = Field(
        True,
        description="on CPU, the transformers backend runs its linear layers in dynamic int8 (torch): ~2.6x the "
        "fp32 speed here (docs/benchmarks.md); false = fp32. CUDA always runs bf16",
    )
    llm_threads: int | None = Field(
        None, ge=1, description="CPU threads of the ctranslate2 backend; None = torch_threads when set, else 1"
    )
    llm_prompt_tokens: int = Field(1024, ge=128, description="prompt token budget; history is cut first")
    llm_rerank_mode: Literal["choice", "listwise", "yesno", "off"] = Field(
        "choice", description="how the LLM scores candidates (see docs/llm.md); off = first-stage order"
    )
    llm_rerank_at_weight_zero: bool = Field(
        False,
        description="score every LLM user's candidates even when the fitted blend weight is 0 (the order cannot "
        "change; the scores land in recs.recommendations.llm_score for watching the LLM). Off: skipped, the LLM "
        "stage then costs the explanations only",
    )
    llm_explanations: Literal["llm", "template"] = Field(
        "llm", description="llm = LLM phrases the evidence (checked, template fallback); template = template only"
    )
    llm_explanation_approach: Literal["free", "retry", "per-user", "guided", "slots"] = Field(
        "slots",
        description="how the LLM phrases explanations (docs/llm.md): slots = the evidence's claims joined by the "
        "LLM's connecting words (98.4% pass the check); guided = decoding kept to what the check can pass; free/retry/per-user "
        "= unconstrained text (retry: once more with the check's reason; per-user: one prompt per user)",
    )
    llm_users_per_run: int | None = Field(
        None,
        ge=1,
        description="users per batch run that go through the LLM (re-rank + explanations), the most recently "
        "active first; None (default) = all; the rest get first-stage order and template explanations. "
        "All 943 ML-100K users took 14.1 min on 2 CPU cores (bench.pipeline); bound it on slower machines "
        "or much larger user bases (CHATREC_LLM_USERS_PER_RUN=500)",
    )
    llm_blend_users: int = Field(
        82,
        ge=5,
        description="validation users the nightly blend-weight fit scores with the LLM (fewer when the validation "
        "split has fewer). 82 is what a +0.05 NDCG@5 gain needs to clear the fit's interval at 80% power, measured "
        "by `python -m bench.blend_users` (per-user gain sd 0.124); 40 users left a chance-level LLM w > 0 in 85% "
        "of fits under the old argmax rule",
    )
    llm_finetune: bool = Field(False, description="nightly retrain also LoRA-fine-tunes the LLM ranker")
    chat_understanding: Literal["hybrid", "llm", "rules"] = Field(
        "hybrid",
        description="who reads a chat turn when an LLM is loaded: hybrid = the rules when they recognise the turn, "
        "else the LLM (constrained choice of intent and item); llm = the LLM first, the rules when its answer fails "
        "validation; rules = never the LLM. Measured side by side by `python -m bench.chat` (docs/benchmarks.md)",
    )
    chat_dislike_similar_min: float = Field(
        0.5,
        ge=0,
        le=1,
        description="a chat dislike also excludes, for that user, the items whose item-item cosine similarity to "
        "the disliked one is at least this (recs.exclusions reason 'similar'); 1 = only the disliked item",
    )
    chat_write_wait_s: float = Field(
        2.0,
        ge=0,
        description="how long a chat turn waits for the warehouse lock to store feedback; when the pipeline holds "
        "it longer the feedback is kept in a pending file beside the warehouse and stored by the next writer",
    )
    llm_finetune_steps: int = Field(
        200,
        ge=1,
        description="optimizer steps of the LoRA fine-tune, batch 4 (SmolLM2-135M on 1 CPU thread: ~9 s/step with "
        "256-token prompts; the default is sized for a GPU)",
    )
    llm_finetune_examples: int = Field(
        1024, ge=8, description="yes/no training examples built from the interactions (half liked, half not)"
    )
    llm_finetune_lr: float = Field(3e-4, gt=0, description="learning rate of the LoRA fine-tune")
    llm_adapter: Path | None = Field(
        None, description="LoRA adapter folder the transformers backend loads; None = the registry's production adapter"
    )

    # --- compute -------------------------------------------------------------------------------
    dask_address: str | None = Field(None, description="Dask scheduler address; None = LocalCluster")
    dask_workers: int | None = Field(None, ge=1, description="LocalCluster workers; None = sized to the machine")

    # --- scale (see docs/benchmarks.md, bench.scale) --------------------------------------------
    max_model_items: int | None = Field(
        10_000,
        ge=2,
        description="item-item models (EASE, DLAE, SessionDLAE, ItemKNN) cover only the N most popular items: "
        "their weights are N x N (10K items: ~2.8 GB while fitting); None = the whole catalogue",
    )
    eval_max_users: int | None = Field(
        5_000,
        ge=1,
        description="users the promotion gate and the monitor's quality report evaluate (a seeded sample when "
        "there are more); None = all",
    )
    memory_budget_mb: int | None = Field(
        None,
        ge=1,
        description="memory a step may plan to use; a step whose estimate exceeds it fails before it starts "
        "(nothing written). None = 80% of the machine's RAM",
    )
    duckdb_memory_mb: int | None = Field(
        None,
        ge=64,
        description="memory the warehouse connection (DuckDB's memory_limit) may hold before it spills to disk "
        "beside the warehouse; None = 40% of the machine's RAM (DuckDB's own default, 80%, let one 25M-row load "
        "take most of the machine)",
    )
    llm_dask_min_users: int | None = Field(
        96,
        ge=1,
        description="batch runs with at least this many LLM users run the LLM stage on Dask workers (one model per "
        "worker process, users partitioned; dask_address, else a LocalCluster of dask_workers, on CPU with 2 or "
        "more workers); None = always in-process. 96: where 2 workers beat one process (bench.llm_stage)",
    )
    dask_batch_min_users: int | None = Field(
        50_000,
        ge=1,
        description="batch runs with at least this many (non-LLM) users score their chunks on Dask "
        "(dask_address, else a LocalCluster of dask_workers); smaller runs score in-process; None = never",
    )
    score_chunk_users: int = Field(
        5_000, ge=1, description="users the batch run scores, explains and writes per chunk (bounds its memory)"
    )

    # --- recommendation sizes and seeds ----------------------------------------------------------
    top_k_candidates: int = Field(20, ge=1, description="first-stage candidates handed to the re-ranker")
    top_k_final: int = Field(5, ge=1, description="items recommended per user")
    top_k_eval: int = Field(10, ge=1, description="k for full-catalogue evaluation")
    seed: int = Field(42, description="seed for every random choice")

    # --- monitoring and promotion --------------------------------------------------------------
    drift_share_threshold: float = Field(
        0.5, ge=0, le=1, description="share of drifted columns above which a drift report counts as drifted"
    )
    drift_alarm: bool = Field(
        False,
        description="treat a drift report above drift_share_threshold as an alarm (default: information only, "
        "since the active cohort of a window shifts on unchanged data)",
    )
    alarm_night_hours: int = Field(
        24, ge=1, description="length of the window the alarms check, ending at the newest interaction (one night)"
    )
    alarm_min_interactions: int = Field(
        50, ge=1, description="fewest interactions in the night window for the alarms to judge it"
    )
    rating_shift_threshold: float = Field(
        0.9,
        gt=0,
        description="alarm when the median user's mean rating residual (rating - the item's reference mean) "
        "moves by more than this many stars vs the reference period",
    )
    popularity_shock_threshold: float = Field(
        0.15, gt=0, le=1, description="alarm when one item takes more than this share of the night's interactions"
    )
    new_item_share_threshold: float = Field(
        0.3,
        gt=0,
        le=1,
        description="alarm when more than this share of the night's interactions are on items never seen before",
    )
    quality_drop_tolerance: float = Field(
        0.05,
        ge=0,
        description="relative drop of a ranking metric at k (NDCG, MAP, MRR, precision, recall, hit rate) "
        "vs the previous run that fails monitor",
    )
    monitor_diversity_max_items: int | None = Field(
        10_000,
        ge=2,
        description="the quality report computes diversity and serendipity only when the interactions cover at most "
        "this many items: Evidently builds a dense items x items distance matrix for them (10K items: 0.8 GB; "
        "60K: 29 GB); None = always",
    )
    monitor_diversity_max_train_rows: int | None = Field(
        2_000_000,
        ge=1,
        description="the quality report computes diversity and serendipity only when the evaluated model was "
        "trained on at most this many interactions: Evidently's serendipity scans every training row once per "
        "evaluated user; None = always",
    )
    monitor_reference: Literal["previous_period", "training_window"] = Field(
        "previous_period",
        description="drift reference window: the period before the current one, or the production model's train window",
    )
    monitor_window_days: int = Field(
        30, ge=1, description="length of the current drift window, ending at the newest interaction"
    )
    dashboards_port: int = Field(8000, ge=1, le=65535, description="port of `chatrec dashboards serve` (Evidently UI)")
    index_port: int = Field(8010, ge=1, le=65535, description="port of `chatrec dashboards index` (the report index)")
    promotion_tolerance: float = Field(0.01, ge=0, description="relative regression allowed when promoting")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @field_validator("llm_users_per_run", mode="before")
    @classmethod
    def _all_users(cls, value: Any) -> Any:
        # an env var cannot hold None: "all", "none" or an empty value mean every user
        if isinstance(value, str) and value.strip().casefold() in ("", "all", "none"):
            return None
        return value

    def timestamp_window(self) -> tuple[datetime, datetime]:
        """The (earliest, latest) interaction time a load accepts, as naive UTC datetimes."""
        latest = self.ingest_latest_timestamp or datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
        return _naive_utc(self.ingest_earliest_timestamp), _naive_utc(latest)

    def torch_device(self) -> str:
        """The torch device to use: CUDA when present (or asked for), CPU otherwise."""
        import torch

        if self.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CHATREC_DEVICE=cuda but torch sees no CUDA device")
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def describe_sources(settings: Settings, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """For each field, where its effective value came from: argument, env var, TOML file or default."""
    overrides = overrides or {}
    path = config_file()
    toml_values: dict[str, Any] = {}
    if path is not None:
        import tomllib

        toml_values = tomllib.loads(path.read_text())
    origin: dict[str, str] = {}
    for name in Settings.model_fields:
        env_name = f"{ENV_PREFIX}{name.upper()}"
        if name in overrides:
            origin[name] = "argument"
        elif env_name in os.environ:
            origin[name] = f"env {env_name}"
        elif name in toml_values:
            origin[name] = f"file {path}"
        else:
            origin[name] = "default"
    return origin


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once). Tests build their own `Settings(...)` instead."""
    return Settings()
