#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern's "... TLS connection established ..." line against the real
thing: a private Postfix 3.7 instance (smtpd with STARTTLS) and
tests/tools/tls_echo serve the same certificate; openssl s_client connects
to both with the same client certificate, and the two log lines must be
equal word for word (trust word, protocol, cipher, bits, key-exchange,
server-signature and client-signature details)."""
import os
import shutil
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfpeer  # noqa: E402
import pt  # noqa: E402

ECHO = os.path.join(os.path.dirname(pt.BIN), "tls_echo")

PKI = r"""
set -e
cat >srv.ext <<E
basicConstraints=CA:false
subjectAltName=DNS:localhost
E
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
  -days 30 -subj '/CN=Compare Test Root'
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout ec.key -out ec.csr -subj '/CN=localhost'
openssl x509 -req -in ec.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out ec.pem -days 30 -extfile srv.ext
openssl req -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.csr \
  -subj '/CN=localhost'
openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out rsa.pem -days 30 -extfile srv.ext
openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr \
  -subj '/CN=client.example.org'
openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out cli.pem -days 30
chmod 600 *.key
"""



@unittest.skipUnless(pt.have("postfix") and os.geteuid() == 0,
                     "needs Postfix and root for a private instance")
class PostfixLogShapeTest(unittest.TestCase):

    def setUp(self):
        if not os.path.exists(ECHO):
            self.skipTest("tls_echo not built")
        # /tmp: Postfix's default maillog_file_prefixes includes it only
        # when told, and data_directory must belong to the postfix user.
        self.tmp = pfpeer.tmpdir("postern-pflog-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        pt.run(["sh", "-c", PKI], cwd=self.tmp, check=True)
        self.conf = os.path.join(self.tmp, "conf")
        self.log = os.path.join(self.tmp, "maillog")
        os.makedirs(self.conf)
        os.makedirs(os.path.join(self.tmp, "queue"))
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        shutil.chown(data, "postfix")

    def start_postfix(self, cert, key):
        self.port = pt.free_port()
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("\n".join([
                "compatibility_level = 3.6",
                "queue_directory = %s/queue" % self.tmp,
                "data_directory = %s/data" % self.tmp,
                "maillog_file = %s" % self.log,
                "maillog_file_prefixes = /tmp",
                "inet_interfaces = 127.0.0.1",
                "inet_protocols = ipv4",
                "myhostname = postfix.test",
                "mydestination =",
                "smtpd_tls_cert_file = %s/%s" % (self.tmp, cert),
                "smtpd_tls_key_file = %s/%s" % (self.tmp, key),
                "smtpd_tls_security_level = may",
                "smtpd_tls_loglevel = 1",
                "smtpd_tls_ask_ccert = yes",
                "smtpd_tls_CAfile = %s/ca.pem" % self.tmp,
                "default_transport = discard",
                ""]))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(pfpeer.MASTER.format(port=self.port))
        r = pt.run(["script", "-qc", "postfix -c %s start" % self.conf,
                    "/dev/null"])
        self.addCleanup(self.stop_postfix)
        text = pt.wait_for(lambda: self.read_log(("daemon started",
                                                  "fatal:")),
                           "postfix started: " + r.stdout)
        self.assertNotIn("fatal:", text)

    def stop_postfix(self):
        """Stop the instance and wait until its master has exited, so the
        directory can be removed."""
        pt.run(["postfix", "-c", self.conf, "stop"])
        pt.wait_for(lambda: pt.run(["postfix", "-c", self.conf,
                                    "status"]).returncode != 0,
                    "postfix stopped")

    def read_log(self, words):
        """The log text once it holds one of words, else None."""
        if not os.path.exists(self.log):
            return None
        with open(self.log) as f:
            text = f.read()
        return text if any(w in text for w in words) else None

    def postfix_lines(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [x.split(": ", 1)[1].rstrip("\n") for x in f
                    if "TLS connection established" in x]

    def echo_server(self, cert, key):
        p = subprocess.Popen([ECHO, "-c", cert, "-k", key, "-a", "-C",
                              "ca.pem"], cwd=self.tmp,
                             stdout=subprocess.PIPE, text=True)
        lines = []
        threading.Thread(target=lambda: [lines.append(x.rstrip("\n"))
                                         for x in p.stdout],
                         daemon=True).start()

        def stop():
            p.terminate()
            p.wait()
            p.stdout.close()
        self.addCleanup(stop)
        ready = pt.wait_for(lambda: [x for x in lines
                                     if x.startswith("ready ")], "ready")
        return int(ready[0].split()[1]), lines

    def s_client(self, port, *args):
        return pt.run(["openssl", "s_client", "-connect",
                       "127.0.0.1:%d" % port, "-cert", "cli.pem", "-key",
                       "cli.key", "-CAfile", "ca.pem"] + list(args),
                      input="QUIT\r\n", cwd=self.tmp, timeout=60)

    def compare(self, cert, key, *proto):
        self.start_postfix(cert, key)
        self.s_client(self.port, "-starttls", "smtp", *proto)
        pf = pt.wait_for(self.postfix_lines, "postfix TLS line")[0]
        port, lines = self.echo_server(cert, key)
        self.s_client(port, *proto)
        ours = pt.wait_for(lambda: [x for x in lines
                                    if x.startswith("summary: ")],
                           "tls_echo summary")[0][len("summary: "):]
        self.assertEqual(ours, pf)
        return ours

    def test_tls13_ecdsa_server_rsa_client(self):
        line = self.compare("ec.pem", "ec.key")
        self.assertIn("server-signature ECDSA (prime256v1)", line)
        self.assertIn("client-signature RSA-PSS (2048 bits)", line)

    def test_tls13_rsa_server(self):
        line = self.compare("rsa.pem", "rsa.key")
        self.assertIn("server-signature RSA-PSS (2048 bits)", line)

    def test_tls12(self):
        line = self.compare("rsa.pem", "rsa.key", "-tls1_2")
        self.assertTrue(line.endswith("(256/256 bits)"), line)


if __name__ == "__main__":
    pt.main()
