"""libprocess for the TEST DOUBLES of mesos and marathon: process ids (UPIDs), the messages the
doubles send each other, and how an agent or a framework authenticates to a master over them.

A message is what libprocess sends: `POST /<process id>/<message name>` with `Libprocess-From:
<sender's UPID>`, answered 202 whatever happens next; the answer, if any, is another message.
Mesos sends protobufs; the doubles send JSON between themselves. This channel is private to the
doubles: no shipped code may use it.

Authentication follows the steps of Mesos' CRAM-MD5 authenticatee and authenticator (a challenge
from the master, the principal and an HMAC-MD5 of the challenge keyed with the secret from the
client, then completed or failed), so the secret never travels; it is not SASL, and the message
names and bodies are the doubles' own. Like Mesos' crammd5 authenticator, a master without
credentials refuses every attempt.

Standard library only; the build copies this file into both doubles (tests/support/doubles.rs).
"""

import base64
import binascii
import hashlib
import hmac
import http.server
import json
import logging
import secrets
import threading
import time
import urllib.request
from typing import Callable, Dict, Optional, Tuple

log = logging.getLogger("libprocess")

PREFIX = "mesos.internal."
# A message's handler, given the sender's UPID and the body; libprocess answers 202 whatever it does.
MessageHandler = Callable[[str, bytes], None]


def parse_upid(upid: str) -> Tuple[str, str, int]:
    """`id@ip:port` -> (id, ip, port)."""
    process, _, address = upid.partition("@")
    ip, _, port = address.rpartition(":")
    return process, ip, int(port)


def send_message(to: str, sender: str, name: str, body: dict) -> None:
    """Sends message `name` (without its prefix) to the process `to`, now."""
    process, ip, port = parse_upid(to)
    request = urllib.request.Request(
        f"http://{ip}:{port}/{process}/{PREFIX}{name}", data=json.dumps(body).encode(),
        method="POST", headers={"Libprocess-From": sender, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def post_message(to: str, sender: str, name: str, body: dict) -> None:
    """Sends a message from another thread, as libprocess does: a handler answers 202 at once."""
    def send():
        try:
            send_message(to, sender, name, body)
        except OSError as error:
            log.warning("Failed to send %s to %s: %s", name, to, error)

    threading.Thread(target=send, daemon=True, name=f"send {name}").start()


def cram_response(principal: str, secret: bytes, challenge: str) -> str:
    """CRAM-MD5's answer to a challenge: the principal and the keyed digest, never the secret."""
    digest = hmac.new(secret, challenge.encode(), hashlib.md5).hexdigest()
    return f"{principal} {digest}"


def load_credentials(document: dict, what: str) -> Dict[str, bytes]:
    """principal -> secret from Mesos' Credentials JSON ({"credentials": [{principal, secret}]});
    ValueError as protobuf parsing words it."""
    entries = document.get("credentials")
    if not isinstance(entries, list):
        raise ValueError(f"Failed to parse {what}: expected an array 'credentials'")
    return dict(load_credential(entry, what) for entry in entries)


def load_credential(document, what: str) -> Tuple[str, bytes]:
    """(principal, secret) from Mesos' Credential JSON ({"principal", "secret"})."""
    if not isinstance(document, dict) or not isinstance(document.get("principal"), str):
        raise ValueError(f"Failed to parse {what}: missing required field 'principal'")
    secret = document.get("secret", "")
    if not isinstance(secret, str):
        raise ValueError(f"Failed to parse {what}: 'secret' is not a string")
    return document["principal"], secret.encode()


def basic_credentials(header: Optional[str]) -> Optional[Tuple[str, str]]:
    """(user, password) of an `Authorization: Basic ...` header, None when there is none or it is
    malformed. (HTTP, not libprocess; here because both doubles check it.)"""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic" or not token or " " in token:
        return None
    try:
        decoded = base64.b64decode(token, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


class Authenticator:
    """A master's side: a challenge to each client that asks, then its answer checked against
    `credentials` (None: none were given, every attempt is refused). `authenticated` maps the
    UPIDs that passed to their principal."""

    def __init__(self, upid: Callable[[], str], credentials: Optional[Dict[str, bytes]]):
        self.upid, self.credentials = upid, credentials
        self.challenges: Dict[str, str] = {}
        self.authenticated: Dict[str, str] = {}
        self.lock = threading.Lock()

    def routes(self, process: str) -> Dict[str, MessageHandler]:
        return {f"/{process}/{PREFIX}AuthenticateMessage": self.start,
                f"/{process}/{PREFIX}AuthenticationStepMessage": self.step}

    def start(self, sender: str, body: bytes) -> None:
        challenge = secrets.token_hex(16)
        with self.lock:
            self.authenticated.pop(sender, None)
            self.challenges[sender] = challenge
        post_message(sender, self.upid(), "AuthenticationStepMessage", {"challenge": challenge})

    def step(self, sender: str, body: bytes) -> None:
        with self.lock:
            challenge = self.challenges.pop(sender, None)
        if challenge is None:
            return  # no authentication in progress: dropped
        response = str(json.loads(body).get("response", ""))
        principal, _, digest = response.rpartition(" ")
        secret = (self.credentials or {}).get(principal)
        if secret is not None:
            expected = cram_response(principal, secret, challenge).rpartition(" ")[2]
            if hmac.compare_digest(expected, digest):
                with self.lock:
                    self.authenticated[sender] = principal
                log.info("Successfully authenticated principal '%s' at %s", principal, sender)
                post_message(sender, self.upid(), "AuthenticationCompletedMessage", {})
                return
        log.warning("Failed to authenticate %s: %s", sender,
                    "no credentials to check it against" if self.credentials is None
                    else f"principal '{principal}' or its secret unknown")
        post_message(sender, self.upid(), "AuthenticationFailedMessage", {})

    def principal(self, sender: str) -> Optional[str]:
        with self.lock:
            return self.authenticated.get(sender)


class Authenticatee:
    """An agent's or a scheduler's side: `authenticate(master)` starts the steps; `authenticated`
    is the master that completed them; `refused(master)` is called when a master refused.
    `need(master)` says whether to start (again: an attempt unanswered for `timeout` seconds)."""

    timeout = 5.0  # Mesos' --authentication_timeout_min

    def __init__(self, upid: Callable[[], str], principal: str, secret: bytes,
                 refused: Callable[[str], None]):
        self.upid, self.principal, self.secret, self.refused = upid, principal, secret, refused
        self.master: Optional[str] = None
        self.authenticated: Optional[str] = None
        self.started = 0.0

    def need(self, master: str) -> bool:
        if self.authenticated == master:
            return False
        return self.master != master or time.monotonic() - self.started > self.timeout

    def forget(self) -> None:
        """The master was lost: as Mesos' Slave::detected, the next master detected is
        authenticated with again, the same one too (a master that restarted knows nobody)."""
        self.master, self.authenticated = None, None

    def routes(self, process: str) -> Dict[str, MessageHandler]:
        return {f"/{process}/{PREFIX}AuthenticationStepMessage": self.step,
                f"/{process}/{PREFIX}AuthenticationCompletedMessage": self.completed,
                f"/{process}/{PREFIX}AuthenticationFailedMessage": self.failed}

    def authenticate(self, master: str) -> None:
        self.master, self.authenticated, self.started = master, None, time.monotonic()
        log.info("Authenticating with master %s as '%s'", master, self.principal)
        post_message(master, self.upid(), "AuthenticateMessage", {})

    def step(self, sender: str, body: bytes) -> None:
        if sender == self.master:
            challenge = str(json.loads(body).get("challenge", ""))
            answer = cram_response(self.principal, self.secret, challenge)
            post_message(sender, self.upid(), "AuthenticationStepMessage", {"response": answer})

    def completed(self, sender: str, body: bytes) -> None:
        if sender == self.master:
            log.info("Successfully authenticated with master %s", sender)
            self.authenticated = sender

    def failed(self, sender: str, body: bytes) -> None:
        if sender == self.master:
            self.refused(sender)


def message_server(address: Tuple[str, int], routes: Callable[[], Dict[str, MessageHandler]]):
    """An HTTP server that only takes messages (a scheduler's libprocess socket): 202 for a
    message it knows, 404 for anything else. Returns the server, not yet serving."""

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "libprocess"

        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            sender = self.headers.get("Libprocess-From")
            handler = routes().get(self.path.split("?", 1)[0])
            status = 202 if handler and sender else 404
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if status == 202:
                handler(sender, body)

        def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
            log.debug("%s %s", self.address_string(), format % args)

    server = http.server.ThreadingHTTPServer(address, Handler)
    server.daemon_threads = True
    return server
