# SPDX-License-Identifier: MIT
"""stracefix - run a program under strace and read its system calls back.

The durability tests (the order of fdatasync, syncfs, rename and fsync
before a reply) and the pipelining test (what goes out in one write) read
what postern did from an strace rather than from postern itself.

    argv = stracefix.wrap(os.path.join(tmp, "t"), "fdatasync,syncfs")
    ...run argv + [postern, ...]...
    for trace in stracefix.traces(os.path.join(tmp, "t")):
        for i, call, args, result in stracefix.parse(trace): ...
"""
import glob
import os
import re
import shutil

CALL = re.compile(r"^(?:\d+\s+)?(\w+)\((.*)\)\s+=\s+(-?\d+)")
FDPATH = re.compile(r"^-?\d+<([^>]*)>")
DATA = re.compile(r'^(?:\d+\s+)?(?:sendto|write)\(\d+(?:<[^>]*>)?, '
                  r'"((?:[^"\\]|\\.)*)"')


def available():
    return shutil.which("strace") is not None


def wrap(out, calls, per_process=True, strsize=None):
    """The command prefix: strace writing to out (out.PID per process
    with per_process), -y for descriptor paths, only the given calls.
    LeakSanitizer cannot run under ptrace, so a sanitizer build runs with
    detect_leaks=0 (the other tests look for leaks)."""
    opts = os.environ.get("ASAN_OPTIONS")
    argv = ["env", "ASAN_OPTIONS=" + ":".join(
        filter(None, [opts, "detect_leaks=0"])), shutil.which("strace"),
        "-ff" if per_process else "-f", "-y", "-qq", "-o", out,
        "-e", "trace=" + calls]
    if strsize:
        argv += ["-s", str(strsize)]
    return argv


def traces(out):
    """The trace files of a per-process run."""
    return sorted(glob.glob(glob.escape(out) + ".*"))


def fd_path(arg):
    """The path strace -y printed for a descriptor argument."""
    m = FDPATH.match(arg.strip())
    return m.group(1) if m else ""


def parse(trace):
    """[(index, call, args, result)] of the complete calls in a trace."""
    out = []
    with open(trace, errors="replace") as f:
        for line in f:
            m = CALL.match(line)
            if m:
                out.append((len(out), m.group(1), m.group(2),
                            int(m.group(3))))
    return out


def writes(trace):
    """The data of every sendto/write, with strace's escapes undone."""
    out = []
    with open(trace, errors="replace") as f:
        for line in f:
            m = DATA.match(line)
            if m:
                out.append(m.group(1).encode().decode("unicode_escape"))
    return out
