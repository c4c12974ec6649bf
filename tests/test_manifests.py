"""The deployment manifests (manifests/docker, manifests/k8s) checked against the code they deploy.

Every environment variable they set is a real Settings alias, every ConfigMap and Secret key reaches
the pods, the probes hit routes the HTTP app has (and that answer without a token), the ports and
the user agree across the Dockerfile, the Deployment and the Service, the image's command is one
the CLI accepts, and the labels select what they should.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
import tomllib
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
import yaml
from pydantic import SecretStr, ValidationError
from starlette.routing import Route
from starlette.testclient import TestClient

import kros_mcp
from kros_mcp.cli.main import _build_parser, _check_http_auth
from kros_mcp.cli.wiring import build_server
from kros_mcp.config import ConfigError, Settings
from kros_mcp.server.transports.http import MCP_PATH, SSE_PATH, build_http_app

Doc = dict[str, Any]  # one Kubernetes object, or part of one

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "manifests" / "k8s"
DOCKERFILE = ROOT / "manifests" / "docker" / "Dockerfile"
# BuildKit reads <Dockerfile>.dockerignore from beside the Dockerfile in place of a root .dockerignore.
DOCKERIGNORE = DOCKERFILE.with_name("Dockerfile.dockerignore")

ALIASES = {f.alias for f in Settings.model_fields.values() if f.alias}
FIELD_OF_ALIAS = {f.alias: name for name, f in Settings.model_fields.items() if f.alias}
# Variables that are not kros-mcp settings but may be set: Python and pip behaviour in the image.
NON_SETTINGS_ENV = {
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
}
# Settings typed SecretStr, plus the state URL (it carries the database password).
SECRET_ALIASES = {
    f.alias
    for f in Settings.model_fields.values()
    if SecretStr in typing.get_args(f.annotation) or f.annotation is SecretStr
} | {Settings.model_fields["state_url"].alias}
SHARED_LABELS = {
    "app.kubernetes.io/name": "kros-mcp",
    "app.kubernetes.io/instance": "kros-mcp",
    "app.kubernetes.io/part-of": "kros-mcp",
}
EXPECTED_KINDS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}
PLACEHOLDER = "REPLACE_ME"


# ---------------------------------------------------------------------------------------------
# Reading the manifests


@dataclass
class Instruction:
    keyword: str
    rest: str


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert len(found) == 1, (
            f"expected one {keyword} in the stage FROM {self.image}, found {len(found)}"
        )
        return found[0]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            values.update(_env_pairs(instruction.rest))
        return values


def _env_pairs(rest: str) -> dict[str, str]:
    words = shlex.split(rest)
    if words and "=" not in words[0]:  # legacy form: ENV NAME value with spaces
        return {words[0]: rest.split(None, 1)[1].strip() if len(words) > 1 else ""}
    pairs = {}
    for word in words:
        name, sep, value = word.partition("=")
        assert sep, f"ENV word without '=': {word!r}"
        pairs[name] = value
    return pairs


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages of a Dockerfile: comments dropped, continuation lines joined, keywords upper-cased."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and current):
            continue  # comments (and parser directives), also inside continued instructions
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            logical.append(current.strip())
        current = ""
    assert not current.strip(), "the Dockerfile ends inside a continued line"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append(Instruction(keyword, rest))
    return stages


def exec_form(instruction: Instruction) -> list[str]:
    value = json.loads(instruction.rest)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), (
        f"{instruction.keyword} must be in exec (JSON array) form: {instruction.rest}"
    )
    return value


def load_k8s() -> list[Doc]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        with path.open() as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    doc["__file__"] = path.name
                    docs.append(doc)
    return docs


def the(docs: list[Doc], kind: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return load_k8s()


@pytest.fixture(scope="module")
def deployment(docs: list[Doc]) -> Doc:
    return the(docs, "Deployment")


@pytest.fixture(scope="module")
def container(deployment: Doc) -> Doc:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "expected one container in the kros-mcp pod"
    return containers[0]


def effective_argv(final: Stage, container: Doc) -> list[str]:
    """What the container runs, by Kubernetes' rules: `command` replaces ENTRYPOINT (and drops
    CMD), `args` replaces CMD."""
    entrypoint = exec_form(final.one("ENTRYPOINT"))
    cmd = exec_form(final.one("CMD"))
    if "command" in container:
        return [*container["command"], *container.get("args", [])]
    return [*entrypoint, *container.get("args", cmd)]


def serve_args(final: Stage, container: Doc) -> Any:
    argv = effective_argv(final, container)
    assert argv[0] == "kros-mcp", f"the container must run the kros-mcp console script, runs {argv}"
    return _build_parser().parse_args(argv[1:])


def container_port(container: Doc, ref: int | str) -> int:
    """A port given by number or by the name of one of the container's ports."""
    ports = container["ports"]
    if isinstance(ref, int):
        assert ref in [p["containerPort"] for p in ports], f"port {ref} is not a container port"
        return ref
    named = [p["containerPort"] for p in ports if p.get("name") == ref]
    assert named, f"no container port named {ref!r}"
    return named[0]


def container_env(
    final: Stage, docs: list[Doc], container: Doc, secret_values: dict[str, str] | None = None
) -> dict[str, str]:
    """The process environment as Kubernetes builds it: image ENV, then envFrom, then env."""
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    secrets = secret_values or {}

    def data_of(kind: str, name: str) -> dict[str, str]:
        obj = objects[(kind, name)]
        return {**obj.get("data", {}), **obj.get("stringData", {})}

    env = dict(final.env())
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(data_of("ConfigMap", source["configMapRef"]["name"]))
        if "secretRef" in source:
            values = data_of("Secret", source["secretRef"]["name"])
            env.update({k: secrets.get(k, v) for k, v in values.items()})
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "configMapKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["configMapKeyRef"]
            env[var["name"]] = data_of("ConfigMap", ref["name"])[ref["key"]]
        elif "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets.get(ref["key"], data_of("Secret", ref["name"])[ref["key"]])
    return env


def referenced_keys(container: Doc, kind: str, name: str) -> set[str] | None:
    """Keys of the ConfigMap/Secret `name` that reach the container; None means all (envFrom)."""
    whole, key_ref = (
        ("configMapRef", "configMapKeyRef")
        if kind == "ConfigMap"
        else ("secretRef", "secretKeyRef")
    )
    if any(s.get(whole, {}).get("name") == name for s in container.get("envFrom", [])):
        return None
    return {
        var["valueFrom"][key_ref]["key"]
        for var in container.get("env", [])
        if var.get("valueFrom", {}).get(key_ref, {}).get("name") == name
    }


# Values a real Secret would hold (the example file only has placeholders).
REAL_SECRETS = {
    "KROSAI_API_KEY": "kros_test_" + "k" * 24,
    "KROS_MCP_SECRET": "s" * 64,
    "KROS_MCP_AUTH_TOKENS": "client-token-" + "t" * 32,
    "KROS_MCP_STATE_URL": "postgresql://kros_mcp:pw@postgres.test:5432/kros_mcp",
}


@pytest.fixture
def settings_from_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Settings() read from exactly the given environment, as the container would."""

    def read(env: dict[str, str]) -> Settings:
        for name in list(os.environ):
            if name.upper() in ALIASES:
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return Settings()

    yield read


# ---------------------------------------------------------------------------------------------
# The files themselves


def test_k8s_objects_are_the_expected_kinds(docs: list[Doc]) -> None:
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(EXPECTED_KINDS), kinds
    for doc in docs:
        assert doc["apiVersion"] == EXPECTED_KINDS[doc["kind"]], (
            doc["__file__"],
            doc["apiVersion"],
        )
        assert doc["metadata"]["name"], doc["__file__"]
        assert "namespace" not in doc["metadata"], "namespace is chosen at apply time (kubectl -n)"


def test_every_object_has_the_shared_labels(docs: list[Doc], deployment: Doc) -> None:
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        missing = {k: v for k, v in SHARED_LABELS.items() if labels.get(k) != v}
        assert not missing, f"{doc['__file__']} {doc['kind']} lacks labels {missing}"
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert SHARED_LABELS.items() <= template_labels.items()
    # A version label, wherever present, is the package's version.
    for labels in [d["metadata"].get("labels", {}) for d in docs] + [template_labels]:
        if "app.kubernetes.io/version" in labels:
            assert labels["app.kubernetes.io/version"] == kros_mcp.__version__


def test_selectors_match_the_pods(docs: list[Doc], deployment: Doc) -> None:
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}, selector
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= template_labels.items(), (selector, template_labels)
    assert "app.kubernetes.io/version" not in selector, "a version in the selector breaks upgrades"

    assert the(docs, "Service")["spec"]["selector"] == selector
    assert the(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    for constraint in deployment["spec"]["template"]["spec"].get("topologySpreadConstraints", []):
        assert constraint["labelSelector"]["matchLabels"] == selector

    target = the(docs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        "Deployment",
        deployment["metadata"]["name"],
    )


def test_image_tag_is_the_package_version(container: Doc) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert kros_mcp.__version__ == pyproject["project"]["version"]
    image, _, tag = container["image"].rpartition(":")
    assert image.endswith("kros-mcp") and tag == kros_mcp.__version__, container["image"]


# ---------------------------------------------------------------------------------------------
# Dockerfile


# The base image: a slim Python, pinned by the digest of its multi-platform index.
PINNED_BASE = re.compile(r"python:3\.1[1-3]\.\d+-slim-bookworm@sha256:[0-9a-f]{64}")


def test_dockerfile_is_multi_stage_slim_pinned_and_installs_from_hashed_locks(
    stages: list[Stage],
) -> None:
    assert len(stages) >= 2, "build the wheel in one stage, install it in another"
    for stage in stages:
        assert PINNED_BASE.fullmatch(stage.image), f"not pinned by digest: {stage.image}"
    assert len({stage.image for stage in stages}) == 1, "every stage on the same base"
    build, final = stages[0], stages[-1]
    build_runs = [i.rest for i in build.all("RUN")]
    assert any("--require-hashes" in r and "-r build-requirements.lock" in r for r in build_runs), (
        "the build backend comes from its hashed lock"
    )
    assert any(
        re.search(r"\bpip wheel\b", r) and "--no-deps" in r and "--no-build-isolation" in r
        for r in build_runs
    ), "the build stage builds kros-mcp's own wheel without fetching anything"
    installs = [i.rest for i in final.all("RUN") if re.search(r"\bpip install\b", i.rest)]
    assert len(installs) == 1, installs
    (install,) = installs
    locked, own = install.split("&&")
    assert "--require-hashes" in locked and "--only-binary=:all:" in locked, locked
    assert re.search(r"-r \S*requirements\.lock\b", locked) and "build-" not in locked, locked
    assert "--no-deps" in own and "--no-index" in own and "/wheels/kros_mcp-" in own, own
    # The final stage takes nothing from the build context but the lock, only from the build stage.
    assert not [i for i in final.all("COPY") + final.all("ADD") if "--from=" not in i.rest]
    source_copies = [i for i in build.all("COPY") if "--from=" not in i.rest]
    assert source_copies, "the build stage copies the repository"


def test_dockerfile_entrypoint_is_the_console_script(final: Stage) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entrypoint = exec_form(final.one("ENTRYPOINT"))
    assert entrypoint == ["kros-mcp"]
    assert pyproject["project"]["scripts"]["kros-mcp"] == "kros_mcp.cli:main"


def test_dockerfile_cmd_is_accepted_by_the_cli(final: Stage) -> None:
    cmd = exec_form(final.one("CMD"))
    args = _build_parser().parse_args(cmd)
    assert args.command == "serve"
    assert args.transport == "streamable-http"
    assert args.host == "0.0.0.0"
    assert args.stateless is True, "replicas behind a Service need --stateless"
    assert args.json_response is True
    assert args.multi_tenant is None, "authentication mode comes from the environment"
    exposed = [int(p.split("/")[0]) for i in final.all("EXPOSE") for p in i.rest.split()]
    assert exposed == [args.port]


def test_dockerfile_env_and_no_baked_secrets(stages: list[Stage], final: Stage) -> None:
    env = final.env()
    assert env.get("PYTHONUNBUFFERED") == "1"
    names = {name for stage in stages for name in stage.env()}
    args = {i.rest.split("=")[0].strip() for stage in stages for i in stage.all("ARG")}
    unknown = (names | args) - ALIASES - NON_SETTINGS_ENV
    assert not unknown, f"not kros-mcp settings (nor allowlisted): {sorted(unknown)}"
    baked = (names | args) & SECRET_ALIASES
    assert not baked, f"secrets set in the image: {sorted(baked)}"
    instructions = " ".join(i.rest for stage in stages for i in stage.instructions)
    for alias in SECRET_ALIASES:
        assert not re.search(rf"\b{alias}=", instructions), (
            f"{alias} given a value in the Dockerfile"
        )


def test_dockerfile_user_owns_the_data_dir(final: Stage) -> None:
    user = final.one("USER").rest
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, (
        f"USER must be a fixed non-root numeric UID, is {user!r}"
    )
    assert not gid or gid.isdigit()
    data_dir = final.env()[Settings.model_fields["data_dir"].alias]
    assert data_dir.startswith("/")
    runs = " && ".join(i.rest for i in final.all("RUN"))
    assert re.search(rf"useradd\b[^&]*--uid {uid}\b", runs), "the user is created with the same UID"
    assert re.search(rf"mkdir -p {re.escape(data_dir)}(\s|$)", runs), (
        "the data directory is created"
    )
    group = gid or r"\d+"
    assert re.search(rf"chown {uid}(:{group})? {re.escape(data_dir)}(\s|$)", runs), (
        "the data directory belongs to the USER"
    )
    # USER comes after the root-only steps.
    keywords = [i.keyword for i in final.instructions]
    assert keywords.index("USER") > max(n for n, k in enumerate(keywords) if k == "RUN")


def _healthcheck_code(final: Stage) -> tuple[list[str], str]:
    healthcheck = final.one("HEALTHCHECK").rest
    match = re.fullmatch(r"((?:--[a-z-]+=\S+\s+)*)CMD\s+(\[.*\])", healthcheck)
    assert match, f"HEALTHCHECK must be CMD in exec form: {healthcheck}"
    argv = json.loads(match.group(2))
    assert argv[:2] == ["python", "-c"] and len(argv) == 3, argv
    return argv, argv[2]


def test_dockerfile_healthcheck_hits_healthz_on_the_served_port(final: Stage) -> None:
    _, code = _healthcheck_code(final)
    compile(code, "<healthcheck>", "exec")
    urls = re.findall(r"https?://[^'\"\s]+", code)
    assert len(urls) == 1, urls
    url = urlsplit(urls[0])
    port = _build_parser().parse_args(exec_form(final.one("CMD"))).port
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", port, "/healthz")


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_dockerfile_healthcheck_passes_on_a_live_server_and_fails_without_one(
    final: Stage, tmp_path: Path
) -> None:
    """Runs the HEALTHCHECK one-liner (its port moved to a free one) against the real app."""
    _, code = _healthcheck_code(final)
    port = _build_parser().parse_args(exec_form(final.one("CMD"))).port
    assert code.count(f":{port}/") == 1
    sock = _free_socket()
    moved = code.replace(f":{port}/", f":{sock.getsockname()[1]}/")
    settings = Settings(data_dir=tmp_path / "data")
    app = build_http_app(
        build_server(settings),
        settings,
        transport="streamable-http",
        stateless=True,
        json_response=True,
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        ok = subprocess.run(
            [sys.executable, "-c", moved], check=False, capture_output=True, timeout=30
        )
        assert ok.returncode == 0, ok.stderr.decode()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    down = subprocess.run(
        [sys.executable, "-c", moved], check=False, capture_output=True, timeout=30
    )
    assert down.returncode != 0, "the healthcheck must fail when nothing answers"


def _ignore_regex(glob: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(out)


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern that matches the path, or a directory above
    it, decides; `!` re-includes."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _ignore_regex(pattern[1:] if negate else pattern)
        if any(regex.fullmatch(c) for c in candidates):
            verdict = not negate
    return verdict


def test_dockerignore_sends_what_the_build_copies_and_nothing_private(stages: list[Stage]) -> None:
    assert not (ROOT / ".dockerignore").exists(), "the ignore file lives beside the Dockerfile"
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    copied = [
        src
        for stage in stages
        for i in stage.all("COPY")
        if "--from=" not in i.rest
        for src in i.rest.split()[:-1]
        if not src.startswith("--")
    ]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not _ignored(source.rstrip("/"), patterns), (
            f"COPY {source} is excluded from the context"
        )
        if (ROOT / source).is_dir():
            for module in (ROOT / source).rglob("*.py"):
                assert not _ignored(module.relative_to(ROOT).as_posix(), patterns), module
    for private in (
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
        ".hypothesis/x",
        "kros_mcp/__pycache__/cli.cpython-311.pyc",
        "state.sqlite3",
        "kros_mcp/x.sqlite3",
        "manifests/k8s/secret.example.yaml",
    ):
        assert _ignored(private, patterns), f"{private} would be sent to the builder"


# ---------------------------------------------------------------------------------------------
# Environment: names, sources and values


def test_every_env_name_is_a_settings_alias(final: Stage, docs: list[Doc], container: Doc) -> None:
    names = set(final.env())
    names |= {var["name"] for var in container.get("env", [])}
    for doc in docs:
        if doc["kind"] in ("ConfigMap", "Secret"):
            names |= set(doc.get("data", {})) | set(doc.get("stringData", {}))
    unknown = names - ALIASES - NON_SETTINGS_ENV
    assert not unknown, f"not kros-mcp settings: {sorted(unknown)} (known: {sorted(ALIASES)})"
    assert not NON_SETTINGS_ENV & ALIASES


def test_every_configmap_and_secret_key_reaches_the_pods(docs: list[Doc], container: Doc) -> None:
    for doc in docs:
        if doc["kind"] not in ("ConfigMap", "Secret"):
            continue
        keys = set(doc.get("data", {})) | set(doc.get("stringData", {}))
        assert keys, f"{doc['__file__']} is empty"
        reached = referenced_keys(container, doc["kind"], doc["metadata"]["name"])
        if reached is not None:
            assert keys == reached, (
                f"{doc['__file__']}: unreferenced {sorted(keys - reached)}, "
                f"missing {sorted(reached - keys)}"
            )
    # The other way round: every reference names an existing object and key, under its own name.
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for source in container.get("envFrom", []):
        kind, ref = (
            ("ConfigMap", source["configMapRef"])
            if "configMapRef" in source
            else ("Secret", source["secretRef"])
        )
        assert (kind, ref["name"]) in objects, f"envFrom names a missing {kind} {ref['name']}"
        assert "prefix" not in source, "a prefix would change the variable names"
    for var in container.get("env", []):
        for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            ref = var.get("valueFrom", {}).get(key)
            if ref is None:
                continue
            obj = objects.get((kind, ref["name"]))
            assert obj is not None, f"{var['name']} refers to a missing {kind} {ref['name']}"
            assert ref["key"] in {**obj.get("data", {}), **obj.get("stringData", {})}, var
            assert ref["key"] == var["name"], f"{var['name']} is read from key {ref['key']}"
            assert ref.get("optional") is not True, f"{var['name']} must not be optional"


def test_no_variable_is_set_twice(final: Stage, docs: list[Doc], container: Doc) -> None:
    """Kubernetes lets `env` silently win over `envFrom`: a key in both is a mistake."""
    explicit = [var["name"] for var in container.get("env", [])]
    assert len(explicit) == len(set(explicit)), explicit
    from_objects: list[str] = []
    for source in container.get("envFrom", []):
        kind, ref = (
            ("ConfigMap", source["configMapRef"])
            if "configMapRef" in source
            else ("Secret", source["secretRef"])
        )
        obj = next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == ref["name"])
        from_objects += [*obj.get("data", {}), *obj.get("stringData", {})]
    assert not set(explicit) & set(from_objects), set(explicit) & set(from_objects)
    assert len(from_objects) == len(set(from_objects)), from_objects
    # The image's defaults may be restated by the Deployment, but then with the same value.
    image_env = final.env()
    for var in container.get("env", []):
        if var["name"] in image_env and "value" in var:
            assert str(var["value"]) == image_env[var["name"]], var


def test_secrets_come_from_the_secret_only(docs: list[Doc], container: Doc) -> None:
    secret = the(docs, "Secret")
    assert "data" not in secret and secret["type"] == "Opaque"
    assert set(secret["stringData"]) == {
        "KROSAI_API_KEY",
        "KROS_MCP_SECRET",
        "KROS_MCP_AUTH_TOKENS",
        "KROS_MCP_STATE_URL",
    }
    assert set(secret["stringData"]) <= SECRET_ALIASES
    configmap = the(docs, "ConfigMap")
    assert not set(configmap["data"]) & SECRET_ALIASES, "secrets in the ConfigMap"
    for var in container.get("env", []):
        if var["name"] in SECRET_ALIASES:
            assert "secretKeyRef" in var.get("valueFrom", {}), (
                f"{var['name']} must come from a Secret"
            )
    for name, value in secret["stringData"].items():
        assert PLACEHOLDER in value, f"secret.example.yaml: {name} must be a marked placeholder"


def test_configmap_policy(docs: list[Doc]) -> None:
    data = the(docs, "ConfigMap")["data"]
    for key in (
        "KROS_MCP_READ_ONLY",
        "KROS_MCP_DAILY_BUDGET_CENTS",
        "KROS_MCP_MAX_MONTHLY_COST_CENTS",
        "KROS_MCP_ALLOWED_COUNTRIES",
        "KROS_MCP_CONFIRMATION",
        "KROS_MCP_ALLOWED_HOSTS",
    ):
        assert key in data, key
    assert data["KROS_MCP_LOG_FORMAT"] == "json"
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"


def test_the_pods_environment_is_valid_settings_that_may_serve(
    final: Stage, docs: list[Doc], container: Doc, settings_from_env: Any, tmp_path: Path
) -> None:
    env = container_env(final, docs, container, REAL_SECRETS)
    settings = settings_from_env(env)
    configmap = the(docs, "ConfigMap")["data"]
    # Every ConfigMap value arrived as the setting it names.
    for alias, raw in configmap.items():
        value = getattr(settings, FIELD_OF_ALIAS[alias])
        if isinstance(value, bool):
            assert value == (raw.strip().lower() in ("1", "true", "yes", "on")), alias
        elif isinstance(value, (int, float)):
            assert value == float(raw), alias
        else:
            assert str(value) == raw, alias
    assert settings.log_format == "json"
    assert settings.data_dir == Path(env["KROS_MCP_DATA_DIR"])
    # The state URL is a secret setting; what it opens is the shared PostgreSQL store.
    assert settings.state_url is not None
    assert settings.state_url.get_secret_value() == REAL_SECRETS["KROS_MCP_STATE_URL"]
    assert str(settings.state_target).startswith("postgresql://"), (
        "replicas need the shared PostgreSQL store"
    )
    assert settings.secret is not None, "replicas need one shared signing key"
    assert not settings.uses_sandbox
    # The CLI would start on the container's host with this environment (it refuses 0.0.0.0
    # without authentication, and refuses tokens together with --multi-tenant).
    args = serve_args(final, container)
    _check_http_auth(settings, args.host)
    assert settings.auth_tokens() == [REAL_SECRETS["KROS_MCP_AUTH_TOKENS"]]
    # The policy is one build_server accepts (unknown tool names, short keys... would fail here).
    build_server(settings.model_copy(update={"data_dir": tmp_path / "data"}))


def test_the_example_secret_fails_closed(
    final: Stage, docs: list[Doc], container: Doc, settings_from_env: Any, tmp_path: Path
) -> None:
    """Applied unchanged, the placeholders are refused: pods do not start on known values. The
    placeholder API key is recognised as one (and never sent to KrosAI); with a real key, the
    placeholder signing key is too short."""
    env = container_env(final, docs, container)
    with pytest.raises(ValidationError, match=r"KROSAI_API_KEY[^']*'REPLACE_ME'"):
        settings_from_env(env)
    env["KROSAI_API_KEY"] = REAL_SECRETS["KROSAI_API_KEY"]
    settings = settings_from_env(env).model_copy(update={"data_dir": tmp_path / "data"})
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        build_server(settings)


def test_data_dir_is_a_writable_volume(
    final: Stage, docs: list[Doc], deployment: Doc, container: Doc
) -> None:
    env = container_env(final, docs, container, REAL_SECRETS)
    data_dir = env["KROS_MCP_DATA_DIR"]
    assert data_dir == final.env()["KROS_MCP_DATA_DIR"], (
        "the Deployment and the image agree on the data dir"
    )
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert data_dir in mounts, f"{data_dir} is not mounted, and the root filesystem is read-only"
    assert not mounts[data_dir].get("readOnly", False)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts[data_dir]["name"]]


# ---------------------------------------------------------------------------------------------
# Deployment, Service, HPA, PDB


def test_container_port_service_and_dockerfile_agree(
    final: Stage, docs: list[Doc], container: Doc
) -> None:
    args = serve_args(final, container)
    ports = container["ports"]
    assert [(p["name"], p["containerPort"], p.get("protocol", "TCP")) for p in ports] == [
        ("http", args.port, "TCP")
    ]
    exposed = [int(p.split("/")[0]) for i in final.all("EXPOSE") for p in i.rest.split()]
    assert exposed == [args.port]
    service = the(docs, "Service")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    [port] = service["spec"]["ports"]
    assert port["port"] == 80
    assert container_port(container, port["targetPort"]) == args.port


def test_probes_use_the_health_routes(container: Doc, final: Stage) -> None:
    args = serve_args(final, container)
    expected = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
        "startupProbe": "/healthz",
    }
    assert "livenessProbe" in container and "readinessProbe" in container
    for probe, path in expected.items():
        if probe not in container:
            continue
        get = container[probe]["httpGet"]
        assert get["path"] == path, (probe, get["path"])
        assert container_port(container, get["port"]) == args.port, probe
        assert get.get("scheme", "HTTP") == "HTTP"
    # /readyz waits up to 5 s for the store and 3 s for KrosAI (kros_mcp.server.http).
    assert container["readinessProbe"].get("timeoutSeconds", 1) >= 8


def test_the_probed_routes_exist_and_answer_without_a_token(
    final: Stage, docs: list[Doc], container: Doc, settings_from_env: Any, tmp_path: Path
) -> None:
    args = serve_args(final, container)
    # The pods' own settings (auth tokens included), with local state and the sandbox so that
    # nothing leaves this machine.
    settings = settings_from_env(container_env(final, docs, container, REAL_SECRETS)).model_copy(
        update={"data_dir": tmp_path / "data", "state_url": None, "krosai_api_key": None}
    )
    assert settings.auth_tokens(), "the pods authenticate clients"
    app = build_http_app(
        build_server(settings),
        settings,
        transport=args.transport,
        stateless=args.stateless,
        json_response=args.json_response,
    )
    routes = {r.path: r for r in app.routes if isinstance(r, Route)}
    probed = {
        container[p]["httpGet"]["path"]
        for p in ("livenessProbe", "readinessProbe", "startupProbe")
        if p in container
    }
    for path in probed:
        assert path in routes and "GET" in (routes[path].methods or set()), f"no GET route {path}"
    # The kubelet probes the pod IP with no credentials (once the app has started: readiness
    # reports the shared store, opened at start-up, and never opens one of its own).
    with TestClient(app, base_url=f"http://10.1.2.3:{args.port}") as client:
        for path in probed:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code, response.text)
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json()["status"] == "ready"


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "manifest-test", "version": "1"},
    },
}


def test_the_service_name_is_an_allowed_host_and_mcp_needs_the_token(
    final: Stage, docs: list[Doc], container: Doc, settings_from_env: Any, tmp_path: Path
) -> None:
    """In-cluster clients call http://<service>/mcp: that Host passes the DNS-rebinding check."""
    args = serve_args(final, container)
    assert args.transport == "streamable-http"
    service = the(docs, "Service")["metadata"]["name"]
    settings = settings_from_env(container_env(final, docs, container, REAL_SECRETS)).model_copy(
        update={"data_dir": tmp_path / "data", "state_url": None, "krosai_api_key": None}
    )
    hosts = settings.list_setting("allowed_hosts") or []
    assert service in hosts, f"{service} (the in-cluster Host) is not in KROS_MCP_ALLOWED_HOSTS"
    assert any(h.startswith(f"{service}.") and h.endswith(".svc.cluster.local") for h in hosts), (
        hosts
    )
    app = build_http_app(
        build_server(settings),
        settings,
        transport=args.transport,
        stateless=args.stateless,
        json_response=args.json_response,
    )
    token = REAL_SECRETS["KROS_MCP_AUTH_TOKENS"]
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    with TestClient(app) as client:

        def post(host: str, **extra: str) -> Any:
            return client.post(
                f"http://{host}{MCP_PATH}", json=INITIALIZE, headers={**headers, **extra}
            )

        assert post(service).status_code == 401
        assert post(service, authorization="Bearer wrong").status_code == 401
        assert post("evil.example", authorization=f"Bearer {token}").status_code == 421
        for host in hosts:
            response = post(host, authorization=f"Bearer {token}")
            assert response.status_code == 200, (host, response.status_code, response.text)
            assert response.headers["content-type"].startswith(
                "application/json"
            )  # --json-response
            assert response.json()["result"]["serverInfo"]["name"] == "kros-mcp"
        # The image serves streamable HTTP only: the SSE endpoint is not there.
        assert (
            client.get(
                f"http://{service}{SSE_PATH}", headers={"authorization": f"Bearer {token}"}
            ).status_code
            == 404
        )


def test_deployment_runs_as_the_image_user(final: Stage, deployment: Doc, container: Doc) -> None:
    uid, _, gid = final.one("USER").rest.partition(":")
    pod = deployment["spec"]["template"]["spec"]["securityContext"]
    ctx = container["securityContext"]
    for where in (pod, ctx):
        assert where.get("runAsNonRoot") is True
        assert where.get("runAsUser", pod.get("runAsUser")) == int(uid)
        if gid:
            assert where.get("runAsGroup", pod.get("runAsGroup")) == int(gid)
    if gid:
        assert pod.get("fsGroup") == int(gid)
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"]["drop"] == ["ALL"]


def test_deployment_rollout_resources_and_scaling(
    docs: list[Doc], deployment: Doc, container: Doc
) -> None:
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind
    hpa = the(docs, "HorizontalPodAutoscaler")["spec"]
    assert spec["replicas"] <= hpa["maxReplicas"] and hpa["minReplicas"] >= 2
    assert [(m["type"], m["resource"]["name"]) for m in hpa["metrics"]] == [("Resource", "cpu")]
    pdb = the(docs, "PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 1 < min(spec["replicas"], hpa["minReplicas"])


def test_no_service_links_in_the_settings_namespace(docs: list[Doc], deployment: Doc) -> None:
    """Kubernetes injects <SERVICE>_SERVICE_HOST, <SERVICE>_PORT... for every Service: for the
    Service "kros-mcp" these start with KROS_MCP_, the settings' own prefix."""
    pod = deployment["spec"]["template"]["spec"]
    for doc in docs:
        if doc["kind"] != "Service":
            continue
        prefix = doc["metadata"]["name"].upper().replace("-", "_")
        injected = {f"{prefix}_SERVICE_HOST", f"{prefix}_SERVICE_PORT", f"{prefix}_PORT"}
        for port in doc["spec"]["ports"]:
            base = f"{prefix}_PORT_{port['port']}_{port.get('protocol', 'TCP')}"
            injected |= {base, f"{base}_PROTO", f"{base}_PORT", f"{base}_ADDR"}
            if "name" in port:
                injected.add(f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}")
        assert not injected & ALIASES, injected & ALIASES
        if prefix.startswith("KROS_MCP"):
            assert pod.get("enableServiceLinks") is False, (
                "service links would put KROS_MCP_* into the pods"
            )


def test_settings_types_used_here_are_as_assumed() -> None:
    """The secret detection above relies on SecretStr annotations; make sure it finds the keys."""
    assert {
        "KROSAI_API_KEY",
        "KROS_MCP_SECRET",
        "KROS_MCP_AUTH_TOKENS",
        "KROS_MCP_STATE_URL",
        "KROS_MCP_OAUTH_CLIENT_SECRET",
    } == SECRET_ALIASES
