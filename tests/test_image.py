"""The container image without a container engine: the Dockerfile, the commands it names, and the processes it runs.

No engine builds the image here. Instead these tests read the Dockerfile,
load each console script it names, check that the services import only
packages pinned in requirements.lock, and run each command the way the
image does: its environment, a private Redis, free ports, SIGTERM. When
this process may create mount namespaces (root), the commands run on a
read-only root filesystem with one writable folder (tests/read_only_root.py),
as under the Helm chart's readOnlyRootFilesystem. Otherwise they run plainly
and the read-only checks are skipped.
"""

import ast
import dataclasses
import fnmatch
import http.client
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest import LOS_ANGELES_1990
from defrag import edge, envoyconf, mesh as mesh_module
from defrag.mesh import free_ports, redis_server_binary
from defrag.platform import numba_cache
from defrag.platform.config import ROOT, descriptor_path
from services.gateway import store, tiers
from services.seda import model

TESTS = pathlib.Path(__file__).parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
VENV_BIN = pathlib.Path(sys.executable).parent
READ_ONLY_ROOT = TESTS / "read_only_root.py"

# Every command that the Dockerfile, the Helm chart or the docs may name, and its target.
COMMANDS = {
    "defrag": "defrag.cli:main",
    "defrag-edge": "defrag.edge:main",
    "defrag-gateway": "services.gateway.__main__:run",
    "defrag-telemetry": "services.telemetry.__main__:main",
    "defrag-seda": "services.seda.__main__:main",
    "defrag-orbit": "services.orbit.__main__:main",
    "defrag-billing": "services.billing.__main__:main",
}
SERVICES = ["gateway", "telemetry", "seda", "orbit", "billing"]
# The services that compile code with Numba at start-up.
NUMBA_SERVICES = ["telemetry", "orbit"]

# DEFRAG_DRAIN_SECONDS for the services here, and their documented grace for
# calls in flight after it (defrag/platform/server.py).
SERVICE_DRAIN_SECONDS = 1
SERVICE_GRACE_SECONDS = 10
# ENVOY_DRAIN_SECONDS for defrag-edge here, and how long it may take past it.
EDGE_DRAIN_SECONDS = 3
EDGE_STOP_BOUND_SECONDS = 5
START_TIMEOUT_SECONDS = 90


# --- the Dockerfile, read -------------------------------------------------


@dataclasses.dataclass
class Instruction:
    keyword: str
    arguments: str


def dockerfile_instructions(text: str) -> list[Instruction]:
    """Returns the Dockerfile's instructions with continuation lines joined and comments left out."""
    instructions = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def stages() -> list[list[Instruction]]:
    """Returns the instructions of each stage, from its FROM on."""
    result: list[list[Instruction]] = []
    for instruction in dockerfile_instructions(DOCKERFILE.read_text()):
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def copy_sources(instruction: Instruction) -> tuple[list[str], str, dict[str, str]]:
    """Returns a COPY instruction's sources, destination and flags (--from=build gives {"from": "build"})."""
    words = shlex.split(instruction.arguments)
    flags = dict(word[2:].partition("=")[::2] for word in words if word.startswith("--"))
    paths = [word for word in words if not word.startswith("--")]
    return paths[:-1], paths[-1], flags


def environment(stage: list[Instruction]) -> dict[str, str]:
    """Returns the variables that a stage's ENV instructions set (the KEY=VALUE form)."""
    values = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for word in shlex.split(instruction.arguments):
                key, _, value = word.partition("=")
                values[key] = value
    return values


def run_commands(stage: list[Instruction]) -> list[str]:
    return [instruction.arguments for instruction in stage if instruction.keyword == "RUN"]


def ignore_patterns() -> list[str]:
    return [line.strip().lstrip("/") for line in DOCKERIGNORE.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Returns whether .dockerignore keeps a path (relative to the repository) out of the build context.

    Covers the pattern forms that this repository's .dockerignore uses:
    names, paths, * wildcards and a leading **/; a pattern that matches a
    folder keeps out everything below it.
    """
    parts = pathlib.PurePosixPath(relative).parts
    prefixes = ["/".join(parts[:count]) for count in range(1, len(parts) + 1)]
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            return True
    return False


def named_commands() -> set[str]:
    """Returns every console script that the Dockerfile names: in its instructions, and CMD's program."""
    names = set()
    for instruction in dockerfile_instructions(DOCKERFILE.read_text()):
        names.update(re.findall(r"(?<![\w/.-])defrag-[a-z]+\b", instruction.arguments))
        if instruction.keyword in ("CMD", "ENTRYPOINT"):
            names.add(json.loads(instruction.arguments)[0])
    return names


def test_dockerfile_names_every_command():
    assert named_commands() == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_is_console_script_with_callable_target(command):
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    installed = {entry.name: entry for entry in importlib.metadata.entry_points(group="console_scripts")}

    assert declared.get(command) == COMMANDS[command]
    assert command in installed, "reinstall the project: .venv/bin/python -m pip install --no-deps --no-build-isolation -e ."
    assert installed[command].value == COMMANDS[command]
    assert callable(installed[command].load())
    assert os.access(VENV_BIN / command, os.X_OK)


def test_default_command_prints_help():
    default = next(json.loads(i.arguments) for i in reversed(stages()[-1]) if i.keyword == "CMD")
    result = subprocess.run(default, env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: defrag")


def test_dockerfile_uses_exec_form_commands():
    commands = [i for i in dockerfile_instructions(DOCKERFILE.read_text()) if i.keyword in ("CMD", "ENTRYPOINT")]

    assert commands
    for instruction in commands:
        assert instruction.arguments.startswith("["), f"{instruction.keyword} {instruction.arguments} is in shell form"
        assert all(isinstance(word, str) for word in json.loads(instruction.arguments))


def test_dockerfile_installs_from_runtime_lock_only():
    text = " ".join(i.arguments for i in dockerfile_instructions(DOCKERFILE.read_text()))
    installs = [command for stage in stages() for command in run_commands(stage) if "pip install" in command]

    assert "requirements-test" not in text
    assert any("-r requirements.lock" in command for command in installs)
    for command in installs:
        for step in command.split("&&"):
            if "pip install" in step:
                requirement_files = re.findall(r"(?:-r|--requirement)\s+(\S+)", step)
                assert requirement_files == ["requirements.lock"] or "--no-deps" in step, step


def test_dockerfile_runs_as_numeric_non_root_user():
    users = [i.arguments for i in stages()[-1] if i.keyword == "USER"]

    assert users, "the final stage sets no USER, so it runs as root"
    assert re.fullmatch(r"\d+(:\d+)?", users[-1]), f"USER {users[-1]} is not numeric"
    assert all(int(part) != 0 for part in users[-1].split(":"))


def test_dockerfile_copies_paths_in_build_context():
    patterns = ignore_patterns()
    copies = [copy_sources(i) for stage in stages() for i in stage if i.keyword == "COPY"]
    local = [sources for sources, _, flags in copies if "from" not in flags]

    assert local
    for sources in local:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
            assert not ignored(source, patterns), f"COPY {source}: .dockerignore keeps it out of the build context"


def test_final_stage_copies_app_and_venv_from_build():
    build, final = stages()[0], stages()[-1]
    copied = {(tuple(sources), destination) for sources, destination, flags in
              (copy_sources(i) for i in final if i.keyword == "COPY") if flags.get("from") == "build"}

    assert build[0].arguments.endswith(" AS build")
    assert ((("/opt/venv",), "/opt/venv")) in copied
    assert ((("/app",), "/app")) in copied
    assert [i.arguments for i in build if i.keyword == "WORKDIR"] == ["/app"]
    assert [i.arguments for i in final if i.keyword == "WORKDIR"] == ["/app"]


def test_runtime_files_are_copied_or_built():
    """Every file that the services and the edge read at run time reaches /app, which is ROOT in the image."""
    patterns = ignore_patterns()
    copied_sources = [source for i in stages()[0] if i.keyword == "COPY" for source in copy_sources(i)[0]]
    read_at_run_time = [
        tiers.DEFAULT_PATH,
        *sorted(store.LUA.glob("*.lua")),
        *sorted(model.DATA_DIR.iterdir()),
        ROOT / "defrag" / "data" / "tzdata-backzone.zip",
        envoyconf.TEMPLATE,
        envoyconf.STRICT_JSON_LUA,
    ]

    assert len(read_at_run_time) > 6
    for path in read_at_run_time:
        relative = path.relative_to(ROOT).as_posix()
        assert path.exists(), relative
        assert any(relative == source or relative.startswith(source + "/") for source in copied_sources), relative
        assert not ignored(relative, patterns), relative


def test_build_stage_makes_descriptor_and_caches():
    """The generated files that the services read: the descriptor set, the cache arrays, the compiled code."""
    build, final = stages()[0], stages()[-1]
    commands = run_commands(build)

    assert descriptor_path().relative_to(ROOT).as_posix() == "build/defrag.pb"
    assert any(command == "python tools/build_protos.py" for command in commands)
    assert any(command == "NUMBA_CACHE_DIR=/app/build/numba python -m defrag.cache" for command in commands)
    assert environment(final)["DEFRAG_NUMBA_SEED_DIR"] == "/app/build/numba"
    assert environment(final)["NUMBA_CPU_NAME"] == environment(build)["NUMBA_CPU_NAME"]


def test_final_stage_writes_only_under_tmp():
    values = environment(stages()[-1])

    assert values["PYTHONDONTWRITEBYTECODE"] == "1"
    assert values["PYTHONUNBUFFERED"] == "1"
    assert values["TMPDIR"] == "/tmp"
    assert values["NUMBA_CACHE_DIR"].startswith("/tmp/")


# --- imports, against the lock files -------------------------------------


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(lock: pathlib.Path) -> set[str]:
    return {canonical(line.split("==")[0]) for line in lock.read_text().splitlines() if "==" in line and not line.startswith("#")}


def imported_modules(path: pathlib.Path) -> tuple[set[str], set[str]]:
    """Returns the absolute module names that a source file imports anywhere, function bodies included.

    The first set contains the names that must be modules. The second
    contains package.name for each `from package import name`, which may
    be a submodule or an attribute.
    """
    modules, candidates = set(), set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            candidates.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules, candidates


def module_origin(name: str) -> str | None:
    """Returns the file a module loads from; None for a namespace package or a name that is no module."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None
    if spec is None or spec.origin in (None, "namespace"):
        return None
    return os.path.normpath(spec.origin)


def distributions_by_file() -> dict[str, set[str]]:
    """Maps every installed module file to the canonical names of the distributions that list it.

    A file may have several: xds-protos and googleapis-common-protos both
    install google/rpc and google/api.
    """
    owners: dict[str, set[str]] = {}
    for distribution in importlib.metadata.distributions():
        name = canonical(distribution.metadata["Name"])
        for file in distribution.files or ():
            if file.suffix in (".py", ".so"):
                owners.setdefault(os.path.normpath(distribution.locate_file(file)), set()).add(name)
    return owners


def test_third_party_imports_are_pinned_in_runtime_lock():
    runtime, test_only = pinned(ROOT / "requirements.lock"), pinned(ROOT / "requirements-test.lock")
    owners = distributions_by_file()
    importers: dict[str, pathlib.Path] = {}
    for folder in ("defrag", "services"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            modules, candidates = imported_modules(path)
            for name in modules | candidates:
                top = name.partition(".")[0]
                if top in ("defrag", "services") or top in sys.stdlib_module_names:
                    continue
                if name in modules:
                    assert importlib.util.find_spec(name) is not None, f"{name}, imported by {path}, is not installed"
                if module_origin(name) is not None:
                    importers.setdefault(name, path)

    assert len(importers) > 10
    for name, path in sorted(importers.items()):
        found = owners.get(module_origin(name), set())
        where = f"{name}, imported by {path.relative_to(ROOT)}, comes from {sorted(found) or 'no distribution'}"
        assert found & runtime, f"{where}, which requirements.lock does not pin"
        assert not found & test_only, where


# --- running the commands as the image does -----------------------------


def can_make_read_only_root() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as writable:
        result = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, str(READ_ONLY_ROOT),
                                 writable, "--", "true"], capture_output=True, timeout=30)
    return result.returncode == 0


READ_ONLY = can_make_read_only_root()


@dataclasses.dataclass
class Running:
    """One command started as the image starts it."""

    name: str
    process: subprocess.Popen
    log: pathlib.Path
    writable: pathlib.Path
    port: int = 0
    metrics_port: int = 0

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def records(self) -> list[dict]:
        """Returns the JSON log lines; other lines, such as Numba's [cache] lines, are left out."""
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]

    def tail(self) -> str:
        return f"last output of {self.name}:\n" + "\n".join(self.output().splitlines()[-20:])


class Scratch:
    """Folders for the commands: a read-only HOME and working folder, and one writable folder each."""

    def __init__(self, base: pathlib.Path):
        self.base = base
        self.home = self.base / "home"
        self.workdir = self.base / "work"
        self.logs = self.base / "logs"
        for folder in (self.home, self.workdir, self.logs):
            folder.mkdir()

    def writable(self, name: str) -> pathlib.Path:
        folder = self.base / "tmp" / name
        folder.mkdir(parents=True)
        return folder

    def base_environment(self, writable: pathlib.Path, seed: pathlib.Path | None) -> dict[str, str]:
        """The final stage's environment, with the writable folder in place of /tmp."""
        values = {
            "PATH": f"{VENV_BIN}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(self.home),
            "TMPDIR": str(writable),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "NUMBA_CACHE_DIR": str(writable / "numba"),
            "NUMBA_CPU_NAME": "generic",
            # The image listens on every address; the tests stay on loopback.
            "DEFRAG_BIND_HOST": "127.0.0.1",
        }
        if seed is not None:
            values["DEFRAG_NUMBA_SEED_DIR"] = str(seed)
        return values

    def start(self, name: str, command: list[str], env: dict[str, str], writable: pathlib.Path) -> Running:
        """Starts a command in the read-only working folder, on a read-only root when this machine allows it."""
        if READ_ONLY:
            command = ["unshare", "--mount", "--propagation", "private", sys.executable, str(READ_ONLY_ROOT),
                       str(writable), "--", *command]
        log = self.logs / f"{name}.log"
        with open(log, "wb") as output:
            # unshare and read_only_root.py exec the command in place, so the process id is the command's.
            process = subprocess.Popen(command, env=env, cwd=self.workdir, stdout=output, stderr=subprocess.STDOUT,
                                       start_new_session=True, preexec_fn=mesh_module.die_with_parent)
        return Running(name, process, log, writable)


def stop_all(running: list[Running]) -> None:
    for item in running:
        if item.process.poll() is None:
            item.process.send_signal(signal.SIGTERM)
    for item in running:
        try:
            item.process.wait(20)
        except subprocess.TimeoutExpired:
            item.process.kill()
            item.process.wait(5)


def health(port: int) -> int | None:
    """Returns the grpc.health.v1 status of the server on the port, or None when the call fails."""
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1).status
    except grpc.RpcError:
        return None


def wait_serving(running: Running) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while health(running.port) != health_pb2.HealthCheckResponse.SERVING:
        assert running.process.poll() is None, f"{running.name} exited with {running.process.returncode}\n{running.tail()}"
        assert time.monotonic() < deadline, f"{running.name} was not SERVING in time\n{running.tail()}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return Scratch(tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="module")
def numba_seed(scratch):
    """The compiled code that the image's build stage makes, made the same way."""
    seed = scratch.base / "numba-seed"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(seed), "NUMBA_CPU_NAME": "generic"}
    subprocess.run([sys.executable, "-m", "defrag.cache"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)
    assert any(seed.rglob("*.nbi"))
    return seed


@pytest.fixture(scope="module")
def redis_url(scratch):
    port = free_ports(1)[0]
    data = scratch.base / "redis"
    data.mkdir()
    server = subprocess.Popen([redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
                               "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, start_new_session=True,
                              preexec_fn=mesh_module.die_with_parent)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            assert server.poll() is None, "Redis exited at start"
            assert time.monotonic() < deadline, "Redis did not accept connections in time"
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="module")
def services(scratch, numba_seed, redis_url):
    """The five services, each started by its console script as the image starts it, on free ports."""
    ports = iter(free_ports(2 * len(SERVICES) + 1))
    listen = {name: (next(ports), next(ports)) for name in SERVICES}
    admin_port, admin_token = next(ports), secrets.token_urlsafe(32)
    settings = {
        "gateway": {"REDIS_URL": redis_url, "GATEWAY_PORT": listen["gateway"][0], "GATEWAY_METRICS_PORT": listen["gateway"][1],
                    "ADMIN_PORT": admin_port, "DEFRAG_ADMIN_TOKEN": admin_token},
        "telemetry": {"TELEMETRY_PORT": listen["telemetry"][0], "TELEMETRY_METRICS_PORT": listen["telemetry"][1]},
        "seda": {"REDIS_URL": redis_url, "SEDA_AUDIT_HMAC_SECRET": secrets.token_hex(32),
                 "SEDA_PORT": listen["seda"][0], "SEDA_METRICS_PORT": listen["seda"][1]},
        "orbit": {"ORBIT_PORT": listen["orbit"][0], "ORBIT_METRICS_PORT": listen["orbit"][1]},
        "billing": {"REDIS_URL": redis_url, "DEFRAG_ADMIN_ADDR": f"127.0.0.1:{admin_port}", "DEFRAG_ADMIN_TOKEN": admin_token,
                    "BILLING_PORT": listen["billing"][0], "BILLING_METRICS_PORT": listen["billing"][1]},
    }
    started: dict[str, Running] = {}
    try:
        for name in SERVICES:
            writable = scratch.writable(name)
            env = scratch.base_environment(writable, numba_seed)
            env.update({key: str(value) for key, value in settings[name].items()})
            env["DEFRAG_DRAIN_SECONDS"] = str(SERVICE_DRAIN_SECONDS)
            if name in NUMBA_SERVICES:
                # Numba prints a line for every cached function that it loads or saves.
                env["NUMBA_DEBUG_CACHE"] = "1"
            running = scratch.start(name, [str(VENV_BIN / f"defrag-{name}")], env, writable)
            running.port, running.metrics_port = listen[name]
            started[name] = running
        for running in started.values():
            wait_serving(running)
        yield started
    finally:
        stop_all(list(started.values()))


@pytest.mark.skipif(not READ_ONLY, reason="needs root and unshare to make a read-only root filesystem")
def test_read_only_root_rejects_writes(scratch):
    writable = scratch.writable("probe")
    probe = "import pathlib, sys\nfor folder in sys.argv[1:]:\n    try:\n        (pathlib.Path(folder) / 'probe').write_text('x')\n" \
            "        print(folder, 'writable')\n    except OSError as error:\n        print(folder, error.strerror)\n"
    folders = [str(writable), str(scratch.home), str(scratch.workdir), str(ROOT), str(VENV_BIN)]
    running = scratch.start("probe", [sys.executable, "-c", probe, *folders], {"PATH": "/usr/bin:/bin"}, writable)
    running.process.wait(30)

    lines = running.output().splitlines()
    assert lines[0] == f"{writable} writable"
    assert all(line.endswith("Read-only file system") for line in lines[1:]), lines


@pytest.mark.parametrize("name", SERVICES)
def test_service_command_serves_health_and_metrics(services, name):
    running = services[name]

    assert health(running.port) == health_pb2.HealthCheckResponse.SERVING
    with urllib.request.urlopen(f"http://127.0.0.1:{running.metrics_port}/metrics", timeout=5) as reply:
        assert reply.status == 200
        assert b"defrag_grpc_requests_total" in reply.read()
    assert any(record["message"] == "started" for record in running.records()), running.tail()


@pytest.mark.parametrize("name", NUMBA_SERVICES)
def test_service_loads_compiled_code_from_seed(services, name):
    """Numba loads the image's compiled code from the writable copy and compiles nothing."""
    running = services[name]
    output = running.output()

    assert "[cache] data loaded from" in output, running.tail()
    assert "[cache] data saved to" not in output, running.tail()
    assert any((running.writable / "numba").rglob("*.nbc"))


@pytest.mark.parametrize("name", SERVICES)
def test_service_command_drains_and_exits_on_sigterm(services, name):
    running = services[name]
    statuses = []

    running.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    while running.process.poll() is None and time.monotonic() - signalled < SERVICE_DRAIN_SECONDS + 1:
        statuses.append(health(running.port))
        time.sleep(0.05)
    code = running.process.wait(SERVICE_DRAIN_SECONDS + SERVICE_GRACE_SECONDS + 5)
    elapsed = time.monotonic() - signalled

    assert health_pb2.HealthCheckResponse.NOT_SERVING in statuses, running.tail()
    assert code == 0, running.tail()
    assert elapsed < SERVICE_DRAIN_SECONDS + SERVICE_GRACE_SECONDS, running.tail()
    messages = [record["message"] for record in running.records()]
    assert "stopped" in messages, running.tail()
    assert messages.index("stopping") < messages.index("stopped")


def test_numba_seed_copies_only_missing_files(tmp_path, monkeypatch):
    seed, cache = tmp_path / "seed", tmp_path / "cache"
    (seed / "defrag_0a1b").mkdir(parents=True)
    (seed / "defrag_0a1b" / "reductions.f-10.py311.1.nbc").write_bytes(b"code")
    (seed / "defrag_0a1b" / "reductions.f-10.py311.nbi").write_bytes(b"seed index")
    (cache / "defrag_0a1b").mkdir(parents=True)
    (cache / "defrag_0a1b" / "reductions.f-10.py311.nbi").write_bytes(b"newer index")
    monkeypatch.setenv("DEFRAG_NUMBA_SEED_DIR", str(seed))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))

    assert numba_cache.seed() == 1
    assert (cache / "defrag_0a1b" / "reductions.f-10.py311.1.nbc").read_bytes() == b"code"
    assert (cache / "defrag_0a1b" / "reductions.f-10.py311.nbi").read_bytes() == b"newer index"
    assert sorted(path.name for path in (cache / "defrag_0a1b").iterdir()) == [
        "reductions.f-10.py311.1.nbc", "reductions.f-10.py311.nbi"]


def test_numba_seed_without_settings_copies_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("DEFRAG_NUMBA_SEED_DIR", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))

    assert numba_cache.seed() == 0
    assert not (tmp_path / "cache").exists()


# --- defrag-edge ----------------------------------------------------------


def write_edge_config(scratch: Scratch, name: str, config: envoyconf.EdgeConfig) -> pathlib.Path:
    path = scratch.base / f"{name}.yaml"
    path.write_text(envoyconf.render(config))
    return path


def unused_upstreams_config() -> envoyconf.EdgeConfig:
    """An edge whose upstreams are a free port that nothing listens on: enough for Envoy to start."""
    listen, admin, stats, nothing = free_ports(4)
    upstream = [("127.0.0.1", nothing)]
    return envoyconf.EdgeConfig(listen_port=listen, admin_port=admin, stats_port=stats, gateway=upstream,
                                telemetry=upstream, seda=upstream, orbit=upstream, billing=upstream)


def start_edge(scratch: Scratch, name: str, config: pathlib.Path, drain_seconds: int, **settings: str) -> Running:
    writable = scratch.writable(name)
    env = scratch.base_environment(writable, seed=None)
    env.update({"ENVOY_DRAIN_SECONDS": str(drain_seconds), "ENVOY_CONCURRENCY": "1", **settings})
    return scratch.start(name, [str(VENV_BIN / "defrag-edge"), "--config", str(config)], env, writable)


def envoy_ready(admin_port: int) -> int | None:
    """Returns the HTTP status of Envoy's /ready, or None when the request fails."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/ready", timeout=1) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_edge_ready(running: Running, admin_port: int) -> int:
    """Waits until Envoy is live; returns Envoy's process id, from defrag-edge's "started" line."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while envoy_ready(admin_port) != 200:
        assert running.process.poll() is None, f"defrag-edge exited with {running.process.returncode}\n{running.tail()}"
        assert time.monotonic() < deadline, f"Envoy was not ready in time\n{running.tail()}"
        time.sleep(0.1)
    return next(record["pid"] for record in running.records() if record["message"] == "started")


def get_vectors(port: int, key: str) -> http.client.HTTPResponse:
    """Sends one keep-alive GET of the telemetry vectors and returns the response, read."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/v1/telemetry/vectors?" + LOS_ANGELES_1990, headers={"Authorization": f"Bearer {key}"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.mark.integration
def test_edge_drain_finishes_requests_then_exits(scratch, mesh, admin):
    _, _, key = admin.account_with_key("pro")
    listen, admin_port, stats = free_ports(3)
    config = dataclasses.replace(mesh.envoy_config(), listen_port=listen, admin_port=admin_port, stats_port=stats)
    running = start_edge(scratch, "edge-drain", write_edge_config(scratch, "edge-drain", config), EDGE_DRAIN_SECONDS)
    try:
        envoy_pid = wait_edge_ready(running, admin_port)
        before = get_vectors(listen, key)
        body = json.dumps({"instants": [{"date": "1990-01-15", "time": "14:30"}], "lat": 34.05, "lon": -118.24}).encode()
        in_flight = http.client.HTTPConnection("127.0.0.1", listen, timeout=30)
        in_flight.putrequest("POST", "/v1/telemetry/vectors:batch")
        for header, value in (("Authorization", f"Bearer {key}"), ("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))):
            in_flight.putheader(header, value)
        in_flight.endheaders(body[:10])

        running.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        while envoy_ready(admin_port) == 200 and time.monotonic() - signalled < EDGE_DRAIN_SECONDS:
            time.sleep(0.05)
        ready_while_draining = envoy_ready(admin_port)
        during = get_vectors(listen, key)
        in_flight.send(body[10:])
        finished = in_flight.getresponse()
        charts = json.loads(finished.read())["charts"]
        code = running.process.wait(EDGE_DRAIN_SECONDS + EDGE_STOP_BOUND_SECONDS + 5)
        elapsed = time.monotonic() - signalled
    finally:
        stop_all([running])

    assert before.status == 200
    assert before.getheader("connection") is None
    assert ready_while_draining == 503
    assert during.status == 200, "a call on a new connection during the drain must be served"
    assert during.getheader("connection") == "close"
    assert finished.status == 200
    assert len(charts) == 1
    assert finished.getheader("connection") == "close"
    assert code == 0, running.tail()
    assert EDGE_DRAIN_SECONDS - 0.5 <= elapsed <= EDGE_DRAIN_SECONDS + EDGE_STOP_BOUND_SECONDS, running.tail()
    assert not pathlib.Path(f"/proc/{envoy_pid}").exists(), "Envoy outlived defrag-edge"
    assert [record["message"] for record in running.records() if record["service"] == "edge"] == ["started", "draining", "stopped"]


def test_edge_exits_with_code_of_crashed_envoy(scratch):
    config = unused_upstreams_config()
    running = start_edge(scratch, "edge-crash", write_edge_config(scratch, "edge-crash", config), 30)
    try:
        envoy_pid = wait_edge_ready(running, config.admin_port)
        os.kill(envoy_pid, signal.SIGKILL)
        code = running.process.wait(10)
    finally:
        stop_all([running])

    assert code == 128 + signal.SIGKILL, running.tail()


def test_edge_returns_when_envoy_dies_while_draining(scratch):
    config = unused_upstreams_config()
    running = start_edge(scratch, "edge-crash-draining", write_edge_config(scratch, "edge-crash-draining", config), 60)
    try:
        envoy_pid = wait_edge_ready(running, config.admin_port)
        running.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while envoy_ready(config.admin_port) == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(envoy_pid, signal.SIGKILL)
        killed = time.monotonic()
        code = running.process.wait(10)
        elapsed = time.monotonic() - killed
    finally:
        stop_all([running])

    assert code == 128 + signal.SIGKILL, running.tail()
    assert elapsed < 2, "defrag-edge kept waiting for the drain after Envoy died"


@pytest.mark.parametrize(
    ("arguments", "settings", "fragment"),
    [
        ([], {}, "pass --config PATH or set ENVOY_CONFIG"),
        (["--config", "/nonexistent/envoy.yaml"], {}, "/nonexistent/envoy.yaml does not exist"),
        (["--config", "CONFIG"], {"ENVOY_DRAIN_SECONDS": "0"}, "ENVOY_DRAIN_SECONDS=0 is outside 1..3600"),
        (["--config", "CONFIG"], {"ENVOY_DRAIN_SECONDS": "soon"}, "ENVOY_DRAIN_SECONDS='soon' is not an integer"),
        (["--config", "CONFIG"], {"ENVOY_DRAIN_STRATEGY": "slow"}, "ENVOY_DRAIN_STRATEGY='slow' is not one of"),
        (["--config", "CONFIG"], {"ENVOY_CONCURRENCY": "300"}, "ENVOY_CONCURRENCY=300 is outside 0..256"),
        (["--config", "CONFIG", "--concurrency", "0"], {}, "--concurrency 0 is outside 1..256"),
        (["--config", "CONFIG"], {"ENVOY_LOG_LEVEL": "loud"}, "ENVOY_LOG_LEVEL='loud' is not one of"),
    ],
)
def test_edge_rejects_invalid_settings(tmp_path, arguments, settings, fragment):
    config = tmp_path / "envoy.yaml"
    config.write_text(envoyconf.render(unused_upstreams_config()))
    env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(tmp_path), **settings}
    command = [str(VENV_BIN / "defrag-edge"), *(str(config) if word == "CONFIG" else word for word in arguments)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2, result.stdout + result.stderr
    assert fragment in result.stdout
    assert json.loads(result.stdout.splitlines()[-1])["level"] == "error"


def test_edge_reads_admin_port_from_config(tmp_path):
    config = unused_upstreams_config()
    path = tmp_path / "envoy.yaml"
    path.write_text(envoyconf.render(config))

    assert edge.admin_port_of(path) == config.admin_port


def test_edge_rejects_admin_port_off_loopback(tmp_path):
    path = tmp_path / "envoy.yaml"
    path.write_text(envoyconf.render(dataclasses.replace(unused_upstreams_config(), admin_host="10.0.0.7")))

    with pytest.raises(edge.ConfigError, match="bind it to 127.0.0.1"):
        edge.admin_port_of(path)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 2),
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2),
        ({"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_cgroup_cpu_limit(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert edge.cgroup_cpu_limit(tmp_path) == expected


def test_default_concurrency_is_capped_by_cpu_limit(tmp_path):
    (tmp_path / "cpu.max").write_text("100000 100000\n")

    assert edge.default_concurrency(tmp_path) == 1
    assert edge.default_concurrency(tmp_path / "none") == len(os.sched_getaffinity(0))
