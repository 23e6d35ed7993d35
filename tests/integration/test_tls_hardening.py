#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Postfix's global TLS hardening parameters, as openssl s_client sees them.

tls_high_cipherlist (and the other grade lists): with smtpd_tls_ciphers =
high and the high list cut down to one cipher, a TLS 1.2 client gets that
cipher and a client offering only another one fails the handshake; with
the default list the same client succeeds.  tls_medium_cipherlist does
the same for the default grade.  A list OpenSSL finds no cipher in
refuses the start, naming the parameter, and postern check reports it.

tls_ssl_options: NO_TICKET (by name, any case, or as the 0x4000 bit mask)
stops the server from issuing TLS 1.2 session tickets, which it issues by
default; an unknown name is logged, naming the parameter, and ignored.
(NO_RENEGOTIATION cannot be told apart: postern refuses renegotiation
always.)

smtpd_tls_dh1024_param_file: an ffdhe3072 group makes a DHE key exchange
3072 bits, where OpenSSL's automatic choice for a 2048-bit RSA key is
2048 bits; a file without DH parameters refuses the start, naming it.

tls_session_ticket_cipher: empty disables tickets, aes-128-cbc still
issues tickets that resume a session, a cipher Postfix does not accept
(64-bit blocks) is logged and disables tickets.

Before, these parameters were accepted and had no effect.
"""
import os
import re

import pki
import pt
import srv

HIGH_ONE = "ECDHE-ECDSA-AES128-GCM-SHA256"
OTHER = "ECDHE-ECDSA-AES256-GCM-SHA384"


class Hardening(pt.TempDirTest):

    def ecdsa(self):
        """An ECDSA P-256 certificate and key from a throw-away CA."""
        ca = pki.PKI(os.path.join(self.tmp, "pki%d" % len(os.listdir(
            self.tmp))))
        return ca.issue("mx.postern.test")

    def rsa(self, name="mx.postern.test"):
        """A self-signed 2048-bit RSA certificate and key (for DHE-RSA)."""
        crt = os.path.join(self.tmp, name + ".crt")
        key = os.path.join(self.tmp, name + ".key")
        r = pt.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "30",
                    "-subj", "/CN=" + name], timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(key, 0o600)
        return crt, key

    def server(self, extra_cf, certkey=None):
        """A started server with STARTTLS on a fresh port: (server, port)."""
        crt, key = certkey or self.ecdsa()
        name = "s%d" % len(os.listdir(self.tmp))
        server, port = srv.starttls_server(os.path.join(self.tmp, name),
                                           crt, key, extra_cf)
        self.addCleanup(self.stop, server)
        return server, port

    def stop(self, server):
        server.stop()
        self.assertEqual(server.problems(), [])

    def s_client(self, port, args, brief=True):
        """s_client's report of one STARTTLS handshake (stdout + stderr)."""
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
               "-starttls", "smtp"]
        if brief:
            cmd.append("-brief")
        r = pt.run(cmd + args, input="QUIT\n", timeout=60)
        return r.stdout + r.stderr

    def cipher(self, port, args):
        """The negotiated cipher, or None when the handshake failed."""
        out = self.s_client(port, ["-tls1_2"] + args)
        m = re.search(r"Ciphersuite: (\S+)", out)
        return m.group(1) if m else None

    def refused(self, main_cf, certkey=None):
        """A start that must fail: postern serve's stderr."""
        crt, key = certkey or self.ecdsa()
        r = srv.serve_once(self.tmp, (
            "smtpd_tls_security_level = may\n"
            "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
            % (crt, key)) + main_cf)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertFalse(pt.sanitizer_report(r.stderr), r.stderr)
        return r.stderr

    # ---- tls_*_cipherlist ----

    def test_high_cipherlist(self):
        _, port = self.server("smtpd_tls_ciphers = high\n"
                              "tls_high_cipherlist = %s\n" % HIGH_ONE)
        self.assertEqual(self.cipher(port, []), HIGH_ONE)
        self.assertIsNone(self.cipher(port, ["-cipher", OTHER]))
        # the list governs TLS 1.2 and older: TLS 1.3 is unaffected
        out = self.s_client(port, ["-tls1_3"])
        self.assertIn("Protocol version: TLSv1.3", out)

    def test_default_high_cipherlist(self):
        _, port = self.server("smtpd_tls_ciphers = high\n")
        self.assertEqual(self.cipher(port, ["-cipher", OTHER]), OTHER)
        self.assertNotEqual(self.cipher(port, []), None)

    def test_medium_cipherlist_is_the_default_grade(self):
        _, port = self.server("tls_medium_cipherlist = %s\n"
                              "tls_high_cipherlist = %s\n" % (HIGH_ONE, OTHER))
        self.assertEqual(self.cipher(port, []), HIGH_ONE)
        self.assertIsNone(self.cipher(port, ["-cipher", OTHER]))

    def test_unusable_cipherlist_refused(self):
        err = self.refused("smtpd_tls_ciphers = high\n"
                           "tls_high_cipherlist = NO-SUCH-CIPHER:!ALL\n")
        self.assertIn('tls_high_cipherlist = "NO-SUCH-CIPHER:!ALL" '
                      '(cipher grade high) leaves no usable cipher', err)
        # postern check says so too, for each grade setting that uses it
        self.write("check/main.cf", "smtp_tls_mandatory_ciphers = high\n"
                   "tls_high_cipherlist = NO-SUCH-CIPHER:!ALL\n")
        r = pt.postern("check", "-c", os.path.join(self.tmp, "check"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn('error: smtp_tls_mandatory_ciphers (', r.stdout)
        self.assertIn('tls_high_cipherlist = "NO-SUCH-CIPHER:!ALL" (cipher '
                      'grade high) leaves no usable cipher', r.stdout)
        self.assertNotIn("error: smtpd_tls_ciphers", r.stdout)

    # ---- tls_ssl_options ----

    def ticket_issued(self, port):
        out = self.s_client(port, ["-tls1_2"], brief=False)
        self.assertRegex(out, r"Cipher is ECDHE-ECDSA-", out)
        return "TLS session ticket lifetime hint" in out

    def test_ssl_options_no_ticket(self):
        _, port = self.server("")
        self.assertTrue(self.ticket_issued(port))
        _, port = self.server("tls_ssl_options = no_ticket\n")
        self.assertFalse(self.ticket_issued(port))
        _, port = self.server("tls_ssl_options = 0x4000\n")
        self.assertFalse(self.ticket_issued(port))

    def test_ssl_options_unknown_name(self):
        server, port = self.server("tls_ssl_options = NO_COMPRESSION, "
                                   "bogus_option, NO_TICKET\n")
        self.assertFalse(self.ticket_issued(port))
        want = ('unknown tls_ssl_options value "bogus_option" in '
                '"NO_COMPRESSION, bogus_option, NO_TICKET"')
        pt.wait_for(lambda: want in server.logtext() + server.stderr(),
                    "the tls_ssl_options warning")
        self.assertNotIn("tls_ssl_options=", server.logtext() +
                         server.stderr())  # no "not implemented" warning

    # ---- smtpd_tls_dh1024_param_file ----

    def dhe_key(self, port, sni=None):
        extra = ["-servername", sni] if sni else []
        out = self.s_client(port, ["-tls1_2", "-cipher",
                                   "DHE-RSA-AES256-GCM-SHA384"] + extra)
        self.assertIn("Ciphersuite: DHE-RSA-AES256-GCM-SHA384", out)
        self.assertRegex(out, r"Peer certificate: CN ?= ?%s" %
                         re.escape(sni or "mx.postern.test"))
        m = re.search(r"Server Temp Key: (DH, \d+ bits)", out)
        self.assertIsNotNone(m, out)
        return m.group(1)

    def test_dh_param_file(self):
        dh = os.path.join(self.tmp, "ffdhe3072.pem")
        r = pt.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH",
                    "-pkeyopt", "group:ffdhe3072", "-out", dh], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # readable by root only: the supervisor reads it, as the keys
        os.chmod(dh, 0o600)
        rsa = self.rsa()
        # a certificate chosen by SNI uses the same parameters
        ocrt, okey = self.rsa("other.test")
        other = os.path.join(self.tmp, "other.pem")
        with open(other, "w") as f, open(okey) as kf, open(ocrt) as cf:
            f.write(kf.read() + cf.read())
        os.chmod(other, 0o600)
        _, port = self.server("smtpd_tls_dh1024_param_file = %s\n"
                              "tls_server_sni_maps = inline:{ other.test=%s }"
                              "\n" % (dh, other), rsa)
        self.assertEqual(self.dhe_key(port), "DH, 3072 bits")
        self.assertEqual(self.dhe_key(port, "other.test"),
                         "DH, 3072 bits")
        _, port = self.server("", rsa)
        self.assertEqual(self.dhe_key(port), "DH, 2048 bits")
        _, port = self.server("smtpd_tls_dh1024_param_file = auto\n", rsa)
        self.assertEqual(self.dhe_key(port), "DH, 2048 bits")

    def test_bad_dh_param_file_refused(self):
        bad = os.path.join(self.tmp, "garbage.pem")
        with open(bad, "w") as f:
            f.write("-----BEGIN DH PARAMETERS-----\nnot base64 at all!\n"
                    "-----END DH PARAMETERS-----\n")
        err = self.refused("smtpd_tls_dh1024_param_file = %s\n" % bad)
        self.assertIn("smtpd_tls_dh1024_param_file: no DH parameters in %s"
                      % bad, err)
        missing = os.path.join(self.tmp, "missing.pem")
        err = self.refused("smtpd_tls_dh1024_param_file = %s\n" % missing)
        self.assertIn("cannot open DH parameter file %s" % missing, err)

    # ---- tls_session_ticket_cipher ----

    def test_ticket_cipher(self):
        _, port = self.server("tls_session_ticket_cipher =\n")
        self.assertFalse(self.ticket_issued(port))
        server, port = self.server("tls_session_ticket_cipher = "
                                   "des-ede3-cbc\n")
        self.assertFalse(self.ticket_issued(port))
        pt.wait_for(lambda: "tls_session_ticket_cipher: invalid value: "
                    "des-ede3-cbc; session tickets disabled" in
                    server.logtext() + server.stderr(), "the warning")
        _, port = self.server("tls_session_ticket_cipher = aes-128-cbc\n")
        self.assertTrue(self.ticket_issued(port))
        sess = os.path.join(self.tmp, "sess.pem")
        self.s_client(port, ["-tls1_2", "-sess_out", sess], brief=False)
        out = self.s_client(port, ["-tls1_2", "-sess_in", sess], brief=False)
        self.assertIn("Reused, TLSv1.2", out)


if __name__ == "__main__":
    pt.main()
