#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""delay_warning_time: one "delayed" notice per message, as Postfix sends.

The peer keeps answering 451, so the message stays deferred and is tried
again and again.  Once it has waited delay_warning_time (1 s here), the
sender gets one RFC 3464 report with Action: delayed for the recipients
whose NOTIFY asks for it or was not given, as in Postfix (NOTIFY=FAILURE
gets none), with the message's headers only, and never a second
one: the queue file records that it went out, and every attempt opens
the file again, as does a restarted queue manager.
"""
import smtplib

import pt
import qmgrfix


class DelayNotice(qmgrfix.PeerMtaTest):

    EXTRA_CF = "delay_warning_time = 1s\n"

    def answer(self, rcpt):
        return "451 4.3.0 <%s>: come back later" % rcpt

    def deferrals(self, qid):
        return [ln for ln in self.mta.logtext().splitlines()
                if "%s: to=<slow@peer.test>" % qid in ln and
                "status=deferred" in ln]

    def notices(self, qid):
        return [raw for raw in self.mta.maildir("alice").values()
                if ("X-Postfix-Queue-ID: %s" % qid).encode() in raw]

    def test_one_delay_notice(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=60) as s:
            s.ehlo("client.test")
            s.mail("alice@mx.postern.test")
            s.rcpt("slow@peer.test")
            s.rcpt("quiet@peer.test", ["NOTIFY=FAILURE"])
            code, msg = s.data(b"Subject: patience\r\nX-Mark: kept\r\n\r\n"
                               b"the body stays home\r\n")
            self.assertEqual(code, 250, msg)
            qid = msg.decode().split()[-1]
        self.mta.wait_log("%s: sender delay notification" % qid)
        self.assertRegex(self.mta.logtext(),
                         r"postern/bounce\[\d+\]: %s: sender delay "
                         r"notification: [0-9A-VZ]+" % qid)
        self.mta.wait_mail("alice")
        # two more attempts after the notice, then a restart and another
        n = len(self.deferrals(qid))
        pt.wait_for(lambda: len(self.deferrals(qid)) >= n + 2,
                    "two more attempts of %s" % qid)
        self.assertEqual(self.mta.stop(), 0)
        self.mta.start()
        n = len(self.deferrals(qid))
        pt.wait_for(lambda: len(self.deferrals(qid)) >= n + 1,
                    "an attempt after the restart")
        self.assertEqual(len(self.notices(qid)), 1)
        self.assertEqual(self.mta.logtext().count(
            "%s: sender delay notification" % qid), 1)
        self.assertNotIn("%s: removed" % qid, self.mta.logtext())

        dsn = qmgrfix.parse(self.notices(qid)[0])
        self.assertEqual(dsn["Subject"], "Delayed Mail (still being retried)")
        self.assertEqual(dsn["To"], "<alice@mx.postern.test>")
        parts, groups = qmgrfix.dsn_fields(dsn)
        self.assertEqual(len(groups), 2)  # message fields + one recipient
        rcpt = groups[1]
        self.assertEqual(rcpt["final-recipient"], "rfc822; slow@peer.test")
        self.assertEqual(rcpt["action"], "delayed")
        self.assertEqual(rcpt["status"], "4.3.0")
        self.assertIn("will-retry-until", rcpt)
        self.assertIn("come back later", rcpt["diagnostic-code"])
        self.assertIn("could not be delivered yet", parts[0].get_payload())
        self.assertEqual(parts[2].get_content_type(), "text/rfc822-headers")
        raw = dsn.as_bytes()
        self.assertIn(b"X-Mark: kept", raw)
        self.assertNotIn(b"the body stays home", raw)


if __name__ == "__main__":
    pt.main()
