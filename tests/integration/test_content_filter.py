#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Postfix's after-queue content filter (FILTER_README) with a real
filter nobody here wrote: a private Postfix instance (Debian's) that
accepts mail from postern, adds "X-Filtered: by-postfix" (its own
header_checks PREPEND) and relays everything back to postern's
re-injection listener.

postern runs the classic set-up:

    main.cf:   content_filter = my-filter:[127.0.0.1]:FILTERPORT
    master.cf: my-filter unix - - n - 2 smtp
                 -o smtp_helo_name=filter-client.example
                 -o syslog_name=postern/$service_name
               127.0.0.1:REINJECT inet n - n - - smtpd
                 -o content_filter=
                 -o receive_override_options=no_unknown_recipient_checks,...
                 -o smtpd_recipient_restrictions=permit_mynetworks,reject

and delivers the filtered mail to local Maildirs.  Checked:

- a message to two recipients goes through the filter once (one
  X-Filtered header each: no loop) and reaches both; postern logs the
  relay to the filter under the transport's own syslog_name
  (postern/my-filter/smtp), and the filter saw the transport's own HELO
  name (its log and its Received: header);
- a local submission (postern send) is filtered too;
- on a listener without a content filter, a FILTER action of
  check_sender_access, and one of header_checks, send the message to
  the filter, and other mail is not filtered;
- a filter that is down defers the message: it waits in deferred/ and
  nothing is delivered unfiltered; once the filter is up it goes through;
- the maxproc of a master.cf transport caps its deliveries at once: a
  slow filter with maxproc 2 never sees more than two transactions;
  TRANSPORT_destination_recipient_limit (a name with "-", as Postfix
  accepts it) splits a message's recipients into that many per delivery;
- postern check knows master.cf's transports: unknown names in
  content_filter, transport_maps and FILTER actions are errors.

Before, content_filter refused the start.
"""
import os
import re
import shutil
import smtplib
import tempfile
import time
import unittest

import pfpeer
import pt
import qmgrfix

SENDER = "s@client.example"


def filtered_count(msg):
    """How many X-Filtered headers a delivered message has."""
    head = msg.split(b"\n\n", 1)[0]
    return len(re.findall(rb"(?m)^X-Filtered: by-postfix$", head))


@unittest.skipUnless(pt.have("postfix") and os.geteuid() == 0,
                     "needs Postfix and root for a private instance")
class ThroughPostfix(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = pfpeer.tmpdir("postern-cfilter-")
        ports = pt.free_ports(("filter", "reinject", "plain", "smtp"))
        cls.ports = ports
        hc = os.path.join(cls.tmp, "pf-header-checks")
        with open(hc, "w") as f:
            f.write("/^Subject:/ PREPEND X-Filtered: by-postfix\n")
        helo = os.path.join(cls.tmp, "pf-helo")
        with open(helo, "w") as f:
            f.write("/^filter-client\\.example$/ WARN helo of the filter "
                    "transport\n")
        # the filter: everything back to postern's re-injection listener,
        # nothing delivered here
        cls.pf = pfpeer.Postfix(os.path.join(cls.tmp, "pf"), {
            "myhostname": "filter.postfix.test",
            "mydestination": "",
            "relayhost": "[127.0.0.1]:%d" % ports["reinject"],
            "header_checks": "regexp:" + hc,
            "smtpd_helo_restrictions": "check_helo_access regexp:" + helo,
        }, port=ports["filter"])
        cls.pf.start()
        cls.mta = qmgrfix.Mta(
            os.path.join(cls.tmp, "mta"),
            "content_filter = my-filter:[127.0.0.1]:%d\n"
            "smtp_tls_security_level = none\n" % ports["filter"],
            port=ports["smtp"])
        cls.add_services(cls.mta, ports)
        cls.add_plain(cls.mta, ports, cls.tmp)
        cls.mta.start()

    @classmethod
    def add_services(cls, mta, ports):
        """The filter transport and the re-injection listener; the
        listeners' ports for start() to wait on."""
        with open(os.path.join(mta.d, "master.cf"), "a") as f:
            f.write(
                "my-filter unix - - n - 2 smtp\n"
                "  -o smtp_helo_name=filter-client.example\n"
                "  -o syslog_name=postern/$service_name\n"
                "  -o smtp_data_done_timeout=1200\n"
                "  -o disable_dns_lookups=yes\n"
                "  -o max_use=20\n"
                "127.0.0.1:%d inet n - n - - smtpd\n"
                "  -o content_filter=\n"
                "  -o receive_override_options=no_unknown_recipient_checks,"
                "no_header_body_checks,no_milters\n"
                "  -o smtpd_recipient_restrictions=permit_mynetworks,reject\n"
                "  -o mynetworks=127.0.0.0/8\n" % ports["reinject"])
        mta.ports["reinject"] = ports["reinject"]
        mta.hosts[ports["reinject"]] = "127.0.0.1"

    @classmethod
    def add_plain(cls, mta, ports, tmp):
        """A listener without a content filter, whose check_sender_access
        and header_checks have FILTER actions."""
        action = "FILTER my-filter:[127.0.0.1]:%d" % ports["filter"]
        senders = os.path.join(tmp, "senders")
        with open(senders, "w") as f:
            f.write("filtered@client.example %s\n" % action)
        hc = os.path.join(tmp, "header-checks")
        with open(hc, "w") as f:
            f.write("/^Subject: filter me/ %s\n" % action)
        with open(os.path.join(mta.d, "master.cf"), "a") as f:
            f.write("127.0.0.1:%d inet n - n - - smtpd\n"
                    "  -o content_filter=\n"
                    "  -o smtpd_sender_restrictions=check_sender_access,"
                    "texthash:%s\n"
                    "  -o header_checks=regexp:%s\n"
                    % (ports["plain"], senders, hc))
        mta.ports["plain"] = ports["plain"]
        mta.hosts[ports["plain"]] = "127.0.0.1"

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        rc = cls.mta.stop()
        problems = cls.mta.problems()
        shutil.rmtree(cls.tmp, True)
        if problems or rc != 0:
            raise AssertionError("postern serve exit %s: %s" %
                                 (rc, "\n".join(problems)))

    def send(self, rcpts, token, port=None, sender=SENDER,
             subject="content filter test"):
        """One message through postern's listener; its queue ID."""
        msg = ("From: %s\r\nSubject: %s\r\n\r\n%s\r\n" %
               (sender, subject, token))
        with smtplib.SMTP("127.0.0.1", port or self.ports["smtp"],
                          timeout=120) as s:
            s.ehlo("client.example")
            s.mail(sender)
            for r in rcpts:
                self.assertEqual(s.rcpt(r)[0], 250, r)
            code, text = s.data(msg.encode())
        self.assertEqual(code, 250, text)
        return text.decode().split()[-1]

    def delivered(self, user, token):
        """user's delivered messages that carry token, once there are."""
        return pt.wait_for(
            lambda: [m for m in self.mta.maildir(user).values()
                     if token.encode() in m],
            "a message with %s for %s" % (token, user))

    def relayed_to_filter(self, qid, rcpt):
        """postern's line for rcpt of qid sent to the filter."""
        pat = re.compile(
            r"postern/my-filter/smtp\[\d+\]: %s: to=<%s>, "
            r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*status=sent "
            r"\(250 " % (qid, re.escape(rcpt), self.ports["filter"]))
        return pt.wait_for(lambda: pat.search(self.mta.logtext()),
                           "the relay of %s to the filter" % rcpt)

    def test_smtp_mail_filtered_once(self):
        qid = self.send(["alice@mx.postern.test", "bob@mx.postern.test"],
                        "token-smtp")
        for user in ("alice", "bob"):
            got = self.delivered(user, "token-smtp")
            self.assertEqual(len(got), 1)
            self.assertEqual(filtered_count(got[0]), 1, got[0])
            # the filter received it from the transport's HELO name
            self.assertIn(b"from filter-client.example (localhost "
                          b"[127.0.0.1])", got[0])
            self.relayed_to_filter(qid, "%s@mx.postern.test" % user)
        pt.wait_for(lambda: "helo=<filter-client.example>" in
                    (self.pf.read() or ""), "the filter's HELO warning")
        # the re-injected copy went to the mailboxes, not to the filter
        # again: one relay per recipient
        log = self.mta.logtext()
        self.assertEqual(
            len(re.findall(r"postern/my-filter/smtp\[\d+\]: \w+: "
                           r"to=<alice@mx\.postern\.test>", log)), 1)
        self.assertRegex(log, r"postern/local\[\d+\]: \w+: "
                         r"to=<alice@mx\.postern\.test>, .*status=sent")

    def test_local_submission_filtered(self):
        p = self.mta.postern("send", "-f", "s@mx.postern.test",
                             "carol@mx.postern.test",
                             input="From: s@mx.postern.test\n"
                             "Subject: local\n\ntoken-local\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        got = self.delivered("carol", "token-local")
        self.assertEqual(len(got), 1)
        self.assertEqual(filtered_count(got[0]), 1, got[0])
        self.assertIn(b"from filter-client.example", got[0])
        self.mta.wait_log("content filter recorded, queued as ")

    def test_filter_actions(self):
        plain = self.ports["plain"]
        # not filtered: the listener has no content filter
        self.send(["dave@mx.postern.test"], "token-plain", port=plain,
                  sender="other@client.example")
        got = self.delivered("dave", "token-plain")
        self.assertEqual(filtered_count(got[0]), 0, got[0])
        # check_sender_access FILTER
        qid = self.send(["dave@mx.postern.test"], "token-access", port=plain,
                        sender="filtered@client.example")
        got = self.delivered("dave", "token-access")
        self.assertEqual(len(got), 1)
        self.assertEqual(filtered_count(got[0]), 1, got[0])
        self.relayed_to_filter(qid, "dave@mx.postern.test")
        self.mta.wait_log(
            "NOQUEUE: filter: RCPT from localhost[127.0.0.1]: "
            "<filtered@client.example>: Sender address triggers FILTER "
            "my-filter:[127.0.0.1]:%d; from=<filtered@client.example>"
            % self.ports["filter"])
        # header_checks FILTER
        qid = self.send(["dave@mx.postern.test"], "token-header", port=plain,
                        sender="other@client.example", subject="filter me")
        got = self.delivered("dave", "token-header")
        self.assertEqual(len(got), 1)
        self.assertEqual(filtered_count(got[0]), 1, got[0])
        self.relayed_to_filter(qid, "dave@mx.postern.test")
        self.mta.wait_log("%s: filter: header Subject: filter me from "
                          "localhost[127.0.0.1]; from=<other@client.example> "
                          "to=<dave@mx.postern.test> proto=ESMTP "
                          "helo=<client.example>: my-filter:[127.0.0.1]:%d"
                          % (qid, self.ports["filter"]))

    def test_filter_down_defers(self):
        self.pf.stop()
        try:
            qid = self.send(["erin@mx.postern.test"], "token-down")
            pat = re.compile(r"postern/my-filter/smtp\[\d+\]: %s: "
                             r"to=<erin@mx\.postern\.test>, .*"
                             r"status=deferred" % qid)
            pt.wait_for(lambda: pat.search(self.mta.logtext()),
                        "the deferral while the filter is down")
            pt.wait_for(lambda: qid in self.mta.queued("deferred"),
                        "the message in deferred/")
            # it waits: a retry or two, and still nothing is delivered
            time.sleep(3)
            self.assertEqual(self.mta.maildir("erin"), {})
            self.assertIn(qid, self.mta.queued("deferred") +
                          self.mta.queued("ready"))
        finally:
            self.pf.start()
        got = self.delivered("erin", "token-down")
        self.assertEqual(len(got), 1)
        self.assertEqual(filtered_count(got[0]), 1, got[0])
        self.relayed_to_filter(qid, "erin@mx.postern.test")


class SlowFilter(qmgrfix.FakeSmtp):
    """An SMTP server on 127.0.0.1 that holds each message hold seconds
    before its 250 and records the most transactions it had at once."""

    def __init__(self, hold=1.5):
        self.hold = hold
        self.active = self.most = 0
        self.count = 0
        super().__init__()  # starts accepting: the fields come first

    def _enter(self, n):
        with self.lock:
            self.active += n
            self.most = max(self.most, self.active)

    def _session(self, c):
        f = c.makefile("rb")
        busy = False

        def send(line):
            c.sendall(line.encode() + b"\r\n")
        try:
            send("220 slow.test ESMTP")
            for line in f:
                cmd = line.decode(errors="replace").strip().upper()
                if cmd.startswith(("EHLO", "HELO")):
                    send("250 slow.test")
                elif cmd.startswith("MAIL"):
                    busy = True
                    self._enter(1)
                    send("250 2.1.0 ok")
                elif cmd.startswith("RCPT"):
                    send("250 2.1.5 ok")
                elif cmd == "DATA":
                    send("354 go ahead")
                    for data in f:
                        if data == b".\r\n":
                            break
                    time.sleep(self.hold)
                    with self.lock:
                        self.count += 1
                    busy = False
                    self._enter(-1)
                    send("250 2.0.0 filtered")
                elif cmd == "RSET":
                    if busy:
                        busy = False
                        self._enter(-1)
                    send("250 2.0.0 ok")
                elif cmd == "QUIT":
                    send("221 2.0.0 bye")
                    break
                else:
                    send("250 ok")
        except OSError:
            pass
        finally:
            if busy:
                self._enter(-1)
            c.close()


class MaxprocLimit(unittest.TestCase):
    """maxproc 2 on the filter transport: six messages, two at once; its
    own recipient limit of 1: one message to three, three deliveries."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postern-cfilter-maxproc-")
        self.sink = SlowFilter()
        self.mta = qmgrfix.Mta(
            os.path.join(self.tmp, "mta"),
            "content_filter = slow-filter:[127.0.0.1]:%d\n"
            "slow-filter_destination_recipient_limit = 1\n"
            "smtp_tls_security_level = none\n" % self.sink.port)
        with open(os.path.join(self.mta.d, "master.cf"), "a") as f:
            f.write("slow-filter unix - - n - 2 smtp\n")
        self.mta.start()

    def tearDown(self):
        self.mta.stop()
        self.sink.close()
        problems = self.mta.problems()
        shutil.rmtree(self.tmp, True)
        self.assertEqual(problems, [])

    def test_two_at_once(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=120) as s:
            for i in range(6):
                s.sendmail(SENDER, ["u%d@mx.postern.test" % i],
                           "Subject: %d\r\n\r\nbody\r\n" % i)
        pt.wait_for(lambda: self.sink.count == 6,
                    "six messages through the slow filter")
        self.assertEqual(self.sink.most, 2)
        # the filter accepted them: done here, nothing delivered locally
        self.assertEqual(self.mta.maildir("u0"), {})
        pt.wait_for(self.mta.queue_empty, "an empty queue")

    def test_recipient_limit(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=120) as s:
            s.sendmail(SENDER, ["a@mx.postern.test", "b@mx.postern.test",
                                "c@mx.postern.test"],
                       "Subject: three\r\n\r\nbody\r\n")
        pt.wait_for(lambda: self.sink.count == 3,
                    "three deliveries of one message")
        pt.wait_for(self.mta.queue_empty, "an empty queue")
        self.assertNotIn("unknown parameter", self.mta.logtext())


class CheckTransports(unittest.TestCase):
    """postern check knows master.cf's transports: content_filter,
    transport_maps and FILTER actions naming them are fine, unknown
    names are errors."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postern-cfilter-check-")

    def tearDown(self):
        shutil.rmtree(self.tmp, True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_transport_names(self):
        access = self.write("access", "a@example.org FILTER my-filter:"
                            "[127.0.0.1]:10024\n"
                            "b@example.org FILTER nosuch:[127.0.0.1]:1\n")
        self.write("main.cf",
                   "queue_directory = %s/q\n"
                   "content_filter = my-filter:[127.0.0.1]:10024\n"
                   "transport_maps = inline:{ a.example=dove:unix:x, "
                   "b.example=pigeon:x }\n"
                   "smtpd_sender_restrictions = check_sender_access "
                   "texthash:%s\n" % (self.tmp, access))
        self.write("master.cf",
                   "smtp inet n - n - - smtpd\n"
                   "127.0.0.1:10025 inet n - n - - smtpd\n"
                   "  -o content_filter=other:[127.0.0.1]:10026\n"
                   "my-filter unix - - n - 2 smtp\n"
                   "  -o smtp_helo_name=filter-client.example\n"
                   "dove unix - - n - - lmtp\n")
        p = pt.postern("check", "-c", self.tmp)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        out = p.stdout
        self.assertNotIn("transport \"my-filter\"", out)
        self.assertNotIn("transport \"dove\"", out)
        self.assertIn('error: transport_maps (inline:{ a.example=dove:unix:x, '
                      'b.example=pigeon:x }): key b.example: unknown mail '
                      'transport "pigeon"', out)
        self.assertIn('error: smtpd_sender_restrictions (%s): key '
                      'b@example.org: unknown mail transport "nosuch"'
                      % access, out)
        self.assertIn('error: content_filter (', out)
        self.assertIn('unknown mail transport "other" (neither built in nor '
                      'a master.cf service running smtp or lmtp): mail there '
                      'is deferred [%s/master.cf, line 2: service '
                      '127.0.0.1:10025]' % self.tmp, out)


if __name__ == "__main__":
    unittest.main()
