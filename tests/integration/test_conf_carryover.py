#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A Postfix main.cf carries over: the stock files Debian's postfix package
installs (Postfix's own template and Debian's), myorigin read from a file
as Debian's Postfix does, disable_vrfy_command, and the Maildir size
limits (mailbox_size_limit, virtual_mailbox_limit)."""
import os
import shutil
import smtplib
import tempfile
import unittest

import pki
import pt
import qmgrfix
import srv

DIST = "/usr/share/postfix/main.cf.dist"
DEBIAN = "/usr/share/postfix/main.cf.debian"
# what Debian's postinst appends for an "Internet Site" (postfix 3.7)
DEBIAN_POSTINST = """
smtpd_tls_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file=/etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level=may
smtp_tls_CApath=/etc/ssl/certs
smtp_tls_security_level=may
smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated \
defer_unauth_destination
myhostname = mx.postern.test
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
myorigin = /etc/mailname
mydestination = $myhostname, postern.test, localhost.localdomain, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = all
"""


def check(d, *args):
    """postern check's output (stdout and stderr) for main.cf in d."""
    p = pt.postern("check", "-c", d, *args)
    return p.stdout + p.stderr


class StockFiles(unittest.TestCase):
    """The files as installed, only paths this machine lacks replaced."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postern-carry-")
        # /etc/aliases is this machine's, built or not: postern check
        # reports one not built, so ours stands in for it
        self.aliases = os.path.join(self.tmp, "aliases")
        with open(self.aliases, "w") as f:
            f.write("postmaster: root\n")

    def built_aliases(self):
        """-o alias_maps= our aliases, compiled."""
        pt.postern("aliases", "hash:" + self.aliases, check=True)
        return ("-o", "alias_maps=hash:" + self.aliases)

    def tearDown(self):
        shutil.rmtree(self.tmp, True)

    def write(self, text):
        with open(os.path.join(self.tmp, "main.cf"), "w") as f:
            f.write(text)

    def test_postfix_template(self):
        with open(DIST) as f:
            self.write(f.read())
        out = check(self.tmp, *self.built_aliases())
        self.assertNotIn("unknown parameter", out)
        self.assertNotIn("undefined parameter", out)
        self.assertNotIn("not implemented", out)
        self.assertIn("no problems found", out)

    def test_every_postfix_tls_parameter_is_known(self):
        # Postfix's own list: every smtp_tls_*, smtpd_tls_* and tls_*
        # parameter at its default, ${{...}} expressions included
        cf = os.path.join(self.tmp, "pf")
        os.makedirs(cf)
        open(os.path.join(cf, "main.cf"), "w").close()
        out = pt.run(["postconf", "-d", "-c", cf], check=True).stdout
        lines = [ln for ln in out.splitlines()
                 if ln.startswith(("smtp_tls_", "smtpd_tls_", "tls_"))]
        self.assertTrue([ln for ln in lines if "${{" in ln])
        self.assertGreater(len(lines), 80)
        self.write("\n".join(lines) + "\n")
        out = check(self.tmp, *self.built_aliases())
        self.assertNotIn("unknown parameter", out)
        self.assertIn("no problems found", out)

    def test_debian_internet_site(self):
        mailname = os.path.join(self.tmp, "mailname")
        with open(mailname, "w") as f:
            f.write("postern.test\n")
        crt, key = pki.PKI(os.path.join(self.tmp, "pki")).issue(
            "mx.postern.test")
        with open(DEBIAN) as f:
            text = f.read() + DEBIAN_POSTINST
        text = text.replace("/etc/mailname", mailname)
        text = text.replace("CApath=/etc/ssl/certs", "CApath=" + self.tmp)
        text = text.replace("/etc/ssl/certs/ssl-cert-snakeoil.pem", crt)
        text = text.replace("/etc/ssl/private/ssl-cert-snakeoil.key", key)
        text = text.replace("hash:/etc/aliases", "hash:" + self.aliases)
        self.write(text)
        # Postfix's aliases.db is not postern's: until postern aliases
        # builds aliases.lmdb, local mail would be deferred
        out = check(self.tmp)
        self.assertIn("error: alias_maps (%s): %s.lmdb does not exist; "
                      "fix: postern aliases hash:%s" %
                      (self.aliases, self.aliases, self.aliases), out)
        pt.postern("aliases", "-c", self.tmp, check=True)  # newaliases
        out = check(self.tmp)
        self.assertNotIn("unknown parameter", out)
        # alias_maps is implemented: Debian's main.cf leaves nothing
        # postern does not do
        warned = [l for l in out.splitlines() if "not implemented" in l]
        self.assertEqual(warned, [], out)
        # mailbox_size_limit = 0 is "no limit", which postern implements
        self.assertNotIn("mailbox_size_limit", out)
        self.assertIn("0 errors", out)

    def test_values_postern_behaves_as(self):
        # postern behaves as biff = no and smtpd_delay_reject = yes:
        # those are quiet, the others warn; smtpd_peername_lookup is
        # implemented, so neither value warns
        self.write("biff = no\nsmtpd_peername_lookup = no\n"
                   "smtpd_delay_reject = yes\n")
        self.assertNotIn("not implemented", check(self.tmp))
        self.write("biff = yes\nsmtpd_peername_lookup = yes\n"
                   "smtpd_delay_reject = no\n")
        out = check(self.tmp)
        self.assertIn("line 1: biff=yes: accepted for Postfix compatibility "
                      "but not implemented", out)
        self.assertNotIn("smtpd_peername_lookup", out)
        self.assertIn("line 3: smtpd_delay_reject=no: accepted", out)

    def test_features_once_refused_now_start(self):
        # content filters and canonical maps refused the start until
        # postern did them: now a carried-over table that is not there
        # stops the start by its own name, and a filter naming a
        # transport master.cf does not define is an error in check
        for cf in ("sender_canonical_maps = texthash:/etc/postfix/sc\n",
                   "recipient_canonical_maps = texthash:/etc/postfix/rc\n",
                   "canonical_maps = texthash:/etc/postfix/canonical\n"):
            r = srv.serve_once(os.path.join(self.tmp, "serve"), cf)
            self.assertNotEqual(r.returncode, 0, cf)
            name = cf.split(" ")[0]
            self.assertIn("%s: " % name, r.stderr)
            self.assertNotIn("not implemented", r.stderr)
        self.write("content_filter = smtp-amavis:[127.0.0.1]:10024\n")
        out = check(self.tmp)
        self.assertIn("smtp-amavis", out)
        self.assertNotIn("not implemented", out)
        # the default values are fine, and postern conf still reads the
        # file
        self.write("content_filter =\ncanonical_maps =\n"
                   "sender_canonical_maps = texthash:/etc/postfix/sc\n")
        self.assertEqual(pt.postern("conf", "-c", self.tmp,
                                    "sender_canonical_maps").returncode, 0)
        out = check(self.tmp)
        self.assertIn("error: sender_canonical_maps (", out)
        self.assertIn("/etc/postfix/sc", out)
        self.assertNotIn("content_filter", out)
        self.assertNotIn("error: canonical_maps", out)

    def test_myorigin_file_errors(self):
        empty = os.path.join(self.tmp, "mailname")
        open(empty, "w").close()
        self.write("myorigin = %s\n" % empty)
        p = pt.postern("conf", "-c", self.tmp)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("main.cf, line 1: parameter myorigin: file %s is "
                      "empty" % empty, p.stderr)
        self.write("myorigin = %s/missing\n" % self.tmp)
        p = pt.postern("conf", "-c", self.tmp)
        self.assertIn("parameter myorigin: cannot read %s/missing" %
                      self.tmp, p.stderr)
        self.write("myorigin = a.example, b.example\n")
        p = pt.postern("conf", "-c", self.tmp)
        self.assertIn("parameter myorigin: must be one domain", p.stderr)


class Delivery(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-carry-")
        mailname = os.path.join(cls.tmp, "mailname")
        with open(mailname, "w") as f:
            f.write("  mx.postern.test  \n")
        vbase = os.path.join(cls.tmp, "vmail")
        os.makedirs(vbase)
        os.chmod(vbase, 0o777)
        cls.vbase = vbase
        cls.mta = qmgrfix.Mta(os.path.join(cls.tmp, "mta"), (
            "myorigin = %s\n"
            "disable_vrfy_command = yes\n"
            "mailbox_size_limit = 3000\n"
            "virtual_mailbox_limit = 2000\n"
            "virtual_mailbox_domains = virt.test\n"
            "virtual_mailbox_maps = inline:{ carol@virt.test=carol/ }\n"
            "virtual_mailbox_base = %s\n"
            # the bounces to sender@example.org stay on this machine
            "transport_maps = inline:{ example.org=discard: }\n" %
            (mailname, vbase)))
        cls.mta.start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.mta, cls.tmp)

    def submit(self, rcpt, body):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=60) as s:
            s.ehlo("client.test")
            s.mail("sender@example.org")
            code, msg = s.rcpt(rcpt)
            self.assertEqual(code, 250, msg)
            code, msg = s.data(body)
            self.assertEqual(code, 250, msg)
            return msg.decode().split()[-1]

    def test_myorigin_from_file(self):
        # bare names get @ the file's first line, trimmed
        p = self.mta.postern("send", "-f", "alice", "dave",
                             input="Subject: origin\n\norigin body\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        msgs = self.mta.wait_mail("dave")
        raw = [m for m in msgs.values() if b"origin body" in m]
        self.assertEqual(len(raw), 1)
        self.assertTrue(raw[0].startswith(
            b"Return-Path: <alice@mx.postern.test>\n"
            b"Delivered-To: dave@mx.postern.test\n"), raw[0][:200])

    def test_vrfy_disabled(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=60) as s:
            code, _ = s.ehlo("client.test")
            self.assertEqual(code, 250)
            self.assertFalse(s.has_extn("vrfy"))
            code, msg = s.verify("bob@mx.postern.test")
            self.assertEqual(code, 502)
            self.assertIn(b"5.5.1 VRFY command is disabled", msg)

    def test_mailbox_size_limit(self):
        small = b"Subject: small\r\n\r\n" + b"s" * 500 + b"\r\n"
        big = b"Subject: big\r\n\r\n" + (b"b" * 70 + b"\r\n") * 60
        q1 = self.submit("erin@mx.postern.test", small)
        q2 = self.submit("erin@mx.postern.test", big)
        self.mta.wait_mail("erin")
        self.mta.wait_log("%s: removed" % q2)
        self.mta.wait_log("%s: removed" % q1)
        msgs = self.mta.maildir("erin")
        self.assertEqual(len([m for m in msgs.values()
                              if b"Subject: small" in m]), 1)
        self.assertFalse([m for m in msgs.values() if b"Subject: big" in m])
        self.assertRegex(
            self.mta.logtext(),
            r"%s: to=<erin@mx.postern.test>, relay=local, .*dsn=5\.2\.2, "
            r"status=bounced \(maildir delivery failed: error writing "
            r"message: File too large \(mailbox_size_limit 3000\)\)" % q2)
        # nothing half-written is left in the Maildir
        tmpd = os.path.join(self.mta.data, "mail", "erin", "Maildir", "tmp")
        self.assertEqual(os.listdir(tmpd), [])

    def test_virtual_mailbox_limit(self):
        # 2,500 bytes: under mailbox_size_limit, over virtual_mailbox_limit
        body = b"Subject: v\r\n\r\n" + (b"v" * 48 + b"\r\n") * 50
        qid = self.submit("carol@virt.test", body)
        self.mta.wait_log("%s: removed" % qid)
        self.assertRegex(
            self.mta.logtext(),
            r"%s: to=<carol@virt.test>, relay=virtual, .*dsn=5\.2\.2, "
            r"status=bounced \(.*virtual_mailbox_limit 2000\)" % qid)
        self.assertEqual(
            self.mta.maildir("carol", os.path.join(self.vbase, "carol")), {})


if __name__ == "__main__":
    unittest.main()
