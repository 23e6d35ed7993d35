# SPDX-License-Identifier: MIT
"""qmgrfix - a postern with its queue manager, Maildirs and a fake SMTP
peer, for the test_qmgr_* tests.

Mta wraps srv.Server: it adds the qmgr line to master.cf (without it the
supervisor runs no queue manager), a data_directory for local Maildir
delivery and short retry times.  FakeSmtp is a tiny scripted SMTP server
(stdlib sockets) that answers each RCPT from a table and records what it
received.
"""
import base64
import email
import email.policy
import os
import re
import shutil
import socket
import tempfile
import threading
import unittest

import pt
import srv

QMGR_LINE = "qmgr unix n - n 300 1 qmgr\n"


def relay_cf(port, extra=""):
    """main.cf lines of a relay.postern.test that sends everything for
    mx.postern.test in plaintext to the SMTP server on 127.0.0.1:port."""
    return ("myhostname = relay.postern.test\n"
            "mydestination = relay.postern.test\n" + extra +
            "transport_maps = inline:{ mx.postern.test="
            "smtp:[127.0.0.1]:%d }\n"
            "smtp_tls_security_level = none\n" % port)


class Mta(srv.Server):

    def __init__(self, d, main_cf="", port=None, qmgr=True, workers=1):
        os.makedirs(d, exist_ok=True)
        # the queue manager runs as mail_owner: it must reach data/
        os.chmod(d, 0o755)
        os.chmod(os.path.dirname(d), 0o755)
        self.data = os.path.join(d, "data")
        base = ("data_directory = %s\n"
                "minimal_backoff_time = 1s\nmaximal_backoff_time = 4s\n"
                "queue_run_delay = 1s\n" % self.data)
        self.port = port or pt.free_port()
        super().__init__(d, base + main_cf, [("smtp", self.port, [])],
                         workers=workers)
        self.qmgr = qmgr
        if qmgr:
            with open(os.path.join(d, "master.cf"), "a") as f:
                f.write(QMGR_LINE)

    def start(self):
        super().start()
        if self.qmgr:
            pt.wait_for(lambda: "queue manager started" in self.logtext() or
                        "qmgr" in self.logtext() and "fatal:" in
                        self.logtext(), "the queue manager to start")
            if "fatal:" in self.logtext():
                self.stop()
                raise AssertionError("qmgr failed: " + self.logtext())
        return self

    def postern(self, *args, **kw):
        return pt.postern(args[0], "-c", self.d, *args[1:], **kw)

    def maildir(self, user, base=None):
        """The messages (bytes) in a Maildir's new/, by file name."""
        d = base or os.path.join(self.data, "mail", user, "Maildir")
        out = {}
        try:
            names = sorted(os.listdir(os.path.join(d, "new")))
        except FileNotFoundError:
            return out
        for n in names:
            with open(os.path.join(d, "new", n), "rb") as f:
                out[n] = f.read()
        return out

    def wait_mail(self, user, count=1, base=None):
        return pt.wait_for(
            lambda: (len(self.maildir(user, base)) >= count and
                     self.maildir(user, base)),
            "%d message(s) for %s" % (count, user))

    def queue_empty(self):
        return not any(self.queued(s) for s in
                       ("ready", "deferred", "maildrop", "hold"))

    def check_clean(self, test):
        rc = self.stop()
        problems = self.problems()
        if problems:
            test.fail("postern serve left problems:\n" + "\n".join(problems))
        test.assertEqual(rc, 0, self.stderr())


class PeerMtaTest(unittest.TestCase):
    """A fresh postern with its queue manager per test (self.mta), whose
    mail for peer.test goes in plaintext to a FakeSmtp (self.peer) that
    answers every RCPT with self.answer(rcpt).  EXTRA_CF: more main.cf
    lines.  tearDown fails the test on sanitizer reports or crashes."""

    EXTRA_CF = ""

    def answer(self, rcpt):
        return "250 2.1.5 ok"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postern-qmgr-")
        self.peer = FakeSmtp(answer=lambda rcpt: self.answer(rcpt))
        self.mta = Mta(os.path.join(self.tmp, "mta"), self.EXTRA_CF + (
            "transport_maps = inline:{ peer.test=smtp:[127.0.0.1]:%d }\n"
            "smtp_tls_security_level = none\n" % self.peer.port))
        self.mta.start()

    def tearDown(self):
        self.mta.stop()
        self.peer.close()
        problems = self.mta.problems()
        shutil.rmtree(self.tmp, True)
        self.assertEqual(problems, [])


def find_dsn(mta, user, qid):
    """The DSN about message qid in user's Maildir at mta, once it is
    there (an email.message.Message)."""
    def look():
        for raw in mta.maildir(user).values():
            m = parse(raw)
            if m.get_content_type() != "multipart/report":
                continue
            if ("X-Postfix-Queue-ID: %s" % qid).encode() in raw:
                return m
        return None
    return pt.wait_for(look, "a DSN about %s for %s" % (qid, user))


def token_counts(mta, user):
    """How many times each N of a "token-N-end" body line is in user's
    Maildir (the relay load tests number their messages so)."""
    seen = {}
    for raw in mta.maildir(user).values():
        for t in re.findall(rb"token-(\d+)-end", raw):
            seen[int(t)] = seen.get(int(t), 0) + 1
    return seen


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def dsn_fields(msg):
    """The per-message and per-recipient field groups of a DSN's
    message/delivery-status part (lists of dicts)."""
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    parts = msg.get_payload()
    status = parts[1]
    assert status.get_content_type() == "message/delivery-status"
    groups = []
    for block in status.get_payload():
        groups.append({k.lower(): v for k, v in block.items()})
    return parts, groups


class FakeSmtp:
    """A scripted SMTP server on 127.0.0.1.

    answer(rcpt) returns the reply to RCPT TO for that address (e.g.
    "250 ok" or "550 5.1.1 no such user"); data_reply is the reply after
    DATA.  Every accepted message is appended to self.messages as
    (mail_from, [rcpts], data bytes)."""

    def __init__(self, answer=None, data_reply="250 2.0.0 queued",
                 auth=None):
        """auth: (mechanisms, {user: password}) to offer AUTH and require
        it before MAIL; self.auth_log gets (mechanism, user, accepted)."""
        self.answer = answer or (lambda rcpt: "250 2.1.5 ok")
        self.auth = auth
        self.auth_log = []
        self.data_reply = data_reply
        self.messages = []
        self.rcpt_log = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stopped = True
        self.sock.close()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(c,),
                             daemon=True).start()

    def _auth(self, cmd, f, send):
        """AUTH PLAIN (initial response) or LOGIN: True when accepted."""
        words = cmd.split()
        mech = words[1].upper()
        try:
            if mech == "PLAIN" and len(words) == 3:
                _, user, pw = base64.b64decode(words[2]).split(b"\0")
            elif mech == "LOGIN":
                send("334 VXNlcm5hbWU6")
                user = base64.b64decode(f.readline().strip())
                send("334 UGFzc3dvcmQ6")
                pw = base64.b64decode(f.readline().strip())
            else:
                send("504 5.5.4 unsupported mechanism")
                return False
        except ValueError:
            send("501 5.5.2 bad response")
            return False
        user, pw = user.decode(), pw.decode()
        ok = self.auth[1].get(user) == pw
        with self.lock:
            self.auth_log.append((mech, user, ok))
        send("235 2.7.0 Authentication successful" if ok else
             "535 5.7.8 Error: authentication failed")
        return ok

    def _session(self, c):
        f = c.makefile("rb")

        def send(line):
            c.sendall(line.encode() + b"\r\n")
        try:
            send("220 fake.test ESMTP")
            mail, rcpts = None, []
            authed = self.auth is None
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode(errors="replace").strip()
                up = cmd.upper()
                if up.startswith("EHLO"):
                    auth = ("250-AUTH %s\r\n" % self.auth[0]
                            if self.auth else "")
                    send("250-fake.test\r\n250-PIPELINING\r\n%s"
                         "250 8BITMIME" % auth)
                elif up.startswith("AUTH "):
                    authed = self._auth(cmd, f, send)
                elif up.startswith("MAIL FROM:") and not authed:
                    send("530 5.7.0 Authentication required")
                elif up.startswith("HELO"):
                    send("250 fake.test")
                elif up.startswith("MAIL FROM:"):
                    m = re.match(r"MAIL FROM:\s*<([^>]*)>", cmd, re.I)
                    mail, rcpts = (m.group(1) if m else ""), []
                    send("250 2.1.0 ok")
                elif up.startswith("RCPT TO:"):
                    m = re.match(r"RCPT TO:\s*<([^>]*)>", cmd, re.I)
                    addr = m.group(1) if m else ""
                    r = self.answer(addr)
                    with self.lock:
                        self.rcpt_log.append((addr, r))
                    if r.startswith("2"):
                        rcpts.append(addr)
                    send(r)
                elif up == "DATA":
                    if not rcpts:
                        send("554 5.5.1 no valid recipients")
                        continue
                    send("354 go ahead")
                    data = b""
                    while True:
                        line = f.readline()
                        if not line or line == b".\r\n":
                            break
                        if line.startswith(b".."):
                            line = line[1:]
                        data += line
                    if self.data_reply.startswith("2"):
                        with self.lock:
                            self.messages.append((mail, list(rcpts), data))
                    send(self.data_reply)
                elif up == "RSET":
                    mail, rcpts = None, []
                    send("250 ok")
                elif up == "QUIT":
                    send("221 bye")
                    return
                else:
                    send("250 ok" if up.startswith("NOOP") else
                         "502 5.5.2 not implemented")
        except OSError:
            pass
        finally:
            c.close()
