#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern finger -m (probe several MX hosts/addresses) and -r (session
resumption) against real peers.

-m: a domain of the signed test world (tests/dns/world.py) with four MX
hosts on distinct 127.0.0.x addresses, each a postern receiver with its
own certificate that only DANE can authenticate: one with a matching
TLSA record, one reached through a CNAME whose target holds the records
(the TLSA base domain of RFC 7672 2.2.2), one with a record for another
key, one that is down.  The probe must visit them in MX preference
order, give each its own TLSA lookup and verdict, and exit 0 only when
every probed address met the level's requirements.  A resumed session
under DANE must stay Verified (OpenSSL does not run DANE again on
resumption): for -r, and for the SMTP client's session cache through a
postern serve relay delivering twice to the same MX.

-r: a private Postfix (TLS 1.3 tickets by default) and a postern serve
receiver, each once with resumption on and once with it off; postern
finger -r must report reuse exactly when Postfix's own posttls-finger -r
does, and keep the trust verdict on the resumed connection; also with
implicit TLS (an smtps listener).
"""
import hashlib
import os
import re
import smtplib
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "dns"))
import pfpeer  # noqa: E402
import pt  # noqa: E402
import qmgrfix  # noqa: E402
import srv  # noqa: E402
from pki import PKI, cert_sha256, spki_sha256  # noqa: E402
from world import World  # noqa: E402

POSTTLS_FINGER = pt.which("posttls-finger")


def assert_clean(test, r):
    out = r.stdout + r.stderr
    test.assertFalse(pt.sanitizer_report(out), out)


# MX host -> (preference, last octet of its address, what it serves)
MX = {
    "fm-ok": (10, 71, "match"),       # TLSA 3 1 1 of its key
    "fm-alias": (15, 74, "cname"),    # CNAME fm-real, records at fm-real
    "fm-bad": (20, 72, "mismatch"),   # TLSA 3 1 1 of another key
    "fm-down": (30, 73, "down"),      # nothing listens
}


@unittest.skipUnless(pt.have("knotd") and pt.have("ldns-signzone"),
                     "needs knot and ldnsutils")
class FingerManyMX(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-fingerm-")
        cls.port = pt.free_port("127.0.0.71")
        cls.pki = PKI(os.path.join(cls.tmp, "pki"))
        wrong = hashlib.sha256(b"some other key").hexdigest()
        records = []
        cls.certs = {}
        for host, (pref, last, kind) in MX.items():
            records.append("fm MX %d %s" % (pref, host))
            name = host + ".secure.example"
            if kind == "cname":
                name = "fm-real.secure.example"
                records += ["fm-alias CNAME fm-real",
                            "fm-real A 127.0.0.%d" % last]
            else:
                records.append("%s A 127.0.0.%d" % (host, last))
            if kind == "down":
                continue
            crt, key = cls.pki.issue(name)
            cls.certs[host] = (crt, key)
            digest = wrong if kind == "mismatch" else spki_sha256(crt)
            records.append("_%d._tcp.%s TLSA 3 1 1 %s" %
                           (cls.port, name.split(".")[0], digest))
        # fta: one MX authenticated by DANE-TA (2 0 1, the CA), whose
        # server sends leaf and CA
        crt, key = cls.pki.issue("fm-ta.secure.example")
        chain = crt + ".chain"
        with open(chain, "w") as f, open(crt) as a, open(cls.pki.ca_crt) as b:
            f.write(a.read() + b.read())
        cls.certs["fm-ta"] = (chain, key)
        records += ["fta MX 10 fm-ta", "fm-ta A 127.0.0.75",
                    "_%d._tcp.fm-ta TLSA 2 0 1 %s" %
                    (cls.port, cert_sha256(cls.pki.ca_crt))]
        cls.world = World(extra={"secure.example.": records},
                          tmp=os.path.join(cls.tmp, "dns"))
        os.makedirs(cls.world.dir, exist_ok=True)
        cls.world.start()
        cls.servers = []
        try:
            for host, (pref, last, kind) in list(MX.items()) + [
                    ("fm-ta", (0, 75, "ta"))]:
                if kind == "down":
                    continue
                crt, key = cls.certs[host]
                s = srv.Server(
                    os.path.join(cls.tmp, "srv-" + host),
                    "smtpd_tls_security_level = may\n"
                    "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                    "relay_domains = fm.secure.example\n" % (crt, key),
                    [("smtp", cls.port, [])], workers=1,
                    host="127.0.0.%d" % last)
                cls.servers.append(s.start())
        except Exception:
            cls.tearDownClass()
            raise
        cls.conf = cls.world.write_resolver_conf(
            os.path.join(cls.tmp, "finger"))

    @classmethod
    def tearDownClass(cls):
        srv.stop_with_world(cls.servers, cls.world, cls.tmp)

    def finger(self, *args, dest="fm.secure.example"):
        r = pt.postern("finger", "-c", self.conf, "-t", "20", "-T", "20",
                       *args, "%s:%d" % (dest, self.port))
        assert_clean(self, r)
        return r

    def relay(self, host):
        last = MX[host][1]
        return "%s.secure.example[127.0.0.%d]:%d" % (host, last, self.port)

    def verdicts(self, out):
        """[(relay, level, met)] in output order."""
        return [(m.group(1), m.group(2), m.group(3) == "met") for m in
                re.finditer(r"postern-finger: (\S+): (\S+) level "
                            r"requirements (met|NOT met)", out)]

    def test_default_and_m1_probe_the_first_mx_only(self):
        for args in ((), ("-m", "1")):
            r = self.finger(*args)
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(self.verdicts(r.stdout),
                             [(self.relay("fm-ok"), "dane", True)])
            self.assertIn("Verified TLS connection established to " +
                          self.relay("fm-ok"), r.stdout)
            for other in ("fm-alias", "fm-bad", "fm-down"):
                self.assertNotIn(other + ".secure.example[", r.stdout)
                self.assertNotIn("_%d._tcp.%s" % (self.port, other),
                                 r.stdout)

    def test_m2_each_host_has_its_own_tlsa_base(self):
        r = self.finger("-m", "2")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(self.verdicts(r.stdout),
                         [(self.relay("fm-ok"), "dane", True),
                          (self.relay("fm-alias"), "dane", True)])
        # the CNAME target is the TLSA base domain (RFC 7672 2.2.2)
        self.assertIn("using DANE RR: _%d._tcp.fm-real.secure.example IN "
                      "TLSA 3 1 1" % self.port, r.stdout)
        self.assertIn("Verified TLS connection established to " +
                      self.relay("fm-alias"), r.stdout)
        self.assertIn("probe 2 of 2: " + self.relay("fm-alias"), r.stdout)

    def test_every_mx_in_preference_order(self):
        r = self.finger("-m", "5")
        # one mismatching record, one host down: not every address met
        # the requirements
        self.assertEqual(r.returncode, 1, r.stdout)
        order = ["fm-ok", "fm-alias", "fm-bad", "fm-down"]
        self.assertEqual(self.verdicts(r.stdout),
                         [(self.relay("fm-ok"), "dane", True),
                          (self.relay("fm-alias"), "dane", True),
                          (self.relay("fm-bad"), "dane", False),
                          (self.relay("fm-down"), "secure", False)])
        heads = [r.stdout.index("probe %d of 4: %s" % (i + 1, self.relay(h)))
                 for i, h in enumerate(order)]
        self.assertEqual(heads, sorted(heads))
        # each host's own TLSA lookup, inside its own section
        for i, h in enumerate(order):
            end = heads[i + 1] if i + 1 < len(heads) else len(r.stdout)
            section = r.stdout[heads[i]:end]
            base = "fm-real" if h == "fm-alias" else h
            self.assertIn("_%d._tcp.%s.secure.example TLSA: " %
                          (self.port, base), section)
        bad = r.stdout[heads[2]:heads[3]]
        self.assertIn("Untrusted TLS connection established to " +
                      self.relay("fm-bad"), bad)
        self.assertNotIn("Verified", bad)
        down = r.stdout[heads[3]:]
        self.assertIn("connect to " + self.relay("fm-down"), down)
        self.assertIn("2 of 4 probed addresses met", r.stdout)

    def test_the_client_address_limit_applies(self):
        r = self.finger("-m", "5", "-o", "smtp_mx_address_limit=3")
        self.assertEqual([v[0] for v in self.verdicts(r.stdout)],
                         [self.relay(h) for h in
                          ("fm-ok", "fm-alias", "fm-bad")])

    def test_dane_session_resumed(self):
        r = self.finger("-r", "1")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("Reusing old session", r.stdout)
        after = r.stdout[r.stdout.index("Reusing old session"):]
        self.assertIn("Verified TLS connection established to " +
                      self.relay("fm-ok"), after)

    def test_dane_ta_session_not_offered(self):
        # a serialized session keeps no chain, so a DANE-TA match cannot
        # be re-checked: a full handshake, authenticated again
        r = self.finger("-r", "1", dest="fta.secure.example")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("depth=1 matched trust anchor certificate", r.stdout)
        self.assertIn("session not reused: full handshake", r.stdout)
        after = r.stdout[r.stdout.index("Reconnecting after"):]
        self.assertIn("Verified TLS connection established to "
                      "fm-ta.secure.example[127.0.0.75]", after)

    def test_smtp_client_resumes_dane_sessions(self):
        # The rule -r shows holds for the SMTP client, which shares
        # tls_conn_start: the queue manager relays two messages to fm over
        # two connections; the second resumes the cached session (TLS 1.3
        # resumption: no server-digest, no signature was made) and is
        # still Verified by DANE, so it is delivered, not deferred.
        # qmgr runs as mail_owner: it must read the trust anchor
        for d in (self.tmp, self.world.dir):
            os.chmod(d, 0o755)
        relay = qmgrfix.Mta(os.path.join(self.tmp, "relay"), (
            "relay_domains = fm.secure.example\n"
            "transport_maps = inline:{ fm.secure.example="
            "smtp:fm.secure.example:%d }\n"
            "smtp_dns_support_level = dnssec\n"
            "smtp_tls_security_level = dane\n"
            "smtp_tls_loglevel = 1\n" % self.port)
            + self.world.resolver_settings())
        relay.start()
        receiver = self.servers[0]
        try:
            for n in (1, 2):
                seen = receiver.logtext().count("disconnect from")
                with smtplib.SMTP("127.0.0.1", relay.port, timeout=60) as c:
                    c.sendmail("a@client.test", ["u%d@fm.secure.example" % n],
                               "Subject: %d\r\n\r\nbody\r\n" % n)
                pt.wait_for(lambda: relay.logtext().count("status=") >= n,
                            "delivery %d" % n)
                # the next message needs a new connection, not the idle
                # one from the connection cache: wait until it is closed
                pt.wait_for(lambda: receiver.logtext().count(
                    "disconnect from") > seen, "disconnect %d" % n)
        finally:
            relay.stop()
            problems = relay.problems()
        self.assertEqual(problems, [])
        log = relay.logtext()
        self.assertEqual(log.count("status=sent"), 2, log)
        self.assertNotIn("status=deferred", log)
        lines = [ln for ln in log.splitlines()
                 if "TLS connection established to " + self.relay("fm-ok")
                 in ln]
        self.assertEqual(len(lines), 2, log)
        self.assertTrue(all("Verified TLS" in ln for ln in lines), log)
        self.assertIn("server-digest", lines[0])
        self.assertNotIn("server-digest", lines[1])

    def test_bad_counts(self):
        for arg in ("0", "x", "-1"):
            r = self.finger("-m", arg)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        r = self.finger("-r", "soon")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        r = self.finger("-L", "summary,chatty")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn('unknown name "chatty"', r.stderr)

    def test_log_names_choose_the_lines(self):
        """-L as posttls-finger's: summary (routine), peercert, certmatch
        (chain, match, and the peercert line), none; the verdict and exit
        status stay."""
        est = "Verified TLS connection established to " + self.relay("fm-ok")
        lines = {"est": est, "chain": ": depth=0 subject=",
                 "match": ": depth=0 matched end entity",
                 "peer": ": subject_CN="}
        want = {
            (): {"est", "chain", "match", "peer"},
            ("-L", "routine,certmatch"): {"est", "chain", "match", "peer"},
            ("-L", "summary"): {"est"},
            ("-L", "routine"): {"est"},
            ("-L", "peercert"): {"peer"},
            ("-L", "certmatch"): {"chain", "match", "peer"},
            ("-L", "summary peercert"): {"est", "peer"},
            ("-L", "verbose"): {"est", "chain", "match", "peer"},
            ("-L", "none"): set(),
            ("-L", "cache,untrusted"): set(),
        }
        for args, shown in want.items():
            r = self.finger(*args)
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(self.verdicts(r.stdout),
                             [(self.relay("fm-ok"), "dane", True)], args)
            got = {k for k, v in lines.items() if v in r.stdout}
            self.assertEqual(got, shown, args)


@unittest.skipUnless(POSTTLS_FINGER and pt.have("postfix"),
                     "needs Postfix's posttls-finger")
class FingerResumption(unittest.TestCase):
    """-r against real servers, side by side with posttls-finger -r."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = pfpeer.tmpdir("postern-fingerr-")
        cls.pki = PKI(os.path.join(cls.tmp, "pki"))
        os.chmod(cls.pki.d, 0o755)
        cls.crt, cls.key = cls.pki.issue("mx.finger.test")
        tls = {"smtpd_tls_security_level": "may",
               "smtpd_tls_cert_file": cls.crt,
               "smtpd_tls_key_file": cls.key}
        cls.postfix, cls.servers = {}, {}
        try:
            for name, extra in (("on", {}),
                                ("off", {"smtpd_tls_session_cache_timeout":
                                         "0"})):
                params = dict(tls)
                params.update(extra)
                cls.postfix[name] = pfpeer.Postfix(
                    os.path.join(cls.tmp, "pf-" + name), params).start()
                port, smtps = pt.free_port(), pt.free_port()
                s = srv.Server(
                    os.path.join(cls.tmp, "srv-" + name),
                    "".join("%s = %s\n" % kv for kv in params.items()),
                    [("smtp", port, []),
                     ("smtps", smtps, ["smtpd_tls_wrappermode=yes"])],
                    workers=1)
                cls.servers[name] = s.start()
        except Exception:
            cls.tearDownClass()
            raise
        cls.conf = os.path.join(cls.tmp, "finger")
        os.makedirs(cls.conf)
        with open(os.path.join(cls.conf, "main.cf"), "w") as f:
            f.write("compatibility_level = 3.6\n")

    @classmethod
    def tearDownClass(cls):
        for pf in cls.postfix.values():
            pf.stop()
        problems = srv.stop_all(cls.servers.values())
        pt.shutil.rmtree(cls.tmp, True)
        if problems:
            raise AssertionError("\n".join(problems))

    def postern_finger(self, port, *args):
        r = pt.postern("finger", "-c", self.conf, "-t", "20", "-T", "20",
                       "-l", "secure", "-F", self.pki.ca_crt, *args,
                       "[127.0.0.1]:%d" % port, "mx.finger.test")
        assert_clean(self, r)
        return r

    def posttls_finger(self, port):
        # MAIL_CONFIG: posttls-finger needs a main.cf, never /etc/postfix
        r = pt.run([POSTTLS_FINGER, "-c", "-l", "secure", "-F",
                    self.pki.ca_crt, "-r", "1", "[127.0.0.1]:%d" % port,
                    "mx.finger.test"], env={"MAIL_CONFIG": self.conf})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Verified TLS connection established", r.stdout)
        return r

    def check(self, port, reused):
        r = self.postern_finger(port, "-r", "1")
        self.assertEqual(r.returncode, 0, r.stdout)
        pf = self.posttls_finger(port)
        both = "\n--- postern:\n%s\n--- posttls-finger:\n%s" % (r.stdout,
                                                                 pf.stdout)
        self.assertEqual("Reusing old session" in pf.stdout, reused, both)
        self.assertEqual("Reusing old session" in r.stdout, reused, both)
        first = r.stdout.index("Verified TLS connection established")
        if reused:
            self.assertIn("save session to memory cache", r.stdout)
        if "Reconnecting after 1 seconds" in r.stdout:
            second = r.stdout.index("Reconnecting after 1 seconds")
            self.assertLess(first, second)
            # the trust verdict holds on the second connection, resumed
            # or not (Postfix logs "established" for both)
            self.assertIn("Verified TLS connection established",
                          r.stdout[second:])
            self.assertEqual("session not reused" in r.stdout, not reused,
                             both)
        else:
            self.assertFalse(reused, both)
        return r

    def test_postfix_resumes(self):
        self.check(self.postfix["on"].port, True)

    def test_postfix_without_resumption(self):
        r = self.check(self.postfix["off"].port, False)
        # Postfix still sends a TLS 1.3 ticket; it just never resumes it
        self.assertIn("session not reused: full handshake", r.stdout)

    def test_postern_resumes(self):
        self.check(self.servers["on"].ports["smtp"], True)

    def test_postern_without_resumption(self):
        r = self.check(self.servers["off"].ports["smtp"], False)
        # postern serve sends no ticket at all then
        self.assertIn("Server declined session caching", r.stdout)

    def test_postern_resumes_implicit_tls(self):
        # port 465 style: the ticket arrives while the greeting is read
        port = self.servers["on"].ports["smtps"]
        r = self.postern_finger(port, "--implicit-tls", "-r", "1")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("Reusing old session", r.stdout)
        r = self.postern_finger(self.servers["off"].ports["smtps"],
                                "--implicit-tls", "-r", "1")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertNotIn("Reusing old session", r.stdout)

    def test_without_r_no_reconnection(self):
        r = self.postern_finger(self.postfix["on"].port)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertNotIn("Reconnecting", r.stdout)
        self.assertEqual(r.stdout.count("Connected to"), 1)


if __name__ == "__main__":
    pt.main()
