# SPDX-License-Identifier: MIT
"""pki - throw-away CAs and certificates made with the openssl command line.

Everything is generated at test time in a temporary directory, so no key
material is checked in and expiry dates never bite.
"""
import hashlib
import os
import subprocess


def _run(args, cwd):
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


class PKI:
    """A CA in directory d, issuing ECDSA P-256 leaves."""

    def __init__(self, d, name="Test CA"):
        self.d = d
        os.makedirs(d, exist_ok=True)
        self.ca_key = os.path.join(d, "ca.key")
        self.ca_crt = os.path.join(d, "ca.crt")
        _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.ca_key,
              "-out", self.ca_crt, "-days", "30", "-subj", "/CN=" + name,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
        os.chmod(self.ca_key, 0o600)

    def issue(self, name, sans=(), client=False, days=30):
        """A leaf: returns (certfile, keyfile)."""
        key = os.path.join(self.d, name + ".key")
        csr = os.path.join(self.d, name + ".csr")
        crt = os.path.join(self.d, name + ".crt")
        ext = os.path.join(self.d, name + ".ext")
        san = ",".join(("IP:" if s.replace(".", "").isdigit() or ":" in s
                        else "DNS:") + s for s in (sans or [name]))
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=%s\n"
                    "subjectAltName=%s\n" %
                    ("clientAuth" if client else "serverAuth,clientAuth",
                     san))
        _run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
              csr, "-subj", "/CN=" + name], self.d)
        os.chmod(key, 0o600)
        args = ["openssl", "x509", "-req", "-in", csr, "-CA", self.ca_crt,
                "-CAkey", self.ca_key, "-CAcreateserial", "-out", crt,
                "-extfile", ext]
        args += ["-days", str(days)]
        _run(args, self.d)
        return crt, key

    @staticmethod
    def fingerprint(crt, digest="sha256"):
        """'AB:CD:...' as openssl x509 -fingerprint prints it."""
        out = _run(["openssl", "x509", "-noout", "-fingerprint",
                    "-" + digest, "-in", crt], os.path.dirname(crt))
        return out.strip().split("=", 1)[1]


def spki_sha256(crt):
    """SHA-256 of a certificate's SubjectPublicKeyInfo (TLSA x 1 1), hex,
    computed with openssl."""
    pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey", "-in", crt],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub, capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def cert_sha256(crt):
    """SHA-256 of the whole DER certificate (TLSA x 0 1), hex."""
    der = subprocess.run(["openssl", "x509", "-outform", "DER", "-in", crt],
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()
