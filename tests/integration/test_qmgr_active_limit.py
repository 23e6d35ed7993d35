#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""qmgr_message_active_limit: a queue four times larger than the limit,
relayed over SMTP to a second postern (a real receiver), drains
completely; the queue manager never holds more than the limit, activates
every message once, and scans ready/ again as soon as the active set falls
below its low-water mark (logged "scanning ready again" and followed by
activations), instead of waiting for the periodic scan."""
import os
import re

import pt
import qmgrfix

LIMIT = 10
N = 4 * LIMIT

QMGR = re.compile(r"postern/qmgr\[\d+\]: (.*)$")
ACTIVE = re.compile(r"^([0-9A-VZ]{13,25}): from=<[^>]*>, .*\(queue active\)$")
REMOVED = re.compile(r"^([0-9A-VZ]{13,25}): removed$")
RESUME = re.compile(r"^active queue below its limit \((\d+) of (\d+) "
                    r"messages\): scanning ready again$")


class ActiveLimit(pt.TempDirTest):

    def qmgr_lines(self):
        out = []
        for line in self.mta.logtext().splitlines():
            m = QMGR.search(line)
            if m:
                out.append(m.group(1))
        return out

    def test_queue_larger_than_the_limit_drains(self):
        recv = qmgrfix.Mta(os.path.join(self.tmp, "recv"))
        recv.start()
        self.addCleanup(recv.stop)
        self.mta = qmgrfix.Mta(
            os.path.join(self.tmp, "send"),
            qmgrfix.relay_cf(recv.port, "qmgr_message_active_limit = %d\n"
                             % LIMIT))
        # the whole queue is there before the queue manager starts
        for i in range(N):
            p = self.mta.postern("send", "-f", "load@example.org",
                                 "sink@mx.postern.test",
                                 input="Subject: batch %d\n\n"
                                       "token-%d-end\n" % (i, i))
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.mta.queued("maildrop")), N)
        self.mta.start()

        def delivered():
            return qmgrfix.token_counts(recv, "sink")

        pt.wait_for(lambda: len(delivered()) == N and
                    self.mta.queue_empty() and recv.queue_empty(),
                    "all %d messages relayed and delivered" % N)
        self.assertEqual(delivered(), {i: 1 for i in range(N)})

        lines = self.qmgr_lines()
        active, removed, resumes, peak = [], set(), [], 0
        current = set()
        for k, line in enumerate(lines):
            m = ACTIVE.match(line)
            if m:
                active.append(m.group(1))
                current.add(m.group(1))
                peak = max(peak, len(current))
                continue
            m = REMOVED.match(line)
            if m:
                removed.add(m.group(1))
                current.discard(m.group(1))
                continue
            m = RESUME.match(line)
            if m:
                resumes.append((k, int(m.group(1)), int(m.group(2))))
        # every message activated exactly once, and removed
        self.assertEqual(len(active), N, "\n".join(lines))
        self.assertEqual(len(set(active)), N, "a message activated twice")
        self.assertEqual(len(removed), N)
        # the limit holds, and was reached: the queue did not fit
        self.assertEqual(peak, LIMIT, "\n".join(lines))
        # room freed -> an immediate scan that activates messages; the
        # periodic scan (every 5 s) would log no such line
        self.assertTrue(resumes, "no resumed scan:\n" + "\n".join(lines))
        for _, nact, lim in resumes:
            self.assertEqual(lim, LIMIT)
            self.assertLess(nact, LIMIT - LIMIT // 4)
        fruitful = [k for k, _, _ in resumes
                    if k + 1 < len(lines) and ACTIVE.match(lines[k + 1])]
        self.assertTrue(fruitful, "no resumed scan activated a message:\n" +
                        "\n".join(lines))
        self.mta.check_clean(self)
        self.assertEqual(recv.stop(), 0)
        self.assertEqual(recv.problems(), [])


if __name__ == "__main__":
    pt.main()
