from __future__ import annotations

from pathlib import Path

import pytest

from core.config import DEFAULT_CHUNK_SIZE, load_settings
from core.errors import InvalidInput


def test_defaults_put_everything_under_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(env={}, secrets_file=tmp_path / "none.toml")
    assert settings.data_dir == Path("data")
    assert settings.database_url == "sqlite:///data/catalog.db"
    assert settings.lance_uri == "data/lancedb"
    assert settings.files_uri == "data" and settings.job_lease_s == 60
    assert settings.chunk_size == DEFAULT_CHUNK_SIZE == 512
    assert settings.chunk_overlap == 50


def test_environment_wins_over_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('OPENAI_API_KEY = "sk-test"\n[workbench]\nchunk_size = 300\ndata_dir = "/srv/wb"\n')
    settings = load_settings(env={"WORKBENCH_CHUNK_SIZE": "800"}, secrets_file=secrets)
    assert settings.chunk_size == 800
    assert settings.data_dir == Path("/srv/wb")
    assert settings.database_url == "sqlite:////srv/wb/catalog.db"
    assert settings.secrets == {"OPENAI_API_KEY": "sk-test"}
    assert "sk-test" not in repr(settings)


def test_database_url_can_point_elsewhere(tmp_path: Path) -> None:
    url = "postgresql+psycopg://wb@db/workbench"
    settings = load_settings(env={"WORKBENCH_DATABASE_URL": url}, secrets_file=tmp_path / "none.toml")
    assert settings.database_url == url


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORKBENCH_CHUNK_SIZE": "big"}, "WORKBENCH_CHUNK_SIZE must be a whole number"),
        ({"WORKBENCH_CHUNK_OVERLAP": "600"}, "must be at least 0 and smaller than the chunk size"),
        ({"WORKBENCH_JOB_LEASE_S": "1"}, "WORKBENCH_JOB_LEASE_S must be at least 3 seconds, not 1"),
        ({"WORKBENCH_JOB_LEASE_S": "soon"}, "WORKBENCH_JOB_LEASE_S must be a number"),
    ],
)
def test_bad_values_get_a_plain_message(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_settings(env=env, secrets_file=tmp_path / "none.toml")


def test_broken_secrets_file_is_reported(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("this is = = not toml")
    with pytest.raises(InvalidInput, match="could not be read"):
        load_settings(env={}, secrets_file=secrets)


def test_provider_keys_in_secrets_reach_litellm_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.models import ModelRegistry
    from core.workbench import Workbench

    secrets = tmp_path / "secrets.toml"
    secrets.write_text('TEAM_PROXY_KEY = "sk-from-secrets"\nOPENAI_API_KEY = "sk-secrets"\n')
    models = tmp_path / "models.yaml"
    models.write_text(
        "model_list:\n  - model_name: team\n    litellm_params: {model: openai/x, api_key: os.environ/TEAM_PROXY_KEY}\n"
    )
    monkeypatch.delenv("TEAM_PROXY_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-environment")
    settings = load_settings(env={}, secrets_file=secrets, data_dir=tmp_path / "data", models_file=models)
    Workbench(settings)
    assert ModelRegistry.load(models).resolve("team") == ("openai/x", {"api_key": "sk-from-secrets"})
    import os

    assert os.environ["OPENAI_API_KEY"] == "sk-environment"
    monkeypatch.delenv("TEAM_PROXY_KEY")


def test_settings_replace_recomputes_paths_from_the_new_data_dir(tmp_path: Path) -> None:
    settings = load_settings(env={}, secrets_file=tmp_path / "none.toml")
    moved = settings.replace(data_dir=tmp_path / "elsewhere", chunk_size=300)
    assert moved.lance_uri == str(tmp_path / "elsewhere" / "lancedb") and moved.chunk_size == 300
    with pytest.raises(InvalidInput, match="WORKBENCH_MODEL_TIMEOUT_S must be a number"):
        settings.replace(model_timeout_s="soon")


def test_an_object_store_uri_without_a_bucket_is_refused_in_words(tmp_path: Path) -> None:
    from core.objects import Objects

    with pytest.raises(InvalidInput, match="'s3://' names no bucket; write it as s3://bucket/prefix"):
        Objects("s3://")
    local = Objects(tmp_path / "files-root")  # the default: a folder, made when missing
    local.put("files/a", b"bytes")
    assert (tmp_path / "files-root" / "files" / "a").read_bytes() == b"bytes" and local.get("files/b") is None
