#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern certs: list, split, convert, rehash, fingerprint, checked against
openssl itself on the same files."""
import os
import shutil
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt  # noqa: E402


def readf(path):
    with open(path) as f:
        return f.read()


def ossl(*args, input=None, check=True):
    return pt.run(["openssl"] + list(args), input=input, check=check)


class PKI:
    """A root CA, an intermediate and two leaves made by openssl."""

    def __init__(self, d):
        self.d = d
        ext = self.p("ext.cnf")
        with open(ext, "w") as f:
            f.write("[ca]\nbasicConstraints=critical,CA:TRUE\n"
                    "keyUsage=critical,keyCertSign,cRLSign\n"
                    "subjectKeyIdentifier=hash\n"
                    "[leaf]\nbasicConstraints=CA:FALSE\n"
                    "subjectAltName=DNS:mx.example.org,DNS:mail.example.org,"
                    "IP:192.0.2.7\nextendedKeyUsage=serverAuth\n"
                    "[other]\nsubjectAltName=DNS:other.example.net\n")
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             self.p("root.key"), "-out", self.p("root.pem"), "-days", "30",
             "-subj", "/O=Test Org/CN=Test Root", "-extensions", "ca",
             "-config", self._cnf())
        self.sign("int", "/O=Test Org/CN=Test Intermediate", "root", "ca",
                  "ec")
        self.sign("leaf", "/CN=mx.example.org", "int", "leaf", "ec")
        self.sign("other", "/CN=other.example.net", "root", "other", "rsa")

    def p(self, name):
        return os.path.join(self.d, name)

    def _cnf(self):
        cnf = self.p("req.cnf")
        with open(cnf, "w") as f:
            f.write("[req]\ndistinguished_name=dn\n[dn]\n")
            f.write(readf(self.p("ext.cnf")))
        return cnf

    def sign(self, name, subj, issuer, ext, kind):
        if kind == "ec":
            ossl("genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", self.p(name + ".key"))
        else:
            ossl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                 "rsa_keygen_bits:2048", "-out", self.p(name + ".key"))
        ossl("req", "-new", "-key", self.p(name + ".key"), "-subj", subj,
             "-out", self.p(name + ".csr"), "-config", self._cnf())
        ossl("x509", "-req", "-in", self.p(name + ".csr"), "-CA",
             self.p(issuer + ".pem"), "-CAkey", self.p(issuer + ".key"),
             "-CAcreateserial", "-days", "30", "-out",
             self.p(name + ".pem"), "-extfile", self.p("ext.cnf"),
             "-extensions", ext)

    def bundle(self, name, parts):
        out = self.p(name)
        with open(out, "w") as f:
            for part in parts:
                f.write(readf(self.p(part + ".pem")))
        return out


def subjects_of(path):
    """Subjects as openssl pkcs7 -print_certs shows them, in order."""
    p7 = ossl("crl2pkcs7", "-nocrl", "-certfile", path).stdout
    out = ossl("pkcs7", "-print_certs", "-noout", input=p7).stdout
    return [l[len("subject="):] for l in out.splitlines()
            if l.startswith("subject=")]


def openssl_fp(path, digest, pubkey=False, inform="PEM"):
    if not pubkey:
        out = ossl("x509", "-in", path, "-inform", inform, "-noout",
                   "-fingerprint", "-" + digest).stdout
        return out.strip().split("=", 1)[1]
    pub = ossl("x509", "-in", path, "-inform", inform, "-noout",
               "-pubkey").stdout
    der = pt.subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                            input=pub.encode(), capture_output=True,
                            check=True).stdout
    h = pt.subprocess.run(["openssl", "dgst", "-" + digest, "-r"],
                          input=der, capture_output=True,
                          check=True).stdout.decode().split()[0]
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2)).upper()


class CertsTest(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        self.pki = PKI(self.tmp)

    def assert_clean_failure(self, p, path):
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertGreater(p.returncode, 0, "killed by a signal")
        self.assertIn(path, p.stderr)
        self.assertNotIn("AddressSanitizer", p.stderr)
        self.assertNotIn("runtime error", p.stderr)

    def test_fingerprints_equal_openssl(self):
        for name in ("leaf", "int", "root", "other"):
            path = self.pki.p(name + ".pem")
            for digest in ("sha256", "sha1", "md5"):
                for pubkey in (False, True):
                    args = ["certs", "fingerprint", "--digest", digest, path]
                    if pubkey:
                        args.insert(2, "--pubkey")
                    p = pt.postern(*args, check=True)
                    fp, label = p.stdout.strip().split(" ", 1)
                    self.assertEqual(fp, openssl_fp(path, digest, pubkey),
                                     (name, digest, pubkey))
                    self.assertRegex(fp, r"^([0-9A-F]{2}:)+[0-9A-F]{2}$")
        # The label is the CN, pasteable as a relay_clientcerts value.
        p = pt.postern("certs", "fingerprint", self.pki.p("leaf.pem"))
        self.assertEqual(p.stdout.split(" ", 1)[1].strip(), "mx.example.org")

    def test_list_bundle_in_order(self):
        b = self.pki.bundle("bundle.pem", ["leaf", "int", "root"])
        p = pt.postern("certs", "list", "--short", b, check=True)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 3)
        want = subjects_of(b)
        self.assertEqual(len(want), 3)
        for i, (line, subj) in enumerate(zip(lines, want)):
            self.assertTrue(line.startswith("%s #%d: subject=%s; issuer="
                                            % (b, i + 1, subj)), line)
            self.assertTrue(line.endswith("status=valid"), line)
        self.assertIn("expires=", lines[0])

    def test_list_long_fields(self):
        b = self.pki.bundle("bundle.pem", ["leaf", "int"])
        p = pt.postern("certs", "list", b, check=True)
        out = p.stdout
        self.assertEqual(out.count("certificate "), 2)
        self.assertIn("DNS:mx.example.org, DNS:mail.example.org, "
                      "IP:192.0.2.7", out)
        self.assertIn(openssl_fp(self.pki.p("leaf.pem"), "sha256"), out)
        self.assertIn(openssl_fp(self.pki.p("leaf.pem"), "sha256", True), out)
        serial = ossl("x509", "-in", self.pki.p("leaf.pem"), "-noout",
                      "-serial").stdout.strip().split("=")[1]
        self.assertIn("serial:          " + serial, out)
        self.assertIn("EC P-256 (256 bits)", out)
        self.assertRegex(out, r"CA: +no")
        self.assertRegex(out, r"CA: +yes")

    @pt.unittest.skipUnless(pt.have("faketime"), "needs faketime")
    def test_expired_and_not_yet_valid(self):
        paths = {}
        for name, when in (("old", "2020-01-01 00:00:00"),
                           ("future", time.strftime(
                               "%Y-%m-%d %H:%M:%S",
                               time.gmtime(time.time() + 400 * 86400)))):
            paths[name] = self.pki.p(name + ".pem")
            pt.run(["faketime", when, "openssl", "req", "-x509", "-newkey",
                    "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", self.pki.p(name + ".key"), "-out",
                    paths[name], "-days", "30", "-subj", "/CN=" + name],
                   check=True)
        p = pt.postern("certs", "list", "--short", paths["old"],
                       paths["future"], check=True)
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].endswith("status=expired"), lines)
        self.assertTrue(lines[1].endswith("status=not-yet-valid"), lines)
        end = ossl("x509", "-in", paths["old"], "-noout", "-enddate",
                   "-dateopt", "iso_8601").stdout.strip().split("=")[1]
        self.assertIn("expires=" + end.replace(" ", "T"), lines[0])
        p = pt.postern("certs", "list", paths["old"], paths["future"],
                       check=True)
        self.assertIn("EXPIRED", p.stdout)
        self.assertIn("NOT YET VALID", p.stdout)

    def test_der_bundle_and_pkcs7(self):
        der = self.pki.p("leaf.der")
        ossl("x509", "-in", self.pki.p("leaf.pem"), "-outform", "DER",
             "-out", der)
        out = self.pki.p("leaf-conv.pem")
        pt.postern("certs", "convert", der, out, check=True)
        self.assertEqual(openssl_fp(out, "sha256"),
                         openssl_fp(der, "sha256", inform="DER"))
        # PKCS#7 in DER with the chain shuffled: PEM chain leaf first.
        b = self.pki.bundle("shuffled.pem", ["root", "leaf", "int"])
        p7 = self.pki.p("chain.p7b")
        ossl("crl2pkcs7", "-nocrl", "-certfile", b, "-outform", "DER",
             "-out", p7)
        p = pt.postern("certs", "list", "--short", p7, check=True)
        self.assertEqual(len(p.stdout.splitlines()), 3)
        chain = self.pki.p("chain.pem")
        pt.postern("certs", "convert", p7, chain, check=True)
        self.assertEqual(subjects_of(chain),
                         ["CN = mx.example.org",
                          "O = Test Org, CN = Test Intermediate",
                          "O = Test Org, CN = Test Root"])
        self.assertEqual(stat.S_IMODE(os.stat(chain).st_mode), 0o644)
        v = ossl("verify", "-CAfile", self.pki.p("root.pem"), "-untrusted",
                 chain, chain, check=False)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

    def pkcs12(self, legacy):
        b = self.pki.bundle("cas.pem", ["root", "int"])
        out = self.pki.p("leaf%s.p12" % ("-legacy" if legacy else ""))
        args = ["pkcs12", "-export", "-inkey", self.pki.p("leaf.key"),
                "-in", self.pki.p("leaf.pem"), "-certfile", b, "-passout",
                "pass:s3cret word", "-out", out]
        if legacy:
            args.append("-legacy")
        ossl(*args)
        return out

    def test_pkcs12_to_pem_key_and_chain(self):
        for legacy in (False, True):
            p12 = self.pkcs12(legacy)
            out = p12 + ".pem"
            p = pt.postern("certs", "convert", "--passin",
                           "pass:s3cret word", p12, out)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
            text = readf(out)
            self.assertTrue(text.startswith("-----BEGIN PRIVATE KEY-----"))
            self.assertEqual(subjects_of(out)[0], "CN = mx.example.org")
            self.assertEqual(len(subjects_of(out)), 3)
            k = ossl("pkey", "-in", out, "-pubout").stdout
            c = ossl("x509", "-in", out, "-noout", "-pubkey").stdout
            self.assertEqual(k, c)
            v = ossl("verify", "-CAfile", self.pki.p("root.pem"),
                     "-untrusted", out, out, check=False)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

    def test_pkcs12_key_out_and_env(self):
        p12 = self.pkcs12(False)
        out, key = self.pki.p("chain.pem"), self.pki.p("k.pem")
        p = pt.postern("certs", "convert", "--passin", "env:P12PASS",
                       "--key-out", key, p12, out,
                       env={"P12PASS": "s3cret word"})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertNotIn("PRIVATE KEY", readf(out))
        ossl("pkey", "-in", key, "-noout")
        self.assertEqual(ossl("x509", "-in", out, "-noout",
                              "-subject").stdout.strip(),
                         "subject=CN = mx.example.org")
        # list reads PKCS#12 with --passin file:
        pw = self.write("pw.txt", "s3cret word\n")
        p = pt.postern("certs", "list", "--short", "--passin", "file:" + pw,
                       p12, check=True)
        self.assertEqual(len(p.stdout.splitlines()), 3)

    def test_pkcs12_wrong_passphrase(self):
        p12 = self.pkcs12(False)
        p = pt.postern("certs", "list", "--passin", "pass:wrong", p12)
        self.assert_clean_failure(p, p12)
        self.assertIn("passphrase", p.stderr)
        p = pt.postern("certs", "convert", "--passin", "pass:wrong", p12,
                       self.pki.p("x.pem"))
        self.assert_clean_failure(p, p12)
        self.assertFalse(os.path.exists(self.pki.p("x.pem")))

    def test_encrypted_key_to_plain(self):
        enc = self.pki.p("enc.key")
        ossl("pkey", "-in", self.pki.p("other.key"), "-aes256", "-passout",
             "pass:pw", "-out", enc)
        self.assertIn("ENCRYPTED", readf(enc))
        out = self.pki.p("plain.key")
        p = pt.postern("certs", "convert", "--passin", "pass:pw", enc, out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        self.assertNotIn("ENCRYPTED", readf(out))
        self.assertEqual(ossl("pkey", "-in", out, "-pubout").stdout,
                         ossl("pkey", "-in", self.pki.p("other.key"),
                              "-pubout").stdout)
        # Listing a combined encrypted key + certificate file never needs
        # the key's passphrase.
        combined = self.write("combined.pem",
                              readf(enc) + readf(self.pki.p("other.pem")))
        p = pt.subprocess.run([pt.BIN, "certs", "list", "--short", combined],
                              input="", text=True, capture_output=True,
                              start_new_session=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("subject=CN = other.example.net", p.stdout)
        # Without a passphrase and no terminal: a clear error.
        # (a new session has no controlling terminal to ask on)
        p = pt.subprocess.run([pt.BIN, "certs", "convert", enc,
                               self.pki.p("no.key")], input="", text=True,
                              capture_output=True, start_new_session=True)
        self.assert_clean_failure(p, enc)
        self.assertIn("encrypted", p.stderr)

    def test_no_overwrite_without_force(self):
        der = self.pki.p("leaf.der")
        ossl("x509", "-in", self.pki.p("leaf.pem"), "-outform", "DER",
             "-out", der)
        out = self.write("exists.pem", "keep me\n")
        p = pt.postern("certs", "convert", der, out)
        self.assert_clean_failure(p, out)
        self.assertIn("--force", p.stderr)
        self.assertEqual(readf(out), "keep me\n")
        pt.postern("certs", "convert", "--force", der, out, check=True)
        self.assertEqual(openssl_fp(out, "sha1"),
                         openssl_fp(der, "sha1", inform="DER"))

    def test_split(self):
        b = self.pki.bundle("bundle.pem", ["leaf", "int", "root"])
        d = os.path.join(self.tmp, "split")
        pt.postern("certs", "split", b, d, check=True)
        files = sorted(os.listdir(d))
        self.assertEqual(len(files), 3)
        for f, name in zip(files, ["leaf", "int", "root"]):
            self.assertEqual(openssl_fp(os.path.join(d, f), "sha256"),
                             openssl_fp(self.pki.p(name + ".pem"), "sha256"))
        p = pt.postern("certs", "split", b, d)
        self.assertNotEqual(p.returncode, 0)

    def links(self, d):
        out = {}
        for n in os.listdir(d):
            pth = os.path.join(d, n)
            if os.path.islink(pth):
                out[n] = os.readlink(pth)
        return out

    def test_rehash_equals_openssl(self):
        src = os.path.join(self.tmp, "src")
        os.mkdir(src)
        for n in ("leaf", "int", "root", "other"):
            shutil.copy(self.pki.p(n + ".pem"), os.path.join(src, n + ".pem"))
        shutil.copy(self.pki.p("root.pem"), os.path.join(src, "copy.CRT"))
        # Same subject, different certificate: a hash collision (.0, .1).
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             os.path.join(self.tmp, "r2.key"), "-out",
             os.path.join(src, "root2.cer"), "-days", "3", "-subj",
             "/O=Test Org/CN=Test Root")
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             os.path.join(self.tmp, "r3.key"), "-out",
             os.path.join(src, "a-root3.pem"), "-days", "3", "-subj",
             "/O=Test Org/CN=Test Root")
        with open(os.path.join(self.tmp, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index\n"
                    "default_md=sha256\ncrlnumber=%s/crlnumber\n"
                    % (self.tmp, self.tmp))
        open(os.path.join(self.tmp, "index"), "w").close()
        self.write("crlnumber", "01\n")
        ossl("ca", "-gencrl", "-config", os.path.join(self.tmp, "ca.cnf"),
             "-keyfile", self.pki.p("root.key"), "-cert",
             self.pki.p("root.pem"), "-crldays", "3", "-out",
             os.path.join(src, "root.crl"))
        self.pki.bundle("src/bundle.pem", ["leaf", "int"])
        self.write("src/notes.txt", "not a certificate\n")
        self.write("src/garbage.pem", "-----BEGIN CERTIFICATE-----\nxx\n")
        # A stale hash link that both tools must remove.
        os.symlink("gone.pem", os.path.join(src, "abcdef01.0"))

        a, b = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        shutil.copytree(src, a, symlinks=True)
        shutil.copytree(src, b, symlinks=True)
        ossl("rehash", a, check=False)
        p = pt.postern("certs", "rehash", b)
        self.assertEqual(p.returncode, 0, p.stderr)
        la, lb = self.links(a), self.links(b)
        self.assertEqual(la, lb)
        self.assertNotIn("abcdef01.0", lb)
        self.assertTrue(any(n.endswith(".r0") for n in lb), lb)
        self.assertTrue(any(n.endswith(".1") for n in lb), lb)
        self.assertTrue(any(n.endswith(".2") for n in lb), lb)

        # Change both the same way and index again: links kept, renumbered
        # and removed identically.
        for d in (a, b):
            os.unlink(os.path.join(d, "root2.cer"))
            os.unlink(os.path.join(d, "leaf.pem"))
            shutil.copy(self.pki.p("leaf.pem"), os.path.join(d, "z.pem"))
        ossl("rehash", a, check=False)
        pt.postern("certs", "rehash", b, check=True)
        self.assertEqual(self.links(a), self.links(b))
        # And an index made by openssl is left as it is by postern.
        before = self.links(a)
        pt.postern("certs", "rehash", a, check=True)
        self.assertEqual(self.links(a), before)

    def test_bad_input(self):
        good = readf(self.pki.p("leaf.pem"))
        cases = {
            "truncated.pem": good[:len(good) // 2],
            "garbage.bin": "\x30\x82\x01\x00garbage" * 10,
            "text.txt": "hello, world\n",
            "empty.pem": "",
        }
        paths = [self.write(n, t) for n, t in cases.items()]
        big = os.path.join(self.tmp, "big.pem")
        with open(big, "wb") as f:
            f.write(os.urandom(10 * 1024 * 1024))
        paths.append(big)
        paths.append(self.tmp)  # a directory
        paths.append(os.path.join(self.tmp, "missing.pem"))
        for path in paths:
            for cmd in (["list"], ["list", "--short"], ["fingerprint"],
                        ["split", path, os.path.join(self.tmp, "sp")],
                        ["convert", path, os.path.join(self.tmp, "cv.pem")]):
                args = ["certs"] + cmd
                if cmd[0] not in ("split", "convert"):
                    args.append(path)
                p = pt.postern(*args, input="")
                self.assert_clean_failure(p, path)
        p = pt.postern("certs", "list", paths[0])
        self.assertIn("truncated", p.stderr)
        p = pt.postern("certs", "list", self.tmp)
        self.assertIn("directory", p.stderr)
        p = pt.postern("certs", "rehash", os.path.join(self.tmp, "nodir"))
        self.assert_clean_failure(p, "nodir")

    def test_help(self):
        p = pt.postern("certs", "--help", check=True)
        for word in ("list", "split", "convert", "rehash", "fingerprint",
                     "--passin"):
            self.assertIn(word, p.stdout)
        for sub in ("list", "split", "convert", "rehash", "fingerprint"):
            p = pt.postern("certs", sub, "--help", check=True)
            self.assertTrue(p.stdout.startswith("usage: postern certs " + sub),
                            p.stdout)
        p = pt.postern("certs", "frobnicate")
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    pt.main()
