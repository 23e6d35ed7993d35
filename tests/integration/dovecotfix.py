# SPDX-License-Identifier: MIT
"""dovecotfix - a private Dovecot that offers only its SASL auth service,
for the tests of postern's Dovecot SASL client.

Everything lives in one directory: dovecot.conf, base_dir (run/, with the
auth-client socket and Dovecot's own sockets), state_dir, the log and a
passwd-file of {PLAIN} passwords (which every mechanism, CRAM-MD5 too, can
use).  There are no network listeners: protocols is empty, so no imap, pop3,
submission or lmtp service runs, and the others listen on UNIX sockets in
run/ only.  Two instances (or a system Dovecot) never share a path.

Plaintext mechanisms work without "secured" (disable_plaintext_auth = no).
Login names are Dovecot's defaults: lowercased before the lookup
(auth_username_format %Lu, so users are given in lower case) and refused
with other characters than auth_username_chars (letters, digits, ".-_@").
The auth penalty (a delay of 2 to 15 seconds before every request from a
remote IP that failed before) is off, so a test's failures do not slow the
next ones; a failure still waits up to 0.5 s with auth_failure_delay 0
(Dovecot flushes failures on a 500 ms timer).

DovecotLmtp is a sibling: the same private instance with protocols = lmtp
instead, Dovecot's LMTP server on a UNIX socket (any path, so one under a
postern queue_directory works) and on 127.0.0.1:port, delivering to
Maildirs under its directory as nobody, users from a passwd-file.

Dovecot runs in the foreground (-F) in a session of its own; stop() ends
the master with SIGTERM and waits until every process of that session is
gone.  The master also gets SIGTERM when the thread that called start()
ends (so call it from the main thread): a test killed before stop() leaves
no Dovecot behind.  It needs root and the users dovecot and dovenull (the
package's).

    dove = dovecotfix.Dovecot(os.path.join(tmp, "dovecot"),
                              {"alice": "s3cret"}).start()
    ... smtpd_sasl_path = dove.socket_path ...
    dove.stop()
"""
import ctypes
import os
import pwd
import signal
import socket
import stat
import subprocess
import time

import pt

DOVECOT = pt.which("dovecot")
# the auth-client listener postern connects to, relative to base_dir
LISTENER = "auth-client-postern"
LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def available():
    """Whether a private Dovecot can run here: the binary, and root."""
    return DOVECOT is not None and os.geteuid() == 0


def die_with_parent():
    """preexec_fn: SIGTERM to Dovecot's master when the thread that
    started it ends, so a killed test (a ctest timeout) leaves no Dovecot
    running."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def session_members(sid):
    """PIDs of the live (not zombie) processes in session sid."""
    return pt.procs(lambda fields: int(fields[3]) == sid)


def handshake(path, timeout=10):
    """Connect to an auth-client socket and read the server's handshake up
    to DONE: its lines (without the DONE), or None if it is not there."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(b"VERSION\t1\t2\nCPID\t%d\n" % os.getpid())
            f = s.makefile("rb")
            lines = []
            while True:
                line = f.readline()
                if not line.endswith(b"\n"):
                    return None
                line = line.rstrip(b"\n").decode()
                if line == "DONE":
                    return lines
                lines.append(line)
    except OSError:
        return None


def lmtp_greeting(path=None, port=None, timeout=10):
    """The first line an LMTP server sends on a UNIX socket path or on
    127.0.0.1:port, or None when nothing answers."""
    try:
        if path:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(timeout)
            s.connect(path)
        else:
            s = socket.create_connection(("127.0.0.1", port), timeout)
        with s, s.makefile("rb") as f:
            line = f.readline()
            s.sendall(b"QUIT\r\n")
            return line.decode(errors="replace").rstrip("\r\n") or None
    except OSError:
        return None


def searchable(d):
    """Let other users (Dovecot's, postern's mail_owner) reach into d."""
    os.chmod(d, 0o755)
    parent = os.path.dirname(d)
    mode = stat.S_IMODE(os.stat(parent).st_mode)
    if mode & 0o011 != 0o011:
        os.chmod(parent, mode | 0o011)


class Dovecot:

    def __init__(self, d, users, mechanisms="plain login",
                 failure_delay="0", inet_port=None):
        """d: a private directory (created by the caller); users:
        {"alice": "s3cret", ...}; mechanisms: auth_mechanisms;
        failure_delay: auth_failure_delay (Dovecot's default: "2 secs");
        inet_port: also an auth inet_listener on 127.0.0.1:inet_port."""
        self._paths(d)
        self.socket_path = os.path.join(self.base_dir, LISTENER)
        for v in list(users) + list(users.values()) + [mechanisms,
                                                       failure_delay]:
            if any(c in v for c in ":\n\r\0"):
                raise ValueError("%r: no ':' or line break here" % v)
        for user in users:
            if user != user.lower():
                raise ValueError("%r: Dovecot looks up login names in "
                                 "lower case" % user)
        # the auth process (user dovecot) reads passwd; postern's workers
        # (mail_owner) reach the socket: d and its parent must be searchable
        searchable(self.d)
        with open(self.passwd, "w") as f:
            for user, password in users.items():
                f.write("%s:{PLAIN}%s::::::\n" % (user, password))
        os.chmod(self.passwd, 0o644)
        nobody = pwd.getpwnam("nobody")
        with open(self.conf, "w") as f:
            f.write(
                "base_dir = %s\nstate_dir = %s\nlog_path = %s\n"
                "protocols =\nssl = no\n"
                "disable_plaintext_auth = no\n"
                "auth_mechanisms = %s\nauth_failure_delay = %s\n"
                "auth_verbose = yes\nauth_debug = yes\n"
                "passdb {\n  driver = passwd-file\n"
                "  args = scheme=PLAIN %s\n}\n"
                "userdb {\n  driver = static\n"
                "  args = uid=%d gid=%d home=%s/home/%%u\n}\n"
                "service auth {\n  unix_listener %s {\n"
                "    mode = 0666\n  }\n%s}\n"
                "service anvil {\n  unix_listener anvil-auth-penalty {\n"
                "    mode = 0\n  }\n}\n"
                % (self.base_dir, self.state_dir, self.log_path,
                   mechanisms, failure_delay, self.passwd,
                   nobody.pw_uid, nobody.pw_gid, self.d, LISTENER,
                   "  inet_listener postern {\n    address = 127.0.0.1\n"
                   "    port = %d\n  }\n" % inet_port if inet_port else ""))

    def _paths(self, d):
        """Where the instance in directory d keeps its files."""
        self.d = os.path.abspath(d)
        self.conf = os.path.join(self.d, "dovecot.conf")
        self.base_dir = os.path.join(self.d, "run")
        self.state_dir = os.path.join(self.d, "state")
        self.log_path = os.path.join(self.d, "dovecot.log")
        self.passwd = os.path.join(self.d, "passwd")
        self.errfile = os.path.join(self.d, "dovecot.stderr")
        self.proc = None

    def start(self):
        """Start Dovecot; returns self once the service answers (the
        auth socket, or DovecotLmtp's listeners)."""
        self.err = open(self.errfile, "w")
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
            stdout=self.err, stderr=self.err, start_new_session=True,
            preexec_fn=die_with_parent)
        try:
            state = pt.wait_for(self._state, "dovecot's auth socket")
        except AssertionError:
            state = "not ready"
        if state != "ready":
            rc = self.proc.poll()
            self.stop()
            raise AssertionError("dovecot %s (exit %s):\n%s%s" %
                                 (state, rc, self.stderr(), self.log()))
        return self

    def _state(self):
        """Where a start stands: "ready", "failed", or None (not yet)."""
        if self.proc.poll() is not None or "Fatal:" in self.log():
            return "failed"
        return "ready" if self.answers() else None

    def answers(self):
        """Whether the service the tests use answers."""
        return handshake(self.socket_path) is not None

    def stderr(self):
        try:
            with open(self.errfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log(self):
        """Dovecot's log (log_path) as text."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        """Stop Dovecot and wait until all its processes are gone."""
        if self.proc is None:
            return
        sid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        # the master waits for its children, but not forever: whatever
        # is left of the session is killed
        deadline = time.monotonic() + 60
        while session_members(sid):
            if time.monotonic() > deadline:
                for pid in session_members(sid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.05)
        self.proc.wait()
        self.err.close()
        self.proc = None


class DovecotLmtp(Dovecot):
    """A private Dovecot LMTP server.

    users: {"alice@lmtp.test": None, "full@lmtp.test": "*:storage=1"}:
    the addresses it delivers to (looked up whole, as Dovecot's LMTP does
    by default), each with a quota_rule or None (storage in kilobytes).
    Over quota, a recipient gets 452 4.2.2 at the end of DATA
    (quota_full_tempfail; 552 5.2.2 with tempfail False), the others are
    saved; an unknown address gets 550 5.1.1 at RCPT.  socket_path:
    the UNIX listener (mode 0666, so postern's mail_owner reaches it);
    port: the inet listener on 127.0.0.1 (None: none)."""

    def __init__(self, d, users, socket_path, port=None, tempfail=True):
        self._paths(d)
        self.mail = os.path.join(self.d, "mail")
        self.socket_path = socket_path
        self.port = port
        searchable(self.d)
        nobody = pwd.getpwnam("nobody")
        os.makedirs(self.mail, exist_ok=True)
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        with open(self.passwd, "w") as f:
            for user, rule in users.items():
                # the extra fields are the last, so ':' is fine there
                if any(c in user for c in ":\n\r\0 ") or \
                        any(c in (rule or "") for c in "\n\r\0 ") or \
                        user != user.lower():
                    raise ValueError("%r: lower case, no ':' here" % user)
                f.write("%s::%d:%d::%s::%s\n" % (
                    user, nobody.pw_uid, nobody.pw_gid, self.home(user),
                    "userdb_quota_rule=" + rule if rule else ""))
        os.chmod(self.passwd, 0o644)
        inet = ("  inet_listener lmtp {\n    address = 127.0.0.1\n"
                "    port = %d\n  }\n" % port if port else "")
        with open(self.conf, "w") as f:
            f.write(
                "base_dir = %s\nstate_dir = %s\nlog_path = %s\n"
                "protocols = lmtp\nssl = no\n"
                "postmaster_address = postmaster@lmtp.test\n"
                "quota_full_tempfail = %s\n"
                "mail_location = maildir:~/Maildir\n"
                "passdb {\n  driver = passwd-file\n  args = %s\n}\n"
                "userdb {\n  driver = passwd-file\n  args = %s\n}\n"
                "protocol lmtp {\n  mail_plugins = $mail_plugins quota\n}\n"
                "plugin {\n  quota = maildir:User quota\n}\n"
                "service lmtp {\n  unix_listener %s {\n"
                "    mode = 0666\n  }\n%s}\n"
                "service anvil {\n  unix_listener anvil-auth-penalty {\n"
                "    mode = 0\n  }\n}\n"
                % (self.base_dir, self.state_dir, self.log_path,
                   "yes" if tempfail else "no",
                   self.passwd, self.passwd, socket_path, inet))

    def home(self, user):
        return os.path.join(self.mail, user)

    def answers(self):
        if lmtp_greeting(path=self.socket_path) is None:
            return False
        return self.port is None or lmtp_greeting(port=self.port) is not None

    def maildir(self, user):
        """The messages (bytes) delivered to user, by file name."""
        out = {}
        for sub in ("new", "cur"):
            d = os.path.join(self.home(user), "Maildir", sub)
            try:
                names = sorted(os.listdir(d))
            except FileNotFoundError:
                continue
            for n in names:
                with open(os.path.join(d, n), "rb") as f:
                    out[n] = f.read()
        return out
