#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kill -9 of the queue manager during a 100-message run into a Maildir,
and during a 500-message run relayed over SMTP to a second postern (a
real receiver: its smtpd, queue and qmgr): no accepted message may be
lost.  Duplicates are allowed by design (an outcome not yet synced is
retried) and are counted and reported.  The SMTP client runs inside the
queue manager, so killing it kills the delivery sessions in flight."""
import os
import re
import signal
import smtplib

import pt
import qmgrfix

N = 100
KILLS = 3


class QmgrCrash(pt.TempDirTest):

    def qmgr_pid(self):
        pids = re.findall(r"postern/qmgr\[(\d+)\]: queue manager started",
                          self.mta.logtext())
        return int(pids[-1]) if pids else None

    def tokens(self):
        return qmgrfix.token_counts(self.mta, "sink")

    def test_kill_qmgr_during_run(self):
        self.mta = qmgrfix.Mta(os.path.join(self.tmp, "mta"))
        self.mta.start()
        killed = []
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=60) as s:
            for i in range(N):
                s.sendmail("load@example.org", ["sink@mx.postern.test"],
                           b"Subject: load %d\r\n\r\ntoken-%d-end\r\n" %
                           (i, i))
                if i in (N // 4, N // 2, 3 * N // 4) and len(killed) < KILLS:
                    pid = pt.wait_for(self.qmgr_pid, "a queue manager")
                    if pid not in killed:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        pt.wait_for(lambda: self.qmgr_pid() != pid,
                                    "the restarted queue manager")
        pt.wait_for(lambda: len(self.tokens()) == N and
                    self.mta.queue_empty(), "all %d messages" % N,
                    bound=300)
        seen = self.tokens()
        dups = {t: n for t, n in seen.items() if n > 1}
        print("\nqmgr killed %d times (pids %s); %d messages delivered, "
              "%d duplicates%s" % (len(killed), killed, len(seen),
                                   sum(n - 1 for n in dups.values()),
                                   (": tokens %s" % sorted(dups))
                                   if dups else ""))
        self.assertEqual(sorted(seen), list(range(N)))
        self.assertEqual(len(killed), KILLS)
        for pid in killed:
            self.assertIn("process qmgr pid %d killed by signal 9" % pid,
                          self.mta.logtext())
        rc = self.mta.stop()
        self.assertEqual(rc, 0)
        other = [p for p in self.mta.problems()
                 if "qmgr pid" not in p or "signal 9" not in p]
        self.assertEqual(other, [])

    def test_kill_qmgr_while_relaying_to_a_real_receiver(self):
        n = 150 if pt.SANITIZE else 500
        recv = qmgrfix.Mta(os.path.join(self.tmp, "recv"))
        recv.start()
        self.addCleanup(recv.stop)
        self.mta = qmgrfix.Mta(
            os.path.join(self.tmp, "send"),
            qmgrfix.relay_cf(recv.port))
        self.mta.start()
        killed = []
        marks = {n * k // 5 for k in range(1, 5)}
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=60) as s:
            for i in range(n):
                s.sendmail("load@example.org", ["sink@mx.postern.test"],
                           b"Subject: relay %d\r\n\r\ntoken-%d-end\r\n" %
                           (i, i))
                if i in marks:
                    pid = pt.wait_for(self.qmgr_pid, "a queue manager")
                    if pid not in killed:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        pt.wait_for(lambda: self.qmgr_pid() != pid,
                                    "the restarted queue manager")

        def delivered():
            return qmgrfix.token_counts(recv, "sink")

        pt.wait_for(lambda: len(delivered()) == n and
                    self.mta.queue_empty() and recv.queue_empty(),
                    "all %d messages relayed and delivered" % n, bound=600)
        seen = delivered()
        dups = sum(c - 1 for c in seen.values())
        print("\nrelay qmgr killed %d times; %d messages delivered by the "
              "receiver, %d duplicates" % (len(killed), len(seen), dups))
        self.assertEqual(sorted(seen), list(range(n)))
        self.assertGreaterEqual(len(killed), 3)
        # at most the messages in flight at each kill may come twice
        self.assertLessEqual(dups, len(killed) * 50)
        self.assertEqual(self.mta.stop(), 0)
        other = [p for p in self.mta.problems()
                 if "qmgr pid" not in p or "signal 9" not in p]
        self.assertEqual(other, [])
        self.assertEqual(recv.stop(), 0)
        self.assertEqual(recv.problems(), [])

    def test_reload_restarts_qmgr(self):
        self.mta = qmgrfix.Mta(os.path.join(self.tmp, "mta"))
        self.mta.start()
        old = self.qmgr_pid()
        # the new configuration routes bob's mail elsewhere: the new
        # queue manager must be the one that delivers
        with open(os.path.join(self.mta.d, "main.cf"), "a") as f:
            f.write("transport_maps = inline:{ bob@mx.postern.test="
                    "local:, { carol@mx.postern.test = "
                    "error:5.7.1 carol left after the reload } }\n")
        self.mta.proc.send_signal(signal.SIGHUP)
        pt.wait_for(lambda: self.qmgr_pid() not in (None, old),
                    "a new queue manager")
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=60) as s:
            s.sendmail("load@example.org", ["carol@mx.postern.test"],
                       b"Subject: after reload\r\n\r\nx\r\n")
        self.mta.wait_log("carol left after the reload")
        self.assertEqual(self.mta.logtext().count("queue manager started"),
                         2)
        self.mta.check_clean(self)


if __name__ == "__main__":
    pt.main()
