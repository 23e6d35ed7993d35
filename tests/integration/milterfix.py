# SPDX-License-Identifier: MIT
"""milterfix - real milters for the tests of postern serve's smtpd_milters.

Two kinds of peer, both built on the real libmilter:

- Scripted: a small milter written with Debian's python3-milter (pymilter,
  a binding of Sendmail's libmilter).  It runs as a process of its own
  (this file, run as a script by Debian's /usr/bin/python3: the package's
  C extension is built for that interpreter, not for a pyenv one) on an
  inet or unix socket.  What it does is its plan, a JSON file the test
  writes before each message (milter.plan(...)); the milter reads it when
  the MTA connects, which postern does after the end of DATA.  What it
  saw (the MTA's negotiation offer, CONNECT, HELO, MAIL, RCPT, headers,
  body and the macros at every stage) is appended as one JSON line per
  milter connection to a record file when the MTA closes the connection
  (milter.wait_session()).

- OpenDkim: Debian's opendkim signing mail for one domain with a key
  made by opendkim-genkey; verify() checks a signature with python3-dkim
  (again under /usr/bin/python3) against that key, without DNS.

Plans (every key optional; a stage not named answers CONTINUE):

    {"connect": ACTION, "helo": ACTION, "mail": ACTION, "data": ACTION,
     "header": ACTION, "eoh": ACTION, "body": ACTION, "eom": ACTION,
     "rcpt": {"addr@domain": ACTION, ...},     # other recipients: CONTINUE
     "edits": [EDIT, ...],                      # made at end of message
     "delay": {STAGE: SECONDS},                 # wait before answering
     "progress": {STAGE: [N, SECONDS]}}         # N times: wait, progress

ACTION is "continue", "accept", "reject", "tempfail" or "discard", or
{"action": "reject", "reply": ["554", "5.7.0", "go away"]} for a custom
reply (smfi_setreply).  EDIT is one of

    ["addheader", NAME, VALUE]          smfi_addheader
    ["insheader", INDEX, NAME, VALUE]   smfi_insheader
    ["chgheader", NAME, INDEX, VALUE]   smfi_chgheader ("" deletes)
    ["replacebody", TEXT]               smfi_replacebody
    ["chgfrom", ADDR] / [.., ADDR, ARGS] smfi_chgfrom
    ["addrcpt", ADDR]                   smfi_addrcpt
    ["delrcpt", ADDR]                   smfi_delrcpt
    ["quarantine", REASON]              smfi_quarantine

The queue-file helpers (message(), envelope(), sender(), rcpts()) read
postern's queue format (docs/queue-format.md).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile

import pt

DEB_PY = "/usr/bin/python3"
OPENDKIM = pt.which("opendkim")
GENKEY = pt.which("opendkim-genkey")

# the macros the scripted milter asks for at every stage
MACROS = ("j", "_", "v", "i", "{daemon_name}", "{daemon_addr}",
          "{daemon_port}", "{if_name}", "{if_addr}", "{client_addr}",
          "{client_port}", "{client_name}", "{client_ptr}",
          "{client_resolve}", "{client_connections}", "{auth_type}",
          "{auth_authen}", "{auth_author}", "{auth_ssf}", "{tls_version}",
          "{cipher}", "{cipher_bits}", "{cert_subject}", "{cert_issuer}",
          "{mail_mailer}", "{mail_host}", "{mail_addr}", "{rcpt_mailer}",
          "{rcpt_host}", "{rcpt_addr}")

_has = {}


def deb_python_has(*modules):
    """Whether Debian's python3 can import every one of modules."""
    key = modules
    if key not in _has:
        _has[key] = os.path.exists(DEB_PY) and subprocess.run(
            [DEB_PY, "-c", "import " + ", ".join(modules)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=60).returncode == 0
    return _has[key]


def scripted_available():
    return deb_python_has("Milter")


def opendkim_available():
    return (OPENDKIM is not None and GENKEY is not None
            and deb_python_has("dkim"))


# ---------------------------------------------------------------- queue files

# the queue file's parts (records, message, envelope, sender, rcpts) are
# queuefile's; milterfix.message() and the others stay for its tests
from queuefile import envelope, message, rcpts, records, sender  # noqa


def header_lines(msg):
    """The header section of a message as a list of unfolded
    (name, value) pairs, in order."""
    head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    out = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + "\r\n" + line)
        else:
            name, _, value = line.partition(":")
            out.append((name, value))
    return out


def body_of(msg):
    return msg.split(b"\r\n\r\n", 1)[1]


# ----------------------------------------------------------- scripted milter

def _wait_socket(spec, proc, what):
    """Wait until spec (("inet", port) or ("unix", path)) accepts, or proc
    died."""
    def ready():
        if proc.poll() is not None:
            return "died"
        try:
            if spec[0] == "inet":
                socket.create_connection(("127.0.0.1", spec[1]), 2).close()
            else:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(2)
                    s.connect(spec[1])
            return "ready"
        except OSError:
            return None
    return pt.wait_for(ready, what)


def stop_process(proc):
    """SIGTERM, then SIGKILL if it does not go within 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Scripted:
    """A pymilter milter on 127.0.0.1 (inet, a free port) or on a unix
    socket at unix_path; d is its private directory (plan, records,
    stderr)."""

    def __init__(self, d, unix_path=None, name="scripted"):
        self.d = d
        os.makedirs(d, exist_ok=True)
        self.plan_path = os.path.join(d, "plan.json")
        self.record_path = os.path.join(d, "sessions.jsonl")
        self.errfile = os.path.join(d, "milter.stderr")
        if unix_path:
            self.spec = ("unix", unix_path)
            self.socketname = "unix:" + unix_path
            self.postern = "unix:" + unix_path
        else:
            self.port = pt.free_port()
            self.spec = ("inet", self.port)
            self.socketname = "inet:%d@127.0.0.1" % self.port
            self.postern = "inet:127.0.0.1:%d" % self.port
        self.name = name
        self.proc = None
        self.plan()

    def start(self):
        self.err = open(self.errfile, "w")
        self.proc = subprocess.Popen(
            [DEB_PY, os.path.abspath(__file__), "serve", self.name,
             self.socketname, self.plan_path, self.record_path],
            stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err)
        if _wait_socket(self.spec, self.proc,
                        "milter %s to listen" % self.name) != "ready":
            raise AssertionError("milter %s exited %s:\n%s" %
                                 (self.name, self.proc.poll(),
                                  self.stderr()))
        return self

    def stderr(self):
        with open(self.errfile, errors="replace") as f:
            return f.read()

    def plan(self, **plan):
        """Set what the milter does with the next connections."""
        tmp = self.plan_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(plan, f)
        os.rename(tmp, self.plan_path)

    def sessions(self):
        """Every finished milter connection's record, oldest first."""
        try:
            with open(self.record_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def count(self):
        return len(self.sessions())

    def wait_session(self, before):
        """The record of the first milter connection that closed after
        there were `before` records."""
        return pt.wait_for(
            lambda: (self.sessions()[before:] or [None])[0],
            "milter %s to record a session" % self.name)

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.err.close()
            self.proc = None


# ------------------------------------------------------------------- opendkim

class OpenDkim:
    """Debian's opendkim signing mail From: DOMAIN (selector sel) for
    clients in 127.0.0.1, on inet 127.0.0.1:port."""

    def __init__(self, d, domain="example.com", selector="sel",
                 mode="sv"):
        self.d = os.path.abspath(d)
        os.makedirs(self.d, exist_ok=True)
        self.domain, self.selector = domain, selector
        self.port = pt.free_port()
        self.postern = "inet:127.0.0.1:%d" % self.port
        self.conf = os.path.join(self.d, "opendkim.conf")
        self.errfile = os.path.join(self.d, "opendkim.stderr")
        self.proc = None
        pt.run([GENKEY, "-D", self.d, "-d", domain, "-s", selector],
               check=True)
        self.key = os.path.join(self.d, selector + ".private")
        os.chmod(self.key, 0o600)
        with open(self.conf, "w") as f:
            f.write("Mode %s\nDomain %s\nSelector %s\nKeyFile %s\n"
                    "Socket inet:%d@127.0.0.1\nBackground no\n"
                    "PidFile %s/opendkim.pid\nInternalHosts 127.0.0.1\n"
                    "RequireSafeKeys false\nSyslog no\nUMask 022\n"
                    "Canonicalization relaxed/simple\n"
                    % (mode, domain, selector, self.key, self.port,
                       self.d))

    def start(self):
        self.err = open(self.errfile, "w")
        self.proc = subprocess.Popen(
            [OPENDKIM, "-f", "-x", self.conf], stdin=subprocess.DEVNULL,
            stdout=self.err, stderr=self.err)
        if _wait_socket(("inet", self.port), self.proc,
                        "opendkim to listen") != "ready":
            raise AssertionError("opendkim exited %s:\n%s" %
                                 (self.proc.poll(), self.stderr()))
        return self

    def stderr(self):
        with open(self.errfile, errors="replace") as f:
            return f.read()

    def txt(self):
        """The TXT record opendkim-genkey made (sel.txt), joined."""
        with open(os.path.join(self.d, self.selector + ".txt")) as f:
            text = f.read()
        return "".join(part for part in text.split('"')[1::2])

    def verify(self, msg):
        """(ok, detail) of python3-dkim's verification of msg (bytes)
        with this key published at SELECTOR._domainkey.DOMAIN."""
        with tempfile.NamedTemporaryFile(dir=self.d, delete=False) as f:
            f.write(msg)
        try:
            p = pt.run([DEB_PY, os.path.abspath(__file__), "dkim-verify",
                        f.name, "%s._domainkey.%s." % (self.selector,
                                                      self.domain),
                        self.txt()])
        finally:
            os.unlink(f.name)
        return p.stdout.strip() == "True", p.stdout + p.stderr

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.err.close()
            self.proc = None


# --------------------------------------------- run as a script (Debian python)

def _dkim_verify(path, name, txt):
    import logging
    import dkim
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    with open(path, "rb") as f:
        msg = f.read()

    def dnsfunc(qname, timeout=5):
        if isinstance(qname, bytes):
            qname = qname.decode()
        if qname.rstrip(".").lower() == name.rstrip(".").lower():
            return txt.encode()
        sys.stderr.write("unexpected DNS lookup %r\n" % qname)
        return None
    print(dkim.verify(msg, logger=logging.getLogger("dkim"),
                      dnsfunc=dnsfunc))


def _serve(name, socketname, plan_path, record_path):
    import threading
    import time
    import Milter

    actions = {"continue": Milter.CONTINUE, "accept": Milter.ACCEPT,
               "reject": Milter.REJECT, "tempfail": Milter.TEMPFAIL,
               "discard": Milter.DISCARD}
    lock = threading.Lock()

    class Scripted(Milter.Base):

        def __init__(self):
            with open(plan_path) as f:
                self.plan = json.load(f)
            self.rec = {"negotiate": None, "connect": None, "helo": None,
                        "macros": {}, "messages": [], "errors": [],
                        "replies": []}
            self.msg = None

        def macros(self, stage):
            got = {}
            for m in MACROS:
                try:
                    v = self.getsymval(m)
                except Exception as e:  # noqa: BLE001
                    v = "error: %s" % e
                if v is not None:
                    got[m] = v
            if self.msg is not None and stage not in ("connect", "helo"):
                self.msg["macros"].setdefault(stage, []).append(got)
            else:
                self.rec["macros"][stage] = got

        def answer(self, stage, what):
            n, pause = self.plan.get("progress", {}).get(stage, (0, 0))
            for _ in range(n):
                time.sleep(pause)
                self.progress()
            time.sleep(self.plan.get("delay", {}).get(stage, 0))
            if what is None:
                what = "continue"
            reply = None
            if isinstance(what, dict):
                reply = what.get("reply")
                what = what["action"]
            if reply:
                self.setreply(*reply)
            self.rec["replies"].append([stage, what])
            return actions[what]

        def negotiate(self, opts):
            self.rec["negotiate"] = list(opts)
            return super().negotiate(opts)

        def connect(self, hostname, family, hostaddr):
            self.rec["connect"] = [hostname, family, list(hostaddr)
                                   if isinstance(hostaddr, tuple)
                                   else hostaddr]
            self.macros("connect")
            return self.answer("connect", self.plan.get("connect"))

        def hello(self, hostname):
            self.rec["helo"] = hostname
            self.macros("helo")
            return self.answer("helo", self.plan.get("helo"))

        def envfrom(self, f, *params):
            self.msg = {"mail": [f] + list(params), "rcpt": [],
                        "headers": [], "body": "", "macros": {},
                        "end": None}
            self.rec["messages"].append(self.msg)
            self.macros("mail")
            return self.answer("mail", self.plan.get("mail"))

        def envrcpt(self, to, *params):
            self.msg["rcpt"].append([to] + list(params))
            self.macros("rcpt")
            return self.answer("rcpt", self.plan.get("rcpt", {}).get(
                to.strip("<>")))

        def data(self):
            self.macros("data")
            return self.answer("data", self.plan.get("data"))

        def header(self, field, value):
            self.msg["headers"].append([field, value])
            return self.answer("header", self.plan.get("header"))

        def eoh(self):
            self.macros("eoh")
            return self.answer("eoh", self.plan.get("eoh"))

        def body(self, chunk):
            self.msg["body"] += chunk.decode("latin-1")
            return self.answer("body", self.plan.get("body"))

        def eom(self):
            self.macros("eom")
            self.msg["end"] = "eom"
            for e in self.plan.get("edits", []):
                try:
                    self.edit(e)
                except Exception as x:  # noqa: BLE001
                    self.rec["errors"].append("%r: %r" % (e, x))
            return self.answer("eom", self.plan.get("eom"))

        def edit(self, e):
            op, args = e[0], e[1:]
            if op == "addheader":
                self.addheader(args[0], args[1])
            elif op == "insheader":
                self.addheader(args[1], args[2], args[0])
            elif op == "chgheader":
                self.chgheader(args[0], args[1], args[2])
            elif op == "replacebody":
                self.replacebody(args[0].encode())
            elif op == "chgfrom":
                self.chgfrom(*args)
            elif op == "addrcpt":
                self.addrcpt(args[0])
            elif op == "delrcpt":
                self.delrcpt(args[0])
            elif op == "quarantine":
                self.quarantine(args[0])
            else:
                raise ValueError("unknown edit " + op)

        def abort(self):
            if self.msg is not None and self.msg["end"] is None:
                self.msg["end"] = "abort"
            self.msg = None
            return Milter.CONTINUE

        def close(self):
            line = json.dumps(self.rec) + "\n"
            with lock:
                fd = os.open(record_path,
                             os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line.encode())
                finally:
                    os.close(fd)
            return Milter.CONTINUE

    os.umask(0)   # a unix socket postern's workers (mail_owner) can use
    Milter.factory = Scripted
    sys.stdout = sys.stderr
    Milter.runmilter(name, socketname, 60)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        _serve(*sys.argv[2:6])
    elif sys.argv[1] == "dkim-verify":
        _dkim_verify(*sys.argv[2:5])
    else:
        sys.exit("usage: milterfix.py serve NAME SOCKET PLAN RECORDS | "
                 "dkim-verify FILE NAME TXT")
