#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""alias_maps, as Postfix's local(8) and aliases(5): an aliases file
compiled by `postern aliases` (and compared with Postfix's postalias),
then mail through postern serve: postmaster to the alias target's
Maildir, a chain, a remote target relayed to a fake SMTP peer with the
original recipient kept for DSNs, a loop bounced, an alias that names
itself keeping a copy, a |command kept in the queue and not run, and
an unmatched extension propagated."""
import os
import re
import shutil
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

    def submit(self, rcpt, subject, sender="sender@mx.postern.test",
               rcpt_options=()):
        body = "Subject: %s\r\n\r\nbody of %s\r\n" % (subject, subject)
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=60) as s:
            s.ehlo("client.test")
            s.mail(sender)
            code, msg = s.rcpt(rcpt, list(rcpt_options))
            self.assertEqual(code, 250, msg)
            code, msg = s.data(body)
            self.assertEqual(code, 250, msg)
            return msg.decode().split()[-1]

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

    def test_alias_naming_itself_keeps_a_copy(self):
        self.submit("Keeper@mx.postern.test", "self")
        self.wait_mail_with("keeper", "body of self")
        self.wait_mail_with("other", "body of self")

    def test_command_is_not_run_and_mail_is_kept(self):
        qid = self.submit("runme@mx.postern.test", "command")
        self.mta.wait_log("postern does not deliver to commands or files")
        self.assertRegex(self.mta.logtext(),
                         r"%s: to=<runme@mx.postern.test>, .*dsn=4\.3\.0, "
                         r"status=deferred \(alias runme: postern does not "
                         r"deliver to commands or files: \|/bin/touch" % qid)
        pt.wait_for(lambda: qid in self.mta.queued("deferred"),
                    "the message deferred")
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


if __name__ == "__main__":
    unittest.main()
