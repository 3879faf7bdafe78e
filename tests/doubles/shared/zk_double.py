"""ZooKeeper for the TEST DOUBLES of mesos and marathon: a minimal client of ZooKeeper's own wire
protocol (sessions, digest authentication, create with an ACL, delete, get_children, get_data,
set_data, ping) and the leader election Mesos does on it: every candidate holds an ephemeral
sequential node `<prefix><seq>` under the election path with its info as data; the lowest sequence
leads. With `zk://user:pass@hosts/path` the session authenticates with a digest (ZooKeeper's
AuthPacket, `addauth digest user:pass`) and creates its nodes with the ACL the caller gives (Mesos:
readable by anyone, everything for their creator).

Standard library only, so the doubles need no client package on the node. The build copies this
file into both doubles (tests/support/doubles.rs). Where Mesos sets a watch, the election polls
twice a second; what a test can observe (who leads, how fast a loss is noticed) is the same.
"""

import logging
import random
import re
import socket
import struct
import threading
import time
from typing import Callable, List, Optional, Tuple

log = logging.getLogger("zk")

READ, ALL = 1, 31
# ZooDefs.Ids: an ACL is a list of (permissions, scheme, id); "auth" means the creator's identity.
OPEN_ACL_UNSAFE = [(ALL, "world", "anyone")]
CREATOR_ALL_ACL = [(ALL, "auth", "")]
# Mesos' EVERYONE_READ_CREATOR_ALL (src/zookeeper/authentication.cpp).
EVERYONE_READ_CREATOR_ALL = [(READ, "world", "anyone"), (ALL, "auth", "")]
EPHEMERAL, SEQUENCE = 1, 2
NO_NODE, NO_AUTH, NODE_EXISTS, SESSION_EXPIRED = -101, -102, -110, -112
INVALID_ACL, AUTH_FAILED = -114, -115
# Errors no retry can cure: the credentials are wrong for these nodes.
NOT_RETRYABLE = (NO_AUTH, INVALID_ACL, AUTH_FAILED)
ERROR_NAMES = {NO_NODE: "no node", NO_AUTH: "not authenticated", NODE_EXISTS: "node exists",
               SESSION_EXPIRED: "session expired", INVALID_ACL: "invalid ACL",
               AUTH_FAILED: "authentication failed"}
OP_CREATE, OP_DELETE, OP_GET_DATA, OP_SET_DATA, OP_GET_CHILDREN = 1, 2, 4, 5, 8
OP_PING, OP_AUTH, OP_CLOSE = 11, 100, -11
XID_PING, XID_AUTH = -2, -4
POLL_SECONDS = 0.5


class ZkError(Exception):
    def __init__(self, code: int, what: str):
        name = ERROR_NAMES.get(code, "error")
        super().__init__(f"ZooKeeper error {code} ({name}) on {what}")
        self.code = code


def parse_url(url: str) -> Tuple[List[Tuple[str, int]], str, Optional[str]]:
    """zk://[user:pass@]host:port[,host:port...]/path -> ([(host, port)], /path, "user:pass")."""
    rest = url[len("zk://"):]
    hosts, _, path = rest.partition("/")
    auth, at, hosts_only = hosts.rpartition("@")
    hosts = hosts_only if at else hosts
    servers = []
    for entry in hosts.split(","):
        host, _, port = entry.rpartition(":")
        servers.append((host, int(port)))
    return servers, "/" + path.rstrip("/"), auth or None


def redacted(url: str) -> str:
    """The URL with the password of its credentials masked, for messages and logs."""
    return re.sub(r"^(zk://[^:@/]*):[^@/]*@", r"\1:********@", url)


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">i", len(data)) + data


def _buffer(data: Optional[bytes]) -> bytes:
    return struct.pack(">i", -1) if data is None else struct.pack(">i", len(data)) + data


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def int(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.at)
        self.at += 4
        return value

    def long(self) -> int:
        (value,) = struct.unpack_from(">q", self.data, self.at)
        self.at += 8
        return value

    def buffer(self) -> Optional[bytes]:
        size = self.int()
        if size < 0:
            return None
        value = self.data[self.at:self.at + size]
        self.at += size
        return value

    def string(self) -> str:
        return (self.buffer() or b"").decode()


class Session:
    """One ZooKeeper session over one connection, requests one at a time. A lost connection
    raises OSError; `resume` reconnects to any server keeping the session (and its ephemeral
    nodes) unless it expired, and authenticates again with `auth` ("user:pass", a digest) as
    ZooKeeper clients do. Nodes are created with `acl`."""

    def __init__(self, servers: List[Tuple[str, int]], timeout_ms: int,
                 auth: Optional[str] = None, acl=None):
        self.servers, self.timeout_ms = servers, timeout_ms
        self.auth = auth
        # A list, or a function of the path giving the list.
        self.acl = acl or OPEN_ACL_UNSAFE
        self.session_id, self.password = 0, b"\0" * 16
        self.sock: Optional[socket.socket] = None
        self.xid = 0
        self.lock = threading.Lock()
        self.resume()

    def resume(self) -> None:
        """Connects to the first server that accepts the session; a new one if there is none yet."""
        self.close_socket()
        errors = []
        for host, port in random.sample(self.servers, len(self.servers)):
            try:
                sock = socket.create_connection((host, port), timeout=2)
                sock.settimeout(max(self.timeout_ms / 3000, 1))
                request = struct.pack(">iqiq", 0, 0, self.timeout_ms, self.session_id)
                request += _buffer(self.password) + b"\0"
                sock.sendall(struct.pack(">i", len(request)) + request)
                reply = _Reader(_read_frame(sock))
                reply.int()  # protocol version
                timeout = reply.int()
                session_id = reply.long()
                password = reply.buffer() or b""
                if timeout <= 0:
                    sock.close()
                    raise ZkError(SESSION_EXPIRED, "connect")
                self.sock, self.session_id, self.password = sock, session_id, password
                if self.auth is not None:
                    self._authenticate()
                return
            except OSError as error:
                errors.append(f"{host}:{port}: {error}")
        raise OSError("no ZooKeeper server accepted a session: " + "; ".join(errors))

    def _authenticate(self) -> None:
        """ZooKeeper's AuthPacket (type 0, scheme, credentials) with its reserved xid; the server
        answers at once, and closes the connection after an AuthFailed."""
        body = struct.pack(">i", 0) + _string("digest") + _buffer(self.auth.encode())
        request = struct.pack(">ii", XID_AUTH, OP_AUTH) + body
        self.sock.sendall(struct.pack(">i", len(request)) + request)
        reply = _Reader(_read_frame(self.sock))
        xid, _zxid, error = reply.int(), reply.long(), reply.int()
        if xid != XID_AUTH or error:
            self.close_socket()
            raise ZkError(error or AUTH_FAILED, "authentication")

    def close_socket(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def close(self) -> None:
        """Ends the session: its ephemeral nodes go at once."""
        try:
            self._call(OP_CLOSE, b"", "close")
        except (OSError, ZkError):
            pass
        self.close_socket()

    def _call(self, op: int, body: bytes, what: str) -> _Reader:
        with self.lock:
            if self.sock is None:
                raise OSError("not connected")
            self.xid += 1
            xid = XID_PING if op == OP_PING else self.xid
            request = struct.pack(">ii", xid, op) + body
            self.sock.sendall(struct.pack(">i", len(request)) + request)
            while True:
                reply = _Reader(_read_frame(self.sock))
                reply_xid, _zxid, error = reply.int(), reply.long(), reply.int()
                if reply_xid == -1:  # a watch event: none are set
                    continue
                if reply_xid != xid:
                    raise OSError(f"reply {reply_xid} to request {xid}")
                if error:
                    raise ZkError(error, what)
                return reply

    def create(self, path: str, data: bytes = b"", flags: int = 0) -> str:
        entries = self.acl(path) if callable(self.acl) else self.acl
        acl = struct.pack(">i", len(entries)) + b"".join(
            struct.pack(">i", perms) + _string(scheme) + _string(ident)
            for perms, scheme, ident in entries)
        body = _string(path) + _buffer(data) + acl + struct.pack(">i", flags)
        return self._call(OP_CREATE, body, f"create {path}").string()

    def ensure_path(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        for depth in range(1, len(parts) + 1):
            try:
                self.create("/" + "/".join(parts[:depth]))
            except ZkError as error:
                if error.code != NODE_EXISTS:
                    raise

    def delete(self, path: str) -> None:
        self._call(OP_DELETE, _string(path) + struct.pack(">i", -1), f"delete {path}")

    def get_children(self, path: str) -> List[str]:
        reply = self._call(OP_GET_CHILDREN, _string(path) + b"\0", f"children of {path}")
        return [reply.string() for _ in range(reply.int())]

    def get_data(self, path: str) -> Optional[bytes]:
        return self._call(OP_GET_DATA, _string(path) + b"\0", f"data of {path}").buffer()

    def set_data(self, path: str, data: bytes) -> None:
        body = _string(path) + _buffer(data) + struct.pack(">i", -1)
        self._call(OP_SET_DATA, body, f"set data of {path}")


def _read_frame(sock: socket.socket) -> bytes:
    header = _read_exactly(sock, 4)
    (size,) = struct.unpack(">i", header)
    return _read_exactly(sock, size)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the ZooKeeper server closed the connection")
        data += chunk
    return data


class Election(threading.Thread):
    """Follows the election under the path of `url`: `leader` is the data of the lowest
    `<prefix>*` node (None while ZooKeeper cannot be reached or nobody is a candidate). With
    `data`, this process is a candidate too, and `elected` says whether it leads. A process
    without a session never claims to lead. Credentials in the URL authenticate the session and
    the nodes it creates get `acl`; an error no retry cures (the credentials are refused, or do
    not allow a node) goes to `on_fatal` if given, else is retried like any other."""

    def __init__(self, url: str, prefix: str, data: Optional[bytes], timeout_ms: int,
                 on_change: Optional[Callable[[Optional[bytes], bool], None]] = None,
                 acl=None, on_fatal: Optional[Callable[["ZkError"], None]] = None):
        super().__init__(daemon=True, name=f"election {prefix}")
        self.servers, self.path, self.auth = parse_url(url)
        self.acl, self.on_fatal = acl, on_fatal
        self.prefix, self.data, self.timeout_ms = prefix, data, timeout_ms
        self.on_change = on_change
        self.leader: Optional[bytes] = None
        self.elected = False
        self.me: Optional[str] = None

    def _set(self, leader: Optional[bytes], elected: bool) -> None:
        if (leader, elected) != (self.leader, self.elected):
            self.leader, self.elected = leader, elected
            log.info("leader now %s%s", leader.decode() if leader else None,
                     " (this process)" if elected else "")
            if self.on_change:
                self.on_change(leader, elected)

    def run(self) -> None:
        session: Optional[Session] = None
        lost_at: Optional[float] = None
        while True:
            try:
                if session is None:
                    session = Session(self.servers, self.timeout_ms, self.auth, self.acl)
                    self._join(session)
                elif session.sock is None:
                    session.resume()
                lost_at = None
                self._observe(session)
                time.sleep(POLL_SECONDS)
            except Exception as error:  # noqa: BLE001
                # No connection: nothing is known about the leader, and nothing is claimed. The
                # session may survive on another server until its timeout; after that it is new.
                # Whatever went wrong (a short read under load, say) is retried, as Curator does
                # for the real daemons: a thread that died here would never lead again.
                self._set(None, False)
                if isinstance(error, ZkError) and error.code in NOT_RETRYABLE and self.on_fatal:
                    self.on_fatal(error)
                    return
                if isinstance(error, ZkError) and error.code == SESSION_EXPIRED:
                    session = None
                elif session is not None:
                    session.close_socket()
                    lost_at = lost_at or time.monotonic()
                    if time.monotonic() - lost_at > self.timeout_ms / 1000:
                        session = None
                log.warning("ZooKeeper: %s", error)
                time.sleep(1)

    def _join(self, session: Session) -> None:
        session.ensure_path(self.path)
        if self.data is None:
            return
        # A node of an expired session of ours may still be there for a moment: not a candidate.
        for child in session.get_children(self.path):
            if child.startswith(self.prefix):
                try:
                    if session.get_data(f"{self.path}/{child}") == self.data:
                        session.delete(f"{self.path}/{child}")
                except ZkError as error:
                    if error.code != NO_NODE:
                        raise
        created = session.create(f"{self.path}/{self.prefix}", self.data, EPHEMERAL | SEQUENCE)
        self.me = created.rsplit("/", 1)[-1]
        log.info("candidate %s under %s", self.me, self.path)

    def _observe(self, session: Session) -> None:
        children = sorted(c for c in session.get_children(self.path) if c.startswith(self.prefix))
        if self.data is not None and self.me not in children:
            raise ZkError(SESSION_EXPIRED, f"own node {self.me} is gone")
        for child in children:
            try:
                leader = session.get_data(f"{self.path}/{child}")
            except ZkError as error:
                if error.code == NO_NODE:
                    continue  # it went while we looked: the next one
                raise
            self._set(leader, child == self.me)
            return
        self._set(None, False)
