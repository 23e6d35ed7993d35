#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The SMTP client's writes, read from an strace of the smtp_send tool
delivering three messages over one connection to a server that offers
PIPELINING (RFC 2920):

- on the reused connection, RSET goes out in the same write as MAIL,
  RCPT and DATA (RSET may stand anywhere in a pipelined group), not
  alone before them;
- the final "." goes out in the same write as the end of the body.

And the same client against a server without PIPELINING still sends
RSET alone and waits for its reply; a server that refuses the pipelined
RSET (and would accept what follows) gets no message on that connection:
the client starts afresh on a new one.  The test needs strace."""
import os
import socket
import threading

import fakesmtp
import pt
import smtpsend
import stracefix

class RsetRefuser:
    """Plaintext SMTP with PIPELINING that answers every RSET 451 and
    accepts everything else; records (connection, mail) per message."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.messages = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                n = self.connections
            threading.Thread(target=self._session, args=(c, n),
                             daemon=True).start()

    def _session(self, c, n):
        f = c.makefile("rb")

        def reply(text):
            c.sendall(text.encode() + b"\r\n")
        try:
            reply("220 refuser ESMTP")
            while True:
                line = f.readline()
                if not line:
                    return
                up = line.decode(errors="replace").strip().upper()
                if up.startswith("EHLO"):
                    reply("250-refuser\r\n250 PIPELINING")
                elif up == "RSET":
                    reply("451 4.3.0 no RSET today")
                elif up == "DATA":
                    reply("354 go on")
                    ln = f.readline()
                    while ln not in (b".\r\n", b""):
                        ln = f.readline()
                    if not ln:
                        return  # no end of data: no message
                    with self.lock:
                        self.messages.append(n)
                    reply("250 2.0.0 ok")
                elif up == "QUIT":
                    reply("221 bye")
                    return
                else:
                    reply("250 ok")
        except OSError:
            pass
        finally:
            c.close()


class Pipeline(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        if not stracefix.available():
            self.skipTest("strace is not installed")

    def run_traced(self, srv, n):
        conf = smtpsend.write_main_cf(os.path.join(self.tmp, "c"),
                                      smtp_tls_security_level="none")
        msg = os.path.join(self.tmp, "msg")
        with open(msg, "w") as f:
            f.write("Subject: pipelined\n\n" + "body line\n" * 50 +
                    "the last line\n")
        trace = os.path.join(self.tmp, "trace")
        args = stracefix.wrap(trace, "sendto,write", per_process=False,
                              strsize=1000000) + [
            smtpsend.TOOL, "-c", conf, "-q", os.path.join(conf, "queue"),
            "-m", msg, "-n", str(n), "[127.0.0.1]:%d" % srv.port, "a@x.test"]
        p = pt.run(args)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout.count("status=sent"), n, p.stdout)
        self.assertEqual(len(srv.messages), n)
        self.assertEqual(srv.connections, 1)
        for m in srv.messages:
            self.assertTrue(m["data"].endswith(b"the last line\r\n"))
        return stracefix.writes(trace)

    def test_rset_pipelined_and_dot_with_the_body(self):
        srv = fakesmtp.FakeSMTP(pipelining=True)
        self.addCleanup(srv.close)
        w = self.run_traced(srv, 3)
        rsets = [x for x in w if "RSET\r\n" in x]
        self.assertEqual(len(rsets), 2, w)
        for x in rsets:
            self.assertTrue(x.startswith("RSET\r\nMAIL FROM:<"), x)
            self.assertIn("\r\nRCPT TO:<a@x.test>", x)
            self.assertTrue(x.endswith("\r\nDATA\r\n"), x)
        ends = [x for x in w if x.endswith("\r\n.\r\n")]
        self.assertEqual(len(ends), 3, w)
        for x in ends:
            self.assertIn("the last line\r\n.\r\n", x)
        self.assertEqual(srv.commands.count("RSET"), 2)

    def test_without_pipelining_rset_alone(self):
        srv = fakesmtp.FakeSMTP(pipelining=False)
        self.addCleanup(srv.close)
        w = self.run_traced(srv, 2)
        self.assertIn("RSET\r\n", w)
        self.assertFalse(any(x.startswith("MAIL") and "RCPT" in x
                             for x in w), w)

    def test_refused_rset_starts_afresh(self):
        srv = RsetRefuser()
        self.addCleanup(srv.close)
        conf = smtpsend.write_main_cf(os.path.join(self.tmp, "c"),
                                      smtp_tls_security_level="none")
        res, log = smtpsend.send(conf, "[127.0.0.1]:%d" % srv.port,
                                 ("a@x.test",), ["-n", "3"])
        self.assertEqual([r["status"] for r in res["a@x.test"]],
                         ["sent"] * 3, log)
        # the first message on connection 1; each later one on a new
        # connection, after its pipelined RSET was refused on the old one
        self.assertEqual(srv.messages, [1, 2, 3])


if __name__ == "__main__":
    pt.main()
