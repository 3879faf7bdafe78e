#!/usr/bin/python3
"""Runs a command on a pseudo-terminal and answers its prompts, as an admin at a terminal would.

Usage: pty-answers.py STEPS COMMAND...  Each line of STEPS is PATTERN<TAB>ANSWER: the output is
read until the regular expression PATTERN matches, then ANSWER and Enter are typed. Prints the
whole session and exits with the command's status; a prompt that does not come within the time
limit ends it with the session so far."""
import os
import pty
import re
import select
import sys
import time

steps = [line.rstrip("\n").split("\t", 1) for line in open(sys.argv[1]) if line.strip()]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])

deadline = time.time() + 300
session = b""


def read():
    ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
    if not ready:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:  # the command closed the terminal
        return b""


pending = b""
for pattern, answer in steps:
    regex = re.compile(pattern.encode())
    while not (found := regex.search(pending)):
        data = read()
        if not data:
            sys.stdout.buffer.write(session)
            sys.exit(f"\npty-answers: no output matching {pattern!r}")
        pending += data
        session += data
    pending = pending[found.end():]
    os.write(fd, answer.encode() + b"\n")
while data := read():
    session += data
sys.stdout.buffer.write(session)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
