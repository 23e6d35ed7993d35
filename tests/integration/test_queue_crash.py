# SPDX-License-Identifier: MIT
"""Crash safety of the queue: kill -9 a committing writer at random points.

tests/tools/queue_crash commits batches of messages (group commit), updates
recipient states, compacts and moves files, printing each step only after the call
that makes it durable returned.  This test kills it with SIGKILL at random
moments, many times, and checks after every kill that

  - every ID it printed as committed is in ready/ or deferred/, intact;
  - every printed recipient update, compaction and move is visible;
  - every file in a committed directory is complete: header, checksums and
    body checked here in Python from docs/queue-format.md (independently of
    the C reader), and by the C reader through `queue_crash verify`;
  - what is left of interrupted messages is only in tmp/, which the next
    start cleans.

A SIGKILL loses no page cache, so this checks the ordering of writes,
renames and the completeness of what a reader can see, not power loss.
"""
import os
import random
import re
import signal
import subprocess
import sys
import threading
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt  # noqa: E402

TOOL = os.path.join(os.path.dirname(pt.BIN), "queue_crash")
ID_RE = re.compile(r"^[0-9A-V]{11}Z[1-9A-V][0-9A-V]{0,12}$")
HDR_LEN = 69
ITERATIONS = 25
STATES = ("ready", "deferred", "hold", "corrupt", "maildrop")


def expected_body(qid):
    """The body tests/tools/queue_crash.c derives from an ID."""
    raw = qid.encode()
    h = zlib.crc32(raw)
    size = 65536 + h % 250000 if h % 8 == 0 else h % 4000
    b = bytearray(b"Subject: " + raw + b"\r\n\r\n")
    k = 0
    while len(b) < size:
        b += raw + b" %08d " % k + b"x" * (k % 50) + b"\r\n"
        k += 1
    return bytes(b[:size])


def check_file(path, qid):
    """Check a committed file against docs/queue-format.md; returns a
    reason string when it is not complete and correct, else None."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HDR_LEN:
        return "shorter than the header"
    if data[:16] != b"POSTERN-QUEUE 1\n":
        return "bad magic"
    m = re.match(rb"([0-9a-f]{16}) ([0-9a-f]{8}) ([0-9a-f]{8}) "
                 rb"([0-9a-f]{8}) ([0-9a-f]{8})\n", data[16:HDR_LEN])
    if not m:
        return "malformed header"
    body_len, env_len, body_crc, env_crc, hdr_crc = (
        int(x, 16) for x in m.groups())
    if zlib.crc32(data[:60]) != hdr_crc:
        return "header checksum"
    if len(data) < HDR_LEN + body_len + env_len:
        return "truncated"
    body = data[HDR_LEN:HDR_LEN + body_len]
    env = data[HDR_LEN + body_len:HDR_LEN + body_len + env_len]
    if zlib.crc32(body) != body_crc:
        return "body checksum"
    if zlib.crc32(env) != env_crc:
        return "envelope checksum"
    if not env.startswith(b"id %d %s\n" % (len(qid), qid.encode())):
        return "id record does not match the file name"
    if not env.endswith(b"\nend 0 \n"):
        return "no end record"
    if body != expected_body(qid):
        return "body differs from what the writer wrote"
    return None


class QueueCrashTest(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        if not os.path.exists(TOOL):
            self.skipTest("test tool %s not built" % TOOL)
        self.q = os.path.join(self.tmp, "queue")
        pt.run([TOOL, "init", self.q], check=True)

    def run_and_kill(self, seed, target):
        """Start the writer, let it print at least target lines, SIGKILL
        it; returns the complete lines it printed."""
        p = subprocess.Popen([TOOL, "write", self.q, str(seed)],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        lines = []

        def reader():
            for raw in p.stdout:
                if raw.endswith(b"\n"):  # a torn last line does not count
                    lines.append(raw.decode().rstrip("\n"))

        t = threading.Thread(target=reader)
        t.start()
        if target > 0:
            pt.wait_for(lambda: len(lines) >= target or p.poll() is not None,
                        "queue_crash to print %d lines" % target)
        p.send_signal(signal.SIGKILL)
        p.wait()
        t.join()
        err = p.stderr.read().decode()
        p.stderr.close()
        self.assertEqual(p.returncode, -signal.SIGKILL,
                         "writer ended on its own: " + err)
        return lines

    def c_verify(self):
        """The C reader's view: id -> (state, rcpt0 state, attempts)."""
        r = pt.run([TOOL, "verify", self.q])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        seen = {}
        for line in r.stdout.splitlines():
            ok, state, qid, r0, r1, attempts = line.split()
            self.assertEqual(ok, "ok")
            seen[qid] = (state, r0, r1, int(attempts))
        return seen

    def test_kill9_never_loses_a_commit(self):
        rng = random.Random(0x9e3779b9)
        committed, updated, moved, compacted = set(), set(), set(), set()
        checked = set()
        for it in range(ITERATIONS):
            # Some kills before anything is printed (during start-up and
            # the first batch), most after a random number of steps.
            target = 0 if it % 6 == 0 else rng.randint(1, 40)
            for line in self.run_and_kill(rng.randrange(1, 2**31), target):
                kind, qid = line.split()
                self.assertRegex(qid, ID_RE)
                {"C": committed, "U": updated, "M": moved,
                 "K": compacted}[kind].add(qid)

            seen = self.c_verify()
            for qid in committed:
                self.assertTrue(qid in seen, "committed %s lost" % qid)
                self.assertIn(seen[qid][0], ("ready", "deferred"))
            for qid in moved:
                self.assertEqual(seen[qid][0], "deferred",
                                 "move of %s lost" % qid)
            for qid in updated:
                self.assertEqual((seen[qid][1], seen[qid][3]),
                                 ("delivered", 1), "update of %s lost" % qid)
            for qid in compacted:
                self.assertEqual(seen[qid][2], "deferred",
                                 "compaction of %s lost its state" % qid)
            # Every name in a committed directory is a complete file.
            for state in STATES:
                d = os.path.join(self.q, state)
                for name in os.listdir(d):
                    self.assertRegex(name, ID_RE, "stray file %s/%s" %
                                     (state, name))
                    self.assertTrue(name in seen, "%s not read" % name)
                    if (state, name) in checked:
                        continue
                    why = check_file(os.path.join(d, name), name)
                    self.assertIsNone(why, "%s/%s: %s" % (state, name, why))
                    checked.add((state, name))

        self.assertGreater(len(committed), ITERATIONS)
        self.assertGreater(len(updated), 0)
        self.assertGreater(len(moved), 0)
        self.assertGreater(len(compacted), 0)
        # Files committed but killed before their line was printed are
        # allowed (complete, just not acknowledged); nothing else is.
        self.assertLessEqual(len(committed), len(self.c_verify()))

        # The interrupted transfers are only in tmp/, and a start cleans it.
        r = pt.run([TOOL, "clean", self.q], check=True)
        self.assertRegex(r.stdout, r"^cleaned \d+\n$")
        self.assertEqual(os.listdir(os.path.join(self.q, "tmp")), [])
        self.assertEqual(len(self.c_verify()), len(seen))


if __name__ == "__main__":
    pt.main()
