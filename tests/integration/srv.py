# SPDX-License-Identifier: MIT
"""srv - a postern server (postern serve) in a temporary directory.

The fixture writes main.cf and master.cf, starts the supervisor in the
foreground, waits until every listener accepts, and stops it with SIGTERM.
Its log (maillog_file) is read by the tests.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import pt


def children(pid):
    """PIDs whose parent is pid (from /proc): a supervisor's workers."""
    return pt.procs(lambda fields: int(fields[1]) == pid)


def read_reply(f):
    """One (possibly multi-line) SMTP reply from a socket file, as a list
    of lines; [] at EOF or on a reset."""
    lines = []
    while True:
        try:
            line = f.readline()
        except ConnectionResetError:
            return lines
        if not line:
            return lines
        lines.append(line)
        if line[3:4] != b"-":
            return lines


def stop_and_clean(server, tmp):
    """A test class's end: stop server, remove tmp, and fail on a non-zero
    exit or any of server.problems()."""
    rc = server.stop()
    problems = server.problems()
    shutil.rmtree(tmp, True)
    if rc != 0 or problems:
        raise AssertionError("postern serve exit %s: %s" %
                             (rc, "\n".join(problems)))


def serve_once(tmp, main_cf):
    """postern serve on a one-listener configuration in tmp/c whose main.cf
    is main_cf (queue and log under tmp), for a start that should be
    refused: returns the finished process (returncode, stderr)."""
    conf = os.path.join(tmp, "c")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write("queue_directory = %s/q\nmaillog_file = %s/log\n%s" %
                (tmp, tmp, main_cf))
    with open(os.path.join(conf, "master.cf"), "w") as f:
        f.write("127.0.0.1:%d inet n - n - - smtpd\n" % pt.free_port())
    return pt.postern("serve", "-c", conf, timeout=120)


def stop_with_world(servers, world, tmp):
    """A DNS-world test class's end: stop the servers and the world,
    remove tmp, and fail on any of the servers' problems."""
    problems = stop_all(servers)
    world.stop()
    shutil.rmtree(tmp, True)
    if problems:
        raise AssertionError("\n".join(problems))


def raw_session(test, port, timeout=120):
    """A plain socket to port past its 220 greeting, closed at the end of
    the test: (socket, binary file for reading)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    test.addCleanup(sock.close)
    f = sock.makefile("rb")
    test.assertTrue(f.readline().startswith(b"220 "))
    return sock, f


def starttls_server(d, crt, key, extra_cf="", port=None):
    """A started one-worker server in d offering STARTTLS with crt and
    key on port (a free one by default): (server, port)."""
    port = port or pt.free_port()
    server = Server(d, ("smtpd_tls_security_level = may\n"
                        "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                        % (crt, key)) + extra_cf,
                    [("smtp", port, [])], workers=1)
    return server.start(), port


def stop_all(servers):
    """Stop every server; their problems() together."""
    problems = []
    for s in servers:
        s.stop()
        problems += s.problems()
    return problems


class Server:

    def __init__(self, d, main_cf, services, workers=2, extra_files=None,
                 host="127.0.0.1", wrap=None):
        """services: list of (name, port, [-o settings]) of inet smtpd,
        on host (a fourth item: that service's own host, "::1" say);
        wrap: a command prefix (strace ...) to run postern serve under."""
        self.d = d
        self.log = os.path.join(d, "maillog")
        self.queue = os.path.join(d, "queue")
        os.makedirs(d, exist_ok=True)
        self.ports = {}
        self.hosts = {}
        lines = []
        for name, port, opts, *own in services:
            self.ports[name] = port
            self.hosts[port] = own[0] if own else host
            h = self.hosts[port]
            lines.append("%s:%d inet n - n - - smtpd" %
                         ("[%s]" % h if ":" in h else h, port))
            for o in opts:
                lines.append("  -o " + o)
        base = ("queue_directory = %s\nmaillog_file = %s\n"
                "myhostname = mx.postern.test\n"
                "mydestination = mx.postern.test, localhost\n"
                % (self.queue, self.log))
        with open(os.path.join(d, "main.cf"), "w") as f:
            f.write(base + main_cf)
        with open(os.path.join(d, "master.cf"), "w") as f:
            f.write("\n".join(lines) + "\n")
        self.workers = workers
        self.host = host
        self.wrap = list(wrap or [])
        self.proc = None

    def start(self):
        self.errfile = os.path.join(self.d, "serve.stderr")
        self.err = open(self.errfile, "w")
        self.proc = subprocess.Popen(
            self.wrap + [pt.BIN, "serve", "-c", self.d, "-w",
                         str(self.workers)],
            stdout=self.err, stderr=self.err, text=True)
        for port in self.ports.values():
            pt.wait_for(lambda: self._accepts(port, self.hosts[port]) or
                        self._died(),
                        "postern serve to listen on %d" % port)
        if self.proc.poll() is not None:
            raise AssertionError("postern serve exited %d: %s" %
                                 (self.proc.returncode, self.stderr()))
        return self

    def stderr(self):
        with open(self.errfile, errors="replace") as f:
            return f.read()

    def _died(self):
        return self.proc.poll() is not None

    @staticmethod
    def _accepts(port, host="127.0.0.1"):
        try:
            with socket.create_connection((host, port), timeout=2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # under a wrapper (strace), stop the supervisor itself; the
            # wrapper exits with it
            kids = children(self.proc.pid) if self.wrap else []
            if kids:
                os.kill(kids[0], signal.SIGTERM)
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.err.close()
        return self.proc.returncode if self.proc else None

    def problems(self):
        """Sanitizer reports, crashed workers: what a test run must not
        leave behind.  Call after stop()."""
        found = []
        err = self.stderr() if self.proc else ""
        if pt.sanitizer_report(err):
            found.append(err)
        for line in self.logtext().splitlines():
            if "killed by signal" in line or "panic:" in line:
                found.append(line)
        return found

    def logtext(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, text, what=None):
        return pt.wait_for(lambda: text in self.logtext(),
                           what or ("log line %r" % text))

    def queued(self, state="ready"):
        """Queue IDs in one state directory."""
        d = os.path.join(self.queue, state)
        try:
            return sorted(os.listdir(d))
        except FileNotFoundError:
            return []

    def queue_file(self, qid, state="ready"):
        with open(os.path.join(self.queue, state, qid), "rb") as f:
            return f.read()

    def find_message(self, needle):
        """The queue file (bytes) in ready/ that contains needle."""
        for q in self.queued():
            data = self.queue_file(q)
            if needle.encode() in data:
                return data
        return None
