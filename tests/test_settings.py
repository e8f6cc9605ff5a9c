from pathlib import Path

import pytest
from pydantic import ValidationError

from chatrec.settings import Settings, describe_sources


def test_defaults_point_into_var() -> None:
    settings = Settings()
    assert settings.warehouse_path == Path("var/chatrec.duckdb")
    assert describe_sources(settings)["warehouse_path"] == "default"


def test_env_var_overrides_toml_which_overrides_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "chatrec.toml").write_text('top_k_final = 7\nllm_backend = "openai"\nseed = 3\n')
    monkeypatch.setenv("CHATREC_SEED", "11")
    settings = Settings()
    sources = describe_sources(settings)
    assert (settings.top_k_final, sources["top_k_final"]) == (7, "file chatrec.toml")
    assert (settings.seed, sources["seed"]) == (11, "env CHATREC_SEED")
    assert sources["top_k_candidates"] == "default"


def test_config_path_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text("top_k_candidates = 30\n")
    monkeypatch.setenv("CHATREC_CONFIG", str(other))
    assert Settings().top_k_candidates == 30


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATREC_CONFIG", "/nonexistent/chatrec.toml")
    with pytest.raises(FileNotFoundError, match=r"/nonexistent/chatrec\.toml"):
        Settings()


def test_invalid_values_are_rejected_with_the_field_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATREC_TOP_K_FINAL", "0")
    with pytest.raises(ValidationError, match="top_k_final"):
        Settings()
    monkeypatch.delenv("CHATREC_TOP_K_FINAL")
    (Path.cwd() / "chatrec.toml").write_text("no_such_setting = 1\n")
    with pytest.raises(ValidationError, match="no_such_setting"):
        Settings()


def test_torch_device_falls_back_to_cpu_without_cuda() -> None:
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert Settings(device="auto").torch_device() == expected


def test_llm_users_per_run_accepts_all_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATREC_LLM_USERS_PER_RUN", "all")
    assert Settings().llm_users_per_run is None
    monkeypatch.setenv("CHATREC_LLM_USERS_PER_RUN", "7")
    assert Settings().llm_users_per_run == 7
    monkeypatch.setenv("CHATREC_LLM_USERS_PER_RUN", "0")
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Settings()
