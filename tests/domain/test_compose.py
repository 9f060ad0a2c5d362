"""The production path, docker-compose.yml and the Dockerfile, checked by parsing them: no Docker engine needed."""

import re
import shutil
import subprocess
import tomllib
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.helpers import ROOT

COMPOSE = ROOT / "docker-compose.yml"
SEARCH_ATTRIBUTES = {"FlipsideProgram", "FlipsidePhase", "FlipsideKind", "FlipsideSummary"}
Service = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict) and isinstance(loaded.get("services"), dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    return dict(compose["services"])


def environment(service: Service) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: str(value) for key, value in env.items()}


def depends_on(service: Service) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def script(service: Service) -> str:
    parts = [service.get("entrypoint") or [], service.get("command") or []]
    return " ".join(" ".join(part) if isinstance(part, list) else str(part) for part in parts)


def test_every_image_is_pinned_to_an_explicit_version(services: dict[str, Service]) -> None:
    for name, service in services.items():
        if "build" not in service:
            image = service.get("image", "")
            tag = image.rpartition("/")[2].partition(":")[2]
            assert re.fullmatch(r"v?\d+(\.\d+)*([-.][\w.-]+)?", tag), f"{name}: {image!r} is not pinned to a version"


def test_worker_talks_to_the_temporal_service_in_the_registered_namespace(services: dict[str, Service]) -> None:
    env = environment(services["worker"])
    host, _, port = env["TEMPORAL_ADDRESS"].partition(":")
    assert host == "temporal" and f"{port}:{port}" in services["temporal"].get("ports", [])
    assert f"--namespace {env['TEMPORAL_NAMESPACE']} " in script(services["temporal-admin-tools"])
    assert env["TEMPORAL_TASK_QUEUE"] == "flipside"


def test_worker_starts_after_temporal_is_healthy_and_attributes_are_registered(services: dict[str, Service]) -> None:
    expected = {
        "temporal": "service_healthy",
        "temporal-admin-tools": "service_completed_successfully",
        "record-db": "service_healthy",
    }
    assert depends_on(services["worker"]) == expected
    assert "healthcheck" in services["temporal"]


def test_worker_keeps_the_program_record_in_the_record_database(services: dict[str, Service]) -> None:
    url = make_url(environment(services["worker"])["DATABASE_URL"])
    record = environment(services[str(url.host)])
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.database) == (
        record["POSTGRES_USER"],
        record["POSTGRES_PASSWORD"],
        record["POSTGRES_DB"],
    )
    assert depends_on(services["worker"])[str(url.host)] == "service_healthy"
    assert str(url.host) != "postgresql", "the record keeps out of Temporal's own database"


def test_temporal_persists_to_postgres_once_it_is_healthy(services: dict[str, Service]) -> None:
    temporal, postgres = environment(services["temporal"]), environment(services["postgresql"])
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["POSTGRES_USER"] == postgres["POSTGRES_USER"]
    assert temporal["POSTGRES_PWD"] == postgres["POSTGRES_PASSWORD"]
    assert depends_on(services["temporal"])["postgresql"] == "service_healthy"
    assert "pg_isready" in str(services["postgresql"]["healthcheck"]["test"])


def test_dependencies_name_defined_services_and_form_no_cycle(services: dict[str, Service]) -> None:
    graph = {name: set(depends_on(service)) for name, service in services.items()}
    for name, targets in graph.items():
        assert targets <= graph.keys(), f"{name} depends on undefined services {targets - graph.keys()}"

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        for target in graph[name]:
            visit(target, (*path, name))

    for name in graph:
        visit(name, ())


def test_every_named_volume_is_declared_at_top_level(compose: dict[str, Any], services: dict[str, Service]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                source = volume.get("source", "") if volume.get("type") == "volume" else ""
            else:
                source = volume.split(":")[0] if ":" in volume else ""
            if source and not source.startswith(("/", ".", "~")):
                assert source in declared, f"{name} uses volume {source!r}, not declared under top-level volumes"


def test_admin_tools_registers_exactly_the_flipside_search_attributes(services: dict[str, Service]) -> None:
    job = services["temporal-admin-tools"]
    names = re.findall(r"--name\s+(\S+)", script(job))
    assert sorted(names) == sorted(SEARCH_ATTRIBUTES)
    assert dict(re.findall(r"--name\s+(\S+)\s+--type\s+(\S+)", script(job))) == dict.fromkeys(names, "Keyword")
    assert job["restart"] == "no" and depends_on(job) == {"temporal": "service_healthy"}


def test_portal_and_codec_server_run_the_flipside_image_with_the_secrets_they_need(
    services: dict[str, Service],
) -> None:
    worker, portal, codec = (environment(services[name]) for name in ("worker", "portal", "codec-server"))
    for name in ("portal", "codec-server"):
        assert services[name]["build"] == services["worker"]["build"], f"{name} runs the Flipside image"
    assert " -m portal " in f" {script(services['portal'])} " and "codec_server.py" in script(services["codec-server"])
    # The worker signs the links the portal checks, and both read and write the same encrypted payloads.
    for key in ("FLIPSIDE_SECRET_KEY", "FLIPSIDE_CODEC_KEYS", "DATABASE_URL", "TEMPORAL_ADDRESS"):
        assert worker[key] == portal[key], key
    assert codec["FLIPSIDE_CODEC_KEYS"] == worker["FLIPSIDE_CODEC_KEYS"]
    # No default for a secret: compose refuses to start until it is set (`${NAME:?message}`).
    for env, key in ((worker, "FLIPSIDE_SECRET_KEY"), (worker, "FLIPSIDE_CODEC_KEYS"), (codec, "FLIPSIDE_CODEC_TOKEN")):
        assert re.fullmatch(r"\$\{" + key + r":\?[^}]+\}", env[key]), f"{key} must be required, not defaulted"
    assert worker["FLIPSIDE_NOTIFY"] == "email"


def test_the_temporal_ui_asks_the_codec_server_and_the_codec_server_lets_it(services: dict[str, Service]) -> None:
    ui, codec = environment(services["temporal-ui"]), environment(services["codec-server"])
    endpoint_port = ui["TEMPORAL_CODEC_ENDPOINT"].rsplit(":", 1)[1]
    assert f"{endpoint_port}:{codec['FLIPSIDE_CODEC_PORT']}" in services["codec-server"]["ports"]
    ui_port = services["temporal-ui"]["ports"][0].split(":")[0]
    assert f"http://localhost:{ui_port}" in codec["FLIPSIDE_CODEC_UI_ORIGINS"].split(",")


def dockerfile_copy_sources() -> list[str]:
    sources: list[str] = []
    for words in (line.split() for line in (ROOT / "Dockerfile").read_text().splitlines()):
        if words and words[0].upper() in {"COPY", "ADD"} and not any(w.startswith("--from") for w in words):
            sources += [w.rstrip("/") for w in words[1:-1] if not w.startswith("--")]
    return sources


def test_dockerfile_copies_only_paths_that_exist() -> None:
    missing = [source for source in dockerfile_copy_sources() if not (ROOT / source).exists()]
    assert dockerfile_copy_sources() and not missing, f"Dockerfile COPY sources missing from the repository: {missing}"


def test_dockerfile_copies_everything_pyproject_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    packages = {package.split(".")[0] for package in setuptools.get("packages", [])}  # a sub-package comes along
    needed = {"pyproject.toml", project["project"]["readme"], *packages}
    needed |= {f"{module}.py" for module in setuptools.get("py-modules", [])}
    missing = needed - set(dockerfile_copy_sources())
    assert not missing, f"`pip install .` in the image would miss {sorted(missing)}"


def test_docker_compose_accepts_the_file() -> None:
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed")
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker is installed without the compose plugin")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
