"""Distribution: the MCP Registry entry, the MCPB bundle and the client configs.

Each is checked against its published schema and against the server it describes or starts: the
versions, environment variables and headers are the code's own, the bundle and every client config
really start the server over stdio and list its tools.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
import typing
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import SecretStr
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient

import kros_mcp
from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings
from kros_mcp.server import TOOL_NAMES
from kros_mcp.server.transports.auth import AuthMiddleware
from kros_mcp.server.transports.http import MCP_PATH

ROOT = Path(__file__).resolve().parents[1]
MCP_DIR = ROOT / "manifests" / "mcp"
CLIENTS = ROOT / "manifests" / "clients"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

ALIASES = {f.alias for f in Settings.model_fields.values() if f.alias}
FIELD_OF_ALIAS = {f.alias: f for f in Settings.model_fields.values() if f.alias}
# Settings typed SecretStr, plus the state URL (it carries the database password).
SECRET_ALIASES = {
    f.alias
    for f in Settings.model_fields.values()
    if SecretStr in typing.get_args(f.annotation) or f.annotation is SecretStr
} | {Settings.model_fields["state_url"].alias}
CONSOLE_SCRIPT = next(iter(PYPROJECT["project"]["scripts"]))
# A KrosAI key that looks real; the sandbox's own "kros_test_sandbox" is public and short.
REAL_LOOKING_KEY = re.compile(rb"kros_(live|test)_[A-Za-z0-9]{16,}")
PLACEHOLDER = re.compile(r"\$\{[^}]+\}")


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def schema_errors(document: Any, schema_name: str) -> list[str]:
    schema = load(MCP_DIR / "schemas" / schema_name)
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    errors = jsonschema.Draft7Validator(schema, format_checker=checker).iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer key or option may reach an in-process server."""
    for alias in ALIASES:
        monkeypatch.delenv(alias, raising=False)
    monkeypatch.setenv("KROS_MCP_DATA_DIR", str(tmp_path / "data"))


async def stdio_tool_names(params: StdioServerParameters, errlog_path: Path) -> list[str]:
    """Start a server over stdio, as a client would, and list its tools."""
    with errlog_path.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            tools = await client.list_tools()
    return sorted(t.name for t in tools.tools)


# -- server.json (MCP Registry) --------------------------------------------------------------

SERVER = load(MCP_DIR / "server.json")
PACKAGE = SERVER["packages"][0]


def test_server_json_is_valid() -> None:
    assert schema_errors(SERVER, "server.schema.json") == []
    assert SERVER["name"] == "io.github.krosai/kros-mcp"


def test_server_json_describes_this_release() -> None:
    assert SERVER["version"] == kros_mcp.__version__ == PYPROJECT["project"]["version"]
    assert len(SERVER["packages"]) == 1
    assert PACKAGE["registryType"] == "pypi"
    assert PACKAGE["identifier"] == PYPROJECT["project"]["name"]
    assert PACKAGE["version"] == kros_mcp.__version__
    assert PACKAGE["transport"] == {"type": "stdio"}


def test_server_json_variables_are_settings() -> None:
    variables = {v["name"]: v for v in PACKAGE["environmentVariables"]}
    assert len(variables) == len(PACKAGE["environmentVariables"]), "a variable is listed twice"
    assert set(variables) <= ALIASES, f"not Settings aliases: {set(variables) - ALIASES}"
    assert {
        "KROSAI_API_KEY",
        "KROSAI_BASE_URL",
        "KROS_MCP_READ_ONLY",
        "KROS_MCP_DAILY_BUDGET_CENTS",
        "KROS_MCP_CONFIRMATION",
    } <= set(variables)
    # Without a key the sandbox is used, so none is required.
    assert not any(v.get("isRequired") for v in variables.values())
    secret = {name for name, v in variables.items() if v.get("isSecret")}
    assert secret == SECRET_ALIASES & set(variables), "isSecret must mark exactly the secrets"
    for name, variable in variables.items():
        field = FIELD_OF_ALIAS[name]
        types = typing.get_args(field.annotation) or (field.annotation,)
        if "default" in variable:
            default = field.default
            assert variable["default"] == (
                str(default).lower() if isinstance(default, bool) else str(default)
            ), name
        if "choices" in variable:
            assert variable["choices"] == list(typing.get_args(field.annotation)), name
        if variable.get("format") == "boolean":
            assert bool in types, name
        if variable.get("format") == "number":
            assert int in types or float in types, name


def _auth_status(headers: dict[str, str], **options: Any) -> int:
    app = AuthMiddleware(PlainTextResponse("ok"), **options)
    return TestClient(app).post(MCP_PATH, headers=headers).status_code


def test_remote_headers_are_what_the_server_accepts() -> None:
    """The remote's header, filled in, passes the server's auth in both modes it describes."""
    (remote,) = SERVER["remotes"]
    assert remote["type"] == "streamable-http"
    assert remote["url"].endswith(MCP_PATH)
    (header,) = remote["headers"]
    assert header["isSecret"] is True and header["isRequired"] is True
    assert "${" not in header["value"]  # registry variables are {name}
    assert set(re.findall(r"\{(\w+)\}", header["value"])) == set(header["variables"])
    assert all(v.get("isSecret") for v in header["variables"].values())

    def filled(credential: str) -> dict[str, str]:
        return {header["name"]: re.sub(r"\{\w+\}", credential, header["value"])}

    server_token = "t" * 32
    assert _auth_status(filled("kros_test_sandbox"), multi_tenant=True) == 200
    assert _auth_status(filled(server_token), tokens=[server_token]) == 200
    assert _auth_status({}, tokens=[server_token]) == 401
    assert _auth_status({}, multi_tenant=True) == 401


# -- manifest.json (MCP Bundle) --------------------------------------------------------------

MANIFEST = load(MCP_DIR / "manifest.json")


def test_manifest_is_valid() -> None:
    assert schema_errors(MANIFEST, "mcpb-manifest-v0.3.schema.json") == []
    assert MANIFEST["manifest_version"] == "0.3"
    assert MANIFEST["version"] == kros_mcp.__version__


def test_manifest_user_config_reaches_the_server() -> None:
    server = MANIFEST["server"]
    assert server["type"] == "python"
    assert server["mcp_config"]["args"] == ["${__dirname}/" + server["entry_point"]]
    env = server["mcp_config"]["env"]
    assert set(env) <= ALIASES, f"not Settings aliases: {set(env) - ALIASES}"
    used = {m for value in env.values() for m in re.findall(r"\$\{user_config\.(\w+)\}", value)}
    config = MANIFEST["user_config"]
    assert used == set(config), "every user_config key is used, and only those"
    by_alias = {
        alias: config[value.removeprefix("${user_config.").removesuffix("}")]
        for alias, value in env.items()
    }
    api_key = by_alias["KROSAI_API_KEY"]
    assert api_key["type"] == "string" and api_key["sensitive"] is True
    assert api_key["required"] is False  # without it, the sandbox
    assert by_alias["KROS_MCP_READ_ONLY"]["type"] == "boolean"
    assert by_alias["KROS_MCP_DAILY_BUDGET_CENTS"]["type"] == "number"
    assert by_alias["KROS_MCP_DAILY_BUDGET_CENTS"]["min"] == 0


@pytest.mark.anyio
async def test_manifest_lists_the_servers_tools_and_prompts(clean_env: None) -> None:
    async with Client(build_server(Settings())) as client:
        tools = await client.list_tools()
        prompts = (await client.list_prompts()).prompts
        rendered = {}
        for prompt in prompts:
            names = [a.name for a in prompt.arguments or []]
            result = await client.get_prompt(prompt.name, {n: f"${{arguments.{n}}}" for n in names})
            rendered[prompt.name] = {
                "name": prompt.name,
                "description": prompt.description,
                "arguments": names,
                "text": result.messages[0].content.text,
            }
    listed = [t["name"] for t in MANIFEST["tools"]]
    assert sorted(listed) == sorted(t.name for t in tools.tools) == sorted(TOOL_NAMES)
    assert len(set(listed)) == len(listed)
    assert not MANIFEST.get("tools_generated") and not MANIFEST.get("prompts_generated")
    declared = {p["name"]: {"arguments": [], **p} for p in MANIFEST["prompts"]}
    assert declared == rendered, "manifest prompts differ from the server's"


# -- the .mcpb bundle ------------------------------------------------------------------------


def build_bundle(out: Path) -> Path:
    """Run the build script as a user would (offline: --no-deps); it prints the bundle's path."""
    command = [sys.executable, str(MCP_DIR / "build_bundle.py"), "--no-deps", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path.parent == out and path.suffix == ".mcpb", done.stdout
    return path


def test_bundle_leaves_out_caches_and_state(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_bundle", MCP_DIR / "build_bundle.py")
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    for rel in (
        "a.py",
        "sub/b.py",
        "sub/data.json",
        "__pycache__/a.cpython-311.pyc",
        "sub/b.pyc",
        "state.sqlite3",
        "state.sqlite3-wal",
        "secret.key",
        ".env",
        "sub/.hypothesis/x",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    packed = {name for name, _ in builder.tree(tmp_path, "server/pkg", source=True)}
    assert packed == {"server/pkg/a.py", "server/pkg/sub/b.py", "server/pkg/sub/data.json"}
    # Dependencies keep their data files (certifi's cacert.pem), but not caches.
    (tmp_path / "cacert.pem").write_text("x")
    vendored = {name for name, _ in builder.tree(tmp_path, "server/lib", source=False)}
    assert "server/lib/cacert.pem" in vendored
    assert not any("pycache" in n or n.endswith(".pyc") for n in vendored)


def source_files() -> set[str]:
    return {
        f"server/kros_mcp/{p.relative_to(ROOT / 'kros_mcp').as_posix()}"
        for p in (ROOT / "kros_mcp").rglob("*.py")
        if "__pycache__" not in p.parts
    }


@pytest.mark.anyio
async def test_bundle(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path / "dist")
    again = build_bundle(tmp_path / "again")
    assert again.read_bytes() == bundle.read_bytes(), "the build is not deterministic"

    with zipfile.ZipFile(bundle) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        packed = json.loads(archive.read("manifest.json"))
        assert schema_errors(packed, "mcpb-manifest-v0.3.schema.json") == []
        assert packed == MANIFEST  # a --no-deps bundle ships the manifest as written
        entry_point = packed["server"]["entry_point"]
        assert entry_point in names and "pyproject.toml" in names
        assert source_files() <= set(names), "package modules missing from the bundle"
        for name in names:
            assert "__pycache__" not in name and not name.endswith((".pyc", ".pyo")), name
            assert not re.search(r"(\.sqlite3|\.key|\.pem|/\.env[^/]*)$", name), f"state: {name}"
            assert not REAL_LOOKING_KEY.search(archive.read(name)), f"a KrosAI key in {name}?"
        archive.extractall(tmp_path / "unpacked")

    unpacked = tmp_path / "unpacked"
    # Started as the host would: mcp_config with ${__dirname} and the user's answers filled in, on
    # the host's Python (here ours, which has the dependencies a --no-deps bundle expects). The key
    # and budget stay the unfilled placeholders some hosts pass for empty optional fields: the
    # server must ignore them, and so use the sandbox.
    config = packed["server"]["mcp_config"]
    env = {k: v.replace("${user_config.read_only}", "false") for k, v in config["env"].items()}
    env |= {"KROS_MCP_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    args = [a.replace("${__dirname}", str(unpacked)) for a in config["args"]]
    params = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(tmp_path))
    assert await stdio_tool_names(params, tmp_path / "stderr.txt") == sorted(TOOL_NAMES)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert "SANDBOX" in stderr and "Traceback" not in stderr, stderr

    # The bundled package, not an installed one, is what runs.
    init = unpacked / "server" / "kros_mcp" / "__init__.py"
    init.write_text(init.read_text().replace(kros_mcp.__version__, "0.0.0+bundled"))
    shown = subprocess.run(
        [sys.executable, str(unpacked / entry_point), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"HOME": str(tmp_path)},
    )
    assert shown.stdout.strip() == "kros-mcp 0.0.0+bundled", shown.stdout + shown.stderr


# -- client configs --------------------------------------------------------------------------


def resolve_command(command: str) -> tuple[list[str], dict[str, str]]:
    """The console script installed beside this Python, as a client finds it on PATH."""
    assert command == CONSOLE_SCRIPT
    script = shutil.which(command, path=str(Path(sys.executable).parent))
    if script is not None:
        return [script], {}
    # Not installed as a package here (only on PYTHONPATH): the module runs the same main().
    return [sys.executable, "-m", "kros_mcp"], {"PYTHONPATH": str(ROOT)}


def server_entry(name: str, config: dict[str, Any]) -> dict[str, Any]:
    servers = config["servers"] if name == "vscode-mcp.json" else config["mcpServers"]
    (entry,) = servers.values()
    return entry


def check_inputs(config: dict[str, Any], entry: dict[str, Any]) -> None:
    """VS Code: each ${input:id} is declared, each input used, and the key asked as a password."""
    inputs = {i["id"]: i for i in config.get("inputs", [])}
    used = set(re.findall(r"\$\{input:([^}]+)\}", json.dumps(entry)))
    assert used == set(inputs)
    key_input = re.fullmatch(r"\$\{input:([^}]+)\}", entry["env"]["KROSAI_API_KEY"])
    assert key_input is not None, "VS Code should ask for the key, not store it"
    asked = inputs[key_input[1]]
    assert asked["type"] == "promptString" and asked["password"] is True


@pytest.mark.anyio
@pytest.mark.parametrize(
    "name", ["claude_desktop_config.json", "vscode-mcp.json", "cursor-mcp.json"]
)
async def test_client_config_starts_the_server(name: str, tmp_path: Path) -> None:
    config = load(CLIENTS / name)
    entry = server_entry(name, config)
    if name == "vscode-mcp.json":
        assert entry["type"] == "stdio"
        check_inputs(config, entry)
    env: dict[str, str] = entry.get("env", {})
    assert set(env) <= ALIASES, f"not Settings aliases: {set(env) - ALIASES}"
    # The key is asked for or read from elsewhere, never written into the file.
    assert env["KROSAI_API_KEY"] == "" or PLACEHOLDER.fullmatch(env["KROSAI_API_KEY"])

    command, extra = resolve_command(entry["command"])
    launch_env = {k: v for k, v in env.items() if k != "KROSAI_API_KEY"}  # unset: the sandbox
    assert not any(PLACEHOLDER.search(v) for v in launch_env.values()), "fill it in here"
    launch_env |= extra | {"KROS_MCP_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    params = StdioServerParameters(
        command=command[0],
        args=[*command[1:], *entry.get("args", [])],
        env=launch_env,
        cwd=str(tmp_path),
    )
    assert await stdio_tool_names(params, tmp_path / "stderr.txt") == sorted(TOOL_NAMES)
    assert "SANDBOX" in (tmp_path / "stderr.txt").read_text()
