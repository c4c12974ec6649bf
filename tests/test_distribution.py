"""Distribution: the MCP Registry entry, the MCPB bundle and the client configs.

Each is checked against its published schema and against the server it describes or starts: the
versions, environment variables and headers are the code's own, the bundle is built offline and
reproducibly with nothing compiled inside, its entry point refuses an unsupported Python in one
line, and every client config, pasted with its one marked value filled in, starts the server over
stdio. tests/distribution/ runs the official MCPB CLI and the host's `uv run` on the bundle.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
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
from kros_mcp.server.transports.auth import (
    Challenge,
    CredentialBackend,
    RequireAuth,
    StaticTokenVerifier,
    TenantKeyVerifier,
    authenticated,
)
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


def test_server_json_lists_no_remote() -> None:
    """There is no public kros-mcp endpoint to list; the README shows the form for your own."""
    assert "remotes" not in SERVER


def readme_remote() -> dict[str, Any]:
    """The `remotes` entry the README shows for a server hosted over HTTP."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```json\n(.*?)^```", readme, re.M | re.S)
    remotes = [json.loads(b)["remotes"] for b in blocks if '"remotes"' in b]
    assert len(remotes) == 1, "README.md should show one server.json remotes entry"
    (remote,) = remotes[0]
    assert isinstance(remote, dict)
    return remote


class _AcceptingKeys:
    """Stands in for KrosAI's verdict on a tenant key: every well-formed key is accepted."""

    async def verify(self, api_key: str) -> str:
        return "accepted"


def _auth_status(
    headers: dict[str, str], *, tokens: tuple[str, ...] = (), multi_tenant: bool = False
) -> int:
    """The status the server's authentication chain answers `headers` with."""
    from kros_mcp.server.transports.throttle import Throttle, parse_rate

    scopes = ["kros:read", "kros:write"]
    verifier: Any = (
        TenantKeyVerifier(lambda: _AcceptingKeys(), scopes)  # type: ignore[arg-type, return-value]
        if multi_tenant
        else StaticTokenVerifier(tokens, scopes)
    )
    backend = CredentialBackend(
        verifier, api_key_header=multi_tenant, throttle=Throttle(), failures=parse_rate("30/minute")
    )

    def require(inner: Any) -> RequireAuth:
        return RequireAuth(
            inner,
            challenge=Challenge(),
            read_scope="kros:read",
            write_scope="kros:write",
            write_tools=frozenset(),
            body_limit=1 << 20,
            missing="send credentials",
        )

    app = authenticated(PlainTextResponse("ok"), backend, Challenge(), require)
    return TestClient(app).post(MCP_PATH, headers=headers).status_code


def test_readme_remote_is_valid_and_what_the_server_accepts() -> None:
    """Added to server.json, the README's remote validates, and its header, filled in, passes the
    server's auth in both modes it describes."""
    remote = readme_remote()
    assert schema_errors({**SERVER, "remotes": [remote]}, "server.schema.json") == []
    assert remote["type"] == "streamable-http"
    assert remote["url"].startswith("https://") and remote["url"].endswith(MCP_PATH)
    (header,) = remote["headers"]
    assert header["isSecret"] is True and header["isRequired"] is True
    assert "${" not in header["value"]  # registry variables are {name}
    assert set(re.findall(r"\{(\w+)\}", header["value"])) == set(header["variables"])
    assert all(v.get("isSecret") for v in header["variables"].values())

    def filled(credential: str) -> dict[str, str]:
        return {header["name"]: re.sub(r"\{\w+\}", credential, header["value"])}

    server_token = "t" * 32
    assert _auth_status(filled("kros_test_sandbox"), multi_tenant=True) == 200
    assert _auth_status(filled(server_token), tokens=(server_token,)) == 200
    assert _auth_status({}, tokens=(server_token,)) == 401
    assert _auth_status({}, multi_tenant=True) == 401


# -- manifest.json (MCP Bundle) --------------------------------------------------------------

MANIFEST = load(MCP_DIR / "manifest.json")
MANIFEST_SCHEMA = "mcpb-manifest-v0.4.schema.json"


def test_manifest_is_valid() -> None:
    assert schema_errors(MANIFEST, MANIFEST_SCHEMA) == []
    assert MANIFEST["manifest_version"] == "0.4"
    assert MANIFEST["version"] == kros_mcp.__version__


def test_manifest_runs_with_uv_on_any_platform() -> None:
    """Server type uv: the host installs the dependencies for the user's platform and Python."""
    server = MANIFEST["server"]
    assert server["type"] == "uv" and server["entry_point"] == "server/main.py"
    config = server["mcp_config"]
    assert config["command"] == "uv"
    assert config["args"] == [
        "run",
        "--quiet",
        "--project",
        "${__dirname}",
        "${__dirname}/" + server["entry_point"],
    ]
    compatibility = MANIFEST["compatibility"]
    assert sorted(compatibility["platforms"]) == ["darwin", "linux", "win32"]
    assert compatibility["runtimes"]["python"] == PYPROJECT["project"]["requires-python"]


def test_manifest_user_config_reaches_the_server() -> None:
    env = MANIFEST["server"]["mcp_config"]["env"]
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


# -- the .mcpb bundle (offline; tests/distribution/test_mcpb.py packs and runs it as a host would) -


def build_bundle(out: Path, *extra: str) -> Path:
    """Run the build script as a user would; it prints the bundle's path."""
    command = [sys.executable, str(MCP_DIR / "build_bundle.py"), "--out", str(out), *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path == out / f"kros-mcp-{kros_mcp.__version__}.mcpb", done.stdout
    return path


def load_builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_bundle", MCP_DIR / "build_bundle.py")
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder


def test_bundle_leaves_out_caches_and_state(tmp_path: Path) -> None:
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
    packed = {name for name, _ in load_builder().tree(tmp_path, "server/pkg")}
    assert packed == {"server/pkg/a.py", "server/pkg/sub/b.py", "server/pkg/sub/data.json"}


def source_files() -> set[str]:
    return {
        f"server/kros_mcp/{p.relative_to(ROOT / 'kros_mcp').as_posix()}"
        for p in (ROOT / "kros_mcp").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_bundle_contents(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path / "dist", "--stage", str(tmp_path / "stage"))
    again = build_bundle(tmp_path / "again")
    assert again.read_bytes() == bundle.read_bytes(), "the build is not deterministic"
    with zipfile.ZipFile(bundle) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        packed = json.loads(archive.read("manifest.json"))
        pyproject = tomllib.loads(archive.read("pyproject.toml").decode())
        for name in names:
            assert "__pycache__" not in name and not name.endswith((".pyc", ".pyo")), name
            assert not re.search(r"(\.sqlite3|\.key|\.pem|/\.env[^/]*)$", name), f"state: {name}"
            assert not REAL_LOOKING_KEY.search(archive.read(name)), f"a KrosAI key in {name}?"
            assert (tmp_path / "stage" / name).read_bytes() == archive.read(name), name
    assert packed == MANIFEST
    assert (
        set(names)
        == {
            "manifest.json",
            "pyproject.toml",
            "README.md",
            "LICENSE",
            "server/main.py",
        }
        | source_files()
    )
    # uv type: nothing installed or compiled travels in the bundle.
    assert not any(n.startswith(("server/lib/", "server/venv/", ".venv/")) for n in names)
    assert not any(n.endswith((".so", ".pyd", ".dylib", ".whl")) for n in names)
    # The bundle's pyproject.toml: the project's dependencies and Python, and nothing to build.
    project = PYPROJECT["project"]
    assert pyproject["project"]["dependencies"] == project["dependencies"]
    assert pyproject["project"]["requires-python"] == project["requires-python"]
    assert pyproject["project"]["version"] == project["version"]
    assert "build-system" not in pyproject and pyproject["tool"]["uv"]["package"] is False


def test_bundle_entry_point_runs_the_bundled_package(tmp_path: Path) -> None:
    """On a Python that has the dependencies, server/main.py runs the package beside it, not an
    installed one."""
    build_bundle(tmp_path / "dist", "--stage", str(tmp_path / "stage"))
    init = tmp_path / "stage" / "server" / "kros_mcp" / "__init__.py"
    init.write_text(init.read_text().replace(kros_mcp.__version__, "0.0.0+bundled"))
    shown = subprocess.run(
        [sys.executable, str(tmp_path / "stage" / "server" / "main.py"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"HOME": str(tmp_path)},
        cwd=str(tmp_path),
    )
    assert shown.stdout.strip() == "kros-mcp 0.0.0+bundled", shown.stdout + shown.stderr


def _run_entry_point_as(
    version: tuple[int, int, int], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """server/main.py under this interpreter made to report another version."""
    fake = ".".join(map(str, version))
    code = (
        "import runpy, sys; "
        f"sys.version_info = {(*version, 'final', 0)!r}; "
        f"sys.version = {fake + ' (fake)'!r}; "
        f"runpy.run_path({str(MCP_DIR / 'bundle_main.py')!r}, run_name='__main__')"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"HOME": str(tmp_path), "KROS_MCP_DATA_DIR": str(tmp_path / "data")},
        cwd=str(tmp_path),
    )


@pytest.mark.parametrize("version", [(3, 9, 18), (3, 10, 14), (2, 7, 18)])
def test_bundle_on_an_unsupported_python_says_what_it_needs(
    version: tuple[int, int, int], tmp_path: Path
) -> None:
    done = _run_entry_point_as(version, tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    fake = ".".join(map(str, version))
    assert lines[0].startswith(f"kros-mcp needs Python 3.11 or newer; this is Python {fake} "), (
        lines
    )
    assert not (tmp_path / "data").exists(), "nothing may run before the version check"


def test_bundle_entry_point_parses_on_old_pythons() -> None:
    """An old Python must reach the version check: the file uses no newer syntax."""
    source = (MCP_DIR / "bundle_main.py").read_text()
    for minor in (4, 6, 9):
        ast.parse(source, feature_version=(3, minor))
    tree = ast.parse(source)
    top_imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert all(alias.name in ("os", "re", "sys") for node in top_imports for alias in node.names), (
        "only the standard library may be imported before the version check"
    )
    assert "from __future__" not in source and 'f"' not in source and "f'" not in source


def test_bundle_drops_settings_the_host_left_unfilled(tmp_path: Path) -> None:
    """An empty optional field may reach the server as the literal "${user_config.x}": unset."""
    build_bundle(tmp_path / "dist", "--stage", str(tmp_path / "stage"))
    env = {k: v for k, v in MANIFEST["server"]["mcp_config"]["env"].items()}
    env |= {"KROS_MCP_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(tmp_path / "stage" / "server" / "main.py"), "call", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert "SANDBOX" in done.stderr and "purchase_number" in done.stdout


# -- client configs --------------------------------------------------------------------------

# The one value a user changes in each client file: where their checkout is.
CHECKOUT_MARK = "/ABSOLUTE/PATH/TO/kros-mcp"
COMMAND_IN_CHECKOUT = f"{CHECKOUT_MARK}/.venv/bin/{CONSOLE_SCRIPT}"
CLIENT_FILES = ["claude_desktop_config.json", "vscode-mcp.json", "cursor-mcp.json"]


def server_entry(name: str, config: dict[str, Any]) -> dict[str, Any]:
    servers = config["servers"] if name == "vscode-mcp.json" else config["mcpServers"]
    (entry,) = servers.values()
    assert isinstance(entry, dict)
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


@pytest.mark.parametrize("name", CLIENT_FILES)
def test_client_config_has_one_value_to_change(name: str) -> None:
    text = (CLIENTS / name).read_text()
    assert text.count(CHECKOUT_MARK) == 1, f"{name}: the checkout path should appear once"
    entry = server_entry(name, json.loads(text))
    assert entry["command"] == COMMAND_IN_CHECKOUT
    assert "<" not in text and "ABSOLUTE" not in text.replace(CHECKOUT_MARK, "")


def checkout_command() -> Path:
    """The command the quick start installs, in this checkout, where the marked path leads."""
    command = ROOT / ".venv" / "bin" / CONSOLE_SCRIPT
    if not command.exists():
        pytest.skip(f"no quick-start install in this checkout ({command} is missing)")
    return command


@pytest.mark.anyio
@pytest.mark.parametrize("name", CLIENT_FILES)
async def test_client_config_pasted_starts_the_server(name: str, tmp_path: Path) -> None:
    """The file with the marked path replaced by this checkout's, started as the client would:
    that command, those arguments, that env and nothing else (no PATH, another working directory)."""
    text = (CLIENTS / name).read_text().replace(CHECKOUT_MARK, str(ROOT))
    config = json.loads(text)
    entry = server_entry(name, config)
    if name == "vscode-mcp.json":
        assert entry["type"] == "stdio"
        check_inputs(config, entry)
    assert Path(entry["command"]) == checkout_command()
    env: dict[str, str] = entry.get("env", {})
    assert set(env) <= ALIASES, f"not Settings aliases: {set(env) - ALIASES}"
    # The key is asked for or read from elsewhere, never written into the file.
    assert env["KROSAI_API_KEY"] == "" or PLACEHOLDER.fullmatch(env["KROSAI_API_KEY"])
    launch_env = {k: v for k, v in env.items() if k != "KROSAI_API_KEY"}  # unset: the sandbox
    assert not any(PLACEHOLDER.search(v) for v in launch_env.values()), "fill it in here"
    launch_env |= {"KROS_MCP_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    params = StdioServerParameters(
        command=entry["command"], args=entry.get("args", []), env=launch_env, cwd=str(tmp_path)
    )
    assert await stdio_tool_names(params, tmp_path / "stderr.txt") == sorted(TOOL_NAMES)
    assert "SANDBOX" in (tmp_path / "stderr.txt").read_text()


@pytest.mark.parametrize("name", CLIENT_FILES)
def test_client_config_unexpanded_key_is_explained(name: str, tmp_path: Path) -> None:
    """The file in a client that does not expand its key variable (the Cursor file pasted into
    Claude Desktop): the server says so and stops, rather than sending the placeholder to KrosAI."""
    entry = server_entry(name, json.loads((CLIENTS / name).read_text()))
    key = entry["env"]["KROSAI_API_KEY"]
    if not key:
        pytest.skip(f"{name} holds no variable for the key")
    done = subprocess.run(
        [str(checkout_command()), *entry["args"]],
        env={"KROSAI_API_KEY": key, "HOME": str(tmp_path), "KROS_MCP_DATA_DIR": str(tmp_path)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and key in done.stderr, done.stderr
