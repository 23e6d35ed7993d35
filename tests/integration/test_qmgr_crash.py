#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kill -9 of the queue manager during a 100-message run into a Maildir:
no accepted message may be lost.  Duplicates are allowed by design (an
outcome not yet synced is retried) and are counted and reported."""
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
        seen = {}
        for raw in self.mta.maildir("sink").values():
            for t in re.findall(rb"token-(\d+)-end", raw):
                seen[int(t)] = seen.get(int(t), 0) + 1
        return seen

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
