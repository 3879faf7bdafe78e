"""TEST DOUBLE of the Mesos master and agent daemons (mesos-master, mesos-slave).

Not Apache Mesos. It reproduces what the mesos-roles tests need to tell a good
rendered configuration from a bad one:

- flags are loaded the way Mesos' flag library (stout) loads them: --name=value,
  bare --name (boolean true), --no-name (boolean false), MESOS_<NAME> environment
  variables for known flags, the command line winning over the environment, and
  an error for an unknown or twice-given flag, with stout's messages;
- the checks the real main() makes before starting (--quorum with --zk, --work_dir,
  the ZooKeeper URL, --ip, --master...) fail the same way: message on stderr, exit 1;
- a started daemon writes a JSON record of what it was started with to
  /run/mesos-double/<daemon>.json and serves a few HTTP endpoints (/health, /state).

- with --zk the master joins leader election in ZooKeeper as Mesos does (zk_double.py):
  an ephemeral sequential json.info_* node holding its MasterInfo JSON, lowest leads;
  /master/state then has leader, leader_info, slaves and activated_slaves;
- with a zk:// --master the agent follows that election and registers with the leader
  (POST /master/register-agent, the doubles' own protocol, repeated as a heartbeat), and
  again with each new leader.

No tasks or frameworks. Each role is a class with its flag table as data
(routes(), post_routes() and state() are the places to extend).

Python standard library only: it must run on Debian bookworm (3.11) and trixie (3.13).
"""

import http.server
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

VERSION = "double"
ENV_PREFIX = "MESOS_"
DEFAULT_RUN_DIR = "/run/mesos-double"
# Test-only override of DEFAULT_RUN_DIR, unset on nodes. Not MESOS_-prefixed on
# purpose: the record lists the MESOS_* environment the daemon saw.
RUN_DIR_ENV = "TEST_DOUBLE_RUN_DIR"

import zk_double  # noqa: E402 (beside this file; the build copies it in)

log = logging.getLogger("mesos-double")


class StartupError(Exception):
    """The daemon must not start: main() prints the message (and usage if asked) and exits 1."""

    def __init__(self, message: str, show_usage: bool = False):
        super().__init__(message)
        self.show_usage = show_usage


# ---------------------------------------------------------------------------
# Flag values. Each parser takes the text and returns the value, or raises
# ValueError with the reason stout would give.

DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "secs": 1.0, "mins": 60.0,
    "hrs": 3600.0, "days": 86400.0, "weeks": 604800.0,
}


def parse_string(text: str) -> str:
    return text


def parse_bool(text: str) -> bool:
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError("Expecting a boolean (e.g., true or false)")


def parse_int(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text.strip()):
        raise ValueError(f"Failed to convert '{text}' to number")
    return int(text)


def parse_port(text: str) -> int:
    port = parse_int(text)
    if port > 65535:
        raise ValueError(f"Failed to convert '{text}' to number")
    return port


def parse_duration(text: str) -> float:
    """Seconds from Mesos' duration syntax: a number and a unit, e.g. 90secs, 5mins."""
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)([a-z]*)", text.strip())
    if not match:
        raise ValueError(f"Invalid duration '{text}'")
    number, unit = match.groups()
    if unit not in DURATION_UNITS:
        raise ValueError(f"Unknown duration unit '{unit}'")
    return float(number) * DURATION_UNITS[unit]


def parse_ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError(f"Failed to parse IPv4 address '{text}'") from None


PARSERS: Dict[str, Callable[[str], object]] = {
    "string": parse_string,
    "bool": parse_bool,
    "int": parse_int,
    "port": parse_port,
    "duration": parse_duration,
    "ipv4": parse_ipv4,
}


@dataclass(frozen=True)
class Flag:
    kind: str  # a key of PARSERS
    default: Optional[str] = None  # as Mesos shows it in /state
    required: bool = False  # stout's "is required, but it was not provided"


FlagTable = Dict[str, Flag]

# Flags every Mesos daemon has (stout adds --help; Mesos adds logging and libprocess ones).
COMMON_FLAGS: FlagTable = {
    "help": Flag("bool", "false"),
    "version": Flag("bool", "false"),
    "ip": Flag("ipv4"),
    "hostname": Flag("string"),
    "hostname_lookup": Flag("bool", "true"),
    "advertise_ip": Flag("ipv4"),
    "advertise_port": Flag("port"),
    "log_dir": Flag("string"),
    "external_log_file": Flag("string"),
    "logging_level": Flag("string", "INFO"),
    "quiet": Flag("bool", "false"),
    "initialize_driver_logging": Flag("bool", "true"),
}

MASTER_FLAGS: FlagTable = {
    **COMMON_FLAGS,
    "port": Flag("port", "5050"),
    "zk": Flag("string"),
    "zk_session_timeout": Flag("duration", "10secs"),
    "quorum": Flag("int"),
    "work_dir": Flag("string"),
    "cluster": Flag("string"),
    "registry": Flag("string", "replicated_log"),
    "registry_fetch_timeout": Flag("duration", "1mins"),
    "registry_store_timeout": Flag("duration", "20secs"),
    "log_auto_initialize": Flag("bool", "true"),
    "offer_timeout": Flag("duration"),
    "agent_ping_timeout": Flag("duration", "15secs"),
    "max_agent_ping_timeouts": Flag("int", "5"),
    "authenticate_frameworks": Flag("bool", "false"),
    "authenticate_agents": Flag("bool", "false"),
    "roles": Flag("string"),
    "weights": Flag("string"),
}

AGENT_FLAGS: FlagTable = {
    **COMMON_FLAGS,
    "port": Flag("port", "5051"),
    "master": Flag("string"),
    "work_dir": Flag("string", required=True),  # required since Mesos 1.0
    "attributes": Flag("string"),
    "resources": Flag("string"),
    "containerizers": Flag("string", "mesos"),
    "isolation": Flag("string", "posix/cpu,posix/mem"),
    "executor_registration_timeout": Flag("duration", "1mins"),
    "executor_shutdown_grace_period": Flag("duration", "5secs"),
    "docker": Flag("string", "docker"),
    "docker_socket": Flag("string", "/var/run/docker.sock"),
    "docker_store_dir": Flag("string", "/tmp/mesos/store/docker"),
    "image_providers": Flag("string"),
    "switch_user": Flag("bool", "true"),
    "strict": Flag("bool", "true"),
    "recover": Flag("string", "reconnect"),
    "gc_delay": Flag("duration", "1weeks"),
    "systemd_enable_support": Flag("bool", "true"),
    "cgroups_root": Flag("string", "mesos"),
    "default_role": Flag("string", "*"),
    "fetcher_cache_dir": Flag("string", "/tmp/mesos/fetch"),
}


# ---------------------------------------------------------------------------
# Loading flags as stout's FlagsBase::load(prefix, argc, argv) does.

Given = Tuple[str, Optional[str], str]  # (name as given, value or None, "argv" or "env")


def command_line_flags(args: List[str]) -> List[Given]:
    """Flags from the command line: anything not starting with -- is skipped, -- ends them."""
    given = []
    for raw in args:
        arg = raw.strip()
        if arg == "--":
            break
        if not arg.startswith("--"):
            continue
        name, equals, value = arg[2:].partition("=")
        given.append((name.lower(), value if equals else None, "argv"))
    return given


def environment_flags(environ: Dict[str, str], table: FlagTable) -> List[Given]:
    """MESOS_<NAME> variables naming a known flag (stout ignores the others)."""
    given = []
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):].lower()
        flag_name = name[3:] if name.startswith("no-") else name
        if flag_name in table:
            given.append((name, value, "env"))
    return given


class Flags:
    """The loaded flags of one daemon: typed values, their text, and where each came from."""

    def __init__(self, table: FlagTable, args: List[str], environ: Dict[str, str]):
        self.table = table
        self.values: Dict[str, object] = {}
        self.texts: Dict[str, str] = {}
        self.sources: Dict[str, str] = {}
        given = command_line_flags(args)
        on_command_line = {name for name, _, _ in given}
        given += [g for g in environment_flags(environ, table) if g[0] not in on_command_line]
        # stout walks its values in name order (a std::multimap), so errors come in that order.
        for name, value, source in sorted(given, key=lambda g: g[0]):
            self._load(name, value, source)
        for flag_name, flag in sorted(table.items()):
            if flag.required and flag_name not in self.values:
                raise StartupError(
                    f"Flag '{flag_name}' is required, but it was not provided", show_usage=True)

    def _load(self, name: str, value: Optional[str], source: str) -> None:
        negated = name.startswith("no-")
        flag_name = name[3:] if negated else name
        flag = self.table.get(flag_name)
        if flag is None:
            via = f" via '{name}'" if negated else ""
            raise StartupError(f"Failed to load unknown flag '{flag_name}'{via}", show_usage=True)
        if flag_name in self.values:
            raise StartupError(
                f"Flag '{flag_name}' is already loaded via name '{flag_name}'", show_usage=True)
        if flag.kind != "bool":
            if negated:
                raise StartupError(
                    f"Failed to load non-boolean flag '{flag_name}' via '{name}'", show_usage=True)
            if value is None:
                raise StartupError(
                    f"Failed to load non-boolean flag '{flag_name}': Missing value", show_usage=True)
            text = value
        elif not value:
            text = "false" if negated else "true"
        elif negated:
            raise StartupError(
                f"Failed to load boolean flag '{flag_name}' via '{name}' with value '{value}'",
                show_usage=True)
        else:
            text = value
        try:
            self.values[flag_name] = PARSERS[flag.kind](text)
        except ValueError as error:
            raise StartupError(
                f"Failed to load flag '{flag_name}': Failed to load value '{text}': {error}",
                show_usage=True) from None
        if flag.kind == "bool":
            text = "true" if self.values[flag_name] else "false"
        self.texts[flag_name] = text
        self.sources[flag_name] = source

    def get(self, name: str):
        """The flag's value, its default if it has one, else None."""
        if name in self.values:
            return self.values[name]
        default = self.table[name].default
        return None if default is None else PARSERS[self.table[name].kind](default)

    def given(self, name: str) -> bool:
        return name in self.values

    def effective(self) -> Dict[str, str]:
        """Every flag that has a value or a default, as text: the "flags" of Mesos' /state."""
        result = {name: flag.default for name, flag in self.table.items() if flag.default is not None}
        result.update(self.texts)
        return dict(sorted(result.items()))


# ---------------------------------------------------------------------------
# Checks of values that Mesos makes after loading flags.

ZK_HOST = r"[A-Za-z0-9.\-]+:[0-9]{1,5}"
ZK_URL = re.compile(rf"zk://(?:[^@/]+@)?{ZK_HOST}(?:,{ZK_HOST})*/[^/].*")


def check_zk_url(url: str, flag_name: str) -> None:
    """zk://[user:pass@]host:port[,host:port...]/path, or file:///path holding one."""
    if url.startswith("file://"):
        try:
            with open(url[len("file://"):], encoding="utf-8") as handle:
                url = handle.read().strip()
        except OSError as error:
            raise StartupError(f"Failed to read --{flag_name} from '{url}': {error}") from None
    if not url.startswith("zk://"):
        raise StartupError(
            f"Error parsing --{flag_name} '{url}': Expecting 'zk://' at the beginning of the URL")
    if not ZK_URL.fullmatch(url):
        raise StartupError(
            f"Error parsing --{flag_name} '{url}': expected "
            "zk://host:port[,host:port...]/path")


def parse_pairs(text: str, flag_name: str) -> List[Tuple[str, str]]:
    """name:value;name:value, as --attributes and --resources are written."""
    pairs = []
    for item in text.split(";"):
        if not item.strip():
            continue
        parts = [part for part in item.split(":") if part]
        if len(parts) != 2:
            raise StartupError(f"Invalid --{flag_name}: '{item}' is not a name:value pair")
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


RESOURCE_NAME = re.compile(r"[A-Za-z0-9_.\-/]+(\([^()]*\))?")
RESOURCE_VALUE = re.compile(
    r"[0-9]+(\.[0-9]+)?"  # scalar
    r"|\[\s*[0-9]+\s*-\s*[0-9]+\s*(,\s*[0-9]+\s*-\s*[0-9]+\s*)*\]"  # ranges
    r"|\{[^{}]*\}")  # set


def scalar_or_text(value: str):
    """An attribute value as Mesos reports it: a number when it is a scalar, else the text."""
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


# ---------------------------------------------------------------------------
# The daemons.

class MesosDaemon:
    """What a Mesos master and agent share: flags, checks, record and HTTP API."""

    program = ""  # "mesos-master" or "mesos-slave"
    flag_table: FlagTable = {}
    upid_name = ""  # the libprocess id in the UPID: "master" or "slave(1)"

    def __init__(self, argv: List[str], environ: Dict[str, str]):
        self.argv = list(argv)
        self.environ = {k: v for k, v in sorted(environ.items()) if k.startswith(ENV_PREFIX)}
        self.flags = Flags(self.flag_table, argv[1:], environ)
        self.start_time = time.time()
        self.id = str(uuid.uuid4())

    # -- checks ------------------------------------------------------------

    def validate(self) -> None:
        """Checks Mesos makes before starting; raise StartupError. Extended per role."""
        level = self.flags.get("logging_level")
        if level not in ("INFO", "WARNING", "ERROR"):
            raise StartupError(f"'{level}' is not a valid logging level: use INFO, WARNING or ERROR")
        work_dir = self.flags.get("work_dir")
        if work_dir:
            try:
                os.makedirs(work_dir, exist_ok=True)
            except OSError as error:
                raise StartupError(f"Failed to create work directory '{work_dir}': {error}") from None

    # -- addresses ---------------------------------------------------------

    def bind_ip(self) -> str:
        return self.flags.get("ip") or "0.0.0.0"

    def port(self) -> int:
        return self.flags.get("port")

    def advertised_ip(self) -> str:
        """--advertise_ip, else --ip, else what the host name resolves to (as libprocess does)."""
        for name in ("advertise_ip", "ip"):
            if self.flags.given(name):
                return self.flags.get(name)
        try:
            return socket.gethostbyname(socket.gethostname())
        except OSError:
            return "127.0.0.1"

    def upid(self) -> str:
        port = self.flags.get("advertise_port") or self.port()
        return f"{self.upid_name}@{self.advertised_ip()}:{port}"

    def hostname(self) -> str:
        return self.flags.get("hostname") or socket.gethostname()

    # -- what the tests read -----------------------------------------------

    def state(self) -> dict:
        return {
            "version": VERSION,
            "id": self.id,
            "pid": self.upid(),
            "hostname": self.hostname(),
            "cluster": None,
            "start_time": self.start_time,
            "flags": self.flags.effective(),
        }

    def record(self) -> dict:
        return {
            "daemon": self.program,
            "version": VERSION,
            "argv": self.argv,
            "flags": self.flags.effective(),
            "flag_sources": dict(sorted(self.flags.sources.items())),
            "environment": self.environ,
            "pid": os.getpid(),
            "start_time": self.start_time,
            "listen": {"ip": self.bind_ip(), "port": self.port()},
            "upid": self.upid(),
        }

    def routes(self) -> Dict[str, Callable[[], Tuple[int, bytes, str]]]:
        """GET path -> handler returning (status, body, content type)."""
        return {"/health": lambda: (200, b"", "text/plain")}

    def post_routes(self) -> Dict[str, Callable[[bytes], Tuple[int, bytes, str]]]:
        """POST path -> handler of the body returning (status, body, content type)."""
        return {}

    def start(self) -> None:
        """What runs beside the HTTP server once it is bound (ZooKeeper)."""

    def json_response(self, document: dict, status: int = 200) -> Tuple[int, bytes, str]:
        return status, json.dumps(document, indent=2).encode() + b"\n", "application/json"


class MesosMaster(MesosDaemon):
    program = "mesos-master"
    flag_table = MASTER_FLAGS
    upid_name = "master"
    # An agent not heard from for this long is no longer counted as active.
    agent_timeout = 15.0

    def __init__(self, argv: List[str], environ: Dict[str, str]):
        super().__init__(argv, environ)
        self.election = None
        self.elected_time: Optional[float] = None
        self.agents: Dict[str, dict] = {}
        self.agents_lock = threading.Lock()

    def info(self) -> dict:
        """MasterInfo as Mesos writes it into its json.info_* node."""
        return {
            "id": self.id,
            "pid": self.upid(),
            "hostname": self.hostname(),
            "port": self.port(),
            "version": VERSION,
            "address": {"ip": self.advertised_ip(), "port": self.port(),
                        "hostname": self.hostname()},
        }

    def start(self) -> None:
        zk = self.flags.get("zk")
        if zk and zk.startswith("zk://"):
            timeout_ms = int(self.flags.get("zk_session_timeout") * 1000)
            self.election = zk_double.Election(
                zk, "json.info_", json.dumps(self.info(), sort_keys=True).encode(), timeout_ms,
                self.leadership_changed)
            self.election.start()
        else:
            self.elected_time = time.time()  # a master without ZooKeeper leads alone

    def leadership_changed(self, leader: Optional[bytes], elected: bool) -> None:
        if elected and self.elected_time is None:
            self.elected_time = time.time()
            log.info("Elected as the leading master!")
        elif not elected:
            if self.elected_time is not None:
                log.warning("Lost leadership: no longer the leading master")
            self.elected_time = None
            with self.agents_lock:
                self.agents.clear()  # a new leader learns its agents again

    def leader_info(self) -> Optional[dict]:
        if self.election is None:
            return self.info()
        leader = self.election.leader
        return json.loads(leader) if leader else None

    def active_agents(self) -> List[dict]:
        now = time.time()
        with self.agents_lock:
            return [a for a in self.agents.values() if now - a["last_seen"] < self.agent_timeout]

    def register_agent(self, body: bytes) -> Tuple[int, bytes, str]:
        if self.elected_time is None:
            leader = self.leader_info()
            return self.json_response(
                {"error": "not the leading master", "leader": leader and leader["pid"]}, 503)
        agent = json.loads(body)
        now = time.time()
        with self.agents_lock:
            known = self.agents.get(agent["id"])
            if known is None:
                log.info("Registered agent %s at %s", agent["id"], agent.get("pid"))
            agent["registered_time"] = known["registered_time"] if known else now
            agent["last_seen"] = now
            agent["active"] = True
            self.agents[agent["id"]] = agent
        return self.json_response({"slave_id": agent["id"], "master": self.upid()})

    def state(self) -> dict:
        document = {**super().state(), "cluster": self.flags.get("cluster")}
        leader = self.leader_info()
        if leader is not None:
            document["leader"] = leader["pid"]
            document["leader_info"] = leader
        if self.elected_time is not None:
            document["elected_time"] = self.elected_time
        agents = self.active_agents()
        document["activated_slaves"] = len(agents)
        document["deactivated_slaves"] = 0
        document["slaves"] = agents
        return document

    def post_routes(self):
        return {"/master/register-agent": self.register_agent}

    def validate(self) -> None:
        registry = self.flags.get("registry")
        if registry not in ("replicated_log", "in_memory"):
            raise StartupError(f"'{registry}' is not a supported option for registry persistence")
        if registry == "replicated_log":
            if not self.flags.get("work_dir"):
                raise StartupError("--work_dir needed for replicated log based registry")
            if self.flags.given("zk"):
                quorum = self.flags.get("quorum")
                if quorum is None:
                    raise StartupError(
                        "Need to specify --quorum for replicated log based registry "
                        "when using ZooKeeper")
                if quorum < 1:
                    raise StartupError(f"--quorum must be a positive integer, not {quorum}")
        if self.flags.given("zk"):
            check_zk_url(self.flags.get("zk"), "zk")
        super().validate()

    def routes(self):
        state = lambda: self.json_response(self.state())  # noqa: E731
        return {**super().routes(), "/state": state, "/master/state": state}


class MesosAgent(MesosDaemon):
    program = "mesos-slave"
    flag_table = AGENT_FLAGS
    upid_name = "slave(1)"

    def validate(self) -> None:
        master = self.flags.get("master")
        if master is None:
            raise StartupError("Missing required option `--master`", show_usage=True)
        if master.startswith(("zk://", "file://")):
            check_zk_url(master, "master")
        elif not re.fullmatch(r"[A-Za-z0-9.\-]+:[0-9]{1,5}", master):
            raise StartupError(
                f"Failed to create a master detector for '{master}': expected "
                "zk://host:port[,host:port...]/path, file:///path or host:port")
        for containerizer in self.flags.get("containerizers").split(","):
            if containerizer not in ("mesos", "docker"):
                raise StartupError(f"Unknown or unsupported containerizer: {containerizer}")
        for name, value in self.resources():
            if not RESOURCE_NAME.fullmatch(name) or not RESOURCE_VALUE.fullmatch(value):
                raise StartupError(f"Bad value for resources: '{name}:{value}'")
        self.attributes()  # raises on a malformed pair
        super().validate()

    def attributes(self) -> List[Tuple[str, str]]:
        text = self.flags.get("attributes")
        return parse_pairs(text, "attributes") if text else []

    def resources(self) -> List[Tuple[str, str]]:
        text = self.flags.get("resources")
        if not text or text.lstrip().startswith("["):  # JSON resources: not checked
            return []
        return parse_pairs(text, "resources")

    def state(self) -> dict:
        document = {
            **super().state(),
            "attributes": {name: scalar_or_text(value) for name, value in self.attributes()},
            "resources": dict(self.resources()),
        }
        if self.registered_with is not None:
            document["master_hostname"] = self.registered_with["hostname"]
            document["master"] = self.registered_with["pid"]
        return document

    registered_with: Optional[dict] = None
    # How often the agent tells its master it is there (Mesos pings; the double re-registers).
    heartbeat = 2.0

    def start(self) -> None:
        master = self.flags.get("master")
        if master.startswith("zk://"):
            self.detector = zk_double.Election(master, "json.info_", None, 10_000)
            self.detector.start()
            threading.Thread(target=self.register_loop, daemon=True, name="register").start()

    def register_loop(self) -> None:
        """Registers with the leading master, again with each new one, and keeps telling it."""
        while True:
            leader = self.detector.leader
            info = json.loads(leader) if leader else None
            if info is None:
                if self.registered_with is not None:
                    log.warning("Lost the leading master; waiting for a new one")
                self.registered_with = None
            else:
                address = info["address"]
                document = {"id": self.id, "pid": self.upid(), "hostname": self.hostname(),
                            "attributes": self.state()["attributes"],
                            "resources": dict(self.resources())}
                request = urllib.request.Request(
                    f"http://{address['ip']}:{address['port']}/master/register-agent",
                    data=json.dumps(document).encode(), method="POST",
                    headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        response.read()
                    if self.registered_with is None or self.registered_with["pid"] != info["pid"]:
                        log.info("%s with master %s",
                                 "Registered" if self.registered_with is None else "Re-registered",
                                 info["pid"])
                    self.registered_with = info
                except OSError as error:
                    log.warning("Registration with %s failed: %s", info["pid"], error)
                    self.registered_with = None
            time.sleep(self.heartbeat)

    def routes(self):
        state = lambda: self.json_response(self.state())  # noqa: E731
        return {**super().routes(), "/state": state, "/slave(1)/state": state}


DAEMONS = {cls.program: cls for cls in (MesosMaster, MesosAgent)}


# ---------------------------------------------------------------------------
# Running.

def usage(daemon_class) -> str:
    lines = [f"Usage: {daemon_class.program} [options]", ""]
    for name, flag in sorted(daemon_class.flag_table.items()):
        lines.append(f"  --[no-]{name}" if flag.kind == "bool" else f"  --{name}=VALUE")
    return "\n".join(lines)


def write_record(path: str, document: dict) -> None:
    """Write the record whole or not at all: a temporary file renamed over the old one."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".record-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def make_handler(daemon: MesosDaemon):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = f"{daemon.program}-double"

        def do_GET(self):  # noqa: N802 (http.server's naming)
            route = daemon.routes().get(self.path.split("?", 1)[0])
            status, body, content_type = route() if route else (404, b"", "text/plain")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            route = daemon.post_routes().get(self.path.split("?", 1)[0])
            status, body, content_type = route(body) if route else (404, b"", "text/plain")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
            log.debug("%s %s", self.address_string(), format % args)

    return Handler


def main(program: str, argv: List[str], environ: Optional[Dict[str, str]] = None) -> int:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO,
        format=f"%(levelname).1s%(asctime)s {os.getpid()} {program}] %(message)s",
        datefmt="%m%d %H:%M:%S")
    environ = dict(os.environ if environ is None else environ)
    daemon_class = DAEMONS[program]
    run_dir = environ.get(RUN_DIR_ENV) or DEFAULT_RUN_DIR
    record_path = os.path.join(run_dir, f"{program}.json")
    # A record left by an earlier run would make a failed start look like a good one.
    try:
        os.unlink(record_path)
    except FileNotFoundError:
        pass

    try:
        daemon = daemon_class(argv, environ)
        if daemon.flags.get("help"):
            print(usage(daemon_class))
            return 0
        if daemon.flags.get("version"):
            print(f"mesos {VERSION}")
            return 0
        daemon.validate()
    except StartupError as error:
        message = str(error)
        if error.show_usage:
            message += "\n\n" + usage(daemon_class)
        print(message, file=sys.stderr)
        return 1

    try:
        server = http.server.ThreadingHTTPServer(
            (daemon.bind_ip(), daemon.port()), make_handler(daemon))
    except OSError as error:
        log.error("Failed to initialize: Failed to bind on %s:%d: %s",
                  daemon.bind_ip(), daemon.port(), error)
        return 1
    server.daemon_threads = True

    if ipaddress.IPv4Address(daemon.advertised_ip()).is_loopback:
        log.warning("%s bound to loopback interface! Cannot communicate with remote "
                    "peers. You might want to set '--ip' flag to a routable IP address.",
                    program)
    try:
        write_record(record_path, daemon.record())
    except OSError as error:
        log.error("Failed to write %s: %s", record_path, error)
        return 1
    log.info("%s (test double) started as %s, listening on %s:%d; record in %s",
             program, daemon.upid(), daemon.bind_ip(), daemon.port(), record_path)

    daemon.start()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()
        log.info("%s (test double) stopped", program)
    return 0
