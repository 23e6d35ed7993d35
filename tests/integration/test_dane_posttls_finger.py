#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The DANE cases of test_dane_delivery.py through Postfix's posttls-finger.

posttls-finger (Postfix 3.7, Debian) asks the libc resolver and trusts its
AD bit, so it needs a validating recursive resolver: tests/dns/unbound.py
runs unbound in front of the knot-served world, validating from the
world's trust anchor.  The libc resolver must find that unbound through
/etc/resolv.conf (world-readable: posttls-finger reads it without root
privileges; "options trust-ad" is there for other programs, Postfix sets
RES_TRUSTAD itself), and the host's resolv.conf must not be touched:
setUpModule moves this whole test process into a new network and mount
namespace (unshare(2) through ctypes), brings up its private loopback,
and bind-mounts a private resolv.conf over /etc/resolv.conf.  knot,
unbound (on 127.0.0.53:53, port 53 being free in the new namespace), the
postern receivers, postern itself and posttls-finger all live there;
nothing leaks to the host and everything disappears with the process.
Needs root.

Each case runs three ways on the same world and servers:
  - delivery: postern's SMTP client (smtp_send, DaneDelivery.deliver):
    sent / deferred / bounced;
  - postern finger, asking the same unbound but validating DNSSEC
    itself from the trust anchor;
  - posttls-finger -l dane (or as the case needs).
A verdict is "verified", "untrusted" (TLS up, peer not authenticated) or
"none" (no connection made: lookup failure, null MX, a level that cannot
be met).  posttls-finger's exit status is 0 whenever it got that far, so
its verdict comes from its output.  Where the probes differ, the test
asserts the difference and says why (docs/dane.md, "Compared with
posttls-finger").
"""
import ctypes
import ctypes.util
import os
import shutil
import socket
import sys
import tempfile
import unittest
from contextlib import contextmanager

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "dns"))
import pt  # noqa: E402
import test_dane_delivery as tdd  # noqa: E402  (module: its classes stay out)
from unbound import UNBOUND, Unbound, ask  # noqa: E402

MS_BIND = 4096

# Not 127.0.0.1: glibc's default when it cannot read resolv.conf, which
# would hide a resolv.conf that the (unprivileged) posttls-finger cannot
# read.
RESOLVER = "127.0.0.53"      # validating unbound: resolv.conf names it
PERMISSIVE = "127.0.0.54"    # unbound with val-permissive-mode: yes
NONVALIDATING = "127.0.0.55"  # unbound without the validator module
NSTMP = None
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


@contextmanager
def resolv_conf(text):
    """/etc/resolv.conf reads text while the block runs: a bind mount
    stacked over the current one (private to this namespace), popped on
    exit."""
    path = bind_resolv_conf(text)
    try:
        yield
    finally:
        _check(_libc.umount2(b"/etc/resolv.conf", 0), "umount resolv.conf")
        os.unlink(path)


def bind_resolv_conf(text):
    """Mount a file holding text over /etc/resolv.conf; its path."""
    fd, path = tempfile.mkstemp(prefix="resolv-", dir=NSTMP)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    # world-readable: posttls-finger drops root privileges before it
    # reads resolv.conf (mkstemp makes 0600 files)
    os.chmod(path, 0o644)
    _check(_libc.mount(path.encode(), b"/etc/resolv.conf", None, MS_BIND,
                       None), "bind-mount resolv.conf")
    return path


def setUpModule():
    global NSTMP
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: unshare(CLONE_NEWNET|"
                                "CLONE_NEWNS) for a private resolv.conf")
    for prog in ("posttls-finger", "knotd"):
        if not pt.have(prog):
            raise unittest.SkipTest(prog + " not installed")
    if UNBOUND is None:
        raise unittest.SkipTest("unbound not installed")
    # The process is single-threaded here, as unshare(CLONE_NEWNS) wants;
    # mounts made from now on stay in this namespace.
    pt.enter_netns(mounts=True)
    NSTMP = tempfile.mkdtemp(prefix="postern-pfns-")
    # the whole of 127/8 is local on the private loopback, as on the host
    with socket.socket() as s:
        s.bind(("127.0.0.41", 0))
    bind_resolv_conf("nameserver %s\noptions trust-ad\n" % RESOLVER)


def tearDownModule():
    if NSTMP:
        shutil.rmtree(NSTMP, True)


def verdict_pf(out):
    """posttls-finger's verdict, from what it printed."""
    if "Verified TLS connection established" in out:
        return "verified"
    if ("Untrusted TLS connection established" in out or
            "Anonymous TLS connection established" in out):
        return "untrusted"
    return "none"


def verdict_pn(rc, out):
    """postern finger's verdict, from its exit status and output."""
    if "Verified TLS connection established" in out:
        return "verified" if rc == 0 else "verified-but-exit-%d" % rc
    if "Untrusted TLS connection established" in out:
        return "untrusted"
    if "Connected to" in out:
        return "connected-no-tls"
    return "none"


def colons(hexdigest):
    h = hexdigest.upper()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


class PosttlsFinger(unittest.TestCase):
    """Delivery, postern finger and posttls-finger on DaneDelivery's
    world.  One record more than DaneDelivery publishes: a null MX domain
    that also has an address (RFC 7505: the address must not be used)."""

    EXTRA = {"secure.example.": ["nullmx-a MX 0 .",
                                 "nullmx-a A 127.0.0.43"]}

    @classmethod
    def setUpClass(cls):
        tdd.DaneDelivery.setUpClass.__func__(cls)
        try:
            cls.port = tdd.PORT
            cls.unbound = Unbound(cls.world, addr=RESOLVER, port=53,
                                  tmp=os.path.join(cls.tmp, "unbound"))
            os.makedirs(cls.unbound.dir)
            cls.unbound.start()
            cls.others = []
            for addr, mode in ((PERMISSIVE, "permissive"),
                               (NONVALIDATING, "no")):
                u = Unbound(cls.world, addr=addr, port=53, validate=mode,
                            tmp=os.path.join(cls.tmp, "unbound-" + mode))
                os.makedirs(u.dir)
                cls.others.append(u)
                u.start()
            # posttls-finger needs a main.cf (MAIL_CONFIG)
            cls.pf_conf = os.path.join(cls.tmp, "posttls-finger")
            os.makedirs(cls.pf_conf)
            with open(os.path.join(cls.pf_conf, "main.cf"), "w") as f:
                f.write("compatibility_level = 3.6\n"
                        "inet_protocols = ipv4\n"
                        "smtp_dns_support_level = dnssec\n")
            # postern finger asks the same unbound, validating itself
            cls.pn_conf = os.path.join(cls.tmp, "postern-finger")
            os.makedirs(cls.pn_conf)
            with open(os.path.join(cls.pn_conf, "main.cf"), "w") as f:
                f.write("dns_resolver_addresses = %s@53\n"
                        "dnssec_trust_anchor_file = %s\n" %
                        (RESOLVER, cls.world.trust_anchor))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for u in [getattr(cls, "unbound", None)] + getattr(cls, "others",
                                                            []):
            if u is not None:
                u.stop()
        tdd.DaneDelivery.tearDownClass.__func__(cls)

    # ---- the three ways ----------------------------------------------
    def pf(self, dest, level="dane", resolv=None):
        """posttls-finger: (verdict, output); resolv: another
        resolv.conf text for this run."""
        args = [pt.which("posttls-finger"), "-c", "-a", "ipv4", "-l", level,
                "-L", "summary,certmatch", "-t", "20", "-T", "20", dest]
        env = {"MAIL_CONFIG": self.pf_conf}
        if resolv is None:
            r = pt.run(args, env=env, timeout=300)
        else:
            with resolv_conf(resolv):
                r = pt.run(args, env=env, timeout=300)
        out = r.stdout + r.stderr
        self.assertNotIn("fatal:", out)
        return verdict_pf(out), out

    def pn(self, dest, level="dane", resolver=RESOLVER):
        """postern finger: (verdict, output), asking resolver."""
        r = pt.postern("finger", "-c", self.pn_conf, "-o",
                       "dns_resolver_addresses=%s@53" % resolver, "-l", level,
                       "-t", "20", "-T", "20", dest, timeout=300)
        out = r.stdout + r.stderr
        self.assertFalse(pt.sanitizer_report(out), out)
        return verdict_pn(r.returncode, out), out

    def compare(self, domain, delivered, postern, posttls, level="dane",
                dest=None, resolver=RESOLVER, resolv=None):
        """Run the three; assert each verdict; return both probes'
        output for the details.  delivered None: no delivery (it does not
        depend on what the case varies).  resolver: the unbound both
        probes ask (resolv: posttls-finger's resolv.conf, when not the
        default one naming it)."""
        dest = dest or "%s:%d" % (domain, self.port)
        if resolver != RESOLVER and resolv is None:
            resolv = "nameserver %s\noptions trust-ad\n" % resolver
        pf, pf_out = self.pf(dest, level, resolv)
        pn, pn_out = self.pn(dest, level, resolver)
        both = ("\n--- postern finger:\n%s\n--- posttls-finger:\n%s" %
                (pn_out, pf_out))
        if delivered is not None:
            st, text, log = tdd.DaneDelivery.deliver(
                self, domain, None if level == "dane" else level)
            self.delivered_text = text
            self.assertEqual(st, delivered, "delivery: %s\n%s%s" %
                             (text, log, both))
        self.assertEqual(pn, postern, "postern finger" + both)
        self.assertEqual(pf, posttls, "posttls-finger" + both)
        return pn_out, pf_out

    # ---- the world works as both sides need --------------------------
    def test_resolver_validates(self):
        # unbound gives AD for secure data, SERVFAIL for bogus, no AD for
        # the unsigned zone: what posttls-finger relies on
        def rcode_ad(addr, name):
            return ask(addr, 53, name, "MX")[:2]
        self.assertEqual(rcode_ad(RESOLVER, "d-ok.secure.example."),
                         (0, True))
        self.assertEqual(rcode_ad(RESOLVER, "b1.bogus.example.")[0], 2)
        self.assertEqual(rcode_ad(RESOLVER, "i1.insecure.example."),
                         (0, False))
        # the other two: bogus passed on without AD; never AD
        self.assertEqual(rcode_ad(PERMISSIVE, "b1.bogus.example."),
                         (0, False))
        self.assertEqual(rcode_ad(PERMISSIVE, "d-ok.secure.example."),
                         (0, True))
        self.assertEqual(rcode_ad(NONVALIDATING, "d-ok.secure.example."),
                         (0, False))
        with open("/etc/resolv.conf") as f:
            self.assertIn("options trust-ad", f.read())

    # ---- cases: agree ------------------------------------------------
    def test_matching_record_is_verified(self):
        pn, pf = self.compare("d-ok.secure.example", "sent", "verified",
                              "verified")
        digest = tdd.spki_sha256(self.certs["mx-ok"][0])
        # both matched the same record at the same depth
        self.assertIn("Matched DANE EE certificate at depth 0: 3 1 1 " +
                      digest.upper(), pf)
        self.assertIn("depth=0 matched end entity public-key sha256 "
                      "digest " + colons(digest), pn)

    def test_wrong_record_defers_never_cleartext(self):
        pn, pf = self.compare("d-bad.secure.example", "deferred",
                              "untrusted", "untrusted")
        self.assertIn("num=65:no matching DANE TLSA records", pf)
        self.assertIn("using DANE RR: _%d._tcp.mx-bad" % self.port, pn)

    def test_full_certificate_digest_as_3_1_1_does_not_match(self):
        pn, pf = self.compare("d-full.secure.example", "deferred",
                              "untrusted", "untrusted")
        self.assertIn("no matching DANE TLSA records", pf)

    def test_next_mx_after_a_mismatch(self):
        # Both probes try only the first MX (mx-bad); the delivery goes on
        # to MX 20 (mx-ok) and is verified there.  Probing mx-ok alone
        # ([host]:port, no MX lookup) both verify it.
        pn, pf = self.compare("d-two.secure.example", "sent", "untrusted",
                              "untrusted")
        self.assertIn("mx-bad.secure.example[127.0.0.42]", pf)
        self.assertIn("mx-bad.secure.example[127.0.0.42]", pn)
        self.compare("d-two.secure.example", None, "verified", "verified",
                     dest="[mx-ok.secure.example]:%d" % self.port)

    def test_no_tlsa_is_opportunistic_with_dane(self):
        # Both probes move to "secure" without TLSA records (the probe has
        # no CA for the self-signed server: untrusted); delivery at dane
        # is opportunistic and sends.
        pn, pf = self.compare("d-none.secure.example", "sent", "untrusted",
                              "untrusted")
        self.assertIn("TLSA: NXDOMAIN (secure)", pn)

    def test_unusable_records_mean_encrypt_without_authentication(self):
        pn, pf = self.compare("d-pkix.secure.example", "sent", "untrusted",
                              "untrusted")
        self.assertIn("unsupported TLSA certificate usage: 1 1 1", pf)
        self.assertIn("unusable DANE RR: _%d._tcp.mx-pkix.secure.example "
                      "IN TLSA 1 1 1" % self.port, pn)

    def test_insecure_zone_records_are_ignored(self):
        # the unsigned zone's (wrong) TLSA record is used by neither
        pn, pf = self.compare("i1.insecure.example", "sent", "untrusted",
                              "untrusted")
        self.assertNotIn("no matching DANE TLSA records", pf)
        self.assertNotIn("DANE", pf)
        self.assertIn("MX: OK (insecure)", pn)
        self.assertNotIn("using DANE RR", pn)

    def test_record_for_the_previous_key_only(self):
        pn, pf = self.compare("d-old.secure.example", "deferred",
                              "untrusted", "untrusted")
        self.assertIn("no matching DANE TLSA records", pf)

    def test_ta_record_without_the_chain_sent(self):
        pn, pf = self.compare("d-ta-nochain.secure.example", "deferred",
                              "untrusted", "untrusted")
        self.assertIn("no matching DANE TLSA records", pf)

    def test_ta_record_with_the_chain(self):
        pn, pf = self.compare("d-ta-ok.secure.example", "sent", "verified",
                              "verified")
        digest = tdd.cert_sha256(self.pki.ca_crt)
        self.assertIn("Matched DANE TA certificate at depth 1: 2 0 1 " +
                      digest.upper(), pf)
        self.assertIn("depth=1 matched trust anchor certificate sha256 "
                      "digest " + colons(digest), pn)

    def test_ta_record_name_mismatch(self):
        pn, pf = self.compare("d-ta-name.secure.example", "deferred",
                              "untrusted", "untrusted")
        self.assertIn("hostname mismatch", pf)

    def test_expired_leaf_with_dane_ee(self):
        pn, pf = self.compare("d-exp.secure.example", "sent", "verified",
                              "verified")
        self.assertIn("Matched DANE EE certificate at depth 0", pf)

    def test_no_mx_falls_back_to_the_address(self):
        pn, pf = self.compare("nomx.secure.example", "sent", "untrusted",
                              "untrusted")
        self.assertIn("nomx.secure.example[127.0.0.43]:%d" % self.port, pf)
        self.assertIn("Connected to nomx.secure.example[127.0.0.43]", pn)

    def test_bogus_mx_defers(self):
        # Neither connects.  posttls-finger sees only unbound's SERVFAIL
        # (a temporary lookup failure); postern validates and says bogus.
        pn, pf = self.compare("b1.bogus.example", "deferred", "none", "none")
        self.assertIn("Destination address lookup failed", pf)
        self.assertIn("try again", pf)
        self.assertIn("MX: SERVFAIL (bogus)", pn)
        self.assertIn("MX lookup failed: not probing", pn)

    def test_bogus_host_without_mx_lookup(self):
        pn, pf = self.compare("b1.bogus.example", None, "none", "none",
                              dest="[mx-bog.bogus.example]:%d" % self.port)
        self.assertIn("lookup failed", pf)

    # ---- cases: deliberate differences -------------------------------
    def test_no_tlsa_defers_with_dane_only(self):
        # DIFFERS: posttls-finger -l dane-only without TLSA records
        # "resorts to secure" and probes; postern finger reports what the
        # SMTP client does at dane-only (defers, RFC 7672 2.2 with a
        # mandatory DANE policy) and does not connect at all.
        pn, pf = self.compare("d-none.secure.example", "deferred", "none",
                              "untrusted", level="dane-only")
        self.assertIn('no TLSA records found, resorting to "secure"', pf)
        self.assertIn("dane-only cannot be met", pn)

    def test_insecure_zone_with_dane_only(self):
        # DIFFERS, as above: an insecure MX cannot meet dane-only; the
        # SMTP client defers and postern finger says so, posttls-finger
        # probes at "secure".
        pn, pf = self.compare("i1.insecure.example", "deferred", "none",
                              "untrusted", level="dane-only")
        self.assertIn("no DNSSEC-validated TLSA records (dane-only)",
                      self.delivered_text)
        self.assertIn('no TLSA records found, resorting to "secure"', pf)
        self.assertIn("dane-only cannot be met", pn)

    def test_unusable_records_with_dane_only(self):
        # DIFFERS in the probe only: postern's SMTP client defers, as
        # Postfix's does (postconf(5): at dane-only, "if no TLSA records
        # are found, or none are usable, no connection is made"), and
        # postern finger reports that; posttls-finger "resorts to secure".
        # (postern's SMTP client used to send here over unauthenticated
        # TLS, the dane behaviour: fixed in src/smtp/smtp_dane.c.)
        pn, pf = self.compare("d-pkix.secure.example", "deferred", "none",
                              "untrusted", level="dane-only")
        self.assertIn("has no usable TLSA records (dane-only)",
                      self.delivered_text)
        self.assertIn('no usable TLSA records found, resorting to "secure"',
                      pf)
        self.assertIn("dane-only cannot be met", pn)

    def test_matching_record_with_dane_only(self):
        pn, pf = self.compare("d-ok.secure.example", "sent", "verified",
                              "verified", level="dane-only")
        self.assertIn("Matched DANE EE certificate at depth 0", pf)

    def test_null_mx_bounces(self):
        # Neither connects; posttls-finger names the null MX, postern
        # finger finds no address for the domain.
        pn, pf = self.compare("nullmx.secure.example", "bounced", "none",
                              "none")
        self.assertIn("does not accept mail (nullMX)", pf)
        self.assertIn("nullmx.secure.example: no address", pn)

    def test_null_mx_with_an_address(self):
        # RFC 7505 section 3: a null MX forbids falling back to the
        # domain's own address record, which this domain has.  (postern
        # finger before the null MX handling in cmd_finger.c probed
        # 127.0.0.43 here.)
        pn, pf = self.compare("nullmx-a.secure.example", "bounced", "none",
                              "none")
        self.assertIn("does not accept mail (nullMX)", pf)
        self.assertNotIn("127.0.0.43", pn)

    def test_without_trust_ad_in_resolv_conf(self):
        # AGREE, and a fact worth knowing: without "options trust-ad" glibc
        # (>= 2.31) clears AD, but Postfix sets RES_TRUSTAD itself when it
        # asks for DNSSEC, so posttls-finger still uses DANE.
        with resolv_conf("nameserver %s\n" % RESOLVER):
            with open("/etc/resolv.conf") as f:
                self.assertNotIn("trust-ad", f.read())
        pn, pf = self.compare("d-ok.secure.example", None, "verified",
                              "verified",
                              resolv="nameserver %s\n" % RESOLVER)
        self.assertIn("Matched DANE EE certificate at depth 0", pf)

    def test_non_validating_resolver(self):
        # DIFFERS: postern validates DNSSEC in-process from
        # dnssec_trust_anchor_file; posttls-finger trusts the resolver's
        # AD bit.  Behind a resolver that does not validate (no AD ever),
        # posttls-finger sees every answer as insecure: no DANE, the probe
        # falls back to "secure" and cannot verify the self-signed server.
        # postern, asking the same resolver, still proves the chain of
        # trust itself and matches the TLSA record.
        pn, pf = self.compare("d-ok.secure.example", None, "verified",
                              "untrusted", resolver=NONVALIDATING)
        self.assertNotIn("Matched DANE", pf)
        self.assertIn("MX: OK (secure)", pn)
        self.assertIn("depth=0 matched end entity public-key", pn)

    def test_permissive_resolver_and_a_bogus_zone(self):
        # DIFFERS: a resolver in permissive mode passes bogus answers on
        # (without AD).  posttls-finger takes them as insecure and probes
        # the bogus zone's MX host; postern finds them bogus and refuses,
        # as its SMTP client defers.  Delivery through such a resolver
        # would be Postfix's weak point, not postern's.
        pn, pf = self.compare("b1.bogus.example", None, "none", "untrusted",
                              resolver=PERMISSIVE)
        self.assertIn("mx-bog.bogus.example[127.0.0.47]", pf)
        self.assertIn("MX: SERVFAIL (bogus)", pn)
        self.assertIn("MX lookup failed: not probing", pn)


if __name__ == "__main__":
    pt.main()
