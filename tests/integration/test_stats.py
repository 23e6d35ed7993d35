#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern stats on real logs.

A postern (smtpd, queue manager, virtual Maildir delivery) receives mail
from Python's smtplib: plain sessions, STARTTLS without a client
certificate (Anonymous) and with one from the CA it trusts (Trusted, and
allowed to relay by relay_clientcerts).  The relayed message goes out over
TLS to a second postern, so the first one's log also holds an outbound TLS
line.  `postern stats` must count exactly what happened, in JSON, text and
SVG.  Then a private Postfix instance gets the same kind of sessions, and
its own log must give the same inbound counts: the parser reads the real
thing, not just postern's imitation of it.
"""
import json
import re
import os
import shutil
import smtplib
import ssl
import sys
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfpeer  # noqa: E402
import pt  # noqa: E402
import qmgrfix  # noqa: E402
import srv  # noqa: E402
from pki import PKI  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def stats(*args):
    """postern stats with args; the CompletedProcess (checked)."""
    r = pt.postern("stats", *args)
    if r.returncode != 0 or pt.sanitizer_report(r.stderr):
        raise AssertionError("postern stats %r: %d\n%s" %
                             (args, r.returncode, r.stderr))
    return r


def bars(svg_path):
    """{(panel, trust level): number of bars} of an SVG graph, which must
    parse as XML."""
    root = ET.parse(svg_path).getroot()
    assert root.tag == SVG + "svg", root.tag
    out = {}
    for g in root.iter(SVG + "g"):
        cls = g.get("class", "").split()
        if "panel" not in cls:
            continue
        panel = cls[1]
        for r in g.iter(SVG + "rect"):
            rc = r.get("class", "").split()
            if "bar" in rc:
                key = (panel, rc[1])
                out[key] = out.get(key, 0) + int(r.get("data-count"))
    return out


def send(port, rcpt, tls_ctx=None, expect=250):
    """One session: EHLO, optional STARTTLS, one message (or a refused
    RCPT when expect is not 250), QUIT."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.test")
        if tls_ctx is not None:
            s.starttls(context=tls_ctx)
            s.ehlo("client.test")
        s.mail("alice@example.net")
        code, text = s.rcpt(rcpt)
        if code != 250:
            if code != expect:
                raise AssertionError("RCPT %s: %d %r" % (rcpt, code, text))
            return
        code, text = s.data("Subject: stats\r\n\r\nbody\r\n")
        if code != 250:
            raise AssertionError("DATA: %d %r" % (code, text))


@unittest.skipUnless(os.geteuid() == 0,
                     "the queue manager runs as mail_owner: needs root")
class PosternLog(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = pfpeer.tmpdir("postern-stats-")
        pki = PKI(os.path.join(cls.tmp, "pki"))
        cls.pki = pki
        crt, key = pki.issue("mx.postern.test", ["mx.postern.test",
                                                 "127.0.0.1"])
        cls.ccrt, cls.ckey = pki.issue("relay-client", client=True)
        tls_cf = ("smtpd_tls_security_level = may\n"
                  "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                  "smtpd_tls_CAfile = %s\nsmtpd_tls_loglevel = 1\n"
                  % (crt, key, pki.ca_crt))
        # the peer: accepts mail for peer.postern.test, keeps it queued
        cls.peer = srv.Server(os.path.join(cls.tmp, "peer"), tls_cf + (
            "mydestination = mx.postern.test, peer.postern.test\n"
            "mynetworks = 127.0.0.0/8\n"), [("smtp", pt.free_port(), [])])
        cls.peer.start()
        peer_port = cls.peer.ports["smtp"]
        conf = os.path.join(cls.tmp, "mta")
        os.makedirs(conf)
        with open(os.path.join(conf, "clientcerts"), "w") as f:
            f.write("%s relay-client\n" % PKI.fingerprint(cls.ccrt))
        vbase = os.path.join(cls.tmp, "vmail")
        os.makedirs(vbase)
        os.chmod(vbase, 0o777)
        cls.mta = qmgrfix.Mta(conf, tls_cf + (
            "mynetworks = 192.0.2.0/24\n"
            "smtpd_tls_ask_ccert = yes\n"
            "relay_clientcerts = texthash:{conf}/clientcerts\n"
            "smtpd_relay_restrictions = permit_mynetworks, "
            "permit_tls_clientcerts, reject_unauth_destination\n"
            "virtual_mailbox_domains = virt.test\n"
            "virtual_mailbox_maps = inline:{{ carol@virt.test=carol/ }}\n"
            "virtual_mailbox_base = {vbase}\n"
            "transport_maps = inline:{{ peer.postern.test="
            "smtp:[127.0.0.1]:{port} }}\n"
            "smtp_tls_security_level = may\n"
            "smtp_tls_loglevel = 1\n"
            "smtp_tls_CAfile = {ca}\n").format(conf=conf, vbase=vbase,
                                               port=peer_port,
                                               ca=pki.ca_crt))
        cls.mta.start()

        anon = ssl.create_default_context(cafile=pki.ca_crt)
        withcert = ssl.create_default_context(cafile=pki.ca_crt)
        withcert.load_cert_chain(cls.ccrt, cls.ckey)
        for _ in range(3):
            send(cls.mta.port, "carol@virt.test")
        for _ in range(2):
            send(cls.mta.port, "carol@virt.test", anon)
        send(cls.mta.port, "dave@peer.postern.test", withcert)
        # relaying without the certificate: refused
        send(cls.mta.port, "erin@peer.postern.test", anon, expect=554)
        pt.wait_for(lambda: cls.mta.logtext().count("status=sent") >= 6,
                    "six deliveries")
        cls.peer.wait_log("Anonymous TLS connection established from")
        cls.log = cls.mta.log
        # smtpd's "connect from" lines, counted here without postern
        cls.connects = len(re.findall(r" postern/smtpd\[\d+\]: connect "
                                      r"from ", cls.mta.logtext()))

    @classmethod
    def tearDownClass(cls):
        problems = srv.stop_all([cls.mta, cls.peer])
        shutil.rmtree(cls.tmp, True)
        if problems:
            raise AssertionError("\n".join(problems))

    def test_json_counts(self):
        j = json.loads(stats("--json", self.log).stdout)
        # 7 sessions, and the fixture's probes for a listening port
        self.assertEqual(j["inbound"]["connections"], self.connects)
        self.assertGreaterEqual(self.connects, 7)
        self.assertEqual(j["inbound"]["tls"],
                         {"verified": 0, "trusted": 1, "untrusted": 0,
                          "anonymous": 3, "total": 4})
        self.assertEqual(j["inbound"]["plaintext_or_failed"],
                         self.connects - 4)
        self.assertEqual(j["inbound"]["handshake_failures"], 0)
        self.assertEqual(j["messages"], {"received": 6, "rejected": 1})
        # the relayed message went out over TLS, verified by the CA file
        # but not matched to a name (level may): Trusted
        self.assertEqual(j["outbound"]["tls"]["total"], 1)
        self.assertEqual(j["outbound"]["tls"]["trusted"], 1)
        self.assertEqual(len(j["destinations"]), 1)
        self.assertEqual(j["destinations"][0]["tls"]["trusted"], 1)
        d = j["deliveries"]
        self.assertEqual((d["sent"], d["deferred"], d["bounced"],
                          d["expired"]), (6, 0, 0, 0))
        self.assertEqual((d["remote"], d["local"]), (1, 5))
        protos = {p["name"]: p for p in j["protocols"]}
        self.assertEqual(protos["TLSv1.3"]["inbound"], 4)
        self.assertEqual(protos["TLSv1.3"]["outbound"], 1)
        self.assertEqual(sum(c["total"] for c in j["ciphers"]), 5)
        self.assertEqual(j["lines"]["skipped"], 0)
        self.assertEqual(j["lines"]["read"],
                         j["lines"]["used"] + j["lines"]["other"])
        self.assertIsNotNone(j["period"])

    def test_two_files_and_stdin(self):
        """Several files add up; '-' is stdin; other programs' lines are
        skipped and counted."""
        with open(self.log) as f:
            text = f.read()
        # another program, binary bytes, and a connect line made longer
        # than 64 KB: skipped whole, not cut into a line that counts
        junk = ("Nov 28 20:48:06 mx dovecot: imap-login: x\n\x00\xff\n"
                "Nov 28 20:48:06 mx postern/smtpd[1]: connect from "
                "a[192.0.2.1]" + " " * 70000 + "\r\n")
        r = pt.postern("stats", "--json", "-", self.peer.log,
                       input=junk + text)
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        # the peer saw one more Anonymous inbound session (from the mta)
        self.assertEqual(j["inbound"]["tls"]["anonymous"], 4)
        peer = len(re.findall(r" postern/smtpd\[\d+\]: connect from ",
                              self.peer.logtext()))
        self.assertEqual(j["inbound"]["connections"], self.connects + peer)
        self.assertEqual(j["lines"]["skipped"], 3)

    def test_text(self):
        out = stats(self.log).stdout
        lines = out.splitlines()
        self.assertIn("Inbound TLS connections", out)
        row = [x.split() for x in lines if x.strip().startswith("Anonymous")]
        self.assertEqual(row[0][:2], ["Anonymous", "3"])
        self.assertIn("75.0%", row[0])
        plain = self.connects - 4
        self.assertIn(["plaintext", "or", "failed", "TLS", str(plain),
                       "%.1f%%" % (100.0 * plain / self.connects)],
                      [x.split() for x in lines])
        self.assertEqual(lines[-1], "0 lines skipped")

    def test_svg(self):
        path = os.path.join(self.tmp, "tls.svg")
        out = stats("--svg", path, self.log).stdout
        self.assertIn("Summary", out)  # the tables are printed as well
        self.assertEqual(bars(path), {("inbound", "anonymous"): 3,
                                      ("inbound", "trusted"): 1,
                                      ("outbound", "trusted"): 1})
        # to stdout, alone
        r = stats("--svg", "-", "--interval", "60", self.log)
        root = ET.fromstring(r.stdout)
        self.assertEqual(root.tag, SVG + "svg")
        self.assertIn("TLS connections per minute<", r.stdout)

    def test_usage_errors(self):
        r = pt.postern("stats", os.path.join(self.tmp, "missing.log"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.log: No such file or directory", r.stderr)
        r = pt.postern("stats", self.tmp)
        self.assertEqual(r.returncode, 2)
        self.assertIn("Is a directory", r.stderr)
        for bad in (["--interval", "90"], ["--interval", "x"],
                    ["--year", "12"], ["--bogus"]):
            r = pt.postern("stats", *bad, self.log)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("usage:", r.stderr)
        r = pt.postern("stats", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--svg FILE", r.stdout)
        # nothing recognised: zeros, still success
        empty = os.path.join(self.tmp, "empty.log")
        with open(empty, "w") as f:
            f.write("not a mail log\n")
        j = json.loads(stats("--json", empty).stdout)
        self.assertEqual(j["inbound"]["tls"]["total"], 0)
        self.assertIsNone(j["period"])


@unittest.skipUnless(pt.have("postfix") and os.geteuid() == 0,
                     "needs Postfix and root for a private instance")
class PostfixLog(unittest.TestCase):
    """Postfix's own maillog_file, read by postern stats."""

    def setUp(self):
        self.tmp = pfpeer.tmpdir("postern-stats-pf-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        pki = PKI(os.path.join(self.tmp, "pki"))
        crt, key = pki.issue("postfix.test", ["postfix.test", "127.0.0.1"])
        ccrt, ckey = pki.issue("client.test", client=True)
        self.pf = pfpeer.Postfix(os.path.join(self.tmp, "pf"), {
            "myhostname": "postfix.test",
            "mydestination": "",
            "smtpd_tls_cert_file": crt,
            "smtpd_tls_key_file": key,
            "smtpd_tls_security_level": "may",
            "smtpd_tls_loglevel": "1",
            "smtpd_tls_ask_ccert": "yes",
            "smtpd_tls_CAfile": pki.ca_crt,
            "default_transport": "discard",
        })
        self.pf.start()
        self.addCleanup(self.pf.stop)
        self.anon = ssl.create_default_context(cafile=pki.ca_crt)
        self.cert = ssl.create_default_context(cafile=pki.ca_crt)
        self.cert.load_cert_chain(ccrt, ckey)

    def test_postfix_inbound(self):
        send(self.pf.port, "x@example.org")
        send(self.pf.port, "x@example.org", self.anon)
        send(self.pf.port, "x@example.org", self.anon)
        send(self.pf.port, "x@example.org", self.cert)
        pt.wait_for(lambda: (self.pf.read() or "").count("status=sent") >= 4,
                    "four discarded messages")
        j = json.loads(stats("--json", self.pf.log).stdout)
        self.assertEqual(j["inbound"]["tls"],
                         {"verified": 0, "trusted": 1, "untrusted": 0,
                          "anonymous": 2, "total": 3})
        self.assertEqual(j["inbound"]["connections"], 4)
        self.assertEqual(j["inbound"]["plaintext_or_failed"], 1)
        self.assertEqual(j["messages"]["received"], 4)
        self.assertEqual(j["deliveries"]["sent"], 4)
        self.assertEqual(j["deliveries"]["local"], 4)
        self.assertEqual(j["lines"]["skipped"], 0)


if __name__ == "__main__":
    pt.main()
