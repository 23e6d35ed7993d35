#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern check: one fixture per problem, each with its exact finding.

Every certificate is made with the openssl command line at test time (a
root CA, an intermediate, leaves; faketime moves the clock for expired and
not-yet-valid ones).  A clean configuration -- key 0600, a certificate with
SAN = myhostname issued by the CAfile's root, compiled up-to-date lmdb:
tables -- gives no finding and exit 0; each test then breaks one thing and
asserts the line `SEVERITY: PARAM (FILE): message` and the exit status
(1 warnings only, 2 errors).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import milterfix  # noqa: E402
import pt  # noqa: E402

HOST = "mx.example.org"


def ossl(args, cwd, fake=None):
    cmd = ["openssl"] + args
    if fake:
        cmd = ["faketime", "-f", fake] + cmd
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(cmd), p.stderr))
    return p.stdout


class PKI:
    """Root CA, intermediate CA and leaves in directory d (ECDSA P-256)."""

    def __init__(self, d):
        self.d = d
        self.root_key = self.p("root.key")
        self.root = self.p("root.crt")
        ossl(["req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.root_key,
              "-out", self.root, "-days", "3650", "-subj", "/CN=Check Root",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
        self.inter, self.inter_key = self.sign(
            "inter", self.root, self.root_key, ca=True)

    def p(self, name):
        return os.path.join(self.d, name)

    def sign(self, name, ca_crt, ca_key, ca=True):
        """An intermediate CA (ca=True) signed by ca_crt."""
        return self._sign(name, ca_crt, ca_key, None, 3650, None, ca)

    def cert(self, name, issuer="root", sans=None, days=365, fake=None,
             is_ca=False):
        """A leaf (or CA with is_ca) issued by root or inter."""
        ca, ca_key = ((self.root, self.root_key) if issuer == "root"
                      else (self.inter, self.inter_key))
        return self._sign(name, ca, ca_key, sans, days, fake, is_ca)

    def _sign(self, name, ca, ca_key, sans, days, fake, is_ca):
        key, csr, crt, ext = (self.p(name + s)
                              for s in (".key", ".csr", ".crt", ".ext"))
        with open(ext, "w") as f:
            if is_ca:
                f.write("basicConstraints=critical,CA:TRUE\n"
                        "keyUsage=critical,keyCertSign,cRLSign\n")
            else:
                f.write("basicConstraints=CA:FALSE\n"
                        "keyUsage=critical,digitalSignature\n"
                        "extendedKeyUsage=serverAuth,clientAuth\n"
                        "subjectAltName=%s\n" %
                        ",".join("DNS:" + s for s in (sans or [name])))
        ossl(["req", "-new", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
              csr, "-subj", "/CN=" + name], self.d)
        os.chmod(key, 0o600)
        ossl(["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
              "-CAcreateserial", "-out", crt, "-extfile", ext, "-days",
              str(days)], self.d, fake)
        return crt, key


def fingerprint(crt, digest="sha256"):
    out = ossl(["x509", "-noout", "-fingerprint", "-" + digest, "-in", crt],
               os.path.dirname(crt))
    return out.strip().split("=", 1)[1]


class CheckTest(pt.TempDirTest):
    @classmethod
    def setUpClass(cls):
        cls.pkidir = tempfile.mkdtemp(prefix="postern-check-pki-")
        k = PKI(cls.pkidir)
        cls.pki = k
        cls.crt, cls.key = k.cert(HOST)
        cls.client, _ = k.cert("client1.example.org")
        cls.other_crt, cls.other_key = k.cert("other.example.org")
        cls.ileaf, cls.ileaf_key = k.cert("ileaf.example.org",
                                          issuer="inter",
                                          sans=[HOST])
        cls.soon, cls.soon_key = k.cert("soon", sans=[HOST], days=10)
        cls.have_faketime = pt.have("faketime")
        if cls.have_faketime:
            cls.old, cls.old_key = k.cert("old", sans=[HOST], days=30,
                                          fake="-400d")
            cls.future, cls.future_key = k.cert("future", sans=[HOST],
                                                days=365, fake="+20d")
            cls.old_ca = os.path.join(cls.pkidir, "oldca.crt")
            ossl(["req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                  os.path.join(cls.pkidir, "oldca.key"), "-out", cls.old_ca,
                  "-days", "30", "-subj", "/CN=Old CA", "-addext",
                  "basicConstraints=critical,CA:TRUE"], cls.pkidir,
                 "-400d")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pkidir, True)

    # -- fixture ---------------------------------------------------------

    def setUp(self):
        super().setUp()
        self.cf = os.path.join(self.tmp, "etc")
        os.makedirs(self.cf)
        self.policy = self.write("etc/tls_policy",
                                 "example.org verify\n"
                                 "[mx.example.net]:25 encrypt\n")
        self.clientcerts = self.write(
            "etc/clientcerts", "%s client1\n" % fingerprint(self.client))
        self.transport = self.write("etc/transport",
                                    "example.com smtp:[relay.example]\n")
        self.ccerts = self.write("etc/ccerts", "%s OK\n" %
                                 fingerprint(self.client))
        for t in (self.policy, self.clientcerts, self.transport,
                  self.ccerts):
            pt.postern("map", "lmdb:" + t, check=True)
        self.aliases = self.write("etc/aliases",
                                  "postmaster: root\n"
                                  "root: admin@example.org\n")
        pt.postern("aliases", "hash:" + self.aliases, check=True)
        self.params = {
            "myhostname": HOST,
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": self.crt,
            "smtpd_tls_key_file": self.key,
            "smtpd_tls_CAfile": self.pki.root,
            "smtpd_tls_ask_ccert": "yes",
            "smtp_tls_security_level": "may",
            "smtp_tls_CAfile": self.pki.root,
            "smtp_tls_policy_maps": "lmdb:" + self.policy,
            "relay_clientcerts": "lmdb:" + self.clientcerts,
            "transport_maps": "lmdb:" + self.transport,
            "alias_maps": "hash:" + self.aliases,
            "smtpd_relay_restrictions": "permit_mynetworks, "
            "permit_tls_clientcerts, reject_unauth_destination",
            "smtpd_recipient_restrictions": "check_ccert_access lmdb:" +
            self.ccerts + ", permit_mynetworks, reject_unauth_destination",
        }
        self.write("etc/master.cf",
                   "smtp       inet  n  -  n  -  -  smtpd\n"
                   "submission inet  n  -  n  -  -  smtpd\n"
                   "  -o smtpd_tls_security_level=encrypt\n")

    def main_cf(self, **kw):
        p = dict(self.params)
        p.update(kw)
        text = "".join("%s = %s\n" % (k, v) for k, v in p.items()
                       if v is not None)
        return self.write("etc/main.cf", text)

    def check(self, *args, **kw):
        self.main_cf(**kw)
        p = pt.postern("check", "-c", self.cf, *args)
        self.assertNotIn("Sanitizer", p.stderr)
        self.assertNotIn("runtime error", p.stderr)
        return p

    def copy(self, src, name, mode=None):
        dst = os.path.join(self.tmp, name)
        shutil.copy(src, dst)
        if mode is not None:
            os.chmod(dst, mode)
        return dst

    def lines(self, p):
        return [ln for ln in p.stdout.splitlines()
                if ln.startswith(("error: ", "warning: "))]

    def assertFinding(self, p, sev, param, file, *words, status=None):
        head = "%s: %s (%s): " % (sev, param, file)
        hits = [ln for ln in self.lines(p) if ln.startswith(head)
                and all(w in ln for w in words)]
        self.assertTrue(hits, "no %r with %r in:\n%s%s" %
                        (head, words, p.stdout, p.stderr))
        if status is not None:
            self.assertEqual(p.returncode, status, p.stdout)
        return hits[0]

    def assertOnly(self, p, n):
        self.assertEqual(len(self.lines(p)), n, p.stdout)

    # -- the clean configuration -----------------------------------------

    def test_clean(self):
        p = self.check()
        self.assertEqual(self.lines(p), [], p.stdout + p.stderr)
        self.assertIn("postern check: no problems found", p.stdout)
        self.assertEqual(p.returncode, 0)
        q = pt.postern("check", "-q", "-c", self.cf)
        self.assertEqual((q.stdout, q.returncode), ("", 0))

    def test_help(self):
        p = pt.postern("check", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("--days N", p.stdout)
        self.assertEqual(pt.postern("check", "--days", "x").returncode, 2)

    # -- files -----------------------------------------------------------

    def test_missing_files(self):
        missing = os.path.join(self.tmp, "nope.pem")
        cases = ["smtpd_tls_cert_file", "smtpd_tls_key_file",
                 "smtpd_tls_eccert_file", "smtpd_tls_chain_files",
                 "smtpd_tls_CAfile", "smtpd_tls_CApath",
                 "smtp_tls_cert_file", "smtp_tls_key_file",
                 "smtp_tls_CAfile", "smtp_tls_CApath"]
        for param in cases:
            with self.subTest(param=param):
                kw = {param: missing}
                if param == "smtp_tls_key_file":
                    kw["smtp_tls_cert_file"] = self.crt
                p = self.check(**kw)
                line = self.assertFinding(p, "error", param, missing,
                                          "does not exist", status=2)
                self.assertIn("[%s, line " %
                              os.path.join(self.cf, "main.cf"), line)

    def test_eckey_missing(self):
        missing = os.path.join(self.tmp, "nope.key")
        p = self.check(smtpd_tls_eccert_file=self.other_crt,
                       smtpd_tls_eckey_file=missing,
                       myhostname="other.example.org",
                       smtpd_tls_cert_file=None, smtpd_tls_key_file=None)
        self.assertFinding(p, "error", "smtpd_tls_eckey_file", missing,
                           "does not exist", status=2)

    def test_unreadable_file(self):
        # As root every file is readable; a directory where a file is due
        # is what cannot be read as one.
        d = os.path.join(self.tmp, "adir")
        os.mkdir(d)
        p = self.check(smtpd_tls_cert_file=d)
        self.assertFinding(p, "error", "smtpd_tls_cert_file", d,
                           "not a regular file", status=2)
        p = self.check(smtp_tls_CApath=self.crt)
        self.assertFinding(p, "error", "smtp_tls_CApath", self.crt,
                           "not a directory", status=2)

    def test_tables_that_do_not_open(self):
        missing = os.path.join(self.tmp, "nothere")
        for param in ("relay_clientcerts", "smtp_tls_policy_maps",
                      "transport_maps", "sender_dependent_relayhost_maps",
                      "sender_bcc_maps", "recipient_bcc_maps",
                      "virtual_alias_maps", "relocated_maps",
                      "rbl_reply_maps"):
            with self.subTest(param=param):
                p = self.check(**{param: "texthash:" + missing})
                self.assertFinding(p, "error", param, missing,
                                   "cannot open table", status=2)
        p = self.check(smtpd_recipient_restrictions="check_ccert_access "
                       "texthash:%s, reject_unauth_destination" % missing)
        self.assertFinding(p, "error", "smtpd_recipient_restrictions",
                           missing, "check_ccert_access", "cannot open",
                           status=2)
        p = self.check(relay_clientcerts="bogus:" + missing)
        self.assertFinding(p, "error", "relay_clientcerts",
                           "bogus:" + missing, "cannot open", status=2)

    # -- keys ------------------------------------------------------------

    def test_key_readable_by_others(self):
        key = self.copy(self.key, "open.key", 0o644)
        p = self.check(smtpd_tls_key_file=key)
        self.assertFinding(p, "error", "smtpd_tls_key_file", key,
                           "readable by group or others", "0644",
                           "chmod 600 " + key, status=2)
        self.assertOnly(p, 1)
        key = self.copy(self.key, "group.key", 0o640)
        p = self.check(smtp_tls_cert_file=self.crt, smtp_tls_key_file=key)
        self.assertFinding(p, "error", "smtp_tls_key_file", key,
                           "chmod 600 " + key, status=2)

    def test_key_with_passphrase(self):
        enc = os.path.join(self.tmp, "enc.key")
        ossl(["pkey", "-in", self.key, "-aes256", "-passout", "pass:secret",
              "-out", enc], self.tmp)
        os.chmod(enc, 0o600)
        p = self.check(smtpd_tls_key_file=enc)
        self.assertFinding(p, "error", "smtpd_tls_key_file", enc,
                           "passphrase", "postern certs convert " + enc,
                           status=2)
        self.assertOnly(p, 1)

    def test_key_does_not_match(self):
        p = self.check(smtpd_tls_key_file=self.other_key)
        self.assertFinding(p, "error", "smtpd_tls_key_file", self.other_key,
                           "does not match the certificate in " + self.crt,
                           status=2)
        self.assertOnly(p, 1)

    def test_combined_key_and_cert(self):
        both = os.path.join(self.tmp, "both.pem")
        self.chainfile("both.pem", self.key, self.crt)
        os.chmod(both, 0o600)
        p = self.check(smtpd_tls_cert_file=both, smtpd_tls_key_file=None)
        self.assertEqual(self.lines(p), [], p.stdout)
        os.chmod(both, 0o644)
        p = self.check(smtpd_tls_cert_file=both, smtpd_tls_key_file=None)
        self.assertFinding(p, "error", "smtpd_tls_key_file", both,
                           "chmod 600", status=2)

    # -- chains ----------------------------------------------------------

    def chainfile(self, name, *parts):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            for x in parts:
                with open(x) as g:
                    f.write(g.read())
        return path

    def test_chain_in_order_is_clean(self):
        good = self.chainfile("good.pem", self.ileaf, self.pki.inter)
        p = self.check(smtpd_tls_cert_file=good,
                       smtpd_tls_key_file=self.ileaf_key)
        self.assertEqual(self.lines(p), [], p.stdout)

    def test_chain_wrong_order(self):
        bad = self.chainfile("bad.pem", self.pki.inter, self.ileaf)
        p = self.check(smtpd_tls_cert_file=bad,
                       smtpd_tls_key_file=self.ileaf_key)
        self.assertFinding(p, "error", "smtpd_tls_cert_file", bad,
                           "wrong order", "certificate 1", status=2)

    def test_chain_missing_intermediate(self):
        p = self.check(smtpd_tls_cert_file=self.ileaf,
                       smtpd_tls_key_file=self.ileaf_key)
        self.assertFinding(p, "warning", "smtpd_tls_cert_file", self.ileaf,
                           "missing intermediate?", "CN = inter",
                           "smtpd_tls_CAfile", status=1)
        self.assertOnly(p, 1)
        # with the intermediate in the CAfile the chain can be completed
        cafile = self.chainfile("ca+inter.pem", self.pki.root,
                                self.pki.inter)
        p = self.check(smtpd_tls_cert_file=self.ileaf,
                       smtpd_tls_key_file=self.ileaf_key,
                       smtpd_tls_CAfile=cafile)
        self.assertEqual(self.lines(p), [], p.stdout)

    def test_chain_files(self):
        good = self.chainfile("chain.pem", self.ileaf_key, self.ileaf,
                              self.pki.inter)
        os.chmod(good, 0o600)
        p = self.check(smtpd_tls_cert_file=None, smtpd_tls_key_file=None,
                       smtpd_tls_chain_files=good)
        self.assertEqual(self.lines(p), [], p.stdout)
        bad = self.chainfile("chain2.pem", self.other_key, self.ileaf,
                             self.pki.inter)
        os.chmod(bad, 0o600)
        p = self.check(smtpd_tls_cert_file=None, smtpd_tls_key_file=None,
                       smtpd_tls_chain_files=bad)
        self.assertFinding(p, "error", "smtpd_tls_chain_files", bad,
                           "does not match", status=2)

    # -- dates -----------------------------------------------------------

    def test_expired(self):
        if not self.have_faketime:
            self.skipTest("faketime is not installed")
        p = self.check(smtpd_tls_cert_file=self.old,
                       smtpd_tls_key_file=self.old_key)
        self.assertFinding(p, "error", "smtpd_tls_cert_file", self.old,
                           "expired on", "CN = old", status=2)

    def test_expired_ca(self):
        if not self.have_faketime:
            self.skipTest("faketime is not installed")
        cafile = self.chainfile("two-ca.pem", self.pki.root, self.old_ca)
        p = self.check(smtp_tls_CAfile=cafile)
        self.assertFinding(p, "warning", "smtp_tls_CAfile", cafile,
                           "CA certificate 2 expired on", "CN = Old CA",
                           status=1)
        self.assertOnly(p, 1)

    def test_not_yet_valid(self):
        if not self.have_faketime:
            self.skipTest("faketime is not installed")
        p = self.check(smtpd_tls_cert_file=self.future,
                       smtpd_tls_key_file=self.future_key)
        self.assertFinding(p, "error", "smtpd_tls_cert_file", self.future,
                           "not valid before", status=2)

    def test_expiring_soon(self):
        p = self.check(smtpd_tls_cert_file=self.soon,
                       smtpd_tls_key_file=self.soon_key)
        self.assertFinding(p, "warning", "smtpd_tls_cert_file", self.soon,
                           "expires on", "in 9 days", status=1)
        self.assertOnly(p, 1)
        p = self.check("--days", "5", smtpd_tls_cert_file=self.soon,
                       smtpd_tls_key_file=self.soon_key)
        self.assertEqual((self.lines(p), p.returncode), ([], 0), p.stdout)

    # -- names -----------------------------------------------------------

    def test_names_do_not_cover_myhostname(self):
        p = self.check(myhostname="mail.example.net")
        self.assertFinding(p, "warning", "smtpd_tls_cert_file", self.crt,
                           "do not cover myhostname = mail.example.net",
                           HOST, status=1)
        self.assertOnly(p, 1)

    # -- CA files --------------------------------------------------------

    def test_cafile_without_certificates(self):
        empty = self.write("etc/empty-ca.pem", "# nothing here\n")
        p = self.check(smtpd_tls_CAfile=empty)
        self.assertFinding(p, "error", "smtpd_tls_CAfile", empty,
                           "no certificates in CA file", status=2)
        keyonly = self.copy(self.key, "keyonly.pem", 0o600)
        p = self.check(smtp_tls_CAfile=keyonly)
        self.assertFinding(p, "error", "smtp_tls_CAfile", keyonly,
                           "no certificates in CA file", status=2)

    def test_capath_without_links(self):
        d = os.path.join(self.tmp, "cadir")
        os.mkdir(d)
        shutil.copy(self.pki.root, os.path.join(d, "root.pem"))
        p = self.check(smtp_tls_CApath=d)
        self.assertFinding(p, "warning", "smtp_tls_CApath", d,
                           "postern certs rehash " + d, status=1)
        pt.postern("certs", "rehash", d, check=True)
        p = self.check(smtp_tls_CApath=d)
        self.assertEqual(self.lines(p), [], p.stdout)

    # -- policy tables ---------------------------------------------------

    def policy_table(self, text):
        self.write("etc/tls_policy", text)
        pt.postern("map", "lmdb:" + self.policy, check=True)

    def test_policy_needs_cafile(self):
        self.policy_table("example.org verify\n"
                          "example.net secure match=nexthop:dot-nexthop\n"
                          "example.com fingerprint match=AB:CD\n"
                          "example.info dane\n")
        p = self.check(smtp_tls_CAfile=None)
        self.assertFinding(p, "error", "smtp_tls_policy_maps", self.policy,
                           "key example.org", "level verify",
                           "smtp_tls_CAfile", status=2)
        self.assertFinding(p, "error", "smtp_tls_policy_maps", self.policy,
                           "key example.net", "level secure")
        self.assertOnly(p, 2)  # fingerprint and dane need no CA
        d = os.path.join(self.tmp, "cadir")
        os.mkdir(d)
        shutil.copy(self.pki.root, os.path.join(d, "root.pem"))
        pt.postern("certs", "rehash", d, check=True)
        p = self.check(smtp_tls_CAfile=None, smtp_tls_CApath=d)
        self.assertEqual(self.lines(p), [], p.stdout)

    def test_policy_unknown_level_and_attribute(self):
        self.policy_table("example.org verfy\n"
                          "example.net encrypt protocols=!SSLv2 colour=red\n"
                          "example.com fingerprint\n"
                          "example.info secure ciphers=superhigh\n"
                          "example.edu may protocols=>=TLSv1.2\n")
        p = self.check()
        self.assertFinding(p, "error", "smtp_tls_policy_maps", self.policy,
                           "key example.org", 'unknown security level '
                           '"verfy"', status=2)
        self.assertFinding(p, "error", "smtp_tls_policy_maps", self.policy,
                           "key example.net", 'unknown attribute "colour"')
        self.assertFinding(p, "error", "smtp_tls_policy_maps", self.policy,
                           "key example.com", "needs match=")
        self.assertFinding(p, "error", "smtp_tls_policy_maps", self.policy,
                           "key example.info", "ciphers=superhigh")
        self.assertOnly(p, 4)

    def test_client_level_needs_cafile(self):
        p = self.check(smtp_tls_security_level="secure", smtp_tls_CAfile=None,
                       smtp_tls_policy_maps=None)
        self.assertFinding(p, "error", "smtp_tls_security_level",
                           os.path.join(self.cf, "main.cf"),
                           "level secure needs smtp_tls_CAfile", status=2)

    def test_policy_tafile_is_a_trust_source(self):
        self.write("etc/tls_policy", "example.org secure tafile=%s\n"
                   "example.net verify\n" % self.params["smtp_tls_CAfile"])
        pt.postern("map", "lmdb:" + self.policy, check=True)
        p = self.check(smtp_tls_CAfile=None)
        self.assertFinding(p, "error", "smtp_tls_policy_maps", self.policy,
                           "key example.net", "needs smtp_tls_CAfile",
                           status=2)
        self.assertNotIn("key example.org", p.stdout)

    def test_trust_anchor_file(self):
        ca = self.params["smtp_tls_CAfile"]
        # anchors alone are enough for secure: no "needs smtp_tls_CAfile"
        p = self.check(smtp_tls_security_level="secure", smtp_tls_CAfile=None,
                       smtp_tls_policy_maps=None,
                       smtp_tls_trust_anchor_file=ca)
        self.assertEqual(self.lines(p), [], p.stdout)
        missing = os.path.join(self.tmp, "no-such-ta.pem")
        p = self.check(smtp_tls_security_level="secure", smtp_tls_CAfile=None,
                       smtp_tls_policy_maps=None,
                       smtp_tls_trust_anchor_file="%s %s" % (ca, missing))
        self.assertFinding(p, "error", "smtp_tls_trust_anchor_file", missing,
                           "does not exist", status=2)
        self.assertNotIn("needs smtp_tls_CAfile", p.stdout)
        self.assertOnly(p, 1)

    def test_sasl_options_leave_no_mechanism(self):
        pw = os.path.join(self.tmp, "sasl_passwd")
        with open(pw, "w") as f:
            f.write("[relay.example]:587 alice:secret\n")
        # Postfix's defaults forbid PLAIN and LOGIN, postern's only ones
        p = self.check(smtp_sasl_auth_enable="yes",
                       smtp_sasl_password_maps="texthash:" + pw)
        self.assertFinding(p, "error", "smtp_sasl_tls_security_options",
                           self.cf + "/main.cf", "leaves no SASL mechanism",
                           "noanonymous", status=2)
        p = self.check(smtp_sasl_auth_enable="yes",
                       smtp_sasl_password_maps="texthash:" + pw,
                       smtp_sasl_tls_security_options="noanonymous")
        self.assertEqual(self.lines(p), [], p.stdout)
        p = self.check(smtp_sasl_auth_enable="yes")
        self.assertFinding(p, "warning", "smtp_sasl_auth_enable",
                           self.cf + "/main.cf", "password_maps is empty")

    def test_lmtp_next_hops(self):
        mcf = self.cf + "/main.cf"
        qdir = os.path.join(self.tmp, "queue")
        sock = os.path.join(qdir, "private", "dovecot-lmtp")
        os.makedirs(os.path.dirname(sock))
        inline = ("inline:{ a.test=lmtp:unix:%s/none, b.test=lmtp:inet:[x, "
                  "c.test=lmtp:inet:127.0.0.1:24 }" % self.tmp)
        # no server on a unix: socket (relative: under queue_directory) is
        # a warning, a next hop the client cannot parse an error
        p = self.check(queue_directory=qdir, transport_maps=inline,
                       virtual_transport="lmtp:unix:private/dovecot-lmtp")
        self.assertFinding(p, "warning", "virtual_transport", mcf,
                           "lmtp:unix:private/dovecot-lmtp: %s: No such file "
                           "or directory: LMTP deliveries there are deferred "
                           "until a server listens" % sock)
        self.assertFinding(p, "warning", "transport_maps", inline,
                           "key a.test: lmtp:unix:%s/none" % self.tmp,
                           "No such file or directory")
        self.assertFinding(p, "error", "transport_maps", inline,
                           "key b.test: lmtp:inet:[x: missing ']'", status=2)
        self.assertOnly(p, 3)
        # a listening socket is fine, for mailbox_transport as well
        s = socket.socket(socket.AF_UNIX)
        self.addCleanup(s.close)
        s.bind(sock)
        s.listen(1)
        p = self.check(queue_directory=qdir,
                       virtual_transport="lmtp:unix:private/dovecot-lmtp",
                       mailbox_transport="lmtp:unix:" + sock)
        self.assertEqual(self.lines(p), [], p.stdout)
        p = self.check(queue_directory=qdir, mailbox_transport="lmtp:unix:" +
                       os.path.dirname(sock))
        self.assertFinding(p, "warning", "mailbox_transport", mcf,
                           "not a socket", status=1)

    def serve_once(self, answer):
        """A loopback listener that reads what comes and sends answer,
        for each of the connections postern check makes; its port."""
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(4)
        ls.settimeout(60)
        self.addCleanup(ls.close)

        def run():
            while True:
                try:
                    c, _ = ls.accept()
                except OSError:
                    return
                with c:
                    c.settimeout(30)
                    try:
                        c.recv(4096)
                        c.sendall(answer)
                    except OSError:
                        pass
        threading.Thread(target=run, daemon=True).start()
        return ls.getsockname()[1]

    def test_milters(self):
        mcf = self.cf + "/main.cf"
        # a milter that is not there: a warning, with what mail then gets
        p = self.check(smtpd_milters="inet:127.0.0.1:%d" % pt.free_port())
        self.assertFinding(p, "warning", "smtpd_milters", mcf,
                           "connect: Connection refused",
                           "default_action, tempfail")
        p = self.check(smtpd_milters="{ inet:127.0.0.1:%d, default_action = "
                       "accept }" % pt.free_port())
        self.assertFinding(p, "warning", "smtpd_milters", mcf,
                           "default_action, accept")
        # something that answers, but not as a milter
        port = self.serve_once(b"220 not a milter\r\n")
        p = self.check(smtpd_milters="inet:127.0.0.1:%d" % port)
        self.assertFinding(p, "warning", "smtpd_milters", mcf,
                           "option negotiation: not a milter's answer")
        # a real milter (libmilter, through pymilter) negotiates: no
        # finding
        if milterfix.scripted_available():
            m = milterfix.Scripted(os.path.join(self.tmp, "milter")).start()
            self.addCleanup(m.stop)
            p = self.check(smtpd_milters=m.postern)
            self.assertEqual(self.lines(p), [], p.stdout)
        # what would refuse the start is an error
        p = self.check(smtpd_milters="{ inet:127.0.0.1:1, "
                       "default_action = maybe }")
        self.assertFinding(p, "error", "smtpd_milters", mcf,
                           "default_action = maybe: bad value", status=2)
        p = self.check(smtpd_milters="localhost:8891")
        self.assertFinding(p, "error", "smtpd_milters", mcf,
                           "not inet:host:port or unix:path", status=2)
        # the queue manager's list for local submissions, the same way
        p = self.check(non_smtpd_milters="inet:127.0.0.1:%d" % pt.free_port())
        self.assertFinding(p, "warning", "non_smtpd_milters", mcf,
                           "connect: Connection refused",
                           "default_action, tempfail")
        p = self.check(non_smtpd_milters="{ inet:127.0.0.1:1, nope = 1 }")
        self.assertFinding(p, "error", "non_smtpd_milters", mcf,
                           "unknown setting \"nope\"", status=2)

    def test_append_default_ca(self):
        # OpenSSL's default store is trust enough for secure too
        p = self.check(smtp_tls_security_level="secure", smtp_tls_CAfile=None,
                       smtp_tls_policy_maps=None,
                       tls_append_default_CA="yes")
        self.assertEqual(self.lines(p), [], p.stdout)

    # -- relay_clientcerts ----------------------------------------------

    def test_clientcerts_digest_length(self):
        sha1 = fingerprint(self.client, "sha1")
        self.write("etc/clientcerts", "%s client1\n%s client1-old\n" %
                   (fingerprint(self.client), sha1))
        pt.postern("map", "lmdb:" + self.clientcerts, check=True)
        p = self.check()
        self.assertFinding(p, "warning", "relay_clientcerts",
                           self.clientcerts, "key " + sha1.lower(),
                           "20-byte digest", "sha256", "32 bytes",
                           "95 characters", status=1)
        self.assertOnly(p, 1)
        # with sha1 the sha256 entry is the one that never matches
        p = self.check(smtpd_tls_fingerprint_digest="sha1")
        self.assertFinding(p, "warning", "relay_clientcerts",
                           self.clientcerts, "32-byte digest",
                           "= sha1 gives 20 bytes (59 characters", status=1)
        self.assertOnly(p, 1)

    def test_clientcerts_not_a_fingerprint(self):
        self.write("etc/clientcerts", "%s client1\nclient2.example.org x\n"
                   % fingerprint(self.client))
        pt.postern("map", "lmdb:" + self.clientcerts, check=True)
        p = self.check()
        self.assertFinding(p, "warning", "relay_clientcerts",
                           self.clientcerts, "key client2.example.org",
                           "not a fingerprint", status=1)
        self.assertOnly(p, 1)
        p = self.check(smtpd_tls_fingerprint_digest="sha3")  # conf_load
        self.assertFinding(p, "error", "smtpd_tls_fingerprint_digest",
                           "%s, line %d" % (os.path.join(self.cf, "main.cf"),
                                            len(self.params) + 1),
                           "expected one of", status=2)

    # -- compiled tables -------------------------------------------------

    def test_compiled_table_stale_or_missing(self):
        old = os.stat(self.transport).st_mtime - 3600
        os.utime(self.transport + ".lmdb", (old, old))
        p = self.check()
        self.assertFinding(p, "warning", "transport_maps", self.transport,
                           "older than its source",
                           "postern map lmdb:" + self.transport, status=1)
        self.assertOnly(p, 1)
        os.unlink(self.clientcerts + ".lmdb")
        p = self.check()
        self.assertFinding(p, "error", "relay_clientcerts", self.clientcerts,
                           ".lmdb does not exist", status=2)
        # hash: is an alias of lmdb:, checked the same way
        os.unlink(self.policy + ".lmdb")
        p = self.check(smtp_tls_policy_maps="hash:" + self.policy)
        self.assertFinding(p, "error", "smtp_tls_policy_maps", self.policy,
                           ".lmdb does not exist",
                           "postern map hash:" + self.policy, status=2)

    # -- alias_maps ------------------------------------------------------

    def test_aliases_stale_or_missing(self):
        old = os.stat(self.aliases).st_mtime - 3600
        os.utime(self.aliases + ".lmdb", (old, old))
        # nis: is left out, as the queue manager leaves it out
        p = self.check(alias_maps="hash:%s, nis:mail.aliases" % self.aliases)
        self.assertFinding(p, "warning", "alias_maps", self.aliases,
                           "older than its source",
                           "fix: postern aliases hash:" + self.aliases,
                           status=1)
        self.assertOnly(p, 1)
        os.unlink(self.aliases + ".lmdb")
        p = self.check()
        self.assertFinding(p, "error", "alias_maps", self.aliases,
                           ".lmdb does not exist",
                           "fix: postern aliases hash:" + self.aliases,
                           status=2)
        self.assertOnly(p, 1)

    def test_aliases_commands_and_files(self):
        self.write("etc/aliases",
                   "# comment\n"
                   "postmaster: root\n"
                   "procmail: \"|/usr/bin/procmail -a x\", bob\n"
                   "archive: bob,\n"
                   "  /var/mail/archive\n"
                   "lists: :include:/etc/lists/staff\n"
                   "root: admin@example.org\n")
        pt.postern("aliases", "hash:" + self.aliases, check=True)
        p = self.check()
        self.assertFinding(p, "warning", "alias_maps", self.aliases,
                           "line 3: alias procmail:",
                           "(\"|/usr/bin/procmail -a x\")",
                           "mail to procmail is deferred (4.3.0)", status=1)
        self.assertFinding(p, "warning", "alias_maps", self.aliases,
                           "line 4: alias archive:", "(/var/mail/archive)")
        self.assertFinding(p, "warning", "alias_maps", self.aliases,
                           "line 6: alias lists:",
                           "(:include:/etc/lists/staff)")
        self.assertOnly(p, 3)
        # texthash: reads the same file, with the same lines
        p = self.check(alias_maps="texthash:" + self.aliases)
        self.assertFinding(p, "warning", "alias_maps", self.aliases,
                           "line 3: alias procmail:", status=1)
        self.assertOnly(p, 3)
        # without its source, the compiled table names no line
        lmdb = self.aliases + ".lmdb"
        os.rename(self.aliases, self.aliases + ".moved")
        p = self.check(alias_maps="hash:" + self.aliases)
        hit = self.assertFinding(p, "warning", "alias_maps", self.aliases,
                                 "alias archive:", "(/var/mail/archive)",
                                 status=1)
        self.assertNotIn("line", hit.split("):", 1)[1].split("[")[0])
        self.assertFinding(p, "warning", "alias_maps", self.aliases,
                           "stat %s: No such file" % self.aliases)
        self.assertOnly(p, 4)
        self.assertTrue(os.path.exists(lmdb))

    @unittest.skipUnless(os.path.exists("/etc/aliases") and
                         not os.path.exists("/etc/aliases.lmdb"),
                         "needs /etc/aliases, not compiled")
    def test_default_aliases_not_built(self):
        p = self.check(alias_maps=None)
        self.assertFinding(p, "warning", "alias_maps", "/etc/aliases",
                           "default alias_maps is skipped",
                           "fix: postern aliases hash:/etc/aliases", status=1)
        self.assertOnly(p, 1)

    # -- restrictions ----------------------------------------------------

    def test_relay_restrictions_gotcha(self):
        # seed 003: permit_tls_clientcerts only in recipient restrictions
        p = self.check(smtpd_relay_restrictions=None,
                       smtpd_recipient_restrictions="permit_mynetworks, "
                       "permit_tls_clientcerts, reject_unauth_destination")
        line = self.assertFinding(
            p, "warning", "smtpd_relay_restrictions",
            os.path.join(self.cf, "main.cf"), "defer_unauth_destination",
            "add permit_tls_clientcerts to smtpd_relay_restrictions",
            status=1)
        self.assertNotIn("[", line.split("): ", 1)[1])  # a default: no line
        self.assertOnly(p, 1)
        # Postfix < 2.10 behaviour (empty relay list): fine
        p = self.check(smtpd_relay_restrictions="",
                       smtpd_recipient_restrictions="permit_mynetworks, "
                       "permit_tls_clientcerts, reject_unauth_destination")
        self.assertEqual(self.lines(p), [], p.stdout)

    def test_restrictions_serve_would_refuse(self):
        main = os.path.join(self.cf, "main.cf")
        p = self.check(smtpd_sender_restrictions="reject_non_fqdn_sender, "
                       "reject_unverified_sender")
        self.assertFinding(p, "error", "smtpd_*_restrictions", main,
                           "smtpd_sender_restrictions: unknown restriction "
                           "\"reject_unverified_sender\"",
                           "postern serve would not start", status=2)
        self.assertOnly(p, 1)
        p = self.check(smtpd_data_restrictions="reject_unauth_pipelining, "
                       "reject")
        self.assertFinding(p, "error", "smtpd_*_restrictions", main,
                           "smtpd_data_restrictions", "not supported there",
                           status=2)
        p = self.check(smtpd_helo_restrictions="reject_invalid_helo_hostname,"
                       " reject_non_fqdn_helo_hostname",
                       smtpd_data_restrictions="reject_unauth_pipelining")
        self.assertEqual(self.lines(p), [], p.stdout)

    def test_clientcerts_without_ask_ccert(self):
        p = self.check(smtpd_tls_ask_ccert="no")
        self.assertFinding(p, "warning", "smtpd_tls_ask_ccert",
                           os.path.join(self.cf, "main.cf"),
                           "never asked", status=1)

    # -- TLS without a certificate --------------------------------------

    def test_tls_without_certificate(self):
        main = os.path.join(self.cf, "main.cf")
        for kw, param in (({}, "smtpd_tls_security_level"),
                          ({"smtpd_tls_security_level": "encrypt"},
                           "smtpd_tls_security_level"),
                          ({"smtpd_tls_security_level": None,
                            "smtpd_use_tls": "yes"}, "smtpd_use_tls"),
                          ({"smtpd_tls_security_level": None,
                            "smtpd_enforce_tls": "yes"},
                           "smtpd_enforce_tls")):
            with self.subTest(param=param, kw=kw):
                p = self.check(smtpd_tls_cert_file=None,
                               smtpd_tls_key_file=None, **kw)
                self.assertFinding(p, "error", param, main,
                                   "no server certificate", status=2)
        self.write("etc/master.cf", "smtp inet n - n - - smtpd\n")
        p = self.check(smtpd_tls_cert_file=None, smtpd_tls_key_file=None,
                       smtpd_tls_security_level="none")
        self.assertNotIn("no server certificate", p.stdout)

    def test_unknown_server_level(self):
        p = self.check(smtpd_tls_security_level="verify")
        self.assertFinding(p, "error", "smtpd_tls_security_level",
                           os.path.join(self.cf, "main.cf") + ", line 2",
                           "expected one of", status=2)

    def test_key_without_certificate(self):
        p = self.check(smtp_tls_key_file=self.key)
        self.assertFinding(p, "warning", "smtp_tls_key_file", self.key,
                           "without smtp_tls_cert_file", status=1)
        self.assertOnly(p, 1)

    def test_chain_files_order_of_keys(self):
        certfirst = self.chainfile("cf.pem", self.crt, self.key)
        os.chmod(certfirst, 0o600)
        p = self.check(smtpd_tls_cert_file=None, smtpd_tls_key_file=None,
                       smtpd_tls_chain_files=certfirst)
        self.assertFinding(p, "error", "smtpd_tls_chain_files", certfirst,
                           "comes before the private key", status=2)
        # separate files work: key, then its chain
        p = self.check(smtpd_tls_cert_file=None, smtpd_tls_key_file=None,
                       smtpd_tls_chain_files=self.key + ", " + self.crt)
        self.assertEqual(self.lines(p), [], p.stdout)
        p = self.check(smtpd_tls_cert_file=None, smtpd_tls_key_file=None,
                       smtpd_tls_chain_files=self.crt + ", " + self.key)
        self.assertFinding(p, "error", "smtpd_tls_chain_files", self.key,
                           "without a certificate chain after it", status=2)

    # -- main.cf and master.cf ------------------------------------------

    def test_bad_value(self):
        p = self.check(smtpd_tls_ask_ccert="perhaps")
        main = os.path.join(self.cf, "main.cf")
        n = list(self.params).index("smtpd_tls_ask_ccert") + 1
        self.assertFinding(p, "error", "smtpd_tls_ask_ccert",
                           "%s, line %d" % (main, n), "yes or no", status=2)
        self.assertOnly(p, 1)
        # a bad value in a master.cf override spoils that service only
        self.write("etc/master.cf",
                   "smtp inet n - n - - smtpd\n"
                   "submission inet n - n - - smtpd\n"
                   "  -o smtpd_tls_ask_ccert=perhaps\n")
        p = self.check()
        line = self.assertFinding(p, "error", "smtpd_tls_ask_ccert",
                                  os.path.join(self.cf, "master.cf"),
                                  "yes or no", status=2)
        self.assertIn("service submission", line)
        self.assertOnly(p, 1)
        p = self.check("-o", "smtpd_use_tls=perhaps")
        self.assertFinding(p, "error", "smtpd_use_tls", "-o", "yes or no",
                           status=2)

    def test_master_cf_override(self):
        missing = os.path.join(self.tmp, "sub.pem")
        self.write("etc/master.cf",
                   "smtp       inet  n  -  n  -  -  smtpd\n"
                   "submission inet  n  -  n  -  -  smtpd\n"
                   "  -o smtpd_tls_security_level=encrypt\n"
                   "  -o smtpd_tls_cert_file=%s\n" % missing)
        p = self.check()
        line = self.assertFinding(p, "error", "smtpd_tls_cert_file", missing,
                                  "does not exist", status=2)
        self.assertIn("master.cf, line 2: service submission]", line)
        self.write("etc/master.cf",
                   "smtps inet n - n - - smtpd\n"
                   "  -o smtpd_tls_wrappermode=yes\n")
        p = self.check(smtpd_tls_cert_file=None, smtpd_tls_key_file=None,
                       smtpd_tls_security_level="none")
        line = self.assertFinding(p, "error", "smtpd_tls_wrappermode",
                                  os.path.join(self.cf, "main.cf"),
                                  "no server certificate", status=2)
        self.assertIn("service smtps]", line)

    def test_cli_override(self):
        missing = os.path.join(self.tmp, "cli.pem")
        p = self.check("-o", "smtpd_tls_cert_file=" + missing)
        line = self.assertFinding(p, "error", "smtpd_tls_cert_file", missing,
                                  "does not exist", status=2)
        self.assertTrue(line.endswith("[-o]"), line)


if __name__ == "__main__":
    pt.main()
