#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern's resolver (src/dns, through tests/tools/dns_query) against the
signed test world of tests/dns/world.py (knotd serving a fake root and
signed, unsigned and broken zones on loopback).  Answers and their DNSSEC
status are compared with drill (ldnsutils) asking the same server: its
answer sections for the data, and its own chain-of-trust check (drill -S)
for secure and bogus zones."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "dns"))
import pt  # noqa: E402
import world  # noqa: E402

TOOL = os.path.join(os.path.dirname(pt.BIN), "dns_query")

# h1..h10 in secure.example., each with its own address, for the parallel
# test; a cross-zone CNAME into the unsigned zone.
EXTRA = {
    "secure.example.": ["h%d A 192.0.2.%d" % (i, 100 + i)
                        for i in range(1, 11)] +
                       ["cross CNAME mx1.insecure.example.",
                        # TXT: strings joined, odd bytes as '?'
                        'txt TXT "part one" " and two"',
                        'txt TXT "a\\009b"'],
}


def parse(out):
    """dns_query output -> list of dicts (one per query, in order)."""
    res = {}
    for line in out.splitlines():
        m = re.match(r"Q(\d+) (\S+) (\S+) result=(\S+) security=(\S+) "
                     r"canonical=(\S+) n=(\d+)$", line)
        if m:
            res[int(m.group(1))] = {
                "name": m.group(2), "type": m.group(3),
                "result": m.group(4), "security": m.group(5),
                "canonical": m.group(6), "n": int(m.group(7)),
                "rr": [], "why_bogus": None}
            continue
        m = re.match(r"Q(\d+) why_bogus=(.*)$", line)
        if m:
            res[int(m.group(1))]["why_bogus"] = m.group(2)
            continue
        m = re.match(r"Q(\d+) rr (\S+) (.*) ttl=(\d+)$", line)
        if m:
            res[int(m.group(1))]["rr"].append(m.group(3))
            continue
        raise AssertionError("unexpected dns_query line: %r" % line)
    return [res[i] for i in sorted(res)]


class DnsWorldTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(TOOL):
            raise unittest.SkipTest("dns_query not built: " + TOOL)
        if world.KNOTD is None or not pt.have("ldns-signzone"):
            raise unittest.SkipTest("knot or ldnsutils missing")
        cls.w = world.World(extra=EXTRA).start()

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def ask(self, *pairs, ta=True, extra_args=(), timeout_ms=20000):
        args = [TOOL, "-s", self.w.stub, "-t", str(timeout_ms)]
        if ta:
            args += ["-a", self.w.trust_anchor]
        args += list(extra_args)
        for name, rtype in pairs:
            args += [name, rtype]
        p = pt.run(args)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = parse(p.stdout)
        self.assertEqual(len(got), len(pairs), p.stdout)
        return got

    def one(self, name, rtype, **kw):
        return self.ask((name, rtype), **kw)[0]

    def drill_set(self, name, rtype):
        """The rdata drill sees for name/rtype, normalised like ours."""
        out = set()
        for owner, t, rdata in self.w.drill(name + ".", rtype):
            if t != rtype:
                continue
            f = rdata.split()
            if rtype == "MX":
                out.add("%s %s" % (f[0], f[1].rstrip(".")))
            elif rtype == "TLSA":
                out.add("%s %s %s %s" % (f[0], f[1], f[2],
                                         "".join(f[3:]).upper()))
            else:
                out.add(rdata.strip())
        return out

    def drill_chase(self, name, rtype):
        p = subprocess.run(["drill", "-S", "-k", self.w.trust_anchor, "-p",
                            str(self.w.port), "@" + self.w.addr, name,
                            rtype], capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def test_secure_answers(self):
        for zone in ("secure.example", "nsec3.example"):
            for name, rtype in (
                    (zone, "MX"), ("mx1." + zone, "A"),
                    ("mx1." + zone, "AAAA"),
                    ("_25._tcp.mx1." + zone, "TLSA")):
                with self.subTest(name=name, type=rtype):
                    a = self.one(name, rtype)
                    self.assertEqual(a["result"], "OK")
                    self.assertEqual(a["security"], "secure")
                    self.assertIsNone(a["why_bogus"])
                    self.assertEqual(a["canonical"], name)
                    self.assertEqual(set(a["rr"]), self.drill_set(name, rtype))
                    self.assertTrue(a["rr"])
        mx = self.one("secure.example", "MX")
        self.assertEqual(sorted(mx["rr"]), ["10 mx1.secure.example",
                                            "20 mx2.secure.example"])
        # ldns's own chain-of-trust walk agrees.
        rc, out = self.drill_chase("mx1.secure.example", "A")
        self.assertEqual(rc, 0, out)
        self.assertIn("Chase successful", out)

    def test_txt(self):
        a = self.one("txt.secure.example", "TXT")
        self.assertEqual(a["result"], "OK")
        self.assertEqual(a["security"], "secure")
        self.assertEqual(sorted(a["rr"]), ['"a?b"', '"part one and two"'])

    def test_insecure_child(self):
        for name, rtype in (("insecure.example", "MX"),
                            ("mx1.insecure.example", "A"),
                            ("mx1.insecure.example", "AAAA"),
                            ("_25._tcp.mx1.insecure.example", "TLSA")):
            with self.subTest(name=name, type=rtype):
                a = self.one(name, rtype)
                self.assertEqual(a["result"], "OK")
                self.assertEqual(a["security"], "insecure")
                self.assertEqual(set(a["rr"]), self.drill_set(name, rtype))
        # drill finds no signature there either.
        self.assertFalse([r for r in self.w.drill("mx1.insecure.example.",
                                                  "A") if r[1] == "RRSIG"])
        self.assertTrue([r for r in self.w.drill("mx1.secure.example.", "A")
                         if r[1] == "RRSIG"])

    def test_bogus_zones(self):
        for zone, why in (("bogus.example", "expired"),
                          ("badds.example", "DS")):
            for name, rtype in ((zone, "MX"), ("mx1." + zone, "A"),
                                ("_25._tcp.mx1." + zone, "TLSA")):
                with self.subTest(name=name, type=rtype):
                    a = self.one(name, rtype)
                    self.assertEqual(a["result"], "SERVFAIL")
                    self.assertEqual(a["security"], "bogus")
                    self.assertTrue(a["why_bogus"])
                    self.assertIn(why, a["why_bogus"])
                    self.assertEqual(a["rr"], [])
            # The data is there on the wire: only validation refuses it.
            self.assertTrue(self.drill_set("mx1." + zone, "A"))
        rc, out = self.drill_chase("mx1.bogus.example", "A")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("signature has expired", out)

    def test_nxdomain_and_nodata(self):
        cases = [("nx.secure.example", "A", "NXDOMAIN", "secure"),
                 ("mx2.secure.example", "AAAA", "NODATA", "secure"),
                 ("nx.nsec3.example", "A", "NXDOMAIN", "secure"),
                 ("mx2.nsec3.example", "AAAA", "NODATA", "secure"),
                 ("mx1.secure.example", "MX", "NODATA", "secure"),
                 ("nx.insecure.example", "A", "NXDOMAIN", "insecure"),
                 ("mx2.insecure.example", "AAAA", "NODATA", "insecure"),
                 ("nx.example", "MX", "NXDOMAIN", "secure")]
        got = self.ask(*[(n, t) for n, t, _, _ in cases])
        for (name, rtype, result, sec), a in zip(cases, got):
            with self.subTest(name=name, type=rtype):
                self.assertEqual(a["name"], name)
                self.assertEqual(a["result"], result)
                self.assertEqual(a["security"], sec)
                self.assertEqual(a["rr"], [])
                p = subprocess.run(["drill", "-p", str(self.w.port),
                                    "@" + self.w.addr, name, rtype],
                                   capture_output=True, text=True)
                self.assertIn("rcode: %s" % ("NXDOMAIN" if result ==
                                             "NXDOMAIN" else "NOERROR"),
                              p.stdout)

    def test_cname_chains(self):
        a = self.one("www.secure.example", "A")
        self.assertEqual((a["result"], a["security"]), ("OK", "secure"))
        self.assertEqual(a["canonical"], "mx1.secure.example")
        self.assertEqual(a["rr"], ["192.0.2.1"])
        a = self.one("www.secure.example", "CNAME")
        self.assertEqual(a["rr"], ["alias.secure.example"])
        self.assertEqual(a["canonical"], "www.secure.example")
        self.assertEqual(set(a["rr"]),
                         {r.rstrip(".") for r in
                          self.drill_set("www.secure.example", "CNAME")})
        # Into the unsigned zone: the answer is only as secure as its end.
        a = self.one("cross.secure.example", "A")
        self.assertEqual(a["result"], "OK")
        self.assertEqual(a["security"], "insecure")
        self.assertEqual(a["canonical"], "mx1.insecure.example")
        self.assertEqual(a["rr"], ["198.51.100.1"])
        a = self.one("www.insecure.example", "MX")
        self.assertEqual((a["result"], a["security"]), ("NODATA", "insecure"))
        self.assertEqual(a["canonical"], "mx1.insecure.example")

    def test_parallel_queries(self):
        pairs = [("h%d.secure.example" % i, "A") for i in range(1, 11)]
        pairs += [("secure.example", "MX"), ("mx1.bogus.example", "A"),
                  ("nx.secure.example", "A"), ("mx1.insecure.example", "AAAA")]
        for extra in ((), ("-S",)):
            with self.subTest(mode="sync" if extra else "async"):
                got = self.ask(*pairs, extra_args=extra)
                for i in range(10):
                    self.assertEqual(got[i]["name"], "h%d.secure.example" %
                                     (i + 1))
                    self.assertEqual(got[i]["rr"], ["192.0.2.%d" % (101 + i)])
                    self.assertEqual(got[i]["security"], "secure")
                self.assertEqual(len(got[10]["rr"]), 2)
                self.assertEqual(got[11]["security"], "bogus")
                self.assertEqual(got[12]["result"], "NXDOMAIN")
                self.assertEqual(got[13]["rr"], ["2001:db8:2::1"])
                self.assertEqual(got[13]["security"], "insecure")

    def test_without_trust_anchor(self):
        got = self.ask(("mx1.secure.example", "A"),
                       ("mx1.bogus.example", "A"),
                       ("nx.secure.example", "A"),
                       ("_25._tcp.mx1.badds.example", "TLSA"), ta=False)
        for a in got:
            self.assertEqual(a["security"], "insecure", a)
            self.assertIsNone(a["why_bogus"])
        self.assertEqual(got[0]["rr"], ["192.0.2.1"])
        # Unvalidated, the broken zones simply answer.
        self.assertEqual(got[1]["result"], "OK")
        self.assertEqual(got[1]["rr"], ["203.0.113.1"])
        self.assertEqual(got[2]["result"], "NXDOMAIN")
        self.assertEqual(got[3]["result"], "OK")

    def test_ds_trust_anchor(self):
        """The root's anchor given as a DS record validates the same."""
        p = pt.run([TOOL, "-s", self.w.stub, "-a", self.w.trust_anchor_ds,
                    "_25._tcp.mx1.secure.example", "TLSA",
                    "mx1.badds.example", "A"])
        self.assertEqual(p.returncode, 0, p.stderr)
        got = parse(p.stdout)
        self.assertEqual(got[0]["security"], "secure")
        self.assertEqual(got[0]["rr"], [world.DEFAULT_TLSA.upper()])
        self.assertEqual(got[1]["security"], "bogus")

    def test_timeout(self):
        dead = pt.free_port()
        for extra in ((), ("-S",)):
            with self.subTest(mode="sync" if extra else "async"):
                p = pt.run([TOOL, "-r", "127.0.0.1@%d" % dead, "-t", "300"] +
                           list(extra) + ["a.example", "A", "b.example",
                                          "MX"])
                self.assertEqual(p.returncode, 0, p.stderr)
                got = parse(p.stdout)
                self.assertEqual([a["result"] for a in got],
                                 ["TIMEOUT", "TIMEOUT"])
                self.assertEqual([a["name"] for a in got],
                                 ["a.example", "b.example"])

    def test_free_inside_callback(self):
        """An owner may free the resolver from a callback: the queries
        still out are dropped, never answered, and nothing crashes (the
        ASan build checks the memory side)."""
        pairs = [("h%d.secure.example" % i, "A") for i in range(1, 7)]
        for n in (1, 3, 6):
            with self.subTest(free_after=n):
                p = pt.run([TOOL, "-s", self.w.stub, "-a", self.w.trust_anchor,
                            "-F", str(n)] + [x for q in pairs for x in q])
                self.assertEqual(p.returncode, 0, p.stderr)
                lines = p.stdout.splitlines()
                done = [ln for ln in lines if " result=OK " in ln]
                gone = [ln for ln in lines if ln.endswith(" cancelled")]
                self.assertEqual(len(done), n, p.stdout)
                self.assertEqual(len(gone), len(pairs) - n, p.stdout)
        # Freed from inside a timeout callback.
        p = pt.run([TOOL, "-r", "127.0.0.1@%d" % pt.free_port(), "-t", "200",
                    "-F", "1", "a.example", "A", "b.example", "A"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(re.findall("result=TIMEOUT", p.stdout)), 1,
                         p.stdout)
        self.assertEqual(len(re.findall("cancelled", p.stdout)), 1, p.stdout)

    def test_bad_settings(self):
        bad = os.path.join(self.w.dir, "garbage.key")
        with open(bad, "w") as f:
            f.write("this is not a trust anchor\n")
        p = pt.run([TOOL, "-a", bad, "a.example", "A"])
        self.assertEqual(p.returncode, 1)
        self.assertIn("dns_query: resolver configuration: trust anchor file "
                      + bad, p.stderr)
        p = pt.run([TOOL, "-a", os.path.join(self.w.dir, "nonexistent.key"),
                    "a.example", "A"])
        self.assertEqual(p.returncode, 1)
        self.assertIn("nonexistent.key", p.stderr)
        p = pt.run([TOOL, "-s", "nozone", "a.example", "A"])
        self.assertEqual(p.returncode, 1)
        self.assertIn("bad stub", p.stderr)
        p = pt.run([TOOL, "-r", "not an address!", "a.example", "A"])
        self.assertEqual(p.returncode, 1)
        self.assertIn("bad resolver address", p.stderr)


class TlsaFromCertTest(pt.TempDirTest):
    """World.tlsa() makes the records DANE tests publish; the resolver must
    hand back exactly those bytes, and hash-slinger's tlsa tool (another
    implementation) computes the same digest."""

    def test_tlsa_from_certificate(self):
        if not os.path.exists(TOOL) or world.KNOTD is None:
            self.skipTest("dns_query or knotd missing")
        key = os.path.join(self.tmp, "k.pem")
        cert = os.path.join(self.tmp, "c.pem")
        pt.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
                cert, "-subj", "/CN=mx1.secure.example", "-days", "2"],
               check=True)
        r311 = world.World.tlsa(cert)
        r301 = world.World.tlsa(cert, 3, 0, 1)
        r302 = world.World.tlsa(cert, 3, 0, 2)
        self.assertNotEqual(r311, r301)
        w = world.World(extra={"secure.example": [
            "_25._tcp.mail TLSA " + r for r in (r311, r301, r302)]},
            tmp=os.path.join(self.tmp, "world"))
        os.makedirs(w.dir)
        with w:
            p = pt.run([TOOL, "-s", w.stub, "-a", w.trust_anchor,
                        "_25._tcp.mail.secure.example", "TLSA"])
            a = parse(p.stdout)[0]
        self.assertEqual(a["security"], "secure")
        self.assertEqual(sorted(a["rr"]), sorted([r311, r301, r302]))
        if pt.have("tlsa"):
            p = pt.run(["tlsa", "--create", "--usage", "3", "--selector", "1",
                        "--mtype", "1", "--certificate", cert, "--port", "25",
                        "mx1.secure.example"])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(r311.split()[3].lower(), p.stdout.lower())


if __name__ == "__main__":
    pt.main()
