#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The queue manager's lines carry the names of Postfix's programs.

postern runs its SMTP client, local delivery, the error transport and the
bounce notices inside one queue manager process; Postfix runs smtp(8),
local(8), error(8) and bounce(8).  Log readers key on those names
(mailgraph counts "sent" from smtp lines, pflogsumm files deferrals and
connection failures under the program that logged them), so each line
is logged as the program Postfix would use, with the queue manager's pid:

  postern/smtp[PID]:    ... TLS connection established to ..., to=<...>
                        relay=host[addr]:port ..., connect to ... refused
  postern/local[PID]:   to=<...>, relay=local ...
  postern/error[PID]:   to=<...>, relay=none ... status=bounced
  postern/bounce[PID]:  ID: sender non-delivery notification: ID
  postern/qmgr[PID]:    from=<...> (queue active), removed

Two postern instances: "relay" sends over TLS (encrypt, the test CA) to
"mx", which delivers to a Maildir.  The relay has syslog_name = postfix,
as an administrator sets it for tools that look for postfix/ lines.  Then
pflogsumm, the real one, with its defaults, reads the relay's log and
files the deferral under smtp.
"""
import os
import re
import smtplib

import pki
import pt
import qmgrfix

ID = r"[0-9A-VZ]{13,25}"


class LogPrograms(pt.TempDirTest):

    def submit(self, port, sender, rcpt, body):
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.ehlo("client.test")
            s.mail(sender)
            s.rcpt(rcpt)
            code, msg = s.data(body)
            self.assertEqual(code, 250, msg)
            return msg.decode().split()[-1]

    def test_lines_name_the_postfix_program(self):
        ca = pki.PKI(os.path.join(self.tmp, "pki"))
        crt, key = ca.issue("mx.postern.test", ["mx.postern.test"])
        mx = qmgrfix.Mta(os.path.join(self.tmp, "mx"), (
            "smtpd_tls_security_level = may\n"
            "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
            % (crt, key)))
        mx.start()
        self.addCleanup(mx.stop)
        closed = pt.free_port()
        relay = qmgrfix.Mta(os.path.join(self.tmp, "relay"), (
            "myhostname = relay.postern.test\n"
            "mydestination = relay.postern.test\n"
            "transport_maps = inline:{ "
            "{ mx.postern.test = smtp:[127.0.0.1]:%d }, "
            "{ closed.test = smtp:[127.0.0.1]:%d }, "
            "{ dead.test = error:5.1.2 this domain is gone } }\n"
            "smtp_tls_security_level = encrypt\n"
            "smtp_tls_CAfile = %s\n"
            "smtp_tls_loglevel = 1\n"
            "syslog_name = postfix\n" % (mx.port, closed, ca.ca_crt)))
        relay.start()
        self.addCleanup(relay.stop)

        q1 = self.submit(relay.port, "alice@relay.postern.test",
                         "bob@mx.postern.test",
                         b"Subject: 1\r\n\r\nover tls\r\n")
        q2 = self.submit(relay.port, "alice@relay.postern.test",
                         "who@dead.test", b"Subject: 2\r\n\r\ndoomed\r\n")
        q3 = self.submit(relay.port, "alice@relay.postern.test",
                         "x@closed.test", b"Subject: 3\r\n\r\nlater\r\n")
        relay.wait_log("%s: removed" % q1)
        relay.wait_log("%s: removed" % q2)
        relay.wait_log("%s: to=<x@closed.test>" % q3)
        mx.wait_mail("bob")
        relay.wait_mail("alice")  # the bounce

        log = relay.logtext()
        pid = re.search(r"postfix/qmgr\[(\d+)\]: queue manager started",
                        log).group(1)
        self.assertNotIn("postern/", log)

        def line(program, rest):
            pat = r"^.* postfix/%s\[%s\]: %s" % (program, pid, rest)
            self.assertRegex(log, re.compile(pat, re.M))

        line("smtp", r"Trusted TLS connection established to "
             r"127\.0\.0\.1\[127\.0\.0\.1\]:%d: TLSv1\.3" % mx.port)
        line("smtp", r"%s: to=<bob@mx\.postern\.test>, "
             r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*status=sent"
             % (q1, mx.port))
        line("smtp", r"%s: to=<x@closed\.test>, relay=none, .*"
             r"status=deferred \(connect to .*Connection refused\)" % q3)
        line("error", r"%s: to=<who@dead\.test>, relay=none, .*dsn=5\.1\.2, "
             r"status=bounced \(5\.1\.2 this domain is gone\)" % q2)
        m = re.search(r"postfix/bounce\[%s\]: %s: sender non-delivery "
                      r"notification: (%s)$" % (pid, q2, ID), log, re.M)
        self.assertIsNotNone(m, log)
        line("local", r"%s: to=<alice@relay\.postern\.test>, relay=local, "
             r".*status=sent \(delivered to maildir\)" % m.group(1))
        line("qmgr", r"%s: from=<alice@relay\.postern\.test>, size=\d+, "
             r"nrcpt=1 \(queue active\)" % q1)
        line("qmgr", r"%s: removed" % q1)
        # no delivery line is left under the queue manager's own name
        self.assertNotRegex(log, re.compile(r"postfix/qmgr\[\d+\]: .*(status="
                                            r"|TLS connection established)",
                                            re.M))
        mxlog = mx.logtext()
        mxpid = re.search(r"postern/qmgr\[(\d+)\]: queue manager started",
                          mxlog).group(1)
        self.assertRegex(mxlog, re.compile(
            r"postern/local\[%s\]: %s: to=<bob@mx\.postern\.test>, "
            r"relay=local, .*status=sent" % (mxpid, ID), re.M))

        # pflogsumm, as an administrator runs it on this log
        if not pt.have("pflogsumm"):
            self.skipTest("pflogsumm not installed")
        r = pt.run(["pflogsumm", relay.log])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertRegex(out, r"\n\s*2\s+delivered\n", out)
        self.assertRegex(out, r"\n\s*1\s+bounced\n", out)
        detail = out.split("message deferral detail", 1)[1]
        self.assertRegex(detail, r"\n\s*smtp \(total: \d+\)", out)
        self.assertNotIn("qmgr (total:", detail)


if __name__ == "__main__":
    pt.main()
