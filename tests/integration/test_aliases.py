#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""alias_maps, as Postfix's local(8) and aliases(5): an aliases file
compiled by `postern aliases` (and compared with Postfix's postalias),
then mail through postern serve: postmaster to the alias target's
Maildir, a chain, a remote target relayed to a fake SMTP peer with the
original recipient kept for DSNs, a loop bounced, an alias that names
itself keeping a copy, a |command kept in the queue and not run, and
an unmatched extension propagated, a message that comes back to the
alias bounced (mail forwarding loop), NOTIFY=SUCCESS through an
expansion, and an alias_maps that cannot be opened deferring local
mail."""
import os
import re
import shutil
import signal
import smtplib
import tempfile
import unittest

import pt
import qmgrfix

ALIASES = """\
# as Debian ships it, and more
postmaster: root
root: localadmin, admin@peer.test
keeper: keeper, other
"Loop A": loopb
loopb: "loop a"
runme: "|/bin/touch %(flag)s", localadmin
gone: nobody@peer.test
lists: listowner
staff: alice,
  bob
"""


def submit(test, mta, rcpt, subject, sender="sender@mx.postern.test",
           rcpt_options=(), headers=""):
    """Mail to rcpt through mta's smtpd; the queue id."""
    body = "%sSubject: %s\r\n\r\nbody of %s\r\n" % (headers, subject,
                                                      subject)
    with smtplib.SMTP("127.0.0.1", mta.port, timeout=60) as s:
        s.ehlo("client.test")
        s.mail(sender)
        code, msg = s.rcpt(rcpt, list(rcpt_options))
        test.assertEqual(code, 250, msg)
        code, msg = s.data(body)
        test.assertEqual(code, 250, msg)
        return msg.decode().split()[-1]


def deferred(test, mta, qid, rcpt, text, why):
    """Wait for text in mta's log, then check qid's log line for rcpt
    says 4.3.0 deferred (why: a regular expression) and the message
    is in the deferred queue."""
    mta.wait_log(text)
    test.assertRegex(mta.logtext(),
                     r"%s: to=<%s>, .*dsn=4\.3\.0, status=deferred \(%s" %
                     (qid, re.escape(rcpt), why))
    pt.wait_for(lambda: qid in mta.queued("deferred"),
                "the message deferred")


class Aliases(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-aliases-")
        cls.peer = qmgrfix.FakeSmtp(answer=cls.peer_answer)
        cls.flag = os.path.join(cls.tmp, "command-ran")
        cls.aliases = os.path.join(cls.tmp, "aliases")
        with open(cls.aliases, "w") as f:
            f.write(ALIASES % {"flag": cls.flag})
        d = os.path.join(cls.tmp, "mta")
        cls.mta = qmgrfix.Mta(d, (
            "alias_maps = hash:%s\n"
            "alias_database = hash:%s\n"
            "recipient_delimiter = +\n"
            "propagate_unmatched_extensions = canonical, virtual, alias\n"
            "transport_maps = inline:{ peer.test=smtp:[127.0.0.1]:%d }\n"
            "smtp_tls_security_level = none\n" % (cls.aliases, cls.aliases,
                                                   cls.peer.port)))
        # newaliases: no FILE, alias_database of the configuration
        p = cls.mta.postern("aliases")
        if p.returncode != 0:
            raise AssertionError(p.stderr)
        cls.mta.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.mta.stop()
        cls.peer.close()
        problems = cls.mta.problems()
        shutil.rmtree(cls.tmp, True)
        if problems or rc != 0:
            raise AssertionError("postern serve exit %s: %s" %
                                 (rc, "\n".join(problems)))

    @classmethod
    def peer_answer(cls, rcpt):
        if rcpt.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected" % rcpt
        return "250 2.1.5 ok"

    def submit(self, rcpt, subject, **kw):
        return submit(self, self.mta, rcpt, subject, **kw)

    def mail_with(self, user, text):
        """user's messages holding text."""
        return [m for m in self.mta.maildir(user).values()
                if text.encode() in m]

    def wait_mail_with(self, user, text, count=1):
        return pt.wait_for(
            lambda: len(self.mail_with(user, text)) >= count and
            self.mail_with(user, text), "%r in %s's Maildir" % (text, user))

    def forwarded_as(self, qid):
        m = pt.wait_for(lambda: re.search(
            r"%s: to=<[^>]*>, relay=none, .*status=sent \(forwarded as "
            r"(\w+)\)" % qid, self.mta.logtext()), "%s forwarded" % qid)
        return m.group(1)

    def test_postalias_agrees(self):
        """postern aliases -q prints what Postfix's postalias -q prints for
        the same file (when Postfix is installed)."""
        if not shutil.which("postalias"):
            self.skipTest("no postalias")
        cf = os.path.join(self.tmp, "pfconf")
        os.makedirs(cf, exist_ok=True)
        open(os.path.join(cf, "main.cf"), "w").close()
        src = os.path.join(self.tmp, "pfaliases")
        shutil.copy(self.aliases, src)
        with open(src, "a") as f:
            f.write('"Q:x"  :  z\nnocolon value\na:  x,    y  ,z\n'
                    'b: "q  r"@x\nc\t:x\n"d\\"e": f\n')
        env = {"MAIL_CONFIG": cf}
        pt.run(["postalias", src], env=env, check=True)
        pt.postern("aliases", src, check=True)
        for key in ("postmaster", "root", "staff", "runme", "loop a",
                    "Loop A", "q:x", "a", "b", "c", 'd"e', "nocolon",
                    "absent"):
            pf = pt.run(["postalias", "-q", key, src], env=env)
            pn = pt.postern("aliases", "-q", key, src)
            self.assertEqual((pn.returncode, pn.stdout),
                             (pf.returncode, pf.stdout), key)
            tx = pt.postern("aliases", "-q", key, "texthash:" + src)
            self.assertEqual(tx.stdout, pf.stdout, key)

    def test_postmaster_chain_and_remote(self):
        """postmaster -> root -> localadmin and admin@peer.test."""
        qid = self.submit("postmaster@mx.postern.test", "chain")
        got = self.wait_mail_with("localadmin", "body of chain")
        self.assertIn(b"Delivered-To: localadmin@mx.postern.test", got[0])
        # the copy that was forwarded says where it came from
        self.assertIn(b"Delivered-To: postmaster@mx.postern.test", got[0])
        pt.wait_for(lambda: [m for m in self.peer.messages
                             if b"body of chain" in m[2]], "the relay")
        m = [m for m in self.peer.messages if b"body of chain" in m[2]][0]
        self.assertEqual(m[0], "sender@mx.postern.test")
        self.assertEqual(m[1], ["admin@peer.test"])
        self.assertEqual(self.mail_with("postmaster", "body of chain"), [])
        self.assertEqual(self.mail_with("root", "body of chain"), [])
        new = self.forwarded_as(qid)
        self.mta.wait_log("%s: removed" % new)

    def test_remote_failure_keeps_original_recipient(self):
        """The bounce about an alias target names the alias as
        Original-Recipient (ORCPT stays the original)."""
        qid = self.submit("gone@mx.postern.test", "gone",
                          rcpt_options=["NOTIFY=FAILURE"])
        new = self.forwarded_as(qid)
        dsn = qmgrfix.find_dsn(self.mta, "sender", new)
        _, groups = qmgrfix.dsn_fields(dsn)
        rcpt = groups[1]
        self.assertEqual(rcpt["final-recipient"], "rfc822; nobody@peer.test")
        self.assertEqual(rcpt["original-recipient"],
                         "rfc822;gone@mx.postern.test")
        self.assertEqual(rcpt["action"], "failed")

    def test_loop_is_bounced(self):
        qid = self.submit("loopb@mx.postern.test", "loop")
        self.mta.wait_log("alias database loop for loopb")
        self.assertRegex(self.mta.logtext(),
                         r"%s: to=<loopb@mx.postern.test>, .*dsn=5\.4\.6, "
                         r"status=bounced \(alias database loop" % qid)
        qmgrfix.find_dsn(self.mta, "sender", qid)
        self.assertEqual(self.mail_with("loopb", "body of loop"), [])

    def test_forwarding_loop_is_bounced(self):
        """A message that was already delivered to the alias (it carries
        Delivered-To: the alias) came back: 5.4.6, with a DSN, and not
        forwarded again."""
        qid = self.submit("root@mx.postern.test", "came back",
                          headers="Delivered-To: root@mx.postern.test\r\n")
        self.mta.wait_log("mail forwarding loop for root@mx.postern.test")
        self.assertRegex(self.mta.logtext(),
                         r"%s: to=<root@mx.postern.test>, .*dsn=5\.4\.6, "
                         r"status=bounced \(mail forwarding loop for "
                         r"root@mx.postern.test\)" % qid)
        dsn = qmgrfix.find_dsn(self.mta, "sender", qid)
        _, groups = qmgrfix.dsn_fields(dsn)
        self.assertEqual(groups[1]["final-recipient"],
                         "rfc822; root@mx.postern.test")
        self.assertEqual(groups[1]["action"], "failed")
        self.assertEqual(groups[1]["status"], "5.4.6")
        self.mta.wait_log("%s: removed" % qid)
        self.assertNotRegex(self.mta.logtext(),
                            r"%s: to=<root@[^>]*>, .*forwarded as" % qid)
        self.assertEqual(self.mail_with("localadmin", "body of came back"),
                         [])

    def test_notify_success_on_expansion_into_several(self):
        """staff -> alice, bob with NOTIFY=SUCCESS: the original reports
        "delivered" itself (RFC 3461, 6.2.7.3), the new message's two
        recipients have NOTIFY=SUCCESS off, so one success DSN, not
        three."""
        qid = self.submit("staff@mx.postern.test", "notify",
                          rcpt_options=["NOTIFY=SUCCESS"])
        new = self.forwarded_as(qid)
        self.wait_mail_with("alice", "body of notify")
        self.wait_mail_with("bob", "body of notify")
        dsn = qmgrfix.find_dsn(self.mta, "sender", qid)
        _, groups = qmgrfix.dsn_fields(dsn)
        self.assertEqual(len(groups), 2)
        self.assertEqual(groups[1]["final-recipient"],
                         "rfc822; staff@mx.postern.test")
        self.assertEqual(groups[1]["action"], "delivered")
        self.assertTrue(groups[1]["status"].startswith("2."), groups[1])
        self.mta.wait_log("%s: removed" % new)
        self.assertEqual(
            [m for m in self.mta.maildir("sender").values()
             if ("X-Postfix-Queue-ID: %s" % new).encode() in m], [])

    def test_one_target_carries_notify_success_on(self):
        """lists -> listowner alone: the new recipient keeps
        NOTIFY=SUCCESS, so the DSN comes from its delivery, with the
        alias as Original-Recipient."""
        qid = self.submit("lists@mx.postern.test", "notify one",
                          rcpt_options=["NOTIFY=SUCCESS"])
        new = self.forwarded_as(qid)
        dsn = qmgrfix.find_dsn(self.mta, "sender", new)
        _, groups = qmgrfix.dsn_fields(dsn)
        self.assertEqual(groups[1]["action"], "delivered")
        self.assertEqual(groups[1]["original-recipient"],
                         "rfc822;lists@mx.postern.test")
        self.mta.wait_log("%s: removed" % qid)
        self.assertEqual(
            [m for m in self.mta.maildir("sender").values()
             if ("X-Postfix-Queue-ID: %s" % qid).encode() in m], [])

    def test_alias_naming_itself_keeps_a_copy(self):
        self.submit("Keeper@mx.postern.test", "self")
        self.wait_mail_with("keeper", "body of self")
        self.wait_mail_with("other", "body of self")

    def test_command_is_not_run_and_mail_is_kept(self):
        qid = self.submit("runme@mx.postern.test", "command")
        deferred(self, self.mta, qid, "runme@mx.postern.test",
                 "postern does not deliver to commands or files",
                 r"alias runme: postern does not deliver to commands or "
                 r"files: \|/bin/touch")
        self.assertFalse(os.path.exists(self.flag))
        # nothing went half-way: the other target waits with it
        self.assertEqual(self.mail_with("localadmin", "body of command"), [])

    def test_extension_propagated(self):
        """lists+foo matches "lists": the extension goes on to the target,
        whose Maildir is listowner's."""
        self.submit("lists+foo@mx.postern.test", "ext")
        got = self.wait_mail_with("listowner", "body of ext")
        self.assertIn(b"Delivered-To: listowner+foo@mx.postern.test", got[0])

    def test_continuation_line(self):
        self.submit("staff@mx.postern.test", "staff")
        self.wait_mail_with("alice", "body of staff")
        self.wait_mail_with("bob", "body of staff")


class Unavailable(unittest.TestCase):
    """alias_maps set in main.cf whose table is not built: local mail
    waits (4.3.0 "alias_maps unavailable"), as with Postfix's local(8);
    built, and postern serve reloaded, it is delivered."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postern-aliases-")
        self.aliases = os.path.join(self.tmp, "aliases")
        with open(self.aliases, "w") as f:
            f.write("postmaster: localadmin\n")
        self.mta = qmgrfix.Mta(os.path.join(self.tmp, "mta"),
                               "alias_maps = hash:%s\n" % self.aliases)
        self.mta.start()

    def tearDown(self):
        self.mta.stop()
        problems = self.mta.problems()
        shutil.rmtree(self.tmp, True)
        self.assertEqual(problems, [])

    def test_defers_until_built(self):
        self.mta.wait_log("alias_maps: ")
        qid = submit(self, self.mta, "postmaster@mx.postern.test", "wait")
        deferred(self, self.mta, qid, "postmaster@mx.postern.test",
                 "alias_maps unavailable", r"alias_maps unavailable: ")
        self.assertEqual(self.mta.maildir("postmaster"), {})
        self.assertEqual(self.mta.maildir("localadmin"), {})
        # the queue manager opens alias_maps when it starts: a reload
        # (SIGHUP) starts a new one
        pt.postern("aliases", "hash:" + self.aliases, check=True)
        self.mta.proc.send_signal(signal.SIGHUP)
        pt.wait_for(lambda: self.mta.logtext().count(
            "queue manager started") >= 2, "the new queue manager")
        self.mta.postern("queue", "flush", check=True)
        got = self.mta.wait_mail("localadmin")
        self.assertIn(b"body of wait", list(got.values())[0])
        self.assertEqual(self.mta.maildir("postmaster"), {})


if __name__ == "__main__":
    unittest.main()
