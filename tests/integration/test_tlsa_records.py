#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern tlsa against hash-slinger's tlsa and openssl pipelines.

For every selector and matching type, the association data postern prints
must equal what Debian's hash-slinger `tlsa --create` computes and what the
openssl command line computes (PEERS.md: `openssl x509 -noout -pubkey |
openssl pkey -pubin -outform DER | openssl dgst -sha256` is selector 1;
the same over `openssl x509 -outform DER` is selector 0).  Seed 002's
mistake, a selector 0 digest published as 3 1 1, cannot happen: the data
is computed from the selector that is printed.
"""
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import pt  # noqa: E402
from pki import PKI  # noqa: E402


def der(args, infile):
    return subprocess.run(["openssl"] + args + ["-in", infile],
                          capture_output=True, check=True).stdout


class TLSARecords(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        self.pki = PKI(os.path.join(self.tmp, "pki"))
        self.crt, self.key = self.pki.issue(
            "mx1.example.org", ["mx1.example.org", "*.example.org",
                                "smtp.example.org"])
        self.cert_der = der(["x509", "-outform", "DER"], self.crt)
        pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey", "-in",
                              self.crt], capture_output=True, check=True)
        self.spki_der = subprocess.run(
            ["openssl", "pkey", "-pubin", "-outform", "DER"],
            input=pub.stdout, capture_output=True, check=True).stdout

    def expected(self, selector, mtype, cert_der=None, spki_der=None):
        data = (cert_der or self.cert_der) if selector == 0 else \
            (spki_der or self.spki_der)
        if mtype == 1:
            return hashlib.sha256(data).hexdigest()
        if mtype == 2:
            return hashlib.sha512(data).hexdigest()
        return data.hex()

    def tlsa(self, *args):
        r = pt.postern("tlsa", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.splitlines()

    def test_all_selectors_and_matching_types_against_openssl(self):
        for s in (0, 1):
            for m in (0, 1, 2):
                with self.subTest(selector=s, mtype=m):
                    out = self.tlsa("--selector", str(s), "--mtype", str(m),
                                    "--data-only", self.crt)
                    self.assertEqual(out, ["3 %d %d %s" %
                                           (s, m, self.expected(s, m))])

    def test_against_hash_slinger(self):
        if not pt.have("tlsa"):
            self.fail("hash-slinger's tlsa is not installed")
        for s in (0, 1):
            for m in (0, 1, 2):
                with self.subTest(selector=s, mtype=m):
                    r = pt.run(["tlsa", "--create", "--certificate",
                                self.crt, "--usage", "3", "--selector",
                                str(s), "--mtype", str(m), "--port", "25",
                                "mx1.example.org"])
                    self.assertEqual(r.returncode, 0, r.stderr)
                    theirs = r.stdout.strip().splitlines()[-1].split()
                    ours = self.tlsa("--selector", str(s), "--mtype", str(m),
                                     "--host", "mx1.example.org",
                                     self.crt)[0].split()
                    # _25._tcp.mx1.example.org. [TTL] IN TLSA 3 s m hex
                    self.assertEqual(ours[0], theirs[0])
                    self.assertEqual(ours[-4:], theirs[-4:])

    def test_default_is_3_1_1_for_every_name_and_port(self):
        out = self.tlsa("--port", "25,465", self.crt)
        digest = self.expected(1, 1)
        self.assertEqual(out, [
            "_25._tcp.mx1.example.org. 3600 IN TLSA 3 1 1 " + digest,
            "_465._tcp.mx1.example.org. 3600 IN TLSA 3 1 1 " + digest,
            "_25._tcp.smtp.example.org. 3600 IN TLSA 3 1 1 " + digest,
            "_465._tcp.smtp.example.org. 3600 IN TLSA 3 1 1 " + digest,
        ])  # the wildcard name is not a TLSA owner

    def test_seed_002_mistake_is_impossible(self):
        # the seed published sha256(DER certificate) as "3 1 1"
        full = hashlib.sha256(self.cert_der).hexdigest()
        out = self.tlsa("--data-only", self.crt)[0]
        self.assertNotIn(full, out)
        self.assertIn(full, self.tlsa("--selector", "0", "--data-only",
                                      self.crt)[0])

    def test_key_file_gives_record_before_certificate(self):
        out = self.tlsa("--host", "mx1.example.org", "--data-only",
                        self.key)
        self.assertEqual(out, ["3 1 1 " + self.expected(1, 1)])
        r = pt.postern("tlsa", "--selector", "0", "--host", "x", self.key)
        self.assertEqual(r.returncode, 1)
        self.assertIn("needs the certificate", r.stderr)

    def test_usage_2_is_for_the_issuer(self):
        chain = os.path.join(self.tmp, "chain.pem")
        with open(chain, "w") as f, open(self.crt) as a, \
                open(self.pki.ca_crt) as b:
            f.write(a.read() + b.read())
        ca_der = der(["x509", "-outform", "DER"], self.pki.ca_crt)
        out = self.tlsa("--usage", "2", "--selector", "0", "--data-only",
                        chain)
        self.assertEqual(out, ["2 0 1 " + hashlib.sha256(ca_der).hexdigest()])
        # a leaf alone has no issuer to publish
        r = pt.postern("tlsa", "--usage", "2", self.crt)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no CA certificate", r.stderr)

    def test_pkix_usages_warn(self):
        r = pt.postern("tlsa", "--usage", "1", "--data-only", self.crt)
        self.assertEqual(r.returncode, 0)
        self.assertIn("not usable for SMTP", r.stderr)

    def test_bad_input(self):
        garbage = self.write("garbage.pem", "not a certificate\n")
        r = pt.postern("tlsa", garbage)
        self.assertEqual(r.returncode, 1)
        self.assertIn("garbage.pem", r.stderr)
        r = pt.postern("tlsa", "--mtype", "3", self.crt)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    pt.main()
