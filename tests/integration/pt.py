# SPDX-License-Identifier: MIT
"""pt - small shared helpers for postern's integration tests.

Tests are plain unittest modules run by ctest (one process per file).  They
talk to real peers on loopback only.  Nothing here sleeps for a fixed time:
wait_for() polls a condition and gives up only after a generous bound, so a
slow shared machine makes a test slower, never wrong.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

SRC = os.environ.get("POSTERN_SRC") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("POSTERN_BIN") or os.path.join(SRC, "build", "postern")
SANITIZE = os.environ.get("POSTERN_SANITIZE", "OFF") in ("ON", "1", "TRUE")

# What ASan, UBSan and LSan print when they find something.
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")


def sanitizer_report(text):
    """Whether text holds a sanitizer report."""
    return any(m in text for m in SANITIZER_MARKERS)


def have(program):
    """Whether a program is on PATH (or /usr/sbin, where Postfix lives)."""
    return shutil.which(program, path=os.environ.get("PATH", "") +
                        ":/usr/sbin:/usr/lib/postfix/sbin") is not None


def which(program):
    return shutil.which(program, path=os.environ.get("PATH", "") +
                        ":/usr/sbin:/usr/lib/postfix/sbin")


def run(args, input=None, check=False, env=None, timeout=600, cwd=None):
    """Run a command; returns CompletedProcess with text stdout/stderr."""
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(args, input=input, capture_output=True, text=True,
                       env=e, timeout=timeout, cwd=cwd)
    if check and p.returncode != 0:
        raise AssertionError("%r failed (%d):\nstdout:\n%s\nstderr:\n%s" %
                             (args, p.returncode, p.stdout, p.stderr))
    return p


def postern(*args, **kw):
    """Run the postern binary under test."""
    return run([BIN] + list(args), **kw)


def wait_for(cond, what, bound=120.0, step=0.02):
    """Poll cond() until it returns a true value; fail after bound seconds.

    The bound only stops a hung test; it is not a performance assertion.
    """
    deadline = time.monotonic() + bound
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(step)
        step = min(step * 1.5, 0.5)


def procs(match):
    """PIDs of the live processes whose /proc stat fields (after the
    command name: state, ppid, pgrp, session, ...) match(fields) accepts."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if fields[0] != "Z" and match(fields):
            out.append(int(name))
    return out


def free_port(host="127.0.0.1"):
    """A TCP port that is free on host right now."""
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_ports(names, taken=()):
    """{name: port}: a distinct free port for each name, none in taken."""
    ports = {}
    for n in names:
        p = free_port()
        while p in ports.values() or p in taken:
            p = free_port()
        ports[n] = p
    return ports


class TempDirTest(unittest.TestCase):
    """A test case with a fresh temporary directory in self.tmp."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postern-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, rel, text, mode=None):
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w" if isinstance(text, str) else "wb") as f:
            f.write(text)
        if mode is not None:
            os.chmod(path, mode)
        return path


CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC = 16384
MS_PRIVATE = 1 << 18


def enter_netns(mounts=False):
    """Move this (single-threaded) process into a network namespace of
    its own, with its loopback up, so a test may give itself addresses
    and a resolver without touching the host; with mounts, a mount
    namespace too, whose mounts stay private.  Skips the test module
    when not root."""
    import ctypes
    import ctypes.util
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: unshare(CLONE_NEWNET)")
    if not have("ip"):
        raise unittest.SkipTest("ip (iproute2) not installed")
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def check(rc, what):
        if rc != 0:
            e = ctypes.get_errno()
            raise OSError(e, "%s: %s" % (what, os.strerror(e)))
    check(libc.unshare(CLONE_NEWNET | (CLONE_NEWNS if mounts else 0)),
          "unshare")
    if mounts:
        check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None),
              "make / private")
    run([which("ip"), "link", "set", "lo", "up"], check=True)
    return libc


def main():
    unittest.main(verbosity=2)
