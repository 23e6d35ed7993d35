#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""MX routing of postern's SMTP client through src/dns: a tiny
authoritative DNS server (stdlib, UDP on loopback) serves the zone "mxt."
to a resolver stubbed to it; fake SMTP servers listen on 127.0.0.x.
Checked: MX hosts sorted by preference whatever the answer order, the
next MX tried when one refuses, the A fallback when a domain has no MX
(RFC 5321 5.1), NXDOMAIN bounced, null MX bounced."""
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakesmtp  # noqa: E402
import pt  # noqa: E402
import smtpsend  # noqa: E402

T_A, T_MX, T_SOA = 1, 15, 6


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


class TinyDNS:
    """Answers A and MX from self.records {(name, type): [rdata...]}."""

    def __init__(self, zone, records):
        self.zone = zone
        self.records = records
        self.names = {n for (n, _t) in records}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        threading.Thread(target=self.serve, daemon=True).start()

    def close(self):
        self.sock.close()

    def serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                self.sock.sendto(self.answer(data), peer)
            except (OSError, IndexError, struct.error):
                pass

    def answer(self, q):
        qid, flags = struct.unpack("!HH", q[:4])
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode().lower())
            i += 1 + q[i]
        i += 1
        qtype, qclass = struct.unpack("!HH", q[i:i + 4])
        question = q[12:i + 4]
        name = ".".join(labels)
        self.queries.append((name, qtype))
        answers = self.records.get((name, qtype), [])
        rcode = 0
        if not name.endswith(self.zone) or (name not in self.names):
            rcode = 3
        rrs = b""
        for rd in answers:
            if qtype == T_MX:
                pref, host = rd
                rdata = struct.pack("!H", pref) + encode_name(host)
            else:
                rdata = socket.inet_aton(rd)
            rrs += b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 60,
                                             len(rdata)) + rdata
        auth = b""
        if not answers:
            soa = (encode_name("ns." + self.zone) +
                   encode_name("hostmaster." + self.zone) +
                   struct.pack("!IIIII", 1, 3600, 600, 86400, 60))
            auth = encode_name(self.zone) + struct.pack(
                "!HHIH", T_SOA, 1, 60, len(soa)) + soa
        hdr = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode,
                          1, len(answers), 1 if auth else 0, 0)
        return hdr + question + rrs + auth


class SmtpMx(pt.TempDirTest):
    def setUp(self):
        super().setUp()
        self.port = pt.free_port("127.0.0.3")
        self.good = fakesmtp.FakeSMTP(host="127.0.0.3", starttls=False,
                                      port=self.port)
        self.addCleanup(self.good.close)
        self.dns = TinyDNS("mxt", {
            # answer order deliberately not preference order
            ("a.mxt", T_MX): [(20, "mx2.a.mxt"), (10, "mx1.a.mxt")],
            ("mx1.a.mxt", T_A): ["127.0.0.2"],
            ("mx2.a.mxt", T_A): ["127.0.0.3"],
            ("b.mxt", T_A): ["127.0.0.3"],
            ("null.mxt", T_MX): [(0, "")],
        })
        self.addCleanup(self.dns.close)
        self.conf = smtpsend.write_main_cf(
            os.path.join(self.tmp, "c"), smtp_tls_security_level="may")

    def send(self, nexthop, rcpt):
        return smtpsend.send(self.conf, nexthop, [rcpt],
                             ["-D", "mxt@127.0.0.1@%d" % self.dns.port])

    def test_mx_preference_and_fallback_to_next(self):
        res, log = self.send("a.mxt:%d" % self.port, "u@a.mxt")
        r = res["u@a.mxt"][0]
        self.assertEqual(r["status"], "sent", log)
        self.assertIn("connect to mx1.a.mxt[127.0.0.2]:%d: Connection "
                      "refused" % self.port, log)
        self.assertIn("relay=mx2.a.mxt[127.0.0.3]:%d" % self.port, log)
        self.assertLess(log.index("mx1.a.mxt[127.0.0.2]"),
                        log.index("mx2.a.mxt[127.0.0.3]"))
        self.assertEqual(len(self.good.messages), 1)

    def test_no_mx_uses_address(self):
        res, log = self.send("b.mxt:%d" % self.port, "u@b.mxt")
        self.assertEqual(res["u@b.mxt"][0]["status"], "sent", log)
        self.assertIn("relay=b.mxt[127.0.0.3]:%d" % self.port, log)

    def test_nxdomain_bounces(self):
        res, log = self.send("nx.mxt:%d" % self.port, "u@nx.mxt")
        r = res["u@nx.mxt"][0]
        self.assertEqual(r["status"], "bounced", log)
        self.assertIn("Host or domain name not found. Name service error "
                      "for name=nx.mxt type=MX: Host not found", r["text"])

    def test_null_mx_bounces(self):
        res, log = self.send("null.mxt:%d" % self.port, "u@null.mxt")
        r = res["u@null.mxt"][0]
        self.assertEqual(r["status"], "bounced", log)
        self.assertIn("nullMX", r["text"])

    def test_bracketed_nexthop_skips_mx(self):
        res, log = self.send("[b.mxt]:%d" % self.port, "u@a.mxt")
        self.assertEqual(res["u@a.mxt"][0]["status"], "sent", log)
        self.assertNotIn(("b.mxt", T_MX), self.dns.queries)


if __name__ == "__main__":
    pt.main()
