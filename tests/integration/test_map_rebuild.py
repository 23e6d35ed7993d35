#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A running reader never sees a half-built table.

`postern map` rebuilds a 100,000-entry lmdb: table whose values change from
one version to the next, while `postern map -q` processes query it in a
loop.  Every answer must be the value of the version before the rebuild or
of the one being built: never missing, never an error.  After a rebuild
has finished, a new query must see the new version, and no temporary or
lock file may be left behind.
"""
import os
import random
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt  # noqa: E402

ENTRIES = 100000
# Rebuilds; fewer under ASan, where each process is slower.
VERSIONS = 3 if pt.SANITIZE else 5


def key(i):
    return "host%06d.example.org" % i


class MapRebuildTest(pt.TempDirTest):
    def write_source(self, path, version):
        tmp = path + ".new"
        with open(tmp, "w") as f:
            for i in range(ENTRIES):
                f.write("%s  v%d-%d encrypt\n" % (key(i), version, i))
        os.replace(tmp, path)

    def query(self, path, i):
        p = pt.postern("map", "-q", key(i), "lmdb:" + path)
        self.assertEqual(p.returncode, 0,
                         "query %s: rc %d: %s" % (key(i), p.returncode,
                                                  p.stderr))
        words = p.stdout.split()
        self.assertEqual(len(words), 2, p.stdout)
        self.assertEqual(words[1], "encrypt")
        version, n = words[0][1:].split("-")
        self.assertEqual(int(n), i)
        return int(version)

    def reap(self, proc):
        if proc.poll() is None:
            proc.kill()
        proc.communicate()

    def test_readers_see_old_or_new(self):
        src = os.path.join(self.tmp, "policy")
        self.write_source(src, 0)
        pt.postern("map", "lmdb:" + src, check=True)
        rng = random.Random(7)
        during = 0
        for version in range(1, VERSIONS + 1):
            self.write_source(src, version)
            writer = subprocess.Popen([pt.BIN, "map", "lmdb:" + src],
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
            self.addCleanup(self.reap, writer)
            # Query for as long as the rebuild runs.
            while writer.poll() is None:
                got = self.query(src, rng.randrange(ENTRIES))
                self.assertIn(got, (version - 1, version))
                during += 1
            out, err = writer.communicate()
            self.assertEqual(writer.returncode, 0, err)
            # The rename is done: a new reader sees the new version.
            for _ in range(3):
                self.assertEqual(self.query(src, rng.randrange(ENTRIES)),
                                 version)
        self.assertGreater(during, 0)
        left = sorted(os.listdir(self.tmp))
        self.assertEqual(left, ["policy", "policy.lmdb"])


if __name__ == "__main__":
    pt.main()
