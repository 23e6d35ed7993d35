#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""canonical(5) address mapping and address masquerading, as Postfix's
cleanup does them, for postern serve (mail from Python's smtplib) and
postern send (a local submission):

- the envelope sender goes through sender_canonical_maps, then
  canonical_maps, each recipient through recipient_canonical_maps, then
  canonical_maps: the "user" form for this host's domains, @domain
  results, an unmatched +extension carried on, a pcre: table that sees
  the whole address; a rewritten recipient keeps what the client gave as
  ORCPT; masquerade_domains with an exception and a "!" domain;
- the From:, To:, Cc: and Reply-To: addresses of a client that
  local_header_rewrite_clients counts as local (permit_mynetworks with
  mynetworks = 127.0.0.1/32) are rewritten, display names, comments,
  groups and folding kept byte for byte, and those of a remote client
  (127.0.0.2) are not, unless remote_header_rewrite_domain is set, which
  also completes an address without a domain;
- receive_override_options = no_address_mappings turns it all off;
- a lookup that fails (pcre:'s match limit) answers 451 and queues
  nothing, in the envelope and in a header; a table that does not open
  refuses the start, and postern check names it;
- the rewritten headers are what a real Postfix's cleanup writes, for
  the same tables and message.

Before, the three canonical maps refused the start."""
import os
import smtplib
import tempfile
import unittest
from email.message import EmailMessage

import pfpeer
import pt
import queuefile
import srv

SENDER_CANONICAL = """\
john            john.smith@example.com
"""
CANONICAL = """\
@olddomain.test         @newdomain.test
bob@mx.postern.test     robert.b@example.com
"""
RECIPIENT_CANONICAL = """\
/^(a+)+@runaway\\.test$/         never@example.com
/^(.*)@pattern\\.test$/          ${1}@rewritten.test
"""

SETTINGS = """\
mynetworks = 127.0.0.1/32
relay_domains = olddomain.test, newdomain.test, pattern.test,
    rewritten.test, example.com, runaway.test, remote.test
recipient_delimiter = +
sender_canonical_maps = texthash:{sc}
canonical_maps = texthash:{c}
recipient_canonical_maps = pcre:{rc}
masquerade_domains = !keep.example.com, example.com
masquerade_exceptions = root
local_header_rewrite_clients = permit_mynetworks
"""

# The message of the header tests: each kind of address a header holds.
HEADERS = (
    "From: \"Smith, John\" <john@mx.postern.test> (the boss)\r\n"
    "To: Carol <carol@olddomain.test>,\r\n"
    "\t\"Doe, Dave\" <dave+news@olddomain.test>,\r\n"
    "\tteam: x@pattern.test, user@host.example.com;\r\n"
    "Cc: user@host.example.com (masqueraded), bob\r\n"
    "Reply-To: root@host.example.com\r\n"
    "Subject: %s john@mx.postern.test\r\n"
    "\r\n"
    "john@mx.postern.test stays in the body\r\n")

REWRITTEN = (
    "From: \"Smith, John\" <john.smith@example.com> (the boss)\r\n"
    "To: Carol <carol@newdomain.test>,\r\n"
    "\t\"Doe, Dave\" <dave+news@newdomain.test>,\r\n"
    "\tteam: x@rewritten.test, user@example.com;\r\n"
    "Cc: user@example.com (masqueraded), robert.b@example.com\r\n"
    "Reply-To: root@host.example.com\r\n"
    "Subject: %s john@mx.postern.test\r\n"
    "\r\n"
    "john@mx.postern.test stays in the body\r\n")


def write_tables(d):
    """The three tables in d; their paths."""
    paths = {}
    for name, text in (("sc", SENDER_CANONICAL), ("c", CANONICAL),
                       ("rc", RECIPIENT_CANONICAL)):
        paths[name] = os.path.join(d, name)
        with open(paths[name], "w") as f:
            f.write(text)
    return paths


def find_queued(server, token):
    """The queue file (bytes) holding token, in any state."""
    for state in ("maildrop", "ready", "deferred", "hold"):
        for q in server.queued(state):
            try:
                data = server.queue_file(q, state)
            except FileNotFoundError:
                continue  # moved on meanwhile
            if token.encode() in data:
                return data
    return None


def header_block(data):
    """The client's part of a queued message: from its first header that
    is not postern's own Received: on."""
    msg = queuefile.message(data).decode()
    start = msg.index("\r\nFrom: ") + 2 if not msg.startswith("From: ") \
        else 0
    return msg[start:]


class Canonical(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-canon-")
        cls.tables = write_tables(cls.tmp)
        ports = pt.free_ports(("smtp", "plain", "remote"))
        cls.port, cls.plain, cls.remote = (ports["smtp"], ports["plain"],
                                           ports["remote"])
        cls.server = srv.Server(
            os.path.join(cls.tmp, "srv"), SETTINGS.format(**cls.tables),
            [("smtp", cls.port, []),
             ("plain", cls.plain,
              ["receive_override_options=no_address_mappings"]),
             ("remote", cls.remote,
              ["remote_header_rewrite_domain=remote.test"])],
            workers=1).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.tmp)

    def send(self, sender, rcpts, msg, port=None, source="127.0.0.1",
             rcpt_options=()):
        with smtplib.SMTP("127.0.0.1", port or self.port, timeout=60,
                          source_address=(source, 0)) as s:
            s.ehlo("client.test")
            s.mail(sender)
            for r in rcpts:
                code, text = s.rcpt(r, list(rcpt_options))
                self.assertEqual(code, 250, text)
            try:
                return s.data(msg.encode())
            except smtplib.SMTPDataError as e:
                return e.smtp_code, e.smtp_error

    def queued(self, sender, rcpts, msg, token, **kw):
        code, text = self.send(sender, rcpts, msg, **kw)
        self.assertEqual(code, 250, text)
        return pt.wait_for(lambda: find_queued(self.server, token),
                           "the message %s in the queue" % token)

    def test_envelope(self):
        data = self.queued(
            "john@mx.postern.test",
            ["carol@olddomain.test", "dave+tag@olddomain.test",
             "x@pattern.test", "user@host.example.com",
             "bob@mx.postern.test"],
            "Subject: canon-env\r\n\r\nx\r\n", "canon-env")
        self.assertEqual(queuefile.sender(data), "john.smith@example.com")
        got = [(a, f.get("orcpt")) for a, f in queuefile.rcpt_fields(data)]
        self.assertEqual(got, [
            ("carol@newdomain.test", "rfc822;carol@olddomain.test"),
            ("dave+tag@newdomain.test", "rfc822;dave+tag@olddomain.test"),
            ("x@rewritten.test", "rfc822;x@pattern.test"),
            # envelope recipients are not masqueraded by default
            ("user@host.example.com", None),
            ("robert.b@example.com", "rfc822;bob@mx.postern.test"),
        ])

    def test_envelope_orcpt_and_masquerade(self):
        data = self.queued("alice@host.example.com", ["carol@olddomain.test"],
                           "Subject: canon-masq\r\n\r\nx\r\n", "canon-masq",
                           rcpt_options=["ORCPT=rfc822;first@origin.test"])
        self.assertEqual(queuefile.sender(data), "alice@example.com")
        self.assertEqual(queuefile.rcpt_fields(data)[0][1].get("orcpt"),
                         "rfc822;first@origin.test")
        for sender in ("root@host.example.com", "bob@a.keep.example.com"):
            token = "canon-masq-" + sender.split("@")[0]
            data = self.queued(sender, ["carol@olddomain.test"],
                               "Subject: %s\r\n\r\nx\r\n" % token, token)
            self.assertEqual(queuefile.sender(data), sender)

    def test_headers_of_local_client(self):
        data = self.queued("john@mx.postern.test", ["carol@olddomain.test"],
                           HEADERS % "canon-hdr-local", "canon-hdr-local")
        self.assertEqual(header_block(data), REWRITTEN % "canon-hdr-local")

    def test_headers_of_remote_client(self):
        # mynetworks is 127.0.0.1 alone: 127.0.0.2 is remote; its
        # envelope is rewritten, its headers are not
        data = self.queued("john@mx.postern.test", ["carol@olddomain.test"],
                           HEADERS % "canon-hdr-remote", "canon-hdr-remote",
                           source="127.0.0.2")
        self.assertEqual(header_block(data), HEADERS % "canon-hdr-remote")
        self.assertEqual(queuefile.sender(data), "john.smith@example.com")
        self.assertEqual(queuefile.rcpts(data), ["carol@newdomain.test"])

    def test_remote_header_rewrite_domain(self):
        msg = ("From: someone\r\nTo: carol@olddomain.test, root\r\n"
               "Subject: canon-hdr-rdomain\r\n\r\nx\r\n")
        data = self.queued("x@remote.test", ["carol@olddomain.test"], msg,
                           "canon-hdr-rdomain", port=self.remote,
                           source="127.0.0.2")
        self.assertEqual(header_block(data),
                         "From: someone@remote.test\r\n"
                         "To: carol@newdomain.test, root@remote.test\r\n"
                         "Subject: canon-hdr-rdomain\r\n\r\nx\r\n")

    def test_no_address_mappings(self):
        data = self.queued("john@mx.postern.test", ["carol@olddomain.test"],
                           HEADERS % "canon-plain", "canon-plain",
                           port=self.plain)
        self.assertEqual(queuefile.sender(data), "john@mx.postern.test")
        self.assertEqual(queuefile.rcpts(data), ["carol@olddomain.test"])
        self.assertEqual(header_block(data), HEADERS % "canon-plain")

    def test_lookup_error_defers(self):
        runaway = "a" * 40 + "b@runaway.test"
        code, text = self.send("john@mx.postern.test", [runaway],
                               "Subject: canon-fail-env\r\n\r\nx\r\n")
        self.assertEqual(code, 451, text)
        self.server.wait_log("recipient_canonical_maps map lookup problem "
                             "for %s" % runaway)
        # in a header of a local client's message
        code, text = self.send("john@mx.postern.test",
                               ["carol@olddomain.test"],
                               "To: %s\r\nSubject: canon-fail-hdr\r\n\r\nx"
                               "\r\n" % runaway)
        self.assertEqual(code, 451, text)
        self.server.wait_log("-- message not accepted, try again later")
        for token in ("canon-fail-env", "canon-fail-hdr"):
            self.assertIsNone(find_queued(self.server, token))

    def test_local_submission(self):
        p = pt.postern("send", "-c", self.server.d, "-t", "-f",
                       "john@mx.postern.test",
                       input="From: John <john@mx.postern.test>\n"
                             "To: Carol <carol@olddomain.test>, bob\n"
                             "Subject: canon-local\n\nlocal\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        data = pt.wait_for(lambda: find_queued(self.server, "canon-local"),
                           "the submission in the queue")
        self.assertEqual(queuefile.sender(data), "john.smith@example.com")
        self.assertEqual(queuefile.rcpts(data),
                         ["carol@newdomain.test", "robert.b@example.com"])
        block = header_block(data)
        self.assertIn("From: John <john.smith@example.com>\r\n", block)
        self.assertIn("To: Carol <carol@newdomain.test>, "
                      "robert.b@example.com\r\n", block)
        # a lookup that fails: nothing queued, sendmail's temporary code
        p = pt.postern("send", "-c", self.server.d, "-f",
                       "john@mx.postern.test", "a" * 40 + "b@runaway.test",
                       input="Subject: canon-local-fail\n\nx\n")
        self.assertEqual(p.returncode, 75, p.stderr)
        self.assertIn("recipient_canonical_maps map lookup problem",
                      p.stderr)
        self.assertIsNone(find_queued(self.server, "canon-local-fail"))


class Settings(pt.TempDirTest):

    def test_table_that_does_not_open(self):
        missing = os.path.join(self.tmp, "nothere")
        r = srv.serve_once(os.path.join(self.tmp, "s"),
                           "canonical_maps = texthash:%s\n" % missing)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("canonical_maps: ", r.stderr)
        self.assertIn(missing, r.stderr)
        self.write("c/main.cf", "sender_canonical_maps = texthash:%s\n"
                   "masquerade_domains = example.com\n"
                   "masquerade_classes = envelope_sender, header_from\n"
                   % missing)
        p = pt.postern("check", "-c", os.path.join(self.tmp, "c"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("error: sender_canonical_maps (%s)" % missing,
                      p.stdout)

    def test_bad_class(self):
        r = srv.serve_once(os.path.join(self.tmp, "s"),
                           "masquerade_domains = example.com\n"
                           "masquerade_classes = envelope_sender, "
                           "header_from\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("masquerade_classes: unknown address class "
                      "\"header_from\"", r.stderr)
        self.write("c/main.cf", "masquerade_domains = example.com\n"
                   "local_header_rewrite_clients = permit_friends\n")
        p = pt.postern("check", "-c", os.path.join(self.tmp, "c"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("error: local_header_rewrite_clients", p.stdout)
        self.assertIn("unknown element \"permit_friends\"", p.stdout)


@unittest.skipUnless(pt.have("postfix") and os.geteuid() == 0,
                     "needs Postfix and root for a private instance")
class SameAsPostfix(unittest.TestCase):
    """The same tables and message through a real Postfix: its cleanup
    writes the same rewritten headers and envelope."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = pfpeer.tmpdir("postern-canon-pf-")
        t = write_tables(cls.tmp)
        hold = os.path.join(cls.tmp, "hold")
        with open(hold, "w") as f:
            f.write("/^X-Compare:/ HOLD compare\n")
        common = {
            "myhostname": "mx.postern.test",
            "mydestination": "mx.postern.test",
            "recipient_delimiter": "+",
            "sender_canonical_maps": "texthash:" + t["sc"],
            "canonical_maps": "texthash:" + t["c"],
            "recipient_canonical_maps": "pcre:" + t["rc"],
            "masquerade_domains": "!keep.example.com, example.com",
            "masquerade_exceptions": "root",
            "local_header_rewrite_clients": "static:all",
            "header_checks": "regexp:" + hold,
        }
        cls.pf, cls.server, cls.port = pfpeer.side_by_side(
            cls.tmp, dict(common, local_recipient_maps=""),
            "".join("%s = %s\n" % kv for kv in common.items()
                    if kv[0] not in ("myhostname", "mydestination")) +
            "relay_domains = olddomain.test, pattern.test, example.com\n")

    @classmethod
    def tearDownClass(cls):
        pfpeer.stop_side_by_side(cls.pf, cls.server, cls.tmp)

    def send(self, port, raw):
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.ehlo("client.example")
            s.mail("john@mx.postern.test")
            for r in ("carol@olddomain.test", "x@pattern.test",
                      "dave+tag@olddomain.test"):
                s.rcpt(r)
            code, text = s.data(raw)
        self.assertEqual(code, 250, text)
        return text.decode().split()[-1]

    def test_same_headers_and_envelope(self):
        m = EmailMessage()
        m["From"] = "\"Smith, John\" <john@mx.postern.test>"
        m["Sender"] = "John <john@mx.postern.test> (the boss)"
        m["To"] = "Carol <carol@olddomain.test>, x@pattern.test"
        m["Cc"] = "user@host.example.com (masqueraded), bob"
        m["Reply-To"] = "root@host.example.com"
        m["Subject"] = "compare john@mx.postern.test"
        m["X-Compare"] = "yes"
        m.set_content("body john@mx.postern.test\n")
        raw = m.as_bytes(policy=m.policy.clone(linesep="\r\n"))
        pfqid = self.send(self.pf.port, raw)
        held = pt.wait_for(lambda: pt.run(
            ["postcat", "-c", self.pf.conf, "-e", "-h", "-q", pfqid]),
            "postcat of the held message")
        self.assertEqual(held.returncode, 0, held.stderr)
        qid = self.send(self.port, raw)
        ours = pt.wait_for(lambda: find_queued(self.server, "compare john"),
                           "our message")

        def headers(text, names):
            return [l for l in text.replace("\r\n", "\n").split("\n")
                    if l.lower().startswith(names)]
        theirs = held.stdout
        content = theirs.split("*** MESSAGE CONTENTS")[-1]
        mine = queuefile.message(ours).decode()
        same = ("from:", "to:", "cc:", "reply-to:", "subject:")
        self.assertEqual(headers(mine, same), headers(content, same))
        self.assertIn("From: \"Smith, John\" <john.smith@example.com>\n",
                      content)
        # the one difference: Postfix rebuilds a rewritten header from
        # its tokens, postern keeps the bytes around the address
        self.assertEqual(headers(mine, ("sender:",)), [
            "Sender: John <john.smith@example.com> (the boss)"])
        self.assertEqual(headers(content, ("sender:",)), [
            "Sender: John <john.smith@example.com>(the boss)"])

        def env(text, tag):
            return [l.split(": ", 1)[1] for l in text.splitlines()
                    if l.startswith(tag + ": ")]
        self.assertEqual([queuefile.sender(ours)], env(theirs, "sender"))
        self.assertEqual(queuefile.rcpts(ours), env(theirs, "recipient"))
        self.assertTrue(qid)


if __name__ == "__main__":
    pt.main()
