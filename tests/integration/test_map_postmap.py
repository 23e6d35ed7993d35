#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern map against Debian's own postmap on the same source files.

Each tool compiles its own copy of a source (postern's FILE.lmdb is written
by postern, postmap's by postmap), then both answer the same queries:
values, exit codes, -s listings (sorted) and cidr: first-match results.
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt  # noqa: E402

POSTMAP = pt.which("postmap")

SEED = os.path.join(pt.SRC, "tests", "data", "seed001_tls_policy")

EDGE = (
    "# a comment line\n"
    "\n"
    "   # an indented comment\n"
    "Example.COM\tsecure match=.example.com\n"
    ".example.com   verify\n"
    "[mx.example.net]:587  encrypt\n"
    "[mx.example.net]      dane\n"
    "mx.example.org:25     may\n"
    "continued  first part\n"
    "  second part\n"
    "\n"
    "\t# a comment between continuation lines\n"
    "\tthird\tpart   \n"
    "dup.example  first\n"
    "dup.example  second\n"
    "novalue\n"
    "spaces.example   value   with   inner   spaces   \n"
    "UPPER.example  MixedCase Value\n"
    "tab.example\t\tsecure\tciphers=high\n"
)

EDGE_KEYS = [
    "example.com", "EXAMPLE.com", ".example.com", "sub.example.com",
    "[mx.example.net]:587", "[MX.Example.NET]:587", "[mx.example.net]",
    "mx.example.net", "mx.example.org:25", "mx.example.org", "continued",
    "dup.example", "novalue", "spaces.example", "upper.example",
    "tab.example", "second", "#", "# a comment line", "", "nothere",
]

CIDR = (
    "# first match wins\n"
    "192.168.1.0/24     first\n"
    "192.168.0.0/16     second\n"
    "10.0.0.1           single host\n"
    "[2001:db8::]/32    v6 net\n"
    "2001:db8:1::/48    v6 inner (never: the /32 comes first)\n"
    "[::1]              loopback6\n"
    "::ffff:10.1.2.3    mapped\n"
    "172.16.0.0/12      continued\n"
    "   value\n"
    "0.0.0.0/0          any4\n"
)

CIDR_KEYS = [
    "192.168.1.5", "192.168.2.1", "10.0.0.1", "10.0.0.2", "2001:db8::1",
    "2001:db8:1::5", "::1", "::2", "[::1]", "8.8.8.8", "2001:db9::1",
    "::ffff:10.1.2.3", "10.1.2.3", "172.20.1.1", "not-an-address", "",
]


@unittest.skipUnless(POSTMAP, "postmap (Debian postfix) not installed")
class MapPostmapTest(pt.TempDirTest):
    def setUp(self):
        super().setUp()
        self.cf = os.path.join(self.tmp, "cf")
        self.write("cf/main.cf", "")

    def postmap(self, *args, input=None):
        return pt.run([POSTMAP, "-c", self.cf] + list(args), input=input)

    def sources(self, name, text):
        """Two copies of a source: (postfix's path, postern's path)."""
        return (self.write("postfix/" + name, text),
                self.write("postern/" + name, text))

    def build(self, name, text):
        pf, pn = self.sources(name, text)
        p = self.postmap("lmdb:" + pf)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = pt.postern("map", "lmdb:" + pn)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.exists(pn + ".lmdb"))
        self.assertFalse(os.path.exists(pn + ".lmdb-lock"))
        return pf, pn, p

    def same_answer(self, key, pf_spec, pn_spec):
        a = self.postmap("-q", key, pf_spec)
        b = pt.postern("map", "-q", key, pn_spec)
        self.assertEqual((b.stdout, b.returncode), (a.stdout, a.returncode),
                         "key %r: postmap %r / postern %r (stderr %s)" %
                         (key, pf_spec, pn_spec, b.stderr))
        return b

    def test_seed_tls_policy(self):
        with open(SEED) as f:
            text = f.read()
        keys = [l.split()[0] for l in text.splitlines()
                if l.strip() and not l.lstrip().startswith("#")]
        self.assertEqual(len(keys), 23)
        pf, pn, _ = self.build("tls_policy", text)
        queries = keys + [k.upper() for k in keys] + [
            "AUDI.FR", "Audi.Fr", "www.audi.fr", "audi", "fr", ".audi.fr",
            "sub.example.com", "www.example.com", "nothere.example"]
        for ty in ("lmdb", "texthash"):
            for k in queries:
                b = self.same_answer(k, ty + ":" + pf, ty + ":" + pn)
                if k.lower() in keys:
                    self.assertEqual(b.returncode, 0, k)
                else:
                    self.assertEqual(b.returncode, 1, k)
        b = pt.postern("map", "-q", "AUDI.FR", "lmdb:" + pn)
        self.assertEqual(b.stdout, "encrypt ciphers=high\n")
        b = pt.postern("map", "-q", "example.com", pn)  # default type
        self.assertEqual(b.stdout,
                         "secure match=www.example.com ciphers=high\n")

    def test_edge_cases(self):
        pf, pn, built = self.build("edge", EDGE)
        self.assertIn('line 15: duplicate entry: "dup.example"', built.stderr)
        self.assertIn("line 16: expected format: key whitespace value",
                      built.stderr)
        self.assertTrue(built.stderr.startswith("postern: warning: "),
                        built.stderr)
        for ty in ("lmdb", "texthash"):
            for k in EDGE_KEYS:
                self.same_answer(k, ty + ":" + pf, ty + ":" + pn)
        b = pt.postern("map", "-q", "continued", "lmdb:" + pn)
        self.assertEqual(b.stdout, "first part  second part\tthird\tpart\n")
        b = pt.postern("map", "-q", "dup.example", "texthash:" + pn)
        self.assertEqual(b.stdout, "first\n")
        self.assertIn('edge, line 15: duplicate entry: "dup.example"',
                      b.stderr)
        b = pt.postern("map", "-q", "sub.example.com", "lmdb:" + pn)
        self.assertEqual(b.returncode, 1)

    def test_list_sorted(self):
        with open(SEED) as f:
            seed = f.read()
        for name, text in (("seed", seed), ("edge", EDGE)):
            pf, pn, _ = self.build(name, text)
            for ty in ("lmdb", "texthash"):
                a = self.postmap("-s", ty + ":" + pf)
                b = pt.postern("map", "-s", ty + ":" + pn)
                self.assertEqual(a.returncode, 0, a.stderr)
                self.assertEqual(b.returncode, 0, b.stderr)
                self.assertEqual(sorted(b.stdout.splitlines()),
                                 sorted(a.stdout.splitlines()))
                self.assertGreater(len(b.stdout.splitlines()), 5)

    def test_query_stdin(self):
        pf, pn, _ = self.build("edge", EDGE)
        keys = "EXAMPLE.com\nnothere\n[mx.example.net]:587\ncontinued\n"
        a = self.postmap("-q", "-", "lmdb:" + pf, input=keys)
        b = pt.postern("map", "-q", "-", "lmdb:" + pn, input=keys)
        self.assertEqual((b.stdout, b.returncode), (a.stdout, a.returncode))
        self.assertIn("EXAMPLE.com\tsecure match=.example.com\n", b.stdout)
        a = self.postmap("-q", "-", "lmdb:" + pf, input="no1\nno2\n")
        b = pt.postern("map", "-q", "-", "lmdb:" + pn, input="no1\nno2\n")
        self.assertEqual((b.stdout, b.returncode), (a.stdout, a.returncode))
        self.assertEqual(b.returncode, 1)

    def test_tables_interoperate(self):
        """Same LMDB layout: each tool reads the other's compiled file."""
        pf, pn, _ = self.build("edge", EDGE)
        for k in EDGE_KEYS:
            self.same_answer(k, "lmdb:" + pn, "lmdb:" + pf)

    def test_several_tables_in_order(self):
        pf1, pn1 = self.sources("one", "a.example first\n")
        pf2, pn2 = self.sources("two", "a.example second\nb.example two\n")
        for k in ("a.example", "b.example", "c.example"):
            self.same_answer(k, "texthash:" + pf1, "texthash:" + pn1)
            a = self.postmap("-q", k, "texthash:" + pf1, "texthash:" + pf2)
            b = pt.postern("map", "-q", k, "texthash:" + pn1,
                           "texthash:" + pn2)
            self.assertEqual((b.stdout, b.returncode),
                             (a.stdout, a.returncode))

    def test_empty_source(self):
        pf, pn, _ = self.build("empty", "")
        self.assertEqual(self.same_answer("x", "lmdb:" + pf,
                                          "lmdb:" + pn).returncode, 1)
        b = pt.postern("map", "-s", "lmdb:" + pn)
        self.assertEqual((b.stdout, b.returncode), ("", 0))

    def test_non_ascii_keys(self):
        """Bytes beyond ASCII are kept and not folded (postmap with
        smtputf8_enable = no, the default of compatibility_level 0)."""
        text = (b"CAF\xc3\x89.example  v1\n"
                b"stra\xc3\x9fe.de  v2\n"
                b"\xff\xfe.bin  latin \xe9\n")
        pf = self.write("postfix/utf", text)
        pn = self.write("postern/utf", text)
        self.assertEqual(self.postmap("lmdb:" + pf).returncode, 0)
        pt.postern("map", "lmdb:" + pn, check=True)
        for key in (b"caf\xc3\xa9.example", b"CAF\xc3\x89.EXAMPLE",
                    b"stra\xc3\x9fe.de", b"STRASSE.DE", b"\xff\xfe.bin"):
            for spec in ("lmdb:", "texthash:"):
                args = ["-q", os.fsdecode(key)]
                a = subprocess.run([POSTMAP, "-c", self.cf] + args +
                                   [spec + pf], capture_output=True)
                b = subprocess.run([pt.BIN, "map"] + args + [spec + pn],
                                   capture_output=True)
                self.assertEqual((b.stdout, b.returncode),
                                 (a.stdout, a.returncode), key)

    def test_cidr(self):
        pf, pn = self.sources("clients.cidr", CIDR)
        for k in CIDR_KEYS:
            self.same_answer(k, "cidr:" + pf, "cidr:" + pn)
        b = pt.postern("map", "-q", "2001:db8:1::5", "cidr:" + pn)
        self.assertEqual(b.stdout, "v6 net\n")
        b = pt.postern("map", "-q", "172.20.1.1", "cidr:" + pn)
        self.assertEqual(b.stdout, "continued   value\n")

    def test_cidr_if_endif(self):
        text = ("if 10.0.0.0/8\n"
                "if !10.1.0.0/16\n"
                "10.0.0.0/8 inner\n"
                "endif\n"
                "0.0.0.0/0 after\n"
                "endif\n"
                "!1.2.3.0/24 negated\n")
        pf, pn = self.sources("if.cidr", text)
        for k in ("10.2.0.1", "10.1.0.1", "1.2.3.4", "5.5.5.5", "::1"):
            self.same_answer(k, "cidr:" + pf, "cidr:" + pn)

    def test_inline_and_static(self):
        for spec in ("inline:{ Key=Value, { k2 = text with spaces }, "
                     "k3=v3 }", "inline:{k1=v1 k2=v2}",
                     "inline:{ {k1=a,b}, k2={x} }",
                     "static:{ text with spaces }", "static:plain"):
            for k in ("key", "k1", "K2", "k3", "nothere"):
                self.same_answer(k, spec, spec)

    def test_errors_name_the_file(self):
        missing = os.path.join(self.tmp, "nonexistent")
        b = pt.postern("map", "-q", "x", "lmdb:" + missing)
        self.assertEqual(b.returncode, 2)
        self.assertIn(missing + ".lmdb", b.stderr)
        b = pt.postern("map", "lmdb:" + missing)
        self.assertEqual(b.returncode, 2)
        self.assertIn("open " + missing + ": No such file", b.stderr)
        bad = self.write("bad.cidr", "10.0.0.0/8 ok\n10.0.0.1/8 bad\n")
        b = pt.postern("map", "-q", "10.0.0.1", "cidr:" + bad)
        self.assertEqual(b.returncode, 2)
        self.assertIn(bad + ", line 2: non-null host address bits", b.stderr)
        self.assertIn('"10.0.0.0/8"', b.stderr)
        b = pt.postern("map", "-q", "x", "inline:{ a=b")
        self.assertEqual(b.returncode, 2)
        self.assertIn("inline:{ a=b", b.stderr)
        b = pt.postern("map", "texthash:" + bad)
        self.assertEqual(b.returncode, 2)
        self.assertIn("texthash does not support compilation", b.stderr)

    def test_help(self):
        b = pt.postern("map", "--help")
        self.assertEqual(b.returncode, 0)
        self.assertIn("-q KEY", b.stdout)
        b = pt.postern("map")
        self.assertEqual(b.returncode, 2)


if __name__ == "__main__":
    pt.main()
