#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern's SMTP client TLS levels against real Postfix, and against
Postfix's own SMTP client with the same policy.

Receivers: private Postfix 3.7 instances on loopback with STARTTLS
(smtpd_tls_security_level = may) and, in turn, a good certificate from a
test CA (DNS:localhost), one with a wrong name, an expired one, and none
(STARTTLS not offered).  For every case, tests/tools/smtp_send (postern's
client) delivers to [localhost]:PORT with a policy, and a private Postfix
sender delivers to the same receiver with the same policy through a
master.cf service (-o smtp_tls_* and a texthash: smtp_tls_policy_maps).
Both must agree on sent/deferred, on the deferral text, and on the trust
word of the "... TLS connection established to ..." line."""
import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfpeer  # noqa: E402
import pki  # noqa: E402
import pt  # noqa: E402
import smtpsend  # noqa: E402


TRUST = re.compile(r"(Anonymous|Untrusted|Trusted|Verified) TLS connection "
                   r"established to localhost\[127\.0\.0\.1\]:(\d+)")


class Postfix:
    """A private Postfix instance under base/name."""

    def __init__(self, base, name, main, master):
        self.dir = os.path.join(base, name)
        self.conf = os.path.join(self.dir, "conf")
        self.log = os.path.join(self.dir, "maillog")
        for d in ("conf", "queue", "data"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        shutil.chown(os.path.join(self.dir, "data"), "postfix")
        lines = ["compatibility_level = 3.6",
                 "queue_directory = %s/queue" % self.dir,
                 "data_directory = %s/data" % self.dir,
                 "maillog_file = %s" % self.log,
                 "maillog_file_prefixes = /tmp",
                 "inet_interfaces = 127.0.0.1",
                 "inet_protocols = ipv4",
                 "mydestination =",
                 "in_flow_delay = 0",
                 "smtp_tls_session_cache_database =",
                 "smtpd_tls_session_cache_database ="] + main
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master + pfpeer.MASTER_SERVICES)
        r = pt.run(["script", "-qc", "postfix -c %s start" % self.conf,
                    "/dev/null"])
        text = pt.wait_for(lambda: self.read(("daemon started", "fatal:")),
                           "postfix %s started: %s" % (name, r.stdout))
        if "fatal:" in text:
            raise AssertionError(text)

    def read(self, words=None):
        if not os.path.exists(self.log):
            return None
        with open(self.log, errors="replace") as f:
            text = f.read()
        if words is None:
            return text
        return text if any(w in text for w in words) else None

    def stop(self):
        pt.run(["postfix", "-c", self.conf, "stop"])
        pt.wait_for(lambda: pt.run(["postfix", "-c", self.conf,
                                    "status"]).returncode != 0,
                    "postfix stopped")


def issue_expired(ca, name):
    """A certificate for DNS:name that expired long ago (faketime)."""
    d = ca.d
    key, csr, crt = (os.path.join(d, name + s) for s in (".key", ".csr",
                                                          ".crt"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n")
    pt.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=localhost"], check=True)
    pt.run(["faketime", "2020-01-01 00:00:00", "openssl", "x509", "-req",
            "-in", csr, "-CA", ca.ca_crt, "-CAkey", ca.ca_key,
            "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext],
           check=True)
    os.chmod(key, 0o600)
    return crt, key


@unittest.skipUnless(pt.have("postfix") and pt.have("faketime") and
                     os.geteuid() == 0 and os.path.exists(smtpsend.TOOL),
                     "needs Postfix, faketime, root and smtp_send")
class SmtpVsPostfix(unittest.TestCase):
    """Each case: (receiver, smtp_tls_* parameters, policy entry or None,
    expected status, expected text start or None, expected trust word or
    None)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = pfpeer.tmpdir("postern-smtp-pf-")
        cls.pki = pki.PKI(os.path.join(cls.tmp, "pki"))
        cls.other = pki.PKI(os.path.join(cls.tmp, "other"), "Other CA")
        certs = {
            "good": cls.pki.issue("localhost", sans=["localhost"]),
            "wrongname": cls.pki.issue("mx.other.test",
                                       sans=["mx.other.test"]),
            "expired": issue_expired(cls.pki, "expired"),
            "notls": None,
        }
        cls.fp = pki.PKI.fingerprint(certs["good"][0], "sha256")
        cls.receivers = {}
        cls.instances = []
        try:
            for name, ck in certs.items():
                port = pt.free_port()
                main = ["myhostname = recv-%s.test" % name,
                        "mynetworks = 127.0.0.0/8",
                        "default_transport = discard",
                        "smtpd_tls_loglevel = 1"]
                if ck:
                    main += ["smtpd_tls_security_level = may",
                             "smtpd_tls_cert_file = %s" % ck[0],
                             "smtpd_tls_key_file = %s" % ck[1]]
                else:
                    main += ["smtpd_tls_security_level = none"]
                master = "127.0.0.1:%d inet n - n - - smtpd\n" % port
                pf = Postfix(cls.tmp, "recv-" + name, main, master)
                cls.instances.append(pf)
                cls.receivers[name] = port
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for pf in cls.instances:
            pf.stop()
        shutil.rmtree(cls.tmp, True)

    CASES = [
        # name, receiver, params, policy, status, text, trust
        ("none", "good", {"smtp_tls_security_level": "none"}, None,
         "sent", None, None),
        ("may", "good", {"smtp_tls_security_level": "may"}, None,
         "sent", None, "Trusted"),
        ("may_noca", "good", {"smtp_tls_security_level": "may",
                              "smtp_tls_CAfile": ""}, None,
         "sent", None, "Untrusted"),
        ("encrypt", "good", {"smtp_tls_security_level": "encrypt"}, None,
         "sent", None, "Trusted"),
        ("verify", "good", {"smtp_tls_security_level": "verify"}, None,
         "sent", None, "Verified"),
        ("secure", "good", {"smtp_tls_security_level": "secure"}, None,
         "sent", None, "Verified"),
        ("secure_match", "good", {}, "secure match=mx.example:localhost",
         "sent", None, "Verified"),
        ("secure_dotmatch", "good", {}, "secure match=.other.test",
         "deferred", "Server certificate not verified", "Untrusted"),
        ("verify_noca", "good", {"smtp_tls_security_level": "verify",
                                 "smtp_tls_CAfile": ""}, None,
         "deferred", "Server certificate not verified", "Untrusted"),
        ("verify_otherca", "good", {"smtp_tls_security_level": "verify",
                                    "smtp_tls_CAfile": "OTHERCA"}, None,
         "deferred", "Server certificate not verified", "Untrusted"),
        ("verify_wrongname", "wrongname",
         {"smtp_tls_security_level": "verify"}, None,
         "deferred", "Server certificate not verified", "Untrusted"),
        ("may_wrongname", "wrongname", {"smtp_tls_security_level": "may"},
         None, "sent", None, "Trusted"),
        ("secure_expired", "expired", {"smtp_tls_security_level": "secure"},
         None, "deferred", "Server certificate not verified", "Untrusted"),
        ("encrypt_expired", "expired",
         {"smtp_tls_security_level": "encrypt"}, None,
         "sent", None, "Untrusted"),
        ("encrypt_notls", "notls", {"smtp_tls_security_level": "encrypt"},
         None, "deferred",
         "TLS is required, but was not offered by host "
         "localhost[127.0.0.1]", None),
        ("may_notls", "notls", {"smtp_tls_security_level": "may"}, None,
         "sent", None, None),
        ("fingerprint", "good", {}, "fingerprint match=FP",
         "sent", None, "Verified"),
        ("fingerprint_wrong", "good", {}, "fingerprint match=" +
         ":".join(["AB"] * 32), "deferred",
         "Server certificate not verified", "Untrusted"),
    ]

    def params_for(self, params, policy, port, tag):
        """The smtp_tls_* settings of a case, with a policy file."""
        p = {"smtp_tls_CAfile": self.pki.ca_crt, "smtp_tls_loglevel": "1",
             "smtp_tls_fingerprint_digest": "sha256"}
        p.update(params)
        if p.get("smtp_tls_CAfile") == "OTHERCA":
            p["smtp_tls_CAfile"] = self.other.ca_crt
        if policy:
            path = os.path.join(self.tmp, "policy-" + tag)
            with open(path, "w") as f:
                f.write("[localhost]:%d %s\n" %
                        (port, policy.replace("FP", self.fp)))
            p["smtp_tls_policy_maps"] = "texthash:" + path
        return p

    def run_postern(self, name, port, p):
        d = os.path.join(self.tmp, "postern-" + name)
        smtpsend.write_main_cf(d, inet_protocols="ipv4", **p)
        res, log = smtpsend.send(d, "[localhost]:%d" % port,
                                 ["rcpt@%s.test" % name.replace("_", "-")])
        r = list(res.values())[0][0]
        m = TRUST.search(log)
        return r["status"], r["text"], m.group(1) if m else None, log

    def run_postfix(self, name, port, p):
        svc = "c" + str(abs(hash(name)) % 100000)
        opts = "".join(" -o %s=%s" % (k, v) for k, v in p.items())
        master = "%s unix - - n - - smtp%s\n" % (svc, opts)
        dom = "%s.test" % name.replace("_", "-")
        tp = os.path.join(self.tmp, "transport-" + name)
        with open(tp, "w") as f:
            f.write("%s %s:[localhost]:%d\n" % (dom, svc, port))
        main = ["myhostname = sender-%s.test" % name.replace("_", "-"),
                "smtp_host_lookup = native",
                "transport_maps = texthash:" + tp,
                "smtp_connect_timeout = 10s",
                "master_service_disable = inet"]
        pf = Postfix(self.tmp, "send-" + name, main, master)
        self.addCleanup(pf.stop)
        rcpt = "rcpt@" + dom
        pt.run(["sendmail", "-C", pf.conf, "-f", "s@sender.test", rcpt],
               input="Subject: compare\n\nhello\n", check=True)
        text = pt.wait_for(
            lambda: pf.read(("to=<%s>" % rcpt,)) and
            re.search(r"to=<%s>.*status=(\w+) \((.*)\)" % re.escape(rcpt),
                      pf.read()), "postfix status for " + name)
        log = pf.read()
        m = TRUST.search(log)
        return text.group(1), text.group(2), m.group(1) if m else None, log

    def test_levels(self):
        table = []
        self.addCleanup(lambda: sys.stderr.write(
            "\n".join("%-18s postern %-8s %-9s postfix %-8s %-9s" % r
                      for r in table) + "\n"))
        for case in self.CASES:
            name, recv, params, policy, status, text, trust = case
            with self.subTest(case=name):
                port = self.receivers[recv]
                p = self.params_for(params, policy, port, name)
                st, tx, tr, log = self.run_postern(name, port, p)
                pst, ptx, ptr, plog = self.run_postfix(name, port, p)
                table.append((name, st, tr, pst, ptr))
                self.assertEqual(ptr, trust, "postfix: " + plog)
                self.assertEqual(tr, trust, log)
                self.assertEqual(st, status, log)
                if text:
                    self.assertEqual(tx, text, log)
                self.assertEqual(pst, st, "postfix: " + plog)
                if st == "deferred":
                    self.assertEqual(ptx, tx, "postfix: " + plog)


if __name__ == "__main__":
    pt.main()
