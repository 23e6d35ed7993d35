#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smtpd_milters: postern serve hands each message, after the end of
DATA or BDAT LAST, to real milters speaking Sendmail 8's milter protocol
through libmilter, with Python's smtplib (or a raw socket) as the client:

- Debian's opendkim signs mail from its domain: the queued message has a
  DKIM-Signature that python3-dkim verifies against the key (and that
  fails once the Subject is changed), at the very top, above postern's
  Received: header (where Sendmail and Postfix put a milter's insert at
  index 0);
  mail from another domain is not signed;
- a scripted milter (Debian's python3-milter, pymilter, on libmilter) sees
  the whole transaction: CONNECT with the client's address and port, HELO,
  MAIL with its ESMTP parameters (as Postfix passes them), every RCPT,
  DATA, the client's headers but not postern's Received:, the body in
  64 KB chunks, and the macros j, {daemon_name}, v, {client_addr}, i (the
  queue ID of the 250 reply), {mail_addr}, {rcpt_addr},
  {auth_type}/{auth_authen} after AUTH, {tls_version}/{cipher} after
  STARTTLS; each message of a session gets a conversation of its own;
- its answers decide the message: reject (550 5.7.1 Command rejected),
  tempfail (451 4.7.1 Service unavailable - try again later), its own
  reply (smfi_setreply), at any stage, each logged as Postfix's "QID:
  milter-reject: STAGE from ...; from=<> to=<> proto=ESMTP helo=<>" with
  nothing queued; discard (250, nothing queued, milter-discard logged);
  quarantine (the message waits in hold/, milter-hold logged); accept (the
  rest of the conversation is skipped);
- its edits are applied to the queued message: addheader, insheader,
  chgheader (change, delete), replacebody, chgfrom, addrcpt, delrcpt;
- with two milters (inet and unix sockets) both edit the message, each
  sees the message as the client sent it, and a reject by either one
  refuses the message (the second is not asked after the first);
- a milter that is down, closes the connection or does not answer within
  its content_timeout (set per milter in Postfix's brace form) gets
  milter_default_action, with a warning naming it: tempfail by default,
  reject, quarantine, or accept (per milter); smfi_progress keeps a slow
  milter within its time limit.
"""
import os
import re
import shutil
import smtplib
import socket
import ssl
import tempfile
import threading
import unittest

import dovecotfix
import milterfix
import pki
import pt
import srv

RCPT = "r@mx.postern.test"
QUEUED = re.compile(r"^2\.0\.0 Ok: queued as ([0-9A-VZ]+)$")


def message(token, headers=(), body=None, frm="a@client.example"):
    """A message (bytes, CRLF) whose Subject and body carry token."""
    hdr = [("From", frm), ("To", RCPT), ("Subject", "test " + token)]
    text = "".join("%s: %s\r\n" % h for h in hdr + list(headers))
    text += "\r\n" + (body if body is not None else
                      "body of %s\r\n" % token)
    return text.encode()


class Closer:
    """A broken milter: it reads the option negotiation and closes the
    connection without an answer."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            with c:
                c.settimeout(30)
                try:
                    c.recv(4096)
                except OSError:
                    pass

    def stop(self):
        self.sock.close()


def qid_of(rec):
    """The queue ID (macro i) a milter was told, or None."""
    for m in rec["messages"]:
        for stage in ("mail", "rcpt", "data", "eoh", "eom"):
            for macros in m["macros"].get(stage, []):
                if "i" in macros:
                    return macros["i"]
    return None


@unittest.skipUnless(milterfix.scripted_available(),
                     "Debian's python3-milter (/usr/bin/python3) missing")
class Milter(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-milter-")
        # postern's workers (mail_owner) connect to the unix socket here
        os.chmod(cls.tmp, 0o755)
        cls.dove = None
        cls.started = []
        try:
            cls.start_peers()
        except BaseException:
            cls.stop_peers()
            raise

    @classmethod
    def start_peers(cls):
        cls.a = milterfix.Scripted(os.path.join(cls.tmp, "a"),
                                   name="a").start()
        cls.started.append(cls.a)
        cls.b = milterfix.Scripted(
            os.path.join(cls.tmp, "b"), name="b",
            unix_path=os.path.join(cls.tmp, "b.sock")).start()
        cls.started.append(cls.b)
        cls.dkim = None
        if milterfix.opendkim_available():
            cls.dkim = milterfix.OpenDkim(os.path.join(cls.tmp, "dkim"))
            cls.dkim.start()
            cls.started.append(cls.dkim)
        auth = []
        if dovecotfix.available():
            os.makedirs(os.path.join(cls.tmp, "dovecot"))
            cls.dove = dovecotfix.Dovecot(os.path.join(cls.tmp, "dovecot"),
                                          {"alice": "s3cret"}).start()
            auth = ["smtpd_sasl_auth_enable=yes", "smtpd_sasl_type=dovecot",
                    "smtpd_sasl_path=" + cls.dove.socket_path]
        cls.closer = Closer()
        cls.started.append(cls.closer)
        crt, key = pki.PKI(os.path.join(cls.tmp, "pki")).issue(
            "mx.postern.test")
        cls.dead = pt.free_port()
        dead = "inet:127.0.0.1:%d" % cls.dead
        services = [
            ("one", ["smtpd_milters=" + cls.a.postern] + auth),
            # a per-milter content_timeout (main.cf's slow_milter)
            ("slow", ["smtpd_milters=$slow_milter"]),
            ("closer", ["smtpd_milters=inet:127.0.0.1:%d" %
                        cls.closer.port]),
            ("two", ["smtpd_milters=%s,%s" % (cls.a.postern,
                                              cls.b.postern)]),
            ("down", ["smtpd_milters=" + dead]),
            ("down_reject", ["smtpd_milters=" + dead,
                             "milter_default_action=reject"]),
            ("down_hold", ["smtpd_milters=" + dead,
                           "milter_default_action=quarantine"]),
            # main.cf's smtpd_milters: the dead milter, default_action
            # accept in Postfix's per-milter form
            ("down_accept", []),
        ]
        if cls.dkim:
            services.append(("dkim", ["smtpd_milters=" + cls.dkim.postern]))
        cls.ports = {}
        taken = {cls.dead, cls.a.port, cls.closer.port} | (
            {cls.dkim.port} if cls.dkim else set())
        for name, _ in services:
            p = pt.free_port()
            while p in taken:
                p = pt.free_port()
            taken.add(p)
            cls.ports[name] = p
        cls.server = srv.Server(
            os.path.join(cls.tmp, "srv"),
            "smtpd_milters = { %s, default_action = accept }\n"
            "slow_milter = { %s, content_timeout = 3s }\n"
            "smtpd_tls_security_level = may\n"
            "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
            % (dead, cls.a.postern, crt, key),
            [(n, cls.ports[n], opts) for n, opts in services],
            workers=1).start()

    @classmethod
    def stop_peers(cls):
        problems = []
        if getattr(cls, "server", None):
            problems = srv.stop_all([cls.server])
        for p in cls.started:
            p.stop()
        if cls.dove:
            cls.dove.stop()
        return problems

    @classmethod
    def tearDownClass(cls):
        problems = cls.stop_peers()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert not problems, problems

    def setUp(self):
        self.a.plan()
        self.b.plan()
        self.log_mark = 0

    # ---- helpers

    def send(self, service, msg, rcpts=(RCPT,), sender="s@client.example",
             helo="client.example", mail_opts=(), login=None, tls=False):
        """Send msg; (code, text) of the end of DATA.  self.client_port
        is the client's port; log_line() looks at the log from here on."""
        self.log_mark = len(self.server.logtext())
        s = smtplib.SMTP("127.0.0.1", self.ports[service], timeout=120)
        self.addCleanup(s.close)
        self.client_port = s.sock.getsockname()[1]
        s.ehlo(helo)
        if tls:
            c = ssl.create_default_context()
            c.check_hostname = False
            c.verify_mode = ssl.CERT_NONE
            s.starttls(context=c)
            s.ehlo(helo)
        if login:
            s.login(*login)
        self.assertEqual(s.mail(sender, list(mail_opts))[0], 250)
        for r in rcpts:
            self.assertEqual(s.rcpt(r)[0], 250, r)
        code, text = s.data(msg)
        s.quit()
        return code, text.decode()

    def queued_ok(self, reply):
        """The queue ID of a "250 2.0.0 Ok: queued as ID" reply."""
        code, text = reply
        self.assertEqual(code, 250, text)
        m = QUEUED.match(text)
        self.assertIsNotNone(m, text)
        return m.group(1)

    def queue_file(self, qid, state="ready"):
        self.assertIn(qid, self.server.queued(state))
        return self.server.queue_file(qid, state)

    def assert_not_queued(self, token):
        """No committed state holds the message with token (message()'s
        Subject), and nothing is left in tmp/."""
        subject = b"\r\nSubject: test %s\r\n" % token.encode()
        for state in ("ready", "deferred", "hold"):
            for q in self.server.queued(state):
                self.assertNotIn(subject,
                                 self.server.queue_file(q, state),
                                 "%s/%s" % (state, q))
        pt.wait_for(lambda: not self.server.queued("tmp"),
                    "an empty tmp/ (%s)" % self.server.queued("tmp"))

    def run_milter(self, milter, service, msg, **kw):
        """Send msg through service; (reply, the milter's record of the
        connection)."""
        before = milter.count()
        reply = self.send(service, msg, **kw)
        return reply, milter.wait_session(before)

    def log_line(self, text):
        """The line that contains text (waiting for it) in the log since
        the last send()."""
        def find():
            new = self.server.logtext()[self.log_mark:]
            return [line for line in new.splitlines() if text in line]
        return pt.wait_for(find, "log line %r" % text)[0]

    # ---- what a milter sees

    def test_milter_sees_the_transaction(self):
        body = "first line %s\r\n.leading dot\r\n\r\nlast line\r\n" % "see"
        # (smtplib dot-stuffs the ".leading dot" line)
        msg = message("see", [("X-Folded", "one\r\n\ttwo")], body=body)
        reply, rec = self.run_milter(
            self.a, "one", msg, rcpts=(RCPT, "r2@mx.postern.test"))
        qid = self.queued_ok(reply)
        self.assertEqual(rec["errors"], [])
        # CONNECT: the client's verified name (libunbound's localhost
        # zone), address and port
        self.assertEqual(rec["connect"][0], "localhost")
        self.assertEqual(rec["connect"][2], ["127.0.0.1", self.client_port])
        self.assertEqual(rec["helo"], "client.example")
        self.assertEqual(len(rec["messages"]), 1)
        m = rec["messages"][0]
        self.assertEqual(m["mail"], ["<s@client.example>"])
        self.assertEqual(m["rcpt"], [["<%s>" % RCPT],
                                     ["<r2@mx.postern.test>"]])
        # the client's headers, without postern's Received:; folded
        # lines with LF, as Sendmail sends them
        self.assertEqual(m["headers"], [
            ["From", "a@client.example"], ["To", RCPT],
            ["Subject", "test see"], ["X-Folded", "one\n\ttwo"]])
        # the body as the client meant it (dot-stuffing undone)
        self.assertEqual(m["body"], body)
        self.assertEqual(m["end"], "eom")
        self.assertEqual([s for s, _ in rec["replies"]],
                         ["connect", "helo", "mail", "rcpt", "rcpt", "data",
                          "header", "header", "header", "header", "eoh",
                          "body", "eom"])
        # macros
        conn = rec["macros"]["connect"]
        self.assertEqual(conn["j"], "mx.postern.test")
        self.assertEqual(conn["{daemon_name}"], "mx.postern.test")
        version = pt.postern("conf", "-d", "mail_version").stdout
        self.assertEqual(conn["v"],
                         "postern " + version.split("=", 1)[1].strip())
        self.assertEqual(conn["{client_addr}"], "127.0.0.1")
        self.assertEqual(conn["{client_name}"], "localhost")
        self.assertEqual(conn["{client_ptr}"], "localhost")
        self.assertEqual(conn["_"], "localhost [127.0.0.1]")
        mail = m["macros"]["mail"][0]
        self.assertEqual(mail["{mail_addr}"], "s@client.example")
        self.assertEqual(mail["i"], qid)
        self.assertEqual([r["{rcpt_addr}"] for r in m["macros"]["rcpt"]],
                         [RCPT, "r2@mx.postern.test"])
        self.assertEqual(m["macros"]["eom"][0]["i"], qid)
        self.assertNotIn("{auth_authen}", m["macros"]["eom"][0])
        # queued as sent: Received: first, then the client's message
        data = self.queue_file(qid)
        queued = milterfix.message(data)
        self.assertTrue(queued.startswith(b"Received: "), queued[:80])
        self.assertTrue(queued.endswith(msg), queued)
        self.assertEqual(milterfix.sender(data), "s@client.example")
        self.assertEqual(milterfix.rcpts(data), [RCPT, "r2@mx.postern.test"])

    def test_mail_parameters(self):
        # as Postfix does: the MAIL command's ESMTP parameters as given
        msg = message("params")
        args = ["SIZE=%d" % len(msg), "BODY=8BITMIME"]
        reply, rec = self.run_milter(self.a, "one", msg, mail_opts=args)
        self.queued_ok(reply)
        self.assertEqual(rec["messages"][0]["mail"],
                         ["<s@client.example>"] + args)

    def test_large_body_in_chunks(self):
        # more than one 64 KB body chunk each way
        line = "%s\r\n" % ("x" * 70)
        body = "".join("%05d %s" % (i, line) for i in range(3000))
        new = "".join("%05d new %s" % (i, line) for i in range(2500))
        self.a.plan(edits=[["replacebody", new]])
        reply, rec = self.run_milter(self.a, "one",
                                     message("chunks", body=body))
        qid = self.queued_ok(reply)
        self.assertEqual(rec["errors"], [])
        self.assertEqual(rec["messages"][0]["body"], body)
        self.assertGreater(
            [s for s, _ in rec["replies"]].count("body"), 1)
        queued = milterfix.message(self.queue_file(qid))
        self.assertEqual(milterfix.body_of(queued), new.encode())

    @unittest.skipUnless(dovecotfix.available(), "dovecot (as root) missing")
    def test_auth_macros(self):
        reply, rec = self.run_milter(self.a, "one", message("auth"),
                                     login=("alice", "s3cret"))
        self.queued_ok(reply)
        eom = rec["messages"][0]["macros"]["eom"][0]
        self.assertEqual(eom["{auth_authen}"], "alice")
        self.assertEqual(eom["{auth_type}"], "PLAIN")

    def test_tls_macros(self):
        reply, rec = self.run_milter(self.a, "one", message("tls"),
                                     tls=True)
        self.queued_ok(reply)
        helo = rec["macros"]["helo"]
        self.assertRegex(helo["{tls_version}"], r"^TLSv1\.[23]$")
        self.assertTrue(helo["{cipher}"])
        self.assertNotIn("{cert_subject}", helo)
        self.assertNotIn("{tls_version}",
                         self.run_milter(self.a, "one", message("plain"))[1]
                         ["macros"]["helo"])

    def test_null_sender(self):
        self.a.plan(edits=[["addheader", "X-Seen", "yes"]])
        reply, rec = self.run_milter(self.a, "one", message("null"),
                                     sender="")
        qid = self.queued_ok(reply)
        m = rec["messages"][0]
        self.assertEqual(m["mail"], ["<>"])
        self.assertEqual(m["macros"]["mail"][0].get("{mail_addr}", ""), "")
        data = self.queue_file(qid)
        self.assertEqual(milterfix.sender(data), "")
        self.assertIn(b"\r\nX-Seen: yes\r\n", milterfix.message(data))

    def test_bdat(self):
        sock, f = srv.raw_session(self, self.ports["one"])

        def cmd(line, data=b""):
            sock.sendall(line + b"\r\n" + data)
            return b"".join(srv.read_reply(f)).decode()

        def transaction(token):
            self.assertTrue(cmd(b"MAIL FROM:<s@client.example>")
                            .startswith("250 "))
            self.assertTrue(cmd(b"RCPT TO:<%s>" % RCPT.encode())
                            .startswith("250 "))
            msg = message(token)
            half = len(msg) // 2
            self.assertTrue(cmd(b"BDAT %d" % half, msg[:half])
                            .startswith("250 "))
            return cmd(b"BDAT %d LAST" % (len(msg) - half), msg[half:])

        self.assertIn("CHUNKING", cmd(b"EHLO client.example"))
        # a reject, and the session goes on
        self.a.plan(eom="reject")
        before = self.a.count()
        self.assertEqual(transaction("bdat-rej"),
                         "550 5.7.1 Command rejected\r\n")
        self.a.wait_session(before)
        self.assert_not_queued("bdat-rej")
        self.a.plan(edits=[["addheader", "X-Bdat", "seen"]])
        before = self.a.count()
        msg = message("bdat-ok")
        got = transaction("bdat-ok")
        m = re.match(r"^250 2\.0\.0 Ok: %d bytes queued as ([0-9A-VZ]+)\r\n$"
                     % len(msg), got)
        self.assertTrue(m, got)
        rec = self.a.wait_session(before)
        self.assertEqual(rec["messages"][0]["headers"], [
            ["From", "a@client.example"], ["To", RCPT],
            ["Subject", "test bdat-ok"]])
        self.assertEqual(rec["messages"][0]["body"], "body of bdat-ok\r\n")
        queued = milterfix.message(self.queue_file(m.group(1)))
        self.assertTrue(queued.endswith(b"X-Bdat: seen\r\n\r\n"
                                        b"body of bdat-ok\r\n"), queued)

    def test_messages_in_one_session(self):
        """Each message of a session has its own milter conversation and
        queue ID; a reject leaves the session usable."""
        s = smtplib.SMTP("127.0.0.1", self.ports["one"], timeout=120)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        recs, replies = [], []
        for token, plan in (("s1", {"eom": "reject"}),
                            ("s2", {"edits": [["addheader", "X-N", "2"]]}),
                            ("s3", {"edits": [["addheader", "X-N", "3"]]})):
            self.a.plan(**plan)
            before = self.a.count()
            self.assertEqual(s.mail("s@client.example")[0], 250)
            self.assertEqual(s.rcpt(RCPT)[0], 250)
            code, text = s.data(message(token))
            replies.append((code, text.decode()))
            recs.append(self.a.wait_session(before))
        s.quit()
        self.assertEqual(replies[0], (550, "5.7.1 Command rejected"))
        q2, q3 = self.queued_ok(replies[1]), self.queued_ok(replies[2])
        self.assertNotEqual(q2, q3)
        self.assertEqual([qid_of(r) for r in recs[1:]], [q2, q3])
        self.assertNotIn(qid_of(recs[0]), (q2, q3))
        for qid, n in ((q2, b"2"), (q3, b"3")):
            queued = milterfix.message(self.queue_file(qid))
            self.assertEqual(queued.count(b"X-N:"), 1)
            self.assertIn(b"\r\nX-N: %s\r\n" % n, queued)
        self.assert_not_queued("s1")

    # ---- what the milter decides

    def assert_rejected(self, rec, reply, token, code, text, stage):
        """reply is (code, text); the log has QID: milter-reject: STAGE
        ... with the milter's queue ID; nothing is queued."""
        self.assertEqual(reply, (code, text))
        qid = qid_of(rec)
        line = ("milter-reject: %s from localhost[127.0.0.1]: %s; "
                "from=<s@client.example> to=<%s> proto=ESMTP "
                "helo=<client.example>" % (stage, text, RCPT))
        got = self.log_line(line)
        if qid:
            self.assertIn("%s: %s" % (qid, line), got)
        self.assert_not_queued(token)

    def test_reject_at_end_of_message(self):
        self.a.plan(eom="reject", edits=[["addheader", "X-Lost", "1"]])
        reply, rec = self.run_milter(self.a, "one", message("rej-eom"))
        self.assert_rejected(rec, reply, "rej-eom", 550,
                             "5.7.1 Command rejected", "END-OF-MESSAGE")

    def test_tempfail_at_data(self):
        self.a.plan(data="tempfail")
        reply, rec = self.run_milter(self.a, "one", message("tf-data"))
        self.assert_rejected(rec, reply, "tf-data", 451,
                             "4.7.1 Service unavailable - try again later",
                             "DATA")
        # the conversation ended there
        self.assertEqual(rec["replies"][-1], ["data", "tempfail"])
        self.assertEqual(rec["messages"][0]["headers"], [])

    def test_reject_at_connect(self):
        self.a.plan(connect="reject")
        reply, rec = self.run_milter(self.a, "one", message("rej-conn"))
        self.assertEqual(reply, (550, "5.7.1 Command rejected"))
        self.log_line("milter-reject: CONNECT from localhost[127.0.0.1]: "
                      "5.7.1 Command rejected; from=<s@client.example> "
                      "to=<%s> proto=ESMTP helo=<client.example>" % RCPT)
        self.assertEqual(rec["replies"], [["connect", "reject"]])
        self.assert_not_queued("rej-conn")

    def test_custom_reply(self):
        self.a.plan(helo={"action": "reject",
                          "reply": ["554", "5.7.0", "go away"]})
        reply, rec = self.run_milter(self.a, "one", message("custom"))
        self.assertEqual(reply, (554, "5.7.0 go away"))
        self.log_line("milter-reject: HELO from localhost[127.0.0.1]: "
                      "5.7.0 go away; from=<s@client.example> "
                      "to=<%s> proto=ESMTP helo=<client.example>" % RCPT)
        self.assert_not_queued("custom")

    def test_custom_temporary_reply(self):
        self.a.plan(mail={"action": "tempfail",
                          "reply": ["421", "4.3.2", "not now"]})
        reply, rec = self.run_milter(self.a, "one", message("custom4"))
        self.assertEqual(reply, (421, "4.3.2 not now"))
        self.log_line("milter-reject: MAIL from localhost[127.0.0.1]: "
                      "4.3.2 not now; from=<s@client.example>")
        self.assert_not_queued("custom4")

    def test_reject_at_rcpt(self):
        # postern asks the milter after DATA: a recipient it refuses
        # refuses the message
        self.a.plan(rcpt={"bad@mx.postern.test": "reject"})
        reply, rec = self.run_milter(
            self.a, "one", message("rej-rcpt"),
            rcpts=(RCPT, "bad@mx.postern.test"))
        self.assertEqual(reply, (550, "5.7.1 Command rejected"))
        line = self.log_line("milter-reject: RCPT from localhost[127.0.0.1]: "
                             "5.7.1 Command rejected; "
                             "from=<s@client.example> "
                             "to=<bad@mx.postern.test> proto=ESMTP "
                             "helo=<client.example>")
        qid = qid_of(rec)
        self.assertIn("%s: milter-reject: RCPT" % qid, line)
        self.assertEqual(rec["replies"][-2:],
                         [["rcpt", "continue"], ["rcpt", "reject"]])
        self.assert_not_queued("rej-rcpt")

    def test_discard(self):
        self.a.plan(eom="discard")
        reply, rec = self.run_milter(self.a, "one", message("discard"))
        qid = self.queued_ok(reply)
        self.log_line("%s: milter-discard: END-OF-MESSAGE from "
                      "localhost[127.0.0.1]: milter triggers DISCARD action; "
                      "from=<s@client.example> to=<%s> proto=ESMTP "
                      "helo=<client.example>" % (qid, RCPT))
        self.assertEqual(rec["messages"][0]["macros"]["eom"][0]["i"], qid)
        self.assert_not_queued("discard")

    def test_quarantine(self):
        self.a.plan(edits=[["quarantine", "looks odd"],
                           ["addheader", "X-Checked", "held"]])
        reply, rec = self.run_milter(self.a, "one", message("held"))
        qid = self.queued_ok(reply)
        self.assertEqual(rec["errors"], [])
        self.log_line("%s: milter-hold: END-OF-MESSAGE from "
                      "localhost[127.0.0.1]: milter triggers HOLD action; "
                      "from=<s@client.example> to=<%s> proto=ESMTP "
                      "helo=<client.example>" % (qid, RCPT))
        self.assertNotIn(qid, self.server.queued("ready"))
        queued = milterfix.message(self.queue_file(qid, "hold"))
        self.assertIn(b"\r\nX-Checked: held\r\n", queued)
        self.assertIn(b"body of held", queued)

    def test_accept_skips_the_rest(self):
        self.a.plan(mail="accept", edits=[["addheader", "X-Never", "1"]])
        reply, rec = self.run_milter(self.a, "one", message("acc"))
        qid = self.queued_ok(reply)
        self.assertEqual(rec["replies"][-1], ["mail", "accept"])
        self.assertEqual(rec["messages"][0]["headers"], [])
        queued = milterfix.message(self.queue_file(qid))
        self.assertNotIn(b"X-Never", queued)
        self.assertIn(b"body of acc", queued)

    # ---- what the milter changes

    def test_header_edits(self):
        self.a.plan(edits=[
            ["addheader", "X-Added", "added"],
            ["insheader", 0, "X-First", "first"],
            ["chgheader", "Subject", 1, "new subject"],
            ["chgheader", "X-Dup", 2, "changed two"],
            ["chgheader", "X-Gone", 1, ""],
        ])
        reply, rec = self.run_milter(self.a, "one", message(
            "hdr", [("X-Dup", "one"), ("X-Gone", "bye"), ("X-Dup", "two")]))
        qid = self.queued_ok(reply)
        self.assertEqual(rec["errors"], [])
        queued = milterfix.message(self.queue_file(qid))
        heads = milterfix.header_lines(queued)
        # index 0 is above postern's own Received:, as in Postfix
        self.assertEqual(heads[0], ("X-First", " first"))
        self.assertEqual(heads[1][0], "Received")
        self.assertEqual([(n, v.strip()) for n, v in heads[2:]], [
            ("From", "a@client.example"),
            ("To", RCPT), ("Subject", "new subject"), ("X-Dup", "one"),
            ("X-Dup", "changed two"), ("X-Added", "added")])
        self.assertIn(b"\r\nSubject: new subject\r\n", queued)
        self.assertEqual(milterfix.body_of(queued), b"body of hdr\r\n")

    def test_replace_body(self):
        self.a.plan(edits=[["replacebody", "replaced\r\nbody\r\n"]])
        reply, rec = self.run_milter(self.a, "one", message("body"))
        qid = self.queued_ok(reply)
        self.assertEqual(rec["errors"], [])
        data = self.queue_file(qid)
        queued = milterfix.message(data)
        self.assertEqual(milterfix.body_of(queued), b"replaced\r\nbody\r\n")
        self.assertIn(b"\r\nSubject: test body\r\n", queued)
        self.assertEqual(
            [v for t, v in milterfix.envelope(data) if t == "size"],
            [str(len(queued))])

    def test_envelope_edits(self):
        self.a.plan(edits=[["chgfrom", "<changed@client.example>"],
                           ["addrcpt", "<added@mx.postern.test>"],
                           ["delrcpt", "<%s>" % RCPT]])
        reply, rec = self.run_milter(
            self.a, "one", message("env"),
            rcpts=(RCPT, "kept@mx.postern.test"))
        qid = self.queued_ok(reply)
        self.assertEqual(rec["errors"], [])
        data = self.queue_file(qid)
        self.assertEqual(milterfix.sender(data), "changed@client.example")
        self.assertEqual(sorted(milterfix.rcpts(data)),
                         ["added@mx.postern.test", "kept@mx.postern.test"])
        queued = milterfix.message(data)
        self.assertIn(b"\r\nTo: %s\r\n" % RCPT.encode(), queued)

    # ---- two milters

    def test_two_milters_both_edit(self):
        self.a.plan(edits=[["addheader", "X-From-A", "a"]])
        self.b.plan(edits=[["addheader", "X-From-B", "b"],
                           ["addrcpt", "<from-b@mx.postern.test>"]])
        nb = self.b.count()
        reply, rec = self.run_milter(self.a, "two", message("both"))
        qid = self.queued_ok(reply)
        recb = self.b.wait_session(nb)
        self.assertEqual(rec["errors"] + recb["errors"], [])
        self.assertEqual(recb["messages"][0]["macros"]["eom"][0]["i"], qid)
        # each milter sees the message as the client sent it
        self.assertEqual(recb["messages"][0]["headers"], [
            ["From", "a@client.example"], ["To", RCPT],
            ["Subject", "test both"]])
        data = self.queue_file(qid)
        names = [n for n, _ in milterfix.header_lines(
            milterfix.message(data))]
        self.assertEqual(names, ["Received", "From", "To", "Subject",
                                 "X-From-A", "X-From-B"])
        self.assertEqual(milterfix.rcpts(data),
                         [RCPT, "from-b@mx.postern.test"])

    def test_second_milter_rejects(self):
        self.a.plan(edits=[["addheader", "X-From-A", "a"]])
        self.b.plan(eom="reject")
        nb = self.b.count()
        reply, rec = self.run_milter(self.a, "two", message("second"))
        self.assertEqual(reply, (550, "5.7.1 Command rejected"))
        self.b.wait_session(nb)
        self.log_line("milter-reject: END-OF-MESSAGE from "
                      "localhost[127.0.0.1]: 5.7.1 Command rejected; "
                      "from=<s@client.example>")
        self.assert_not_queued("second")

    def test_first_milter_rejects_second_not_asked(self):
        self.a.plan(mail="reject")
        nb = self.b.count()
        reply, rec = self.run_milter(self.a, "two", message("first"))
        self.assertEqual(reply, (550, "5.7.1 Command rejected"))
        self.assertEqual(self.b.count(), nb)
        self.assert_not_queued("first")

    # ---- a milter that is down

    def warned(self):
        """Since the last send(), a warning naming the dead milter."""
        name = "inet:127.0.0.1:%d" % self.dead
        return pt.wait_for(
            lambda: [line for line in
                     self.server.logtext()[self.log_mark:].splitlines()
                     if "warning:" in line and name in line],
            "a warning naming " + name)

    def test_down_tempfail_by_default(self):
        reply = self.send("down", message("down"))
        self.assertEqual(reply, (451, "4.7.1 Service unavailable - try "
                                      "again later"))
        self.warned()
        self.log_line("milter-reject: CONNECT from localhost[127.0.0.1]: "
                      "4.7.1 Service unavailable - try again later; "
                      "from=<s@client.example> to=<%s> proto=ESMTP "
                      "helo=<client.example>" % RCPT)
        self.assert_not_queued("down")

    def test_down_reject(self):
        reply = self.send("down_reject", message("down-rej"))
        self.assertEqual(reply, (550, "5.7.1 Command rejected"))
        self.warned()
        self.assert_not_queued("down-rej")

    def test_down_quarantine(self):
        qid = self.queued_ok(self.send("down_hold", message("down-hold")))
        self.warned()
        self.log_line("%s: milter-hold: " % qid)
        self.assertIn(b"body of down-hold",
                      milterfix.message(self.queue_file(qid, "hold")))
        self.assertNotIn(qid, self.server.queued("ready"))

    def test_down_accept_per_milter(self):
        msg = message("down-acc")
        qid = self.queued_ok(self.send("down_accept", msg))
        queued = milterfix.message(self.queue_file(qid))
        self.assertTrue(queued.startswith(b"Received: "))
        self.assertTrue(queued.endswith(msg))
        self.warned()

    def test_timeout(self):
        # content_timeout = 3s, and the milter answers the end of the
        # message after 8
        self.a.plan(delay={"eom": 8},
                    edits=[["addheader", "X-Late", "1"]])
        before = self.a.count()
        reply = self.send("slow", message("slow"))
        self.assertEqual(reply, (451, "4.7.1 Service unavailable - try "
                                      "again later"))
        self.log_line("warning: milter %s: " % self.a.postern)
        self.assert_not_queued("slow")
        self.a.wait_session(before)  # (before the next test's)

    def test_progress(self):
        # the milter works longer than content_timeout, telling postern
        # it is still at it (smfi_progress) every quarter of a second:
        # 5 s against a 3 s limit, with room for a busy machine
        self.a.plan(progress={"eom": [20, 0.25]},
                    edits=[["addheader", "X-Patient", "1"]])
        reply, rec = self.run_milter(self.a, "slow", message("patient"))
        qid = self.queued_ok(reply)
        self.assertEqual(rec["errors"], [])
        self.assertIn(b"\r\nX-Patient: 1\r\n",
                      milterfix.message(self.queue_file(qid)))

    def test_milter_closes(self):
        before = self.closer.conns
        reply = self.send("closer", message("closer"))
        self.assertEqual(reply, (451, "4.7.1 Service unavailable - try "
                                      "again later"))
        self.assertEqual(self.closer.conns, before + 1)
        self.log_line("warning: milter inet:127.0.0.1:%d: "
                      % self.closer.port)
        self.assert_not_queued("closer")

    # ---- opendkim

    def dkim_send(self, token, frm):
        self.assertIsNotNone(self.dkim, "opendkim")
        msg = message(token, [("Date", "Sat, 01 Mar 2025 10:00:00 +0000"),
                              ("Message-ID", "<%s@example.com>" % token)],
                      frm=frm)
        qid = self.queued_ok(self.send("dkim", msg))
        return milterfix.message(self.queue_file(qid))

    @unittest.skipUnless(milterfix.opendkim_available(),
                         "opendkim, opendkim-tools or python3-dkim missing")
    def test_opendkim_signs(self):
        queued = self.dkim_send("dkim", "a@example.com")
        heads = milterfix.header_lines(queued)
        # opendkim inserts at 0: above Received:, as with Postfix
        self.assertEqual([n for n, _ in heads[:2]],
                         ["DKIM-Signature", "Received"])
        sigs = [v for n, v in heads if n == "DKIM-Signature"]
        self.assertEqual(len(sigs), 1, heads)
        self.assertRegex(sigs[0], r"(^|;)\s*d=example\.com;")
        self.assertRegex(sigs[0], r"(^|;)\s*s=sel;")
        ok, detail = self.dkim.verify(queued)
        self.assertTrue(ok, detail)
        tampered = queued.replace(b"Subject: test dkim",
                                  b"Subject: test DKIM")
        self.assertNotEqual(tampered, queued)
        ok, detail = self.dkim.verify(tampered)
        self.assertFalse(ok, detail)

    @unittest.skipUnless(milterfix.opendkim_available(),
                         "opendkim, opendkim-tools or python3-dkim missing")
    def test_opendkim_other_domain_unsigned(self):
        queued = self.dkim_send("nodkim", "a@other.example")
        self.assertNotIn(b"DKIM-Signature", queued)
        self.assertIn(b"body of nodkim", queued)


if __name__ == "__main__":
    pt.main()
