"""TEST DOUBLE of the Mesos master and agent daemons (mesos-master, mesos-slave) of Mesos 1.11.0.

Not Apache Mesos. It reproduces Mesos' public interfaces closely enough that a wrongly rendered
configuration, or a tool relying on something real Mesos does not offer, fails:

- flags: every flag (and alias) Mesos 1.11.0 defines, with its type and default, read from the
  tables in flags/ (data read from Mesos' sources), and no other; loaded the way Mesos' flag
  library (stout) loads them: --name=value, bare --name (boolean true), --no-name (false),
  MESOS_<NAME> environment variables for known flags, the command line winning over the
  environment, file:// values read from the file; an unknown or twice-given flag, or a bad value,
  is refused with stout's messages. --help lists the flags, --version prints the version;
- the checks the real main() makes before starting (--quorum with --zk, --work_dir, the ZooKeeper
  URL, --ip, --master, an own hostname that resolves when no --ip is given...): message on
  stderr, exit 1;
- HTTP, as Mesos answers it: /health, /version, /flags, /metrics/snapshot on every daemon; on a
  master /master/state (and /state) from the elected leader only, a 307 with an empty body and
  Location //<leader hostname>:<port>/master/state from the others, 503 "No leader elected"
  while none is; /redirect likewise; on an agent /state;
- with --zk the master joins leader election in ZooKeeper as Mesos does (zk_double.py): an
  ephemeral sequential json.info_* node holding its MasterInfo JSON, lowest leads;
- with a zk:// --master the agent follows that election and registers with the leader by the
  libprocess messages Mesos uses (POST /master/mesos.internal.RegisterSlaveMessage with a
  Libprocess-From header, answered by a SlaveRegisteredMessage to the agent); the bodies are the
  doubles' own JSON, not Mesos' protobufs. This channel is private between the doubles;
- authentication as Mesos enforces it: --credentials (master), --credential and
  --http_credentials (agent), JSON only; agents and frameworks authenticate to the master
  (libprocess_double.py: a challenge and a keyed digest, never the secret) and are refused as
  --authenticate_agents / --authenticate_frameworks say; with --authenticate_http_readonly /
  --authenticate_http_readwrite the endpoints of each realm need HTTP Basic credentials (401 with
  WWW-Authenticate: Basic realm="mesos-master-readonly" ... otherwise); --zk=zk://user:pass@...
  authenticates to ZooKeeper with a digest and creates the nodes readable by anyone, writable by
  their creator only.

- maintenance on the master as Mesos' HTTP endpoints have it: /master/maintenance/schedule
  (validated), /master/machine/down (a DRAINING machine only; its agents are shut down and refused
  while it is DOWN), /master/machine/up, /master/maintenance/status; /master/slaves;
- agent recovery: a registered agent checkpoints its info under WORK_DIR/meta/slaves/<id> with
  `latest` linked to it (the file's content is the double's own JSON), and at the next start keeps
  its id when --reconfiguration_policy (equal, additive) permits the change, else exits 1 with
  Mesos' message; without `latest` it registers as a new agent.

A started daemon also writes a JSON record of what it was started with to
/run/mesos-double/<daemon>.json, for the tests only: no shipped code may read it.

No tasks; frameworks register but get no offers. Each role is a class (get_routes(), post_routes() and state() are the
places to extend). Python standard library only: it must run on Debian bookworm (3.11) and
trixie (3.13).
"""

import http.server
import ipaddress
import hmac
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
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

# The Mesos release whose interfaces the double reproduces.
VERSION = "1.11.0"
ENV_PREFIX = "MESOS_"
DEFAULT_RUN_DIR = "/run/mesos-double"
# Test-only override of DEFAULT_RUN_DIR, unset on nodes. Not MESOS_-prefixed on
# purpose: the record lists the MESOS_* environment the daemon saw.
RUN_DIR_ENV = "TEST_DOUBLE_RUN_DIR"
FLAG_TABLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flags")

import libprocess_double  # noqa: E402 (beside this file; the build copies it in)
import zk_double  # noqa: E402
from libprocess_double import post_message, send_message  # noqa: E402

log = logging.getLogger("mesos-double")

# (status, body, content type, extra headers)
Response = Tuple[int, bytes, str, Dict[str, str]]


class StartupError(Exception):
    """The daemon must not start: main() prints the message (and usage if asked) and exits 1."""

    def __init__(self, message: str, show_usage: bool = False):
        super().__init__(message)
        self.show_usage = show_usage


# ---------------------------------------------------------------------------
# Flag values. Each parser takes the text and returns the value, or raises ValueError with the
# reason stout would give; each formatter gives the text Mesos shows in /flags.

NANOS = {
    "ns": 1, "us": 10**3, "ms": 10**6, "secs": 10**9, "mins": 60 * 10**9,
    "hrs": 3600 * 10**9, "days": 86400 * 10**9, "weeks": 604800 * 10**9,
}
BYTES = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def parse_bool(text: str) -> bool:
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError("Expecting a boolean (e.g., true or false)")


def parse_integer(text: str, signed: bool, bits: Optional[int] = None) -> int:
    pattern = r"-?[0-9]+" if signed else r"[0-9]+"
    if not re.fullmatch(pattern, text.strip()):
        raise ValueError(f"Failed to convert '{text}' to number")
    value = int(text)
    if bits is not None and value >= 1 << bits:
        raise ValueError(f"Failed to convert '{text}' to number")
    return value


def parse_double(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"Failed to convert '{text}' to number") from None


def parse_duration(text: str) -> int:
    """Nanoseconds from Mesos' duration syntax: a number and a unit, e.g. 90secs, 5mins."""
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)([a-z]*)", text.strip())
    if not match:
        raise ValueError(f"Invalid duration '{text}'")
    number, unit = match.groups()
    if not unit:
        raise ValueError(f"Invalid duration '{text}'")
    if unit not in NANOS:
        raise ValueError(f"Unknown duration unit '{unit}'")
    return round(float(number) * NANOS[unit])


def format_duration(nanos: int) -> str:
    """stout's Duration output: the bucket's unit when it is a whole number, else one unit down."""
    units = list(NANOS.items())
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < NANOS["us"]:
        return f"{sign}{nanos}ns"
    for i in range(1, len(units)):
        unit, size = units[i]
        if i + 1 == len(units) or nanos < units[i + 1][1]:
            if nanos % size == 0:
                return f"{sign}{nanos // size}{unit}"
            lower, lower_size = units[i - 1]
            return f"{sign}{nanos / lower_size:.15g}{lower}"
    raise AssertionError("unreachable")


def parse_bytes(text: str) -> int:
    match = re.fullmatch(r"([0-9]+)([A-Za-z]*)", text.strip())
    if "." in text:
        raise ValueError(f"Fractional bytes '{text}'")
    if not match:
        raise ValueError(f"Invalid bytes '{text}'")
    number, unit = match.groups()
    if unit.upper() not in BYTES:
        raise ValueError(f"Unknown bytes unit '{unit}'")
    return int(number) * BYTES[unit.upper()]


def format_bytes(count: int) -> str:
    """stout's Bytes output: the largest unit that loses nothing."""
    if count == 0:
        return "0B"
    for unit in ("B", "KB", "MB", "GB"):
        if count % (BYTES[unit] << 10) != 0:
            return f"{count // BYTES[unit]}{unit}"
    return f"{count // BYTES['TB']}TB"


def parse_json(text: str) -> dict:
    # stout still reads an absolute path given without file:// (with a warning).
    if text.startswith("/"):
        log.warning("Specifying an absolute filename to read a command line option out of "
                    "without using 'file:// is deprecated")
        text = read_file(text)
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ValueError(f"Failed to parse JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError("Failed to parse JSON: not a JSON object")
    return value


def parse_uint_list(text: str) -> List[int]:
    return [parse_integer(item.strip(), signed=False) for item in text.split(",") if item.strip()]


def read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise ValueError(f"Error reading file '{path}': {error.strerror}") from None


# kind -> (parse text into a value, the value as /flags shows it)
KINDS: Dict[str, Tuple[Callable[[str], object], Callable[[object], str]]] = {
    "string": (str, str),
    "bool": (parse_bool, lambda v: "true" if v else "false"),
    "int": (lambda t: parse_integer(t, signed=True), str),
    "uint": (lambda t: parse_integer(t, signed=False), str),
    "uint16": (lambda t: parse_integer(t, signed=False, bits=16), str),
    "double": (parse_double, lambda v: f"{v:g}"),
    "duration": (parse_duration, format_duration),
    "bytes": (parse_bytes, format_bytes),
    "json": (parse_json, lambda v: json.dumps(v, separators=(",", ":"))),
    "path": (lambda t: t[len("file://"):] if t.startswith("file://") else t, str),
    # --zk and --master: the URL, or file:///path holding it; shown as given.
    "secure": (str, str),
    "set": (lambda t: sorted({s for s in t.split(",") if s}), ",".join),
    "uintlist": (parse_uint_list, lambda v: ",".join(map(str, v))),
}
# A file:// value of any other kind is replaced by the file's content before parsing.
NOT_FETCHED = ("path", "secure")


@dataclass(frozen=True)
class Flag:
    kind: str  # a key of KINDS
    default: Optional[str] = None  # as Mesos shows it in /flags
    required: bool = False  # stout's "is required, but it was not provided"
    aliases: Tuple[str, ...] = ()


@dataclass
class FlagTable:
    flags: Dict[str, Flag] = field(default_factory=dict)
    aliases: Dict[str, str] = field(default_factory=dict)  # alias -> name

    def canonical(self, name: str) -> Optional[str]:
        if name in self.flags:
            return name
        return self.aliases.get(name)


def computed_default(token: str) -> Optional[str]:
    """Defaults Mesos computes at start (the tables mark them with @)."""
    root = os.geteuid() == 0
    return {
        "@launcher": "linux" if root else "posix",
        "@runtime_dir": "/var/run/mesos" if root else os.path.join(
            tempfile.gettempdir(), "mesos", "runtime"),
    }[token]


def load_table(file_name: str) -> FlagTable:
    """A flag table (name, type, default, alias; `-` for none) from flags/."""
    table = FlagTable()
    with open(os.path.join(FLAG_TABLES, file_name), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            name, kind, default, alias = line.rstrip("\n").split("\t")
            if kind not in KINDS:
                raise AssertionError(f"{file_name}: unknown type {kind} of {name}")
            required = default == "@required"
            if default == "-" or required:
                default = None
            elif default.startswith("@"):
                default = computed_default(default)
            aliases = () if alias == "-" else (alias,)
            table.flags[name] = Flag(kind, default, required, aliases)
            for other in aliases:
                table.aliases[other] = name
    return table


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
        given.append((name, value if equals else None, "argv"))
    return given


def environment_flags(environ: Dict[str, str], table: FlagTable) -> List[Given]:
    """MESOS_<NAME> variables naming a known flag or alias (stout ignores the others)."""
    given = []
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):].lower()
        flag_name = name[3:] if name.startswith("no-") else name
        if table.canonical(flag_name):
            given.append((name, value, "env"))
    return given


class Flags:
    """The loaded flags of one daemon: typed values, their text, and where each came from."""

    def __init__(self, table: FlagTable, args: List[str], environ: Dict[str, str]):
        self.table = table
        self.values: Dict[str, object] = {}
        self.texts: Dict[str, str] = {}
        self.loaded_as: Dict[str, str] = {}  # flag -> the name (or alias) it was loaded by
        self.sources: Dict[str, str] = {}
        given = command_line_flags(args)
        on_command_line = {name for name, _, _ in given}
        given += [g for g in environment_flags(environ, table) if g[0] not in on_command_line]
        # The first error, as stout's load() returns it; main() still honours a --help loaded
        # before it, as Mesos checks --help before the outcome of load().
        self.error: Optional[StartupError] = None
        try:
            # stout walks its values in name order (a std::multimap): errors come in that order.
            for name, value, source in sorted(given, key=lambda g: g[0]):
                self._load(name, value, source)
            for flag_name, flag in sorted(table.flags.items()):
                if flag.required and flag_name not in self.values:
                    raise StartupError(
                        f"Flag '{flag_name}' is required, but it was not provided",
                        show_usage=True)
        except StartupError as error:
            self.error = error

    def _load(self, name: str, value: Optional[str], source: str) -> None:
        negated = name.startswith("no-")
        given_name = name[3:] if negated else name
        flag_name = self.table.canonical(given_name)
        if flag_name is None:
            via = f" via '{name}'" if negated else ""
            raise StartupError(f"Failed to load unknown flag '{given_name}'{via}", show_usage=True)
        flag = self.table.flags[flag_name]
        if flag_name in self.values:
            raise StartupError(
                f"Flag '{given_name}' is already loaded via name '{self.loaded_as[flag_name]}'",
                show_usage=True)
        if flag.kind != "bool":
            if negated:
                raise StartupError(
                    f"Failed to load non-boolean flag '{given_name}' via '{name}'", show_usage=True)
            if value is None:
                raise StartupError(
                    f"Failed to load non-boolean flag '{given_name}': Missing value",
                    show_usage=True)
            text = value
        elif not value:
            text = "false" if negated else "true"
        elif negated:
            raise StartupError(
                f"Failed to load boolean flag '{given_name}' via '{name}' with value '{value}'",
                show_usage=True)
        else:
            text = value
        parse, show = KINDS[flag.kind]
        try:
            content = text
            if flag.kind not in NOT_FETCHED and text.startswith("file://"):
                content = read_file(text[len("file://"):])
            parsed = parse(content)
        except ValueError as error:
            raise StartupError(
                f"Failed to load flag '{given_name}': Failed to load value '{text}': {error}",
                show_usage=True) from None
        if given_name != flag_name:
            log.warning("Loaded deprecated flag '%s'", given_name)
        self.values[flag_name] = parsed
        self.texts[flag_name] = show(parsed)
        self.loaded_as[flag_name] = given_name
        self.sources[flag_name] = source

    def get(self, name: str):
        """The flag's value, its default if it has one, else None."""
        if name in self.values:
            return self.values[name]
        flag = self.table.flags[name]
        return None if flag.default is None else KINDS[flag.kind][0](flag.default)

    def given(self, name: str) -> bool:
        return name in self.values

    def effective(self) -> Dict[str, str]:
        """Every flag that has a value or a default, as text, by the name it was loaded with:
        Mesos' /flags (stout's effective_name)."""
        result = {name: flag.default for name, flag in self.table.flags.items()
                  if flag.default is not None and name not in self.values}
        result.update({self.loaded_as[name]: text for name, text in self.texts.items()})
        return dict(sorted(result.items()))


# ---------------------------------------------------------------------------
# Checks of values that Mesos makes after loading flags.

ZK_HOST = r"[A-Za-z0-9.\-]+:[0-9]{1,5}"
ZK_URL = re.compile(rf"zk://(?:[^@/]+@)?{ZK_HOST}(?:,{ZK_HOST})*/[^/].*")


def zk_url(url: str, flag_name: str) -> str:
    """The checked zk://[user:pass@]host:port[,host:port...]/path, read from a file:///path."""
    if url.startswith("file://"):
        try:
            with open(url[len("file://"):], encoding="utf-8") as handle:
                url = handle.read().strip()
        except OSError as error:
            raise StartupError(f"Failed to read --{flag_name} from '{url}': {error}") from None
    shown = zk_double.redacted(url)  # no password in a message
    if not url.startswith("zk://"):
        raise StartupError(
            f"Error parsing --{flag_name} '{shown}': Expecting 'zk://' at the beginning of the URL")
    if not ZK_URL.fullmatch(url):
        raise StartupError(
            f"Error parsing --{flag_name} '{shown}': expected "
            "zk://host:port[,host:port...]/path")
    return url


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


def check_ipv4(text: str, flag_name: str) -> None:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        raise StartupError(f"Failed to parse --{flag_name} '{text}' as an IPv4 address") from None


# ---------------------------------------------------------------------------
# libprocess: process ids (UPIDs) and the messages the doubles send each other.

def read_credentials(path: str, flag_name: str, single: bool):
    """Mesos' credentials::read (`--credentials`, `--http_credentials`: principal -> secret) and
    readCredential (`--credential`: one principal and secret): JSON only since Mesos 1.11. None
    for an empty file; StartupError with Mesos' messages for anything wrong."""
    what = "credential" if single else "credentials"
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        mode = os.stat(path).st_mode
    except OSError as error:
        raise StartupError(f"Failed to read {what} file '{path}': {error.strerror} "
                           f"(see --{flag_name} flag)") from None
    if not text:
        return None
    if mode & 0o007:
        log.warning("Permissions on %s file '%s' are too open; it is recommended that your "
                    "%s file is NOT accessible by others", what, path, what)
    try:
        document = json.loads(text)
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
    except ValueError as error:
        raise StartupError(f"Invalid json format: {error} (see --{flag_name} flag)") from None
    try:
        if single:
            return libprocess_double.load_credential(document, what)
        return libprocess_double.load_credentials(document, what)
    except ValueError as error:
        raise StartupError(f"{error} (see --{flag_name} flag)") from None


def json_response(document, status: int = 200) -> Response:
    return status, json.dumps(document, indent=2).encode() + b"\n", "application/json", {}


def empty(status: int) -> Response:
    return status, b"", "text/plain", {}


def method_not_allowed(allowed: Tuple[str, ...], method: str) -> Response:
    """libprocess' MethodNotAllowed."""
    methods = "', '".join(allowed)
    body = f"405 Method Not Allowed. Expecting one of {{ '{methods}' }}, but received '{method}'."
    return 405, body.encode(), "text/plain", {"Allow": ", ".join(allowed)}


# ---------------------------------------------------------------------------
# Maintenance: MachineIDs ({hostname, ip}) as Mesos compares and shows them.

def machine_id(hostname: str, ip: str) -> dict:
    """The MachineID of an agent: its hostname and the IP of its pid."""
    return {"hostname": hostname, "ip": ip}


def machine_key(machine: dict) -> Tuple[str, str]:
    """Mesos compares MachineIDs by hostname without case, and by IP exactly."""
    return (machine.get("hostname", "").lower(), machine.get("ip", ""))


def machine_text(machine: dict) -> str:
    """stringify(JSON::protobuf(id)): the set fields in the proto's order."""
    shown = {k: machine[k] for k in ("hostname", "ip") if k in machine}
    return json.dumps(shown, separators=(",", ":"))


def check_machine_fields(machine) -> None:
    if not isinstance(machine, dict):
        raise ValueError("Expecting a JSON object for a MachineID")
    for name, value in machine.items():
        if name not in ("hostname", "ip"):
            raise ValueError(f"Unknown field '{name}' of a MachineID")
        if not isinstance(value, str):
            raise ValueError(f"Not expecting a JSON {type(value).__name__} for field '{name}'")


def invalid_machine(machine: dict) -> Optional[str]:
    """maintenance::validation::machine."""
    if not machine.get("hostname") and not machine.get("ip"):
        return "Both 'hostname' and 'ip' for a machine are empty"
    if machine.get("ip"):
        try:
            ipaddress.IPv4Address(machine["ip"])
        except ValueError:
            return f"Failed to parse IP address '{machine['ip']}'"
    return None


# ---------------------------------------------------------------------------
# Agent recovery: is this start's SlaveInfo compatible with the checkpointed one? (Mesos'
# src/slave/compatibility.cpp: `equal` and `additive`.)

def typed_value(text: str, kind: str):
    """(type, value) of an attribute or resource value: SCALAR, RANGES, SET (resources) or TEXT
    (attributes), as Mesos parses them."""
    text = text.strip()
    if text.startswith("["):
        ranges = []
        for item in text.strip("[]").split(","):
            low, _, high = item.partition("-")
            ranges.append((int(low), int(high or low)))
        return "RANGES", sorted(ranges)
    if kind == "resource" and text.startswith("{"):
        return "SET", sorted({item.strip() for item in text.strip("{}").split(",") if item.strip()})
    try:
        return "SCALAR", float(text)
    except ValueError:
        return "TEXT", text


def ranges_included(inner, outer) -> bool:
    merged = []
    for low, high in sorted(outer):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return all(any(a <= low and high <= b for a, b in merged) for low, high in inner)


def show_value(kind: str, value) -> str:
    if kind == "SCALAR":
        return f"{value:g}"
    if kind == "RANGES":
        return "[" + ", ".join(f"{low}-{high}" for low, high in value) + "]"
    if kind == "SET":
        return "{" + ", ".join(value) + "}"
    return value


def compatibility(policy: str, previous: dict, current: dict) -> Optional[str]:
    """None when the agent may recover with `current` under `policy`, else Mesos' error."""
    previous = {k: v for k, v in previous.items() if k != "id"}
    if policy == "equal":
        if previous == current:
            return None
        rule = "\n------------------------------------------------------------"
        return "\n".join([
            "Incompatible agent info detected. ", rule,
            "Old agent info:\n" + json.dumps(previous, sort_keys=True), rule,
            "New agent info:\n" + json.dumps(current, sort_keys=True), rule])
    prefix = "Configuration change not permitted under 'additive' policy"
    if previous["hostname"] != current["hostname"]:
        return ("Configuration change not permitted under `additive` policy: Hostname changed "
                f"from {previous['hostname']} to {current['hostname']}")
    if previous["port"] != current["port"]:
        return ("Configuration change not permitted under `additive` policy: Port changed from "
                f"{previous['port']} to {current['port']}")
    resources = {}
    for name, text in current["resources"]:
        kind, value = typed_value(text, "resource")
        if kind == "SCALAR" and name in resources:
            value += resources[name][1]  # 'cpus:5;cpus:5' is cpus:10
        resources[name] = (kind, value)
    for name, text in previous["resources"]:
        kind, value = typed_value(text, "resource")
        match = resources.get(name)
        if match is None or match[0] != kind:
            return f"{prefix}. Resource not found: {name}:{show_value(kind, value)}"
        if kind == "SCALAR" and not value <= match[1]:
            return (f"{prefix}: Value of scalar resource '{name}' decreased from "
                    f"{show_value(kind, value)} to {show_value(kind, match[1])}")
        if kind == "RANGES" and not ranges_included(value, match[1]):
            return (f"{prefix}: Previous value of range resource '{name}' "
                    f"({show_value(kind, value)}) not included in current "
                    f"{show_value(kind, match[1])}")
        if kind == "SET" and not set(value) <= set(match[1]):
            return (f"{prefix}: Previous value of set resource '{name}' "
                    f"({show_value(kind, value)}) not included in current "
                    f"{show_value(kind, match[1])}")
    attributes = {name: typed_value(text, "attribute") for name, text in current["attributes"]}
    for name, text in previous["attributes"]:
        kind, value = typed_value(text, "attribute")
        match = attributes.get(name)
        if match is None:
            return f"{prefix}: Couldn't find attribute {name}:{show_value(kind, value)}"
        if match[0] != kind:
            return f"{prefix}: Type of attribute '{name}' changed from {kind} to {match[0]}"
        if kind == "RANGES":
            if not ranges_included(value, match[1]):
                return (f"Previous value of ranges resource '{name}' ({show_value(kind, value)}) "
                        f"not included in current {show_value(kind, match[1])}")
        elif value != match[1]:
            what = "scalar" if kind == "SCALAR" else "text"
            return (f"{prefix}: Value of {what} attribute '{name}' changed from "
                    f"{show_value(kind, value)} to {show_value(kind, match[1])}")
    return None


# ---------------------------------------------------------------------------
# The daemons.

class MesosDaemon:
    """What a Mesos master and agent share: flags, checks, record and HTTP API."""

    program = ""  # "mesos-master" or "mesos-slave"
    table_file = ""
    upid_name = ""  # the libprocess id in the UPID: "master" or "slave(1)"
    metrics_prefix = ""
    realm_prefix = ""  # "mesos-master" or "mesos-agent": realms <prefix>-readonly, -readwrite
    http_credentials_flag = ""  # the flag whose credentials HTTP Basic is checked against

    def __init__(self, argv: List[str], environ: Dict[str, str]):
        self.argv = list(argv)
        self.environ = {k: v for k, v in sorted(environ.items()) if k.startswith(ENV_PREFIX)}
        self.flags = Flags(self.table(), argv[1:], environ)
        self.start_time = time.time()
        self.address: Optional[str] = None  # the advertised IP, once resolved
        self.name: Optional[str] = None  # the advertised hostname, likewise
        self.http_credentials: Optional[Dict[str, bytes]] = None  # principal -> secret

    @classmethod
    def table(cls) -> FlagTable:
        return load_table(cls.table_file)

    # -- checks ------------------------------------------------------------

    def validate(self) -> None:
        """Checks Mesos makes before starting; raise StartupError. Extended per role."""
        level = self.flags.get("logging_level")
        if level not in ("INFO", "WARNING", "ERROR"):
            raise StartupError(f"'{level}' is not a valid logging level: use INFO, WARNING or ERROR")
        for name in ("ip", "advertise_ip"):
            if self.flags.given(name):
                check_ipv4(self.flags.get(name), name)
        if self.flags.given("advertise_port"):
            try:
                parse_integer(self.flags.get("advertise_port"), signed=False, bits=16)
            except ValueError as error:
                raise StartupError(f"Invalid --advertise_port: {error}") from None
        work_dir = self.flags.get("work_dir")
        if work_dir:
            try:
                os.makedirs(work_dir, exist_ok=True)
            except OSError as error:
                raise StartupError(f"Failed to create work directory '{work_dir}': {error}") from None
        self.validate_http_authentication()

    def validate_http_authentication(self) -> None:
        """Loads the HTTP credentials; a realm that must authenticate needs them (Mesos'
        initializeHttpAuthenticators), and only the built-in 'basic' authenticator exists here."""
        path = self.flags.get(self.http_credentials_flag)
        if path is not None:
            self.http_credentials = read_credentials(path, self.http_credentials_flag, single=False)
            if self.http_credentials is None:
                raise StartupError("Credentials file must contain at least one credential "
                                   f"(see --{self.http_credentials_flag} flag)")
        for kind in ("readonly", "readwrite"):
            if not self.flags.get(f"authenticate_http_{kind}"):
                continue
            realm = f"{self.realm_prefix}-{kind}"
            for name in (self.flags.get("http_authenticators") or "basic").split(","):
                if name != "basic":
                    raise StartupError(f"HTTP authenticator '{name}' not found. Check the spelling "
                                       "(compare to 'basic') or verify that the authenticator was "
                                       "loaded successfully (see --modules)")
            if self.http_credentials is None:
                raise StartupError("No credentials provided for the default 'basic' HTTP "
                                   f"authenticator for realm '{realm}'")
            log.info("Creating default 'basic' HTTP authenticator for realm '%s'", realm)

    # -- addresses ---------------------------------------------------------

    def bind_ip(self) -> str:
        return self.flags.get("ip") or "0.0.0.0"

    def port(self) -> int:
        return self.flags.get("port")

    def resolve_address(self) -> None:
        """The IP this daemon advertises: --advertise_ip, else --ip, else what the host's own name
        resolves to. As libprocess, exit when that name does not resolve."""
        for name in ("advertise_ip", "ip"):
            if self.flags.given(name) and self.address is None:
                self.address = self.flags.get(name)
        if self.address is None:
            hostname = socket.gethostname()
            try:
                infos = socket.getaddrinfo(hostname, None, socket.AF_INET)
            except socket.gaierror as error:
                raise StartupError(
                    f"Failed to obtain the IP address for '{hostname}'; the DNS service may not "
                    f"be able to resolve it: {error.strerror}") from None
            self.address = infos[0][4][0]
        self.name = self.lookup_hostname()

    def advertised_port(self) -> int:
        port = self.flags.get("advertise_port")
        return int(port) if port else self.port()

    def upid(self) -> str:
        return f"{self.upid_name}@{self.address}:{self.advertised_port()}"

    def hostname(self) -> str:
        return self.name

    def lookup_hostname(self) -> str:
        """--hostname, else the name the advertised IP resolves back to, else the IP (Mesos)."""
        if self.flags.given("hostname"):
            return self.flags.get("hostname")
        if self.flags.get("hostname_lookup"):
            try:
                return socket.gethostbyaddr(self.address)[0]
            except OSError:
                pass
        return self.address

    # -- HTTP ----------------------------------------------------------------

    def build(self) -> dict:
        """The build fields of /version and /state."""
        return {"version": VERSION, "git_tag": VERSION, "build_date": "2020-11-24 00:00:00",
                "build_time": 1606176000.0, "build_user": "mesos-roles test double"}

    def state(self) -> dict:
        return {
            **self.build(),
            "start_time": self.start_time,
            "id": self.id_for_state(),
            "pid": self.upid(),
            "hostname": self.hostname(),
            "flags": self.flags.effective(),
        }

    def id_for_state(self) -> str:
        return ""

    def metrics(self) -> dict:
        return {f"{self.metrics_prefix}/uptime_secs": time.time() - self.start_time}

    def get_routes(self) -> Dict[str, Callable[[str], Response]]:
        """GET path -> handler of the path. `/<upid name>/x` and the delegated `/x` are both
        routes, as libprocess routes them."""
        flags = lambda path: json_response({"flags": self.flags.effective()})  # noqa: E731
        routes = {
            "health": lambda path: empty(200),
            "flags": flags,
        }
        return {
            **{f"/{name}": handler for name, handler in routes.items()},
            **{f"/{self.upid_name}/{name}": handler for name, handler in routes.items()},
            "/version": lambda path: json_response(self.build()),
            "/metrics/snapshot": lambda path: json_response(self.metrics()),
        }

    def post_routes(self) -> Dict[str, libprocess_double.MessageHandler]:
        """POST path -> handler of (Libprocess-From, body): libprocess messages only."""
        return {}

    def write_routes(self) -> Dict[str, Callable[[str, str, bytes, Dict[str, str]], Response]]:
        """Path -> handler of (method, path, body, headers): the HTTP endpoints of the readwrite
        realm. Every GET route but /health, /version and /redirect is in the readonly realm."""
        api = lambda method, path, body, headers: self.api_v1(method, body, headers)  # noqa: E731
        return {"/api/v1": api, f"/{self.upid_name}/api/v1": api}

    def realm(self, path: str) -> Optional[str]:
        """"readonly", "readwrite" or None (no authentication ever) for a served path."""
        if path in self.write_routes():
            return "readwrite"
        if path in ("/health", f"/{self.upid_name}/health", "/version", "/redirect",
                    f"/{self.upid_name}/redirect"):
            return None
        return "readonly"

    def authenticate_http(self, path: str, authorization: Optional[str]) -> Optional[Response]:
        """None when the request may go on, else libprocess' 401 for the path's realm."""
        kind = self.realm(path)
        if kind is None or not self.flags.get(f"authenticate_http_{kind}"):
            return None
        given = libprocess_double.basic_credentials(authorization)
        if given is not None:
            secret = (self.http_credentials or {}).get(given[0])
            if secret is not None and hmac.compare_digest(secret, given[1].encode()):
                return None
        realm = f"{self.realm_prefix}-{kind}"
        return 401, b"", "text/plain", {"WWW-Authenticate": f'Basic realm="{realm}"'}

    def api_v1(self, method: str, body: bytes, headers: Dict[str, str]) -> Response:
        """The v1 operator API (JSON only): the calls every daemon answers alike."""
        if method != "POST":
            return 405, f"Expecting 'POST', received '{method}'".encode(), "text/plain", {
                "Allow": "POST"}
        content_type = headers.get("Content-Type")
        if content_type is None:
            return 400, b"Expecting 'Content-Type' to be present", "text/plain", {}
        if content_type.split(";")[0].strip() != "application/json":
            return 415, b"Expecting 'Content-Type' of application/json", "text/plain", {}
        try:
            call = json.loads(body)
            kind = call["type"]
        except (ValueError, KeyError, TypeError):
            return 400, b"Failed to parse body into Call: expecting a JSON object with 'type'", \
                "text/plain", {}
        answers = {
            "GET_HEALTH": lambda: {"healthy": True},
            "GET_VERSION": lambda: {"version_info": self.build()},
            "GET_FLAGS": lambda: {"flags": [{"name": n, "value": v}
                                            for n, v in self.flags.effective().items()]},
        }
        if kind not in answers:
            return 501, f"{kind}: not served by the test double".encode(), "text/plain", {}
        return json_response({"type": kind, kind.lower(): answers[kind]()})

    def start(self) -> None:
        """What runs beside the HTTP server once it is bound (ZooKeeper)."""

    def record(self) -> dict:
        """The private record for the tests."""
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


class MesosMaster(MesosDaemon):
    program = "mesos-master"
    table_file = "mesos-master.tsv"
    upid_name = "master"
    metrics_prefix = "master"
    realm_prefix = "mesos-master"
    http_credentials_flag = "credentials"
    # An agent or framework not heard from for this long is no longer counted as active.
    agent_timeout = 15.0

    def __init__(self, argv: List[str], environ: Dict[str, str]):
        super().__init__(argv, environ)
        self.id = str(uuid.uuid4())
        self.election = None
        self.elected_time: Optional[float] = None
        self.agents: Dict[str, dict] = {}
        self.agents_lock = threading.Lock()
        self.frameworks: Dict[str, dict] = {}  # id -> FrameworkInfo and the master's view
        self.framework_count = 0
        self.maintenance_schedule: dict = {}
        # Mesos' `machines`: machine key -> {id (MachineID), mode, unavailability, agents}.
        self.machines: Dict[Tuple[str, str], dict] = {}
        # Agents and frameworks authenticate with the --credentials (also the HTTP ones).
        self.authenticator = libprocess_double.Authenticator(self.upid, None)

    def id_for_state(self) -> str:
        return self.id

    def info(self) -> dict:
        """MasterInfo as Mesos writes it into its json.info_* node."""
        return {
            "id": self.id,
            "pid": self.upid(),
            "hostname": self.hostname(),
            "port": self.advertised_port(),
            "version": VERSION,
            "address": {"ip": self.address, "port": self.advertised_port(),
                        "hostname": self.hostname()},
        }

    def start(self) -> None:
        self.authenticator.credentials = self.http_credentials  # --credentials
        if self.http_credentials is None:
            log.warning("No credentials provided, authentication requests will be refused")
        for what, flag_name in (("agents", "authenticate_agents"),
                                ("frameworks", "authenticate_frameworks")):
            if self.flags.get(flag_name):
                log.info("Master only allowing authenticated %s to register", what)
            else:
                log.info("Master allowing unauthenticated %s to register", what)
        zk = self.flags.get("zk")
        if zk:
            url = zk_url(zk, "zk")
            timeout_ms = self.flags.get("zk_session_timeout") // 10**6
            # With credentials, Mesos' EVERYONE_READ_CREATOR_ALL; without, open to anyone.
            acl = zk_double.EVERYONE_READ_CREATOR_ALL if zk_double.parse_url(url)[2] else None
            self.election = zk_double.Election(
                url, "json.info_", json.dumps(self.info(), sort_keys=True).encode(), timeout_ms,
                self.leadership_changed, acl=acl, on_fatal=self.failed_to_contend)
            self.election.start()
        else:
            self.elected_time = time.time()  # a master without ZooKeeper leads alone

    def failed_to_contend(self, error: Exception) -> None:
        """Mesos' Master::contended: a candidacy ZooKeeper refuses ends the master."""
        log.error("Failed to contend: %s", error)
        logging.shutdown()
        os._exit(1)

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
                self.frameworks.clear()

    def leader_info(self) -> Optional[dict]:
        if self.election is None:
            return self.info()
        leader = self.election.leader
        return json.loads(leader) if leader else None

    def active_agents(self) -> List[dict]:
        now = time.time()
        with self.agents_lock:
            return [a for a in self.agents.values() if now - a["last_seen"] < self.agent_timeout]

    def active_frameworks(self) -> List[dict]:
        now = time.time()
        with self.agents_lock:
            return [f for f in self.frameworks.values()
                    if now - f["last_seen"] < self.agent_timeout]

    def register_agent(self, sender: str, body: bytes, again: bool) -> None:
        """RegisterSlaveMessage / ReregisterSlaveMessage: a leader records the agent and answers
        with a message to it; any other master drops the message (libprocess still says 202).
        With --authenticate_agents an agent that did not authenticate is ignored."""
        if self.elected_time is None:
            log.info("Dropping registration of %s: not the leading master", sender)
            return
        if self.flags.get("authenticate_agents") and self.authenticator.principal(sender) is None:
            log.warning("Refusing registration of agent at %s because it is not authenticated",
                        sender)
            return
        agent = json.loads(body)
        machine = machine_id(agent["hostname"], libprocess_double.parse_upid(sender)[1])
        key = machine_key(machine)
        if self.machines.get(key, {}).get("mode") == "DOWN":
            what = "re-registration" if again else "registration"
            log.warning("Refusing %s of agent at %s because the machine '%s' that it is running "
                        "on is `DOWN`", what, sender, machine_text(machine))
            post_message(sender, self.upid(), "ShutdownMessage", {"message": "Machine is `DOWN`"})
            return
        now = time.time()
        with self.agents_lock:
            entry = self.machines.setdefault(key, {"id": machine, "mode": "UP"})
            entry.setdefault("agents", set()).add(agent["id"])
            known = self.agents.get(agent["id"])
            if known is None:
                log.info("Registered agent %s at %s", agent["id"], sender)
            agent.update(pid=sender, active=True, last_seen=now,
                         registered_time=known["registered_time"] if known else now)
            self.agents[agent["id"]] = agent
        reply = "SlaveReregisteredMessage" if again else "SlaveRegisteredMessage"
        post_message(sender, self.upid(), reply, {"slave_id": agent["id"]})

    def register_framework(self, sender: str, body: bytes, again: bool) -> None:
        """RegisterFrameworkMessage / ReregisterFrameworkMessage ({framework: FrameworkInfo}):
        Mesos' validateFrameworkAuthentication, then the framework is recorded with an ID (its own
        when it re-registers) and told so; refused, it gets a FrameworkErrorMessage."""
        if self.elected_time is None:
            log.info("Dropping registration of framework at %s: not the leading master", sender)
            return
        framework = json.loads(body)["framework"]
        authenticated = self.authenticator.principal(sender)
        error = None
        if self.flags.get("authenticate_frameworks") and authenticated is None:
            error = f"Framework at {sender} is not authenticated"
        elif framework.get("principal") and authenticated is not None \
                and framework["principal"] != authenticated:
            error = (f"Framework principal '{framework['principal']}' does not match "
                     f"authenticated principal '{authenticated}'")
        if error is not None:
            log.info("Refusing registration of framework '%s' at %s: %s",
                     framework.get("name"), sender, error)
            post_message(sender, self.upid(), "FrameworkErrorMessage", {"message": error})
            return
        now = time.time()
        with self.agents_lock:
            framework_id = framework.get("id") if again else None
            if not framework_id:
                framework_id = f"{self.id}-{self.framework_count:04d}"
                self.framework_count += 1
            known = self.frameworks.get(framework_id)
            if known is None:
                log.info("Registered framework %s (%s) at %s", framework_id,
                         framework.get("name"), sender)
            self.frameworks[framework_id] = {
                **{k: v for k, v in framework.items() if k != "id"}, "id": framework_id,
                "pid": sender, "active": True, "connected": True, "last_seen": now,
                "registered_time": known["registered_time"] if known else now}
        reply = "FrameworkReregisteredMessage" if again else "FrameworkRegisteredMessage"
        post_message(sender, self.upid(), reply,
                     {"framework_id": framework_id, "master_info": self.info()})

    def teardown(self, method: str, path: str, body: bytes, headers: Dict[str, str]) -> Response:
        """POST /master/teardown (frameworkId=<id> in the body): the framework is removed and
        told so, as Mesos' Master::Http::teardown."""
        if self.elected_time is None:
            return self.redirect(path)
        if method != "POST":
            return 405, f"Expecting 'POST', received '{method}'".encode(), "text/plain", {
                "Allow": "POST"}
        values = urllib.parse.parse_qs(body.decode(errors="replace"))
        if "frameworkId" not in values:
            return 400, b"Missing 'frameworkId' query parameter in the request body", \
                "text/plain", {}
        with self.agents_lock:
            framework = self.frameworks.pop(values["frameworkId"][0], None)
        if framework is None:
            return 400, b"No framework found with specified ID", "text/plain", {}
        log.info("Removed framework %s", framework["id"])
        post_message(framework["pid"], self.upid(), "FrameworkErrorMessage",
                     {"message": "Framework has been removed"})
        return empty(200)

    # -- maintenance (Mesos' src/master/http.cpp and maintenance.cpp) -------------------------

    def maintenance_schedule_endpoint(self, method: str, path: str, body: bytes,
                                      headers: Dict[str, str]) -> Response:
        """GET the maintenance schedule, or POST a new one that replaces it: validated as Mesos'
        maintenance::validation::schedule; machines newly in it go DRAINING, machines no longer
        in it UP again; a DOWN machine cannot be left out."""
        if self.elected_time is None:
            return self.redirect(path)
        if method not in ("GET", "POST"):
            return method_not_allowed(("GET", "POST"), method)
        if method == "GET":
            return json_response(self.maintenance_schedule)
        try:
            schedule = json.loads(body)
            if not isinstance(schedule, dict):
                raise ValueError("Expecting a JSON object")
            windows = schedule.get("windows", [])
            if not isinstance(windows, list):
                raise ValueError("Not expecting a JSON array for field 'windows'")
            for index, window in enumerate(windows):
                if not isinstance(window, dict):
                    raise ValueError("Expecting a JSON object for field 'windows'")
                if "unavailability" not in window:
                    raise ValueError(
                        f"Missing required fields: windows[{index}].unavailability")
                start = window["unavailability"].get("start")
                if not isinstance(start, dict) or not isinstance(start.get("nanoseconds"), int):
                    raise ValueError(
                        f"Missing required fields: windows[{index}].unavailability.start")
                window.setdefault("machine_ids", [])
                for machine in window["machine_ids"]:
                    check_machine_fields(machine)
        except ValueError as error:
            return 400, str(error).encode(), "text/plain", {}
        error = self.invalid_schedule(windows)
        if error is not None:
            return 400, error.encode(), "text/plain", {}
        unavailabilities = {machine_key(m): w["unavailability"]
                            for w in windows for m in w["machine_ids"]}
        with self.agents_lock:
            for key, machine in self.machines.items():
                if key in unavailabilities:
                    if machine["mode"] != "UP":
                        machine["unavailability"] = unavailabilities[key]
                    continue
                machine["mode"] = "UP"
                machine.pop("unavailability", None)
            for window in windows:
                for machine in window["machine_ids"]:
                    entry = self.machines.setdefault(machine_key(machine), {"id": machine,
                                                                            "mode": "UP"})
                    # A known machine keeps the MachineID it is known by (Mesos' map key).
                    if entry["mode"] == "UP":
                        entry.update(mode="DRAINING", unavailability=window["unavailability"])
        self.maintenance_schedule = {"windows": windows} if windows else {}
        return empty(200)

    def invalid_schedule(self, windows: List[dict]) -> Optional[str]:
        seen = set()
        for window in windows:
            if not window["machine_ids"]:
                return "List of machines in the maintenance window is empty"
            duration = window["unavailability"].get("duration", {}).get("nanoseconds", 0)
            if duration < 0:
                return "Unavailability 'duration' is negative"
            for machine in window["machine_ids"]:
                error = invalid_machine(machine)
                if error is not None:
                    return error
                if machine_key(machine) in seen:
                    return f"Machine '{machine_text(machine)}' appears more than once in the schedule"
                seen.add(machine_key(machine))
        for key, machine in self.machines.items():
            if machine["mode"] == "DOWN" and key not in seen:
                return (f"Machine '{machine_text(machine['id'])}' is deactivated and cannot be "
                        "removed from the schedule")
        return None

    def machine_ids(self, body: bytes):
        """The MachineIDs of /machine/down and /machine/up (a JSON array), or the 400."""
        try:
            machines = json.loads(body)
            if not isinstance(machines, list):
                raise ValueError("Expecting a JSON array")
            for machine in machines:
                check_machine_fields(machine)
        except ValueError as error:
            return None, (400, str(error).encode(), "text/plain", {})
        error = None
        if not machines:
            error = "List of machines is empty"
        seen = set()
        for machine in machines:
            error = error or invalid_machine(machine)
            if error is None and machine_key(machine) in seen:
                error = f"Machine '{machine_text(machine)}' appears more than once in the schedule"
            seen.add(machine_key(machine))
        if error is not None:
            return None, (400, error.encode(), "text/plain", {})
        return machines, None

    def machines_in_mode(self, method: str, path: str, body: bytes, mode: str,
                         direction: str):
        """The machines of a POST to /master/machine/{down,up}, each known and in `mode`; or the
        answer Mesos gives instead (a redirect when not leading, 405, 400)."""
        if self.elected_time is None:
            return None, self.redirect(path)
        if method != "POST":
            return None, method_not_allowed(("POST",), method)
        machines, refused = self.machine_ids(body)
        if refused is not None:
            return None, refused
        for machine in machines:
            known = self.machines.get(machine_key(machine))
            if known is None:
                return None, (400, (f"Machine '{machine_text(machine)}' is not part of a "
                                    "maintenance schedule").encode(), "text/plain", {})
            if known["mode"] != mode:
                return None, (400, (f"Machine '{machine_text(machine)}' is not in {mode} mode "
                                    f"and cannot be brought {direction}").encode(),
                              "text/plain", {})
        return machines, None

    def machine_down(self, method: str, path: str, body: bytes,
                     headers: Dict[str, str]) -> Response:
        """POST /master/machine/down: DRAINING machines of the schedule go DOWN; their agents are
        told to shut down (ShutdownMessage) and removed."""
        machines, refused = self.machines_in_mode(method, path, body, "DRAINING", "down")
        if refused is not None:
            return refused
        with self.agents_lock:
            for machine in machines:
                entry = self.machines[machine_key(machine)]
                for agent_id in sorted(entry.get("agents", ())):
                    agent = self.agents.pop(agent_id, None)
                    if agent is None:
                        continue
                    log.info("Removing agent %s at %s: Operator initiated 'Machine DOWN'",
                             agent_id, agent["pid"])
                    post_message(agent["pid"], self.upid(), "ShutdownMessage",
                                 {"message": "Operator initiated 'Machine DOWN'"})
                entry["agents"] = set()
                entry["mode"] = "DOWN"
        return empty(200)

    def machine_up(self, method: str, path: str, body: bytes,
                   headers: Dict[str, str]) -> Response:
        """POST /master/machine/up: DOWN machines go UP and leave the schedule."""
        machines, refused = self.machines_in_mode(method, path, body, "DOWN", "up")
        if refused is not None:
            return refused
        keys = {machine_key(m) for m in machines}
        with self.agents_lock:
            for key in keys:
                self.machines[key]["mode"] = "UP"
                self.machines[key].pop("unavailability", None)
            windows = []
            for window in self.maintenance_schedule.get("windows", []):
                left = [m for m in window["machine_ids"] if machine_key(m) not in keys]
                if left:
                    windows.append({**window, "machine_ids": left})
            self.maintenance_schedule = {"windows": windows} if windows else {}
        return empty(200)

    def maintenance_status(self) -> dict:
        """ClusterStatus: the DRAINING machines (no inverse offers here) and the DOWN ones."""
        status: dict = {}
        for machine in self.machines.values():
            if machine["mode"] == "DRAINING":
                status.setdefault("draining_machines", []).append({"id": machine["id"]})
            elif machine["mode"] == "DOWN":
                status.setdefault("down_machines", []).append(machine["id"])
        return status

    def api_v1(self, method: str, body: bytes, headers: Dict[str, str]) -> Response:
        if self.elected_time is None:
            return self.redirect("/master/api/v1")
        return super().api_v1(method, body, headers)

    def state(self) -> dict:
        document = super().state()
        cluster = self.flags.get("cluster")
        if cluster is not None:
            document["cluster"] = cluster
        leader = self.leader_info()
        if leader is not None:
            document["leader"] = leader["pid"]
            document["leader_info"] = leader
        document["elected_time"] = self.elected_time
        agents = self.active_agents()
        document["activated_slaves"] = len(agents)
        document["deactivated_slaves"] = 0
        document["unreachable_slaves"] = 0
        document["slaves"] = self.agents_shown()
        document["frameworks"] = [
            {key: framework[key] for key in
             ("id", "name", "pid", "hostname", "user", "principal", "webui_url", "active",
              "connected", "registered_time") if key in framework}
            for framework in self.active_frameworks()]
        document["completed_frameworks"] = []
        return document

    def agents_shown(self) -> List[dict]:
        """The registered agents as /master/state and /master/slaves list them."""
        return [{key: agent[key] for key in
                 ("id", "pid", "hostname", "attributes", "resources", "active", "registered_time")}
                for agent in self.active_agents()]

    def metrics(self) -> dict:
        agents = len(self.active_agents())
        return {**super().metrics(),
                "master/elected": 1.0 if self.elected_time is not None else 0.0,
                "master/slaves_active": float(agents),
                "master/slaves_connected": float(agents)}

    def redirect(self, path: str) -> Response:
        """Mesos' Master::Http::redirect: 503 with no leader, else 307 to the leader with an
        empty body (to its base URL for /redirect)."""
        leader = self.leader_info()
        if leader is None:
            return 503, b"No leader elected", "text/plain; charset=utf-8", {}
        base = f"//{leader['hostname']}:{leader['port']}"
        if path in ("/redirect", "/master/redirect"):
            return 307, b"", "text/plain", {"Location": base}
        if not path.startswith("/master/"):
            path = "/master" + path  # the delegated /x is the master's /master/x
        return 307, b"", "text/plain", {"Location": base + path}

    def get_routes(self):
        def state(path: str) -> Response:
            if self.elected_time is None:
                return self.redirect(path)
            return json_response(self.state())

        def slaves(path: str) -> Response:
            if self.elected_time is None:
                return self.redirect(path)
            return json_response({"slaves": self.agents_shown(), "recovered_slaves": []})

        def maintenance_status(path: str) -> Response:
            if self.elected_time is None:
                return self.redirect(path)
            return json_response(self.maintenance_status())

        return {
            **super().get_routes(),
            "/state": state,
            "/master/state": state,
            "/slaves": slaves,
            "/master/slaves": slaves,
            "/maintenance/status": maintenance_status,
            "/master/maintenance/status": maintenance_status,
            "/redirect": self.redirect,
            "/master/redirect": self.redirect,
        }

    def post_routes(self):
        return {
            **self.authenticator.routes(self.upid_name),
            "/master/mesos.internal.RegisterSlaveMessage":
                lambda sender, body: self.register_agent(sender, body, again=False),
            "/master/mesos.internal.ReregisterSlaveMessage":
                lambda sender, body: self.register_agent(sender, body, again=True),
            "/master/mesos.internal.RegisterFrameworkMessage":
                lambda sender, body: self.register_framework(sender, body, again=False),
            "/master/mesos.internal.ReregisterFrameworkMessage":
                lambda sender, body: self.register_framework(sender, body, again=True),
        }

    def write_routes(self):
        return {
            **super().write_routes(),
            "/teardown": self.teardown,
            "/master/teardown": self.teardown,
            "/maintenance/schedule": self.maintenance_schedule_endpoint,
            "/master/maintenance/schedule": self.maintenance_schedule_endpoint,
            "/machine/down": self.machine_down,
            "/master/machine/down": self.machine_down,
            "/machine/up": self.machine_up,
            "/master/machine/up": self.machine_up,
        }

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
            zk_url(self.flags.get("zk"), "zk")
        authenticator = self.flags.get("authenticators")
        if authenticator != "crammd5":
            raise StartupError(
                f"Authenticator '{authenticator}' not found. Check the spelling (compare to "
                "'crammd5') or verify that the authenticator was loaded successfully "
                "(see --modules)")
        super().validate()


class MesosAgent(MesosDaemon):
    program = "mesos-slave"
    table_file = "mesos-agent.tsv"
    upid_name = "slave(1)"
    metrics_prefix = "slave"
    realm_prefix = "mesos-agent"
    http_credentials_flag = "http_credentials"
    # How often the agent tells its master it is there (Mesos pings; the double re-registers).
    heartbeat = 2.0

    def __init__(self, argv: List[str], environ: Dict[str, str]):
        super().__init__(argv, environ)
        self.proposed_id = f"{uuid.uuid4()}-S0"
        self.slave_id = ""  # assigned by the master that registered it, as Mesos does
        self.detector = None
        self.registered_with: Optional[dict] = None
        self.last_ack = 0.0
        self.authenticatee: Optional[libprocess_double.Authenticatee] = None

    def id_for_state(self) -> str:
        return self.slave_id

    def validate(self) -> None:
        master = self.flags.get("master")
        if master is None:
            raise StartupError("Missing required option `--master`", show_usage=True)
        if master.startswith(("zk://", "file://")):
            zk_url(master, "master")
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
        policy = self.flags.get("reconfiguration_policy")
        if policy not in ("equal", "additive"):
            raise StartupError(f"Unknown option for 'reconfiguration_policy' flag {policy}. "
                               "Please run the agent with '--help' to see the valid options.")
        super().validate()
        path = self.flags.get("credential")
        if path is not None:
            credential = read_credentials(path, "credential", single=True)
            if credential is None:
                raise StartupError(f"Empty credential file '{path}' (see --credential flag)")
            log.info("Agent using credential for: %s", credential[0])
            self.authenticatee = libprocess_double.Authenticatee(
                self.upid, credential[0], credential[1], self.refused)

    # -- the agent's checkpoint: WORK_DIR/meta/slaves/<id>/slave.info, and `latest` -> <id> --

    def meta_dir(self) -> str:
        return os.path.join(self.flags.get("work_dir"), "meta", "slaves")

    def info(self) -> dict:
        """This agent's SlaveInfo (the double's own JSON, checkpointed in slave.info)."""
        return {"hostname": self.hostname(), "port": self.advertised_port(),
                "attributes": [list(pair) for pair in self.attributes()],
                "resources": [list(pair) for pair in self.resources()]}

    def recover(self) -> None:
        """Mesos' Slave::recover: with a `latest` agent, the checkpointed SlaveInfo must be
        compatible with this start's under --reconfiguration_policy, and the agent keeps its id;
        else it exits 1 (Slave::__recover). Without `latest`, it starts as a new agent."""
        latest = os.path.join(self.meta_dir(), "latest")
        if not os.path.lexists(latest):
            log.info("No checkpointed agent: starting as a new agent")
            return
        try:
            with open(os.path.join(latest, "slave.info"), encoding="utf-8") as handle:
                previous = json.load(handle)
        except (OSError, ValueError) as error:
            raise StartupError(f"Failed to perform recovery: Failed to recover agent info from "
                               f"'{latest}': {error}") from None
        error = compatibility(self.flags.get("reconfiguration_policy"), previous, self.info())
        if error is not None:
            raise StartupError(
                f"Failed to perform recovery: {error}\n"
                "If recovery failed due to a change in configuration and you want to\n"
                "keep the current agent id, you might want to change the\n"
                "`--reconfiguration_policy` flag to a more permissive value.\n\n"
                "To restart this agent with a new agent id instead, do as follows:\n"
                f"rm -f {latest}\n"
                "This ensures that the agent does not recover old live executors.\n\n"
                "Finally, restart the agent.")
        self.slave_id = previous["id"]
        log.info("Recovered agent %s", self.slave_id)

    def checkpoint(self) -> None:
        """What Mesos writes once registered: the SlaveInfo under meta/slaves/<id>, and the
        `latest` symlink to that directory."""
        directory = os.path.join(self.meta_dir(), self.slave_id)
        os.makedirs(directory, exist_ok=True)
        write_record(os.path.join(directory, "slave.info"), {**self.info(), "id": self.slave_id},
                     mode=0o644)
        latest = os.path.join(self.meta_dir(), "latest")
        if os.path.realpath(latest) != os.path.realpath(directory):
            if os.path.lexists(latest):
                os.unlink(latest)
            os.symlink(os.path.abspath(directory), latest)

    def shutdown(self, sender: str, body: bytes) -> None:
        """ShutdownMessage from the master it follows (Machine DOWN): Slave::shutdown; with no
        executors the agent terminates and exits 0, and systemd starts it again."""
        master = self.detected_master()
        if master is None or master["pid"] != sender:
            log.warning("Ignoring shutdown message from %s because it is not from the registered "
                        "master", sender)
            return
        message = json.loads(body or b"{}").get("message", "")
        log.info("Agent asked to shut down by %s because '%s'", sender, message)
        log.info("Agent terminating")
        logging.shutdown()
        os._exit(0)

    def refused(self, master: str) -> None:
        """Mesos' Slave::_authenticate: a refused authentication ends the agent (its executors
        keep running; systemd starts it again)."""
        log.error("Master %s refused authentication", master)
        logging.shutdown()
        os._exit(1)

    def attributes(self) -> List[Tuple[str, str]]:
        text = self.flags.get("attributes")
        return parse_pairs(text, "attributes") if text else []

    def resources(self) -> List[Tuple[str, str]]:
        text = self.flags.get("resources")
        if not text or text.lstrip().startswith("["):  # JSON resources: not checked
            return []
        return parse_pairs(text, "resources")

    def detected_master(self) -> Optional[dict]:
        leader = self.detector.leader if self.detector else None
        return json.loads(leader) if leader else None

    def state(self) -> dict:
        document = {
            **super().state(),
            "attributes": {name: scalar_or_text(value) for name, value in self.attributes()},
            "resources": dict(self.resources()),
            "frameworks": [],
            "completed_frameworks": [],
        }
        # As Mesos: the detected master's IP resolved back to a name, absent when it does not.
        master = self.detected_master()
        if master is not None:
            try:
                document["master_hostname"] = socket.gethostbyaddr(master["address"]["ip"])[0]
            except OSError:
                pass
        return document

    def metrics(self) -> dict:
        return {**super().metrics(),
                "slave/registered": 1.0 if self.registered_with is not None else 0.0}

    def get_routes(self):
        state = lambda path: json_response(self.state())  # noqa: E731
        return {**super().get_routes(), "/state": state, "/slave(1)/state": state}

    def post_routes(self):
        return {
            **(self.authenticatee.routes(self.upid_name) if self.authenticatee else {}),
            "/slave(1)/mesos.internal.SlaveRegisteredMessage": self.registered,
            "/slave(1)/mesos.internal.SlaveReregisteredMessage": self.registered,
            "/slave(1)/mesos.internal.ShutdownMessage": self.shutdown,
        }

    def registered(self, sender: str, body: bytes) -> None:
        master = self.detected_master()
        if master is None or master["pid"] != sender:
            log.info("Ignoring a registration from %s: not the leading master", sender)
            return
        self.last_ack = time.monotonic()
        self.slave_id = json.loads(body)["slave_id"]
        if self.registered_with is None or self.registered_with["pid"] != sender:
            log.info("Registered with master %s; given agent ID %s", sender, self.slave_id)
            try:
                self.checkpoint()
            except OSError as error:
                log.error("Failed to checkpoint the agent info: %s", error)
                logging.shutdown()
                os._exit(1)
        self.registered_with = master

    def start(self) -> None:
        self.recover()
        master = self.flags.get("master")
        if master.startswith(("zk://", "file://")):
            self.detector = zk_double.Election(zk_url(master, "master"), "json.info_", None, 10_000)
            self.detector.start()
            threading.Thread(target=self.register_loop, daemon=True, name="register").start()

    def register_loop(self) -> None:
        """Registers with the leading master, again with each new one, and keeps telling it; a
        master that stops answering is left after three heartbeats. With a --credential it
        authenticates with each new master first (again when an attempt goes unanswered)."""
        if self.authenticatee is None:
            log.info("No credentials provided. Attempting to register without authentication")
        while True:
            master = self.detected_master()
            registered = self.registered_with
            if registered is not None and (
                    master is None or master["pid"] != registered["pid"]
                    or time.monotonic() - self.last_ack > 3 * self.heartbeat):
                log.warning("Lost master %s; waiting for a new one", registered["pid"])
                self.registered_with = registered = None
                if self.authenticatee is not None:
                    self.authenticatee.forget()
            authenticating = self.authenticatee is not None and master is not None \
                and self.authenticatee.authenticated != master["pid"]
            if authenticating and self.authenticatee.need(master["pid"]):
                self.authenticatee.authenticate(master["pid"])
            elif master is not None and not authenticating:
                message = "ReregisterSlaveMessage" if registered or self.slave_id \
                    else "RegisterSlaveMessage"
                document = {"id": self.slave_id or self.proposed_id, "hostname": self.hostname(),
                            "attributes": {n: scalar_or_text(v) for n, v in self.attributes()},
                            "resources": dict(self.resources())}
                try:
                    send_message(master["pid"], self.upid(), message, document)
                except OSError as error:
                    log.warning("Registration with %s failed: %s", master["pid"], error)
            time.sleep(self.heartbeat)


DAEMONS = {cls.program: cls for cls in (MesosMaster, MesosAgent)}


# ---------------------------------------------------------------------------
# Running.

def usage(daemon_class) -> str:
    """stout's usage: one line per flag, by name (aliases are not listed)."""
    lines = [f"Usage: {daemon_class.program} [options]", ""]
    for name, flag in sorted(daemon_class.table().flags.items()):
        lines.append(f"  --[no-]{name}" if flag.kind == "bool" else f"  --{name}=VALUE")
    return "\n".join(lines)


def write_record(path: str, document: dict, mode: int = 0o600) -> None:
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
        os.chmod(temporary, mode)  # a record's flags may hold credentials (--zk): 0600
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def make_handler(daemon: MesosDaemon):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "libprocess"
        protocol_version = "HTTP/1.1"

        def _answer(self, response: Response) -> None:
            status, body, content_type, headers = response
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _endpoint(self, method: str, body: bytes) -> None:
            """An HTTP endpoint: 404 unless served, then authentication as its realm asks."""
            path = self.path.split("?", 1)[0]
            write = daemon.write_routes().get(path)
            read = daemon.get_routes().get(path) if method == "GET" else None
            if write is None and read is None:
                self._answer(empty(404))
                return
            refused = daemon.authenticate_http(path, self.headers.get("Authorization"))
            if refused is not None:
                self._answer(refused)
            elif write is not None:
                self._answer(write(method, path, body, self.headers))
            else:
                self._answer(read(path))

        def do_GET(self):  # noqa: N802 (http.server's naming)
            self._endpoint("GET", b"")

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            sender = self.headers.get("Libprocess-From")
            message = daemon.post_routes().get(self.path.split("?", 1)[0])
            # With Libprocess-From a POST is a message (answered 202 whatever comes of it); else
            # it is for an HTTP endpoint.
            if message is not None and sender:
                self._answer(empty(202))
                message(sender, body)
            else:
                self._endpoint("POST", body)

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

    def forget_record() -> None:
        # A record left by an earlier run would make a failed start look like a good one.
        try:
            os.unlink(record_path)
        except FileNotFoundError:
            pass

    try:
        daemon = daemon_class(argv, environ)
        # --help and --version only print: a running daemon's record stays.
        if daemon.flags.get("help"):
            print(usage(daemon_class))
            return 0
        if daemon.flags.error is None and daemon.flags.get("version"):
            print(f"mesos {VERSION}")
            return 0
        forget_record()
        if daemon.flags.error is not None:
            raise daemon.flags.error
        daemon.validate()
        daemon.resolve_address()
    except StartupError as error:
        forget_record()
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

    if ipaddress.IPv4Address(daemon.address).is_loopback:
        log.warning("%s bound to loopback interface! Cannot communicate with remote "
                    "peers. You might want to set '--ip' flag to a routable IP address.",
                    program)
    try:
        write_record(record_path, daemon.record())
    except OSError as error:
        log.error("Failed to write %s: %s", record_path, error)
        return 1
    log.info("%s %s (test double) started as %s, listening on %s:%d",
             program, VERSION, daemon.upid(), daemon.bind_ip(), daemon.port())

    try:
        daemon.start()
    except StartupError as error:
        print(error, file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()
        log.info("%s (test double) stopped", program)
    return 0
