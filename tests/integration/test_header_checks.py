#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""header_checks, mime_header_checks, nested_header_checks and
body_checks (Postfix's header_checks(5)) on mail received by postern
serve, sent with Python's smtplib and email package:

- REJECT on a folded Subject (the pattern sees the header's lines joined
  by a newline): 550 5.7.1 message content rejected, Postfix's "QID:
  reject: header ... from CLIENT; from=<> to=<> proto=ESMTP helo=<>:"
  line, nothing queued; REJECT with a text of its own, and with a 4.x.x
  status (451); the same over BDAT;
- IGNORE removes the header from the queued message, PREPEND adds one
  above it, REPLACE changes it, body REPLACE changes a line;
- DISCARD answers 250 and queues nothing; HOLD queues into hold/;
- REDIRECT replaces the recipients, BCC adds one (NOTIFY=NEVER);
- body_checks REJECT a body line, but only within body_checks_size_limit
  of its body part;
- mime_header_checks see an attachment's Content-Disposition
  (filename="evil.exe"), nested_header_checks an attached message's
  Subject, and header_checks neither;
- postern's own Received: header is checked too (as Postfix's cleanup
  checks the one its smtpd wrote);
- receive_override_options = no_header_body_checks (a master.cf -o)
  turns them off for one service;
- with smtpd_milters, the checks come first and the milter sees the
  message as they left it (Postfix's cleanup runs its header and body
  checks as the content arrives, the milters at the end); a message the
  checks reject never reaches the milter; no_milters leaves it out;
- a table that does not open refuses the start and is reported by
  postern check with its file and line;
- local submissions (postern send) are checked too, when the queue
  manager picks them up from maildrop/ ("from local" in the log lines):
  an edited one is queued anew, a rejected one is placed on hold (there
  is nobody to refuse it to), a discarded one is removed;
- with a real Postfix (Debian's, a private instance) given the same
  tables and the same messages, the queued message is the same (but for
  the Received: headers) and a REJECT gets the same reply and log line.

Before, setting any of them refused the start.
"""
import os
import re
import shutil
import smtplib
import socket
import tempfile
import unittest
from email.message import EmailMessage

import milterfix
import pfpeer
import pt
import qmgrfix
import queuefile
import srv

RCPT = "r@mx.postern.test"
SENDER = "s@client.example"
QUEUED = re.compile(r"^2\.0\.0 Ok: queued as ([0-9A-VZ]+)$")

HEADER_CHECKS = r"""
/^Subject:.*cheap.*pills/ REJECT
/^Subject: own text/ REJECT Go away
/^Subject: later/ REJECT 4.7.1 come back later
/^X-Secret:/ IGNORE
/^Subject: prepend/ PREPEND X-Checked: prepended
/^Subject: replace (.*)/ REPLACE Subject: [replaced] $1
/^Subject: discard/ DISCARD spam trap
/^Subject: hold/ HOLD look at it
/^Subject: redirect/ REDIRECT trap@mx.postern.test
/^Subject: bcc/ BCC archive@mx.postern.test
/^Received: from helo-to-watch\.example / INFO our Received header
"""

MIME_HEADER_CHECKS = r"""
/^Content-(Disposition|Type):.*name="?.*\.(exe|scr)"?/ REJECT Attachment name "$2" not allowed
/^Subject:/ WARN mime_header_checks saw a Subject
"""

NESTED_HEADER_CHECKS = r"""
/^Subject:.*forwarded spam/ REJECT 5.7.0 nested message rejected
"""

BODY_CHECKS = r"""
/^bad body line/ REJECT 5.7.0 body line rejected
/^edit this line/ REPLACE edited line
"""


def simple(subject, body="hello\r\n", extra=()):
    """A small message (str, CRLF)."""
    hdr = [("From", SENDER), ("To", RCPT), ("Subject", subject)]
    hdr += list(extra)
    return "".join("%s: %s\r\n" % h for h in hdr) + "\r\n" + body


class HeaderChecks(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-hbc-")
        tables = {}
        for name, text in (("header", HEADER_CHECKS),
                           ("mime", MIME_HEADER_CHECKS),
                           ("nested", NESTED_HEADER_CHECKS),
                           ("body", BODY_CHECKS)):
            tables[name] = os.path.join(cls.tmp, name)
            with open(tables[name], "w") as f:
                f.write(text)
        cls.port, cls.plain = pt.free_port(), pt.free_port()
        while cls.plain == cls.port:
            cls.plain = pt.free_port()
        cls.server = srv.Server(
            os.path.join(cls.tmp, "srv"),
            "header_checks = regexp:%(header)s\n"
            "mime_header_checks = regexp:%(mime)s\n"
            "nested_header_checks = regexp:%(nested)s\n"
            "body_checks = regexp:%(body)s\n"
            "body_checks_size_limit = 1000\n" % tables,
            [("smtp", cls.port, []),
             ("plain", cls.plain,
              ["receive_override_options=no_header_body_checks"])],
            workers=1).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.tmp)

    # ---- helpers

    def send(self, msg, port=None, rcpts=(RCPT,), helo="client.example"):
        """Send msg (str or bytes); (code, text) of the end of DATA.
        log_line() looks at the log from here on."""
        self.log_mark = len(self.server.logtext())
        s = smtplib.SMTP("127.0.0.1", port or self.port, timeout=120)
        self.addCleanup(s.close)
        s.ehlo(helo)
        self.assertEqual(s.mail(SENDER)[0], 250)
        for r in rcpts:
            self.assertEqual(s.rcpt(r)[0], 250, r)
        try:
            code, text = s.data(msg if isinstance(msg, bytes)
                                else msg.encode())
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
        s.quit()
        return code, text.decode()

    def queued(self, reply, state="ready"):
        """The queue file of a "250 ... queued as ID" reply."""
        code, text = reply
        self.assertEqual(code, 250, text)
        m = QUEUED.match(text)
        self.assertIsNotNone(m, text)
        self.assertIn(m.group(1), self.server.queued(state))
        return self.server.queue_file(m.group(1), state)

    def log_line(self, text):
        """The line that holds text (waiting for it) since send()."""
        def find():
            new = self.server.logtext()[self.log_mark:]
            return [line for line in new.splitlines() if text in line]
        return pt.wait_for(find, "log line %r" % text)[0]

    def assert_not_queued(self, needle):
        for state in ("ready", "deferred", "hold"):
            for q in self.server.queued(state):
                self.assertNotIn(needle.encode(),
                                 self.server.queue_file(q, state),
                                 "%s/%s" % (state, q))
        pt.wait_for(lambda: not self.server.queued("tmp"), "an empty tmp/")

    # ---- REJECT

    def test_reject_folded_subject(self):
        code, text = self.send(simple("cheap\r\n\tpills", "reject-one\r\n"))
        self.assertEqual((code, text), (550, "5.7.1 message content rejected"))
        line = self.log_line(": reject: header Subject: cheap")
        # the header's newline is in what matched; the log shows it as '?'
        self.assertRegex(line, r"postern/smtpd\[\d+\]: [0-9A-Z]+: reject: "
                         r"header Subject: cheap\?\tpills from "
                         r"localhost\[127\.0\.0\.1\]; from=<s@client\.example> "
                         r"to=<r@mx\.postern\.test> proto=ESMTP "
                         r"helo=<client\.example>: 5\.7\.1 message content "
                         r"rejected$")
        self.assert_not_queued("reject-one")
        # the session goes on: the next message is fine
        self.queued(self.send(simple("fine", "after-reject\r\n")))

    def test_reject_texts(self):
        self.assertEqual(self.send(simple("own text here")),
                         (550, "5.7.1 Go away"))
        self.assertEqual(self.send(simple("later please")),
                         (451, "4.7.1 come back later"))
        self.log_line("reject: header Subject: later please from "
                      "localhost[127.0.0.1]; ")

    def test_reject_bdat(self):
        sock, f = srv.raw_session(self, self.port)
        body = simple("cheap pills by BDAT", "bdat\r\n").encode()
        sock.sendall(b"EHLO client.example\r\n")
        self.assertTrue(srv.read_reply(f)[-1].startswith(b"250 "))
        sock.sendall(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nBDAT %d LAST\r\n"
                     % (SENDER.encode(), RCPT.encode(), len(body)) + body)
        for _ in range(2):
            self.assertTrue(srv.read_reply(f)[0].startswith(b"250 "))
        self.assertEqual(srv.read_reply(f),
                         [b"550 5.7.1 message content rejected\r\n"])

    # ---- edits

    def test_ignore_prepend_replace(self):
        data = self.queued(self.send(simple(
            "prepend and replace", "edit this line\r\nkept line\r\n",
            extra=[("X-Secret", "internal"), ("Subject", "replace me")]),
            helo="helo-to-watch.example"))
        msg = queuefile.message(data)
        self.assertNotIn(b"X-Secret", msg)
        self.assertIn(b"\r\nX-Checked: prepended\r\n"
                      b"Subject: prepend and replace\r\n", msg)
        self.assertIn(b"\r\nSubject: [replaced] me\r\n", msg)
        self.assertNotIn(b"Subject: replace me", msg)
        self.assertTrue(msg.endswith(b"\r\n\r\nedited line\r\nkept line\r\n"),
                        msg)
        self.log_line(": prepend: header Subject: prepend and replace from "
                      "localhost[127.0.0.1]; from=<s@client.example> "
                      "to=<r@mx.postern.test> proto=ESMTP "
                      "helo=<helo-to-watch.example>: X-Checked: prepended")
        self.log_line(": replace: body edit this line from ")
        # postern's own Received: header went through header_checks
        self.log_line(": info: header Received: from helo-to-watch.example "
                      "(localhost [127.0.0.1])")

    # ---- decisions

    def test_discard(self):
        code, text = self.send(simple("discard me", "discard-body\r\n"))
        self.assertEqual(code, 250, text)
        self.assertIsNotNone(QUEUED.match(text), text)
        self.log_line(": discard: header Subject: discard me from "
                      "localhost[127.0.0.1]; from=<s@client.example> "
                      "to=<r@mx.postern.test> proto=ESMTP "
                      "helo=<client.example>: spam trap")
        self.assert_not_queued("discard-body")

    def test_hold(self):
        data = self.queued(self.send(simple("hold me", "hold-body\r\n")),
                           "hold")
        self.assertIn(b"hold-body", queuefile.message(data))
        self.log_line(": hold: header Subject: hold me from ")
        self.assertNotIn(b"hold-body", b"".join(
            self.server.queue_file(q) for q in self.server.queued()))

    def test_redirect_and_bcc(self):
        data = self.queued(self.send(
            simple("redirect me", "redirect-body\r\n"),
            rcpts=(RCPT, "other@mx.postern.test")))
        self.assertEqual(queuefile.rcpts(data), ["trap@mx.postern.test"])
        self.log_line(": redirect: header Subject: redirect me from ")
        data = self.queued(self.send(simple("bcc me", "bcc-body\r\n")))
        got = queuefile.rcpt_fields(data)
        self.assertEqual([a for a, _ in got], [RCPT, "archive@mx.postern.test"])
        self.assertEqual(got[1][1].get("notify"), "never")
        self.log_line(": bcc: header Subject: bcc me from ")

    # ---- body

    def test_body_reject_and_size_limit(self):
        code, text = self.send(simple(
            "body", "first line\r\nbad body line here\r\n"))
        self.assertEqual((code, text), (550, "5.7.0 body line rejected"))
        self.log_line(": reject: body bad body line here from "
                      "localhost[127.0.0.1]; from=<s@client.example> ")
        # past body_checks_size_limit (1000) of its body part: not checked
        pad = ("x" * 70 + "\r\n") * 20
        data = self.queued(self.send(simple(
            "body", pad + "bad body line, too late\r\n")))
        self.assertIn(b"bad body line, too late", data)

    # ---- MIME

    def test_mime_attachment(self):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = SENDER, RCPT, "invoice"
        m.set_content("see the attachment\n")
        m.add_attachment(b"MZ\x90\x00" * 64, maintype="application",
                         subtype="octet-stream", filename="evil.exe")
        code, text = self.send(m.as_bytes(policy=m.policy.clone(
            linesep="\r\n")))
        self.assertEqual((code, text),
                         (550, '5.7.1 Attachment name "exe" not allowed'))
        self.log_line(": reject: header Content-Disposition: attachment; "
                      'filename="evil.exe" from localhost[127.0.0.1]; ')
        # the message's own Subject is not a MIME header
        self.assertNotIn("mime_header_checks saw a Subject",
                         self.server.logtext()[self.log_mark:])
        # the same attachment as a .txt passes
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = SENDER, RCPT, "notes"
        m.set_content("see the attachment\n")
        m.add_attachment("notes\n", filename="notes.txt")
        self.queued(self.send(m.as_bytes(policy=m.policy.clone(
            linesep="\r\n"))))

    def test_nested_message(self):
        inner = EmailMessage()
        inner["From"], inner["To"] = "x@elsewhere.example", RCPT
        inner["Subject"] = "a forwarded spam"
        inner.set_content("inner body\n")
        outer = EmailMessage()
        outer["From"], outer["To"], outer["Subject"] = SENDER, RCPT, "fwd"
        outer.set_content("forwarding this\n")
        outer.add_attachment(inner)
        raw = outer.as_bytes(policy=outer.policy.clone(linesep="\r\n"))
        self.assertIn(b"Content-Type: message/rfc822", raw)
        self.assertEqual(self.send(raw),
                         (550, "5.7.0 nested message rejected"))
        self.log_line(": reject: header Subject: a forwarded spam from ")
        # header_checks alone do not look into the attached message:
        # the same Subject on the message itself passes them
        self.queued(self.send(simple("a forwarded spam", "outer\r\n")))

    # ---- settings

    def test_override_per_service(self):
        data = self.queued(self.send(simple("cheap pills", "plain-body\r\n",
                                            extra=[("X-Secret", "kept")]),
                                     port=self.plain))
        self.assertIn(b"X-Secret: kept", queuefile.message(data))


@unittest.skipUnless(milterfix.scripted_available(),
                     "Debian's python3-milter (/usr/bin/python3) missing")
class WithMilter(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-hbc-milter-")
        os.chmod(cls.tmp, 0o755)
        cls.server = None
        cls.milter = milterfix.Scripted(os.path.join(cls.tmp, "m")).start()
        hc = os.path.join(cls.tmp, "hc")
        with open(hc, "w") as f:
            f.write(HEADER_CHECKS)
        cls.port, cls.nomilter = pt.free_port(), pt.free_port()
        while cls.nomilter in (cls.port, cls.milter.port):
            cls.nomilter = pt.free_port()
        cls.server = srv.Server(
            os.path.join(cls.tmp, "srv"),
            "header_checks = regexp:%s\nsmtpd_milters = %s\n"
            % (hc, cls.milter.postern),
            [("smtp", cls.port, []),
             ("nomilter", cls.nomilter, ["receive_override_options="
                                         "no_milters"])],
            workers=1).start()

    @classmethod
    def tearDownClass(cls):
        problems = srv.stop_all([cls.server]) if cls.server else []
        cls.milter.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert not problems, problems

    def send(self, msg, port=None):
        s = smtplib.SMTP("127.0.0.1", port or self.port, timeout=120)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        s.mail(SENDER)
        s.rcpt(RCPT)
        try:
            code, text = s.data(msg.encode())
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
        s.quit()
        return code, text.decode()

    def test_checks_before_milter(self):
        before = self.milter.count()
        code, text = self.send(simple("prepend for the milter", "m-body\r\n",
                                      extra=[("X-Secret", "internal")]))
        self.assertEqual(code, 250, text)
        rec = self.milter.wait_session(before)
        names = [h[0] for h in rec["messages"][0]["headers"]]
        self.assertNotIn("X-Secret", names)
        self.assertIn("X-Checked", names)
        self.assertLess(names.index("X-Checked"), names.index("Subject"))
        # rejected by the checks: the milter is not asked
        before = self.milter.count()
        self.assertEqual(self.send(simple("cheap pills")),
                         (550, "5.7.1 message content rejected"))
        self.assertEqual(self.send(simple("fine", "m-after\r\n"))[0], 250)
        rec = self.milter.wait_session(before)
        self.assertEqual(rec["messages"][0]["headers"][2],
                         ["Subject", "fine"])
        # no_milters: checks still apply, the milter is not asked
        before = self.milter.count()
        self.assertEqual(self.send(simple("nm", "nm\r\n",
                                          [("X-Secret", "x")]),
                                   port=self.nomilter)[0], 250)
        self.assertEqual(self.send(simple("cheap pills"), port=self.nomilter),
                         (550, "5.7.1 message content rejected"))
        self.assertEqual(self.milter.count(), before)


class LocalSubmission(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-hbc-local-")
        os.chmod(cls.tmp, 0o755)
        hc, bc = os.path.join(cls.tmp, "hc"), os.path.join(cls.tmp, "bc")
        with open(hc, "w") as f:
            f.write(HEADER_CHECKS)
        with open(bc, "w") as f:
            f.write(BODY_CHECKS)
        cls.mta = qmgrfix.Mta(os.path.join(cls.tmp, "mta"), (
            "header_checks = regexp:%s\nbody_checks = regexp:%s\n"
            % (hc, bc))).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.mta.stop()
        problems = cls.mta.problems()
        shutil.rmtree(cls.tmp, True)
        if problems or rc != 0:
            raise AssertionError("postern serve exit %s: %s" %
                                 (rc, "\n".join(problems)))

    def submit(self, user, subject, body, extra=""):
        p = self.mta.postern("send", "-f", "a@example.com",
                             "%s@mx.postern.test" % user,
                             input="From: a@example.com\nSubject: %s\n%s\n%s"
                             % (subject, extra, body))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_edit_reject_discard(self):
        self.submit("bob", "prepend local", "edit this line\nlocal-one\n",
                    "X-Secret: internal\n")
        got = [m for m in self.mta.wait_mail("bob").values()
               if b"local-one" in m]
        self.assertEqual(len(got), 1)
        self.assertNotIn(b"X-Secret", got[0])
        self.assertIn(b"\nX-Checked: prepended\nSubject: prepend local\n",
                      got[0])
        self.assertIn(b"\nedited line\nlocal-one\n", got[0])
        self.mta.wait_log("check edits applied, queued as ")
        self.mta.wait_log(": prepend: header Subject: prepend local from "
                          "local; from=<a@example.com> "
                          "to=<bob@mx.postern.test>: X-Checked: prepended")

        self.submit("carol", "cheap pills", "local-two\n")
        self.mta.wait_log(": reject: header Subject: cheap pills from local; "
                          "from=<a@example.com> to=<carol@mx.postern.test>: "
                          "5.7.1 message content rejected")
        self.mta.wait_log("placed on hold")
        pt.wait_for(lambda: [q for q in self.mta.queued("hold")
                             if b"local-two" in self.mta.queue_file(q, "hold")],
                    "the rejected submission on hold")

        self.submit("dave", "discard me", "local-three\n")
        self.mta.wait_log(": discard: header Subject: discard me from local;")
        self.mta.wait_log(": removed")
        for state in ("maildrop", "ready", "hold", "deferred"):
            for q in self.mta.queued(state):
                self.assertNotIn(b"local-three", self.mta.queue_file(q, state))


def strip_received(msg):
    """A message (bytes, any line ends) as LF lines, without its
    Received: headers."""
    out, skip, head = [], False, True
    for line in msg.replace(b"\r\n", b"\n").split(b"\n"):
        if head and line == b"":
            head = False
        if head and line[:1] in (b" ", b"\t") and skip:
            continue
        skip = head and line.lower().startswith(b"received:")
        if not skip:
            out.append(line)
    return b"\n".join(out).rstrip(b"\n") + b"\n"


@unittest.skipUnless(pt.have("postfix") and os.geteuid() == 0,
                     "needs Postfix and root for a private instance")
class SameAsPostfix(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = pfpeer.tmpdir("postern-hbc-pf-")
        tables = {}
        for name, text in (("header", HEADER_CHECKS +
                            "/^X-Compare:/ HOLD compare\n"),
                           ("mime", MIME_HEADER_CHECKS),
                           ("nested", NESTED_HEADER_CHECKS),
                           ("body", BODY_CHECKS)):
            tables[name] = os.path.join(cls.tmp, name)
            with open(tables[name], "w") as f:
                f.write(text)
        checks = {"header_checks": "regexp:" + tables["header"],
                  "mime_header_checks": "regexp:" + tables["mime"],
                  "nested_header_checks": "regexp:" + tables["nested"],
                  "body_checks": "regexp:" + tables["body"]}
        cls.pf, cls.server, cls.port = pfpeer.side_by_side(
            cls.tmp, dict(checks, myhostname="mx.postern.test",
                          mydestination="mx.postern.test",
                          local_recipient_maps=""),
            "".join("%s = %s\n" % kv for kv in checks.items()))

    @classmethod
    def tearDownClass(cls):
        pfpeer.stop_side_by_side(cls.pf, cls.server, cls.tmp)

    def send(self, port, msg):
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.ehlo("client.example")
            s.mail(SENDER)
            s.rcpt(RCPT)
            try:
                code, text = s.data(msg)
            except smtplib.SMTPDataError as e:
                code, text = e.smtp_code, e.smtp_error
        return code, text.decode()

    def test_same_queued_message(self):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = SENDER, RCPT, "prepend compare"
        m["Date"] = "Mon, 02 Jun 2025 10:00:00 +0000"
        m["Message-ID"] = "<compare@client.example>"
        m["X-Secret"] = "internal"
        m["X-Compare"] = "yes"
        m.set_content("first line\nedit this line\nlast line\n")
        m.add_attachment("notes\n", filename="notes.txt")
        raw = (b"Subject: replace this subject\r\n" +
               m.as_bytes(policy=m.policy.clone(linesep="\r\n")))
        code, text = self.send(self.pf.port, raw)
        self.assertEqual(code, 250, text)
        pfqid = text.split()[-1]
        held = pt.wait_for(lambda: pt.run(
            ["postcat", "-c", self.pf.conf, "-h", "-b", "-q", pfqid]),
            "postcat of the held message")
        self.assertEqual(held.returncode, 0, held.stderr)
        code, text = self.send(self.port, raw)
        self.assertEqual(code, 250, text)
        qid = text.split()[-1]
        ours = queuefile.message(self.server.queue_file(qid, "hold"))
        theirs = held.stdout.encode()
        self.assertEqual(strip_received(ours), strip_received(theirs))
        self.assertIn(b"X-Checked: prepended", ours)
        self.assertNotIn(b"X-Secret", ours)

    def test_same_reject(self):
        msg = simple("cheap pills from both", "x\r\n").encode()
        ours = self.send(self.port, msg)
        theirs = self.send(self.pf.port, msg)
        self.assertEqual(ours, theirs)
        self.assertEqual(ours, (550, "5.7.1 message content rejected"))
        pattern = re.compile(r"^.*?: [0-9A-Za-z]+: (reject: header .*)$",
                             re.M)

        def line(text):
            found = [m for m in pattern.findall(text or "")
                     if "cheap pills from both" in m]
            return found[0] if found else None
        pf = pt.wait_for(lambda: line(self.pf.read()), "Postfix's reject")
        # postern writes a loop turn's lines after its replies: wait for
        # its line too.  The whole line, the client's name included (both
        # say localhost)
        ours = pt.wait_for(lambda: line(self.server.logtext()),
                           "postern's reject")
        self.assertEqual(ours, pf)
        self.assertIn("from localhost[127.0.0.1];", pf)


class Settings(pt.TempDirTest):

    def test_bad_table(self):
        t = self.write("hc", "/^Subject: ok/ REJECT\n/^Subject: (bad/ "
                             "REJECT\n")
        r = srv.serve_once(os.path.join(self.tmp, "s"),
                           "header_checks = regexp:%s\n" % t)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("header_checks: %s, line 2: bad regular expression"
                      % t, r.stderr)
        self.write("c/main.cf", "header_checks = regexp:%s\n"
                   "body_checks = regexp:%s/missing\n" % (t, self.tmp))
        p = pt.postern("check", "-c", os.path.join(self.tmp, "c"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("error: header_checks (%s): cannot open table "
                      "regexp:%s: %s, line 2: bad regular expression"
                      % (t, t, t), p.stdout)
        self.assertIn("error: body_checks (%s/missing)" % self.tmp, p.stdout)

    def test_filter_action(self):
        # a FILTER to a transport that exists is fine; to one that does
        # not, an error; without transport:destination, a warning
        t = self.write("hc", "/^Subject: a/ FILTER smtp:[127.0.0.1]:10025\n"
                       "/^Subject: b/ FILTER amavis:[127.0.0.1]:10024\n"
                       "/^Subject: c/ FILTER amavis\n")
        self.write("c/main.cf", "header_checks = regexp:%s\n"
                   "receive_override_options = no_milters, no_such\n" % t)
        p = pt.postern("check", "-c", os.path.join(self.tmp, "c"))
        self.assertNotIn("/^Subject: a/", p.stdout)
        self.assertIn("error: header_checks (%s): key /^Subject: b/: unknown "
                      "mail transport \"amavis\"" % t, p.stdout)
        self.assertIn("warning: header_checks (%s): /^Subject: c/: FILTER "
                      "amavis: needs transport:destination" % t, p.stdout)
        self.assertIn('error: receive_override_options (%s): unknown option '
                      '"no_such"' % os.path.join(self.tmp, "c", "main.cf"),
                      p.stdout)


if __name__ == "__main__":
    pt.main()
