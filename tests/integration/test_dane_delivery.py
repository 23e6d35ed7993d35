#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""DANE for outbound mail (RFC 7672) against a DNSSEC world on loopback.

tests/dns/world.py serves signed, unsigned and broken zones with knot; the
MX hosts of the test destinations are postern servers on distinct
127.0.0.x addresses, each with its own self-signed certificate (so only
DANE can authenticate them).  postern's SMTP client (the smtp_send test
tool) validates DNSSEC itself from the world's trust anchor.  Each case
asserts delivered or deferred and the log line that says why.
"""
import hashlib
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "dns"))
import pt  # noqa: E402
import smtpsend  # noqa: E402
import srv  # noqa: E402
from pki import PKI, cert_sha256, spki_sha256  # noqa: E402
from world import World  # noqa: E402

PORT = None


# host name -> 127.0.0.x of its receiving server
HOSTS = {"mx-ok": 41, "mx-bad": 42, "mx-none": 43, "mx-full": 44,
         "mx-pkix": 45, "mx-ins": 46, "mx-bog": 47, "mx-old": 48,
         "mx-ta-nochain": 49, "mx-ta-ok": 50, "mx-ta-name": 51,
         "mx-exp": 52}


def expired_cert(pki, name):
    """A leaf of pki that expired days ago (signed under faketime)."""
    d = pki.d
    key = os.path.join(d, name + ".key")
    csr = os.path.join(d, name + ".csr")
    crt = os.path.join(d, name + ".crt")
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nsubjectAltName=DNS:%s\n" % name)
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", "/CN=" + name],
                   capture_output=True, check=True)
    os.chmod(key, 0o600)
    subprocess.run(["faketime", "-f", "-10d", "openssl", "x509", "-req",
                    "-in", csr, "-CA", pki.ca_crt, "-CAkey", pki.ca_key,
                    "-CAcreateserial", "-out", crt, "-days", "1",
                    "-extfile", ext], capture_output=True, check=True)
    return crt, key


class DaneDelivery(unittest.TestCase):

    # more records per zone, for a class that reuses setUpClass
    # (test_dane_posttls_finger.py)
    EXTRA = {}

    @classmethod
    def setUpClass(cls):
        global PORT
        cls.tmp = pt.tempfile.mkdtemp(prefix="postern-dane-")
        PORT = pt.free_port()
        cls.pki = PKI(os.path.join(cls.tmp, "pki"))
        cls.certs = {}
        for h in HOSTS:
            if h == "mx-exp":
                cls.certs[h] = expired_cert(cls.pki, h + ".secure.example")
            elif h == "mx-ta-name":
                cls.certs[h] = cls.pki.issue(h + ".secure.example",
                                             ["wrong.example"])
            else:
                cls.certs[h] = cls.pki.issue(h + ".secure.example")
        # the chain a server sends for DANE-TA: leaf, then the CA
        for h in ("mx-ta-ok", "mx-ta-name"):
            crt, key = cls.certs[h]
            chain = crt + ".chain"
            with open(chain, "w") as f, open(crt) as a, \
                    open(cls.pki.ca_crt) as b:
                f.write(a.read() + b.read())
            cls.certs[h] = (chain, key)
        prev = cls.prev = cls.pki.issue("mx-old-previous.secure.example")
        ca_digest = cert_sha256(cls.pki.ca_crt)
        ok = spki_sha256(cls.certs["mx-ok"][0])
        wrong = hashlib.sha256(b"not this key").hexdigest()
        secure = [
            # d-ok: a correct 3 1 1 record
            "d-ok MX 10 mx-ok", "mx-ok A 127.0.0.41",
            "_%d._tcp.mx-ok TLSA 3 1 1 %s" % (PORT, ok),
            # d-bad: a record for another key
            "d-bad MX 10 mx-bad", "mx-bad A 127.0.0.42",
            "_%d._tcp.mx-bad TLSA 3 1 1 %s" % (PORT, wrong),
            # d-none: signed zone, no TLSA: opportunistic
            "d-none MX 10 mx-none", "mx-none A 127.0.0.43",
            # d-full: seed 002's mistake, a certificate digest as 3 1 1
            "d-full MX 10 mx-full", "mx-full A 127.0.0.44",
            "_%d._tcp.mx-full TLSA 3 1 1 %s" % (
                PORT, cert_sha256(cls.certs["mx-full"][0])),
            # d-sel: the other selector mistake, the key's digest
            # published as 3 0 1 (whole certificate); mx-sel is mx-ok's
            # server under another name (DANE-EE ignores names)
            "d-sel MX 10 mx-sel", "mx-sel A 127.0.0.41",
            "_%d._tcp.mx-sel TLSA 3 0 1 %s" % (PORT, ok),
            # d-pkix: only PKIX-EE, unusable for SMTP: encrypt, no auth
            "d-pkix MX 10 mx-pkix", "mx-pkix A 127.0.0.45",
            "_%d._tcp.mx-pkix TLSA 1 1 1 %s" % (
                PORT, spki_sha256(cls.certs["mx-pkix"][0])),
            # d-two: the first MX does not match, the second does
            "d-two MX 10 mx-bad", "d-two MX 20 mx-ok",
            # d-old: the record still names the previous key
            "d-old MX 10 mx-old", "mx-old A 127.0.0.48",
            "_%d._tcp.mx-old TLSA 3 1 1 %s" % (PORT, spki_sha256(prev[0])),
            # DANE-TA: the CA's certificate digest (2 0 1)
            "d-ta-nochain MX 10 mx-ta-nochain",
            "mx-ta-nochain A 127.0.0.49",
            "_%d._tcp.mx-ta-nochain TLSA 2 0 1 %s" % (PORT, ca_digest),
            "d-ta-ok MX 10 mx-ta-ok", "mx-ta-ok A 127.0.0.50",
            "_%d._tcp.mx-ta-ok TLSA 2 0 1 %s" % (PORT, ca_digest),
            "d-ta-name MX 10 mx-ta-name", "mx-ta-name A 127.0.0.51",
            "_%d._tcp.mx-ta-name TLSA 2 0 1 %s" % (PORT, ca_digest),
            # DANE-EE ignores validity dates
            "d-exp MX 10 mx-exp", "mx-exp A 127.0.0.52",
            "_%d._tcp.mx-exp TLSA 3 1 1 %s" % (
                PORT, spki_sha256(cls.certs["mx-exp"][0])),
            # MX routing (RFC 5321 5.1, RFC 7505): no MX, the address
            # itself; a null MX refuses mail
            "nomx A 127.0.0.43",
            "nullmx MX 0 .",
        ]
        insecure = [
            # an unsigned zone's TLSA records are never used
            "i1 MX 10 mx-ins", "mx-ins A 127.0.0.46",
            "_%d._tcp.mx-ins TLSA 3 1 1 %s" % (PORT, wrong),
        ]
        bogus = ["b1 MX 10 mx-bog", "mx-bog A 127.0.0.47"]
        extra = {"secure.example.": secure, "insecure.example.": insecure,
                 "bogus.example.": bogus}
        for zone, records in getattr(cls, "EXTRA", {}).items():
            extra[zone] = extra.get(zone, []) + list(records)
        cls.world = World(extra=extra,
                          tmp=os.path.join(cls.tmp, "dns"))
        os.makedirs(cls.world.dir, exist_ok=True)
        cls.world.start()
        cls.servers = []
        for h, last in HOSTS.items():
            crt, key = cls.certs[h]
            d = os.path.join(cls.tmp, "srv-" + h)
            main_cf = ("smtpd_tls_security_level = may\n"
                       "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                       "relay_domains = secure.example insecure.example "
                       "bogus.example\n"
                       "myhostname = %s.secure.example\n" % (crt, key, h))
            s = srv.Server(d, main_cf, [("smtp", PORT, [])], workers=1,
                           host="127.0.0.%d" % last)
            cls.servers.append(s.start())
        cls.client = smtpsend.write_main_cf(
            os.path.join(cls.tmp, "client"),
            smtp_dns_support_level="dnssec",
            dnssec_trust_anchor_file=cls.world.trust_anchor,
            smtp_tls_security_level="dane", smtp_tls_loglevel="2")

        # postern finger reads DNS through dns_resolver_addresses
        cls.finger_conf = cls.world.write_resolver_conf(
            os.path.join(cls.tmp, "finger"))

    @classmethod
    def tearDownClass(cls):
        srv.stop_with_world(cls.servers, cls.world, cls.tmp)

    def deliver(self, domain, level=None):
        extra = ["-D", self.world.stub]
        if level:
            extra += ["-o", "smtp_tls_security_level=" + level]
        res, log = smtpsend.send(self.client, "%s:%d" % (domain, PORT),
                                 ["user@" + domain], extra)
        r = res["user@" + domain][-1]
        return r["status"], r["text"], log

    def test_matching_record_is_verified(self):
        st, text, log = self.deliver("d-ok.secure.example")
        self.assertEqual(st, "sent", text + log)
        self.assertIn("Verified TLS connection established to "
                      "mx-ok.secure.example[127.0.0.41]:%d" % PORT, log)
        self.assertIn("depth=0 matched end entity public-key sha256 digest",
                      log)
        self.assertIn("using DANE RR: _%d._tcp.mx-ok.secure.example IN TLSA "
                      "3 1 1" % PORT, log)

    def test_wrong_record_defers_never_cleartext(self):
        st, text, log = self.deliver("d-bad.secure.example")
        self.assertEqual(st, "deferred", log)
        self.assertIn("Server certificate not verified", text)
        self.assertNotIn("Verified TLS", log)

    def test_full_certificate_digest_as_3_1_1_does_not_match(self):
        st, text, log = self.deliver("d-full.secure.example")
        self.assertEqual(st, "deferred", log)
        self.assertIn("Server certificate not verified", text)

    def test_key_digest_as_3_0_1_does_not_match(self):
        st, text, log = self.deliver("d-sel.secure.example")
        self.assertEqual(st, "deferred", log)
        self.assertIn("Server certificate not verified", text)
        self.assertNotIn("Verified TLS", log)

    def test_next_mx_after_a_mismatch(self):
        st, text, log = self.deliver("d-two.secure.example")
        self.assertEqual(st, "sent", log)
        self.assertIn("Verified TLS connection established to "
                      "mx-ok.secure.example[127.0.0.41]", log)
        self.assertIn("mx-bad.secure.example[127.0.0.42]", log)

    def test_no_tlsa_is_opportunistic_with_dane(self):
        st, text, log = self.deliver("d-none.secure.example")
        self.assertEqual(st, "sent", log)
        self.assertIn("Untrusted TLS connection established to "
                      "mx-none.secure.example", log)

    def test_no_tlsa_defers_with_dane_only(self):
        st, text, log = self.deliver("d-none.secure.example", "dane-only")
        self.assertEqual(st, "deferred", log)
        self.assertIn("no DNSSEC-validated TLSA records", text)

    def test_unusable_records_mean_encrypt_without_authentication(self):
        st, text, log = self.deliver("d-pkix.secure.example")
        self.assertEqual(st, "sent", log)
        self.assertIn("all TLSA records unusable", log)
        self.assertIn("Untrusted TLS connection established to "
                      "mx-pkix.secure.example", log)

    def test_insecure_zone_records_are_ignored(self):
        st, text, log = self.deliver("i1.insecure.example")
        self.assertEqual(st, "sent", log)
        self.assertNotIn("using DANE RR", log)

    def test_record_for_the_previous_key_only(self):
        st, text, log = self.deliver("d-old.secure.example")
        self.assertEqual(st, "deferred", log)
        self.assertIn("Server certificate not verified", text)

    def test_ta_record_without_the_chain_sent(self):
        st, text, log = self.deliver("d-ta-nochain.secure.example")
        self.assertEqual(st, "deferred", log)
        self.assertIn("Server certificate not verified", text)

    def test_ta_record_with_the_chain(self):
        st, text, log = self.deliver("d-ta-ok.secure.example")
        self.assertEqual(st, "sent", log)
        self.assertIn("depth=1 matched trust anchor certificate sha256 "
                      "digest", log)

    def test_ta_record_name_mismatch(self):
        st, text, log = self.deliver("d-ta-name.secure.example")
        self.assertEqual(st, "deferred", log)
        self.assertIn("Server certificate not verified", text)

    def test_expired_leaf_with_dane_ee(self):
        st, text, log = self.deliver("d-exp.secure.example")
        self.assertEqual(st, "sent", log)
        self.assertIn("Verified TLS connection established to "
                      "mx-exp.secure.example", log)

    def test_no_mx_falls_back_to_the_address(self):
        st, text, log = self.deliver("nomx.secure.example")
        self.assertEqual(st, "sent", log)
        self.assertIn("relay=nomx.secure.example[127.0.0.43]:%d" % PORT, log)

    def test_null_mx_bounces(self):
        st, text, log = self.deliver("nullmx.secure.example")
        self.assertEqual(st, "bounced", log)
        self.assertIn("does not accept mail (nullMX)", text)

    def test_bogus_mx_defers(self):
        st, text, log = self.deliver("b1.bogus.example")
        self.assertEqual(st, "deferred", log)
        self.assertNotIn("TLS connection established", log)


class TlsaCheck(unittest.TestCase):
    """postern tlsa --check against the served chains of the world (uses
    DaneDelivery's world and servers)."""

    @classmethod
    def setUpClass(cls):
        DaneDelivery.setUpClass.__func__(cls)

    @classmethod
    def tearDownClass(cls):
        DaneDelivery.tearDownClass.__func__(cls)

    def check(self, dest, *args):
        return pt.postern("tlsa", "-c", self.finger_conf, "--timeout", "20",
                          "--check", "%s:%d" % (dest, PORT), *args)

    def test_published_record_matches(self):
        r = self.check("d-ok.secure.example")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("TLSA 3 1 1 matches the served chain", r.stdout)

    def test_record_for_old_key_does_not_match(self):
        r = self.check("d-old.secure.example")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("NO published TLSA record matches", r.stdout)

    def test_rollover_not_yet_published(self):
        new_crt, new_key = self.pki.issue("mx-ok-next.secure.example")
        r = self.check("d-ok.secure.example", "--next-cert", new_crt)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("NOT covered by the published records: publish this "
                      "record and wait two TTLs", r.stdout)
        self.assertIn("_%d._tcp.mx-ok.secure.example. 300 IN TLSA 3 1 1 %s"
                      % (PORT, spki_sha256(new_crt)), r.stdout)
        # the key alone gives the same answer before the certificate
        r = self.check("d-ok.secure.example", "--next-cert", new_key)
        self.assertIn(spki_sha256(new_crt), r.stdout)

    def test_rollover_already_published(self):
        r = self.check("d-ok.secure.example", "--next-cert",
                       self.certs["mx-ok"][0])
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("already covered", r.stdout)
        # d-old publishes the previous key: switching back is covered
        r = self.check("d-old.secure.example", "--next-cert", self.prev[0])
        self.assertIn("already covered", r.stdout)

    def test_no_records(self):
        r = self.check("d-none.secure.example")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("no usable DNSSEC-secure TLSA records", r.stdout)


class Finger(DaneDelivery):
    """postern finger on the same world: the verdicts of the delivery
    tests, seen by the probe, with the records and matches it prints."""

    def finger(self, dest, *args):
        return pt.postern("finger", "-c", self.finger_conf, "-t", "20",
                          "-T", "20", *args, "%s:%d" % (dest, PORT))

    def test_matching_record_is_verified(self):
        r = self.finger("d-ok.secure.example")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("d-ok.secure.example MX: OK (secure)", r.stdout)
        self.assertIn("using DANE RR: _%d._tcp.mx-ok.secure.example IN "
                      "TLSA 3 1 1" % PORT, r.stdout)
        self.assertIn("depth=0 matched end entity public-key sha256 digest",
                      r.stdout)
        self.assertIn("Verified TLS connection established to "
                      "mx-ok.secure.example[127.0.0.41]", r.stdout)

    def test_wrong_record_defers_never_cleartext(self):
        r = self.finger("d-bad.secure.example")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertNotIn("Verified", r.stdout)

    def test_full_certificate_digest_as_3_1_1_does_not_match(self):
        r = self.finger("d-full.secure.example")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("Untrusted TLS connection established", r.stdout)

    def test_next_mx_after_a_mismatch(self):
        self.skipTest("the probe, as posttls-finger, tries the first MX")

    def test_no_tlsa_is_opportunistic_with_dane(self):
        # no TLSA: probed as secure (posttls-finger does the same), and the
        # self-signed certificate is not verified
        r = self.finger("d-none.secure.example")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("TLSA: NXDOMAIN (secure)", r.stdout)
        r = self.finger("d-none.secure.example", "-l", "may")
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_no_tlsa_defers_with_dane_only(self):
        r = self.finger("d-none.secure.example", "-l", "dane-only")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("dane-only cannot be met", r.stdout)

    def test_unusable_records_mean_encrypt_without_authentication(self):
        r = self.finger("d-pkix.secure.example", "-l", "encrypt")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("TLS connection established", r.stdout)

    def test_insecure_zone_records_are_ignored(self):
        r = self.finger("i1.insecure.example")
        self.assertIn("MX: OK (insecure)", r.stdout)
        self.assertNotIn("using DANE RR", r.stdout)

    def test_bogus_mx_defers(self):
        r = self.finger("b1.bogus.example")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("MX lookup failed", r.stdout)
        self.assertNotIn("Connected", r.stdout)

    def test_no_mx_falls_back_to_the_address(self):
        r = self.finger("nomx.secure.example", "-l", "may")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("Connected to nomx.secure.example[127.0.0.43]",
                      r.stdout)

    def test_null_mx_bounces(self):
        r = self.finger("nullmx.secure.example", "-l", "may")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertNotIn("Connected", r.stdout)

    def test_record_for_the_previous_key_only(self):
        r = self.finger("d-old.secure.example")
        self.assertEqual(r.returncode, 1, r.stdout)

    def test_ta_record_without_the_chain_sent(self):
        r = self.finger("d-ta-nochain.secure.example")
        self.assertEqual(r.returncode, 1, r.stdout)

    def test_ta_record_with_the_chain(self):
        r = self.finger("d-ta-ok.secure.example")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("depth=1 matched trust anchor certificate", r.stdout)

    def test_ta_record_name_mismatch(self):
        r = self.finger("d-ta-name.secure.example")
        self.assertEqual(r.returncode, 1, r.stdout)

    def test_expired_leaf_with_dane_ee(self):
        r = self.finger("d-exp.secure.example")
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_write_chain(self):
        r = self.finger("d-ok.secure.example", "-w")
        self.assertIn("-----BEGIN CERTIFICATE-----", r.stdout)


if __name__ == "__main__":
    pt.main()
