#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smtpd settings Postfix administrators set, over a raw socket:

- smtpd_junk_command_limit: past it, each NOOP counts as an error, so
  with smtpd_hard_error_limit = 2 a NOOP loop ends in "421 4.7.0 ...
  Error: too many errors"; with the default (100) ten NOOPs are fine;
- smtpd_recipient_overshoot_limit: past smtpd_recipient_limit the 452
  replies count as errors once the overshoot is used up;
- smtpd_forbid_bare_newline_reject_code: the code of the refusal of a
  bare <LF> in DATA; a code that is not 4XX or 5XX refuses the start;
- strict_rfc821_envelopes: MAIL FROM and RCPT TO without <> are refused;
- smtpd_client_port_logging: clients logged as name[addr]:port;
- smtpd_reject_footer: appended to 4XX and 5XX replies, with the
  reply's codes on each line and the session's $client_address,
  $client_port and $server_name.

Before, these were unknown parameters: the engine used its built-in
values whatever main.cf said."""
import os
import socket

import pt
import srv


class Limits(pt.TempDirTest):

    def server(self, opts, main_cf=""):
        port = pt.free_port()
        s = srv.Server(os.path.join(self.tmp, "s%d" % port),
                       "mynetworks = 127.0.0.0/8\n" + main_cf,
                       [("smtp", port, opts)], workers=1)
        s.start()
        self.addCleanup(s.stop)
        self.servers = getattr(self, "servers", {})
        self.servers[port] = s
        return port

    def session(self, port):
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.addCleanup(sock.close)
        f = sock.makefile("rb")
        self.assertTrue(srv.read_reply(f)[0].startswith(b"220"))
        return sock, f

    def replies(self, port, commands):
        """The first line of each reply, up to the connection's end."""
        sock, f = self.session(port)
        out = []
        for c in commands:
            try:
                sock.sendall(c)
            except (BrokenPipeError, ConnectionResetError):
                break
            r = srv.read_reply(f)
            if not r:
                break
            out.append(r[0].decode().rstrip())
        return out

    def test_junk_command_limit(self):
        port = self.server(["smtpd_junk_command_limit=2",
                            "smtpd_hard_error_limit=2"])
        got = self.replies(port, [b"NOOP\r\n"] * 10)
        self.assertLess(len(got), 10, got)
        self.assertEqual(got[-1], "421 4.7.0 mx.postern.test Error: too many "
                                  "errors")
        default = self.server([])
        got = self.replies(default, [b"NOOP\r\n"] * 10)
        self.assertEqual(got, ["250 2.0.0 Ok"] * 10)

    def test_recipient_overshoot_limit(self):
        port = self.server(["smtpd_recipient_limit=1",
                            "smtpd_recipient_overshoot_limit=1",
                            "smtpd_hard_error_limit=1"])
        got = self.replies(port, [b"EHLO c.test\r\n",
                                  b"MAIL FROM:<a@c.test>\r\n"] +
                           [b"RCPT TO:<b@mx.postern.test>\r\n"] * 5)
        self.assertEqual(got[2], "250 2.1.5 Ok")
        self.assertEqual(got[3], "452 4.5.3 Error: too many recipients")
        self.assertEqual(got[-1], "421 4.7.0 mx.postern.test Error: too many "
                                  "errors")
        self.assertLess(len(got), 7, got)

    def test_bare_newline_reject_code(self):
        # loopback is in mynetworks, the default exclusions
        port = self.server(["smtpd_forbid_bare_newline_reject_code=554",
                            "smtpd_forbid_bare_newline_exclusions="])
        got = self.replies(port, [b"EHLO c.test\r\n",
                                  b"MAIL FROM:<a@c.test>\r\n",
                                  b"RCPT TO:<b@mx.postern.test>\r\n",
                                  b"DATA\r\n",
                                  b"Subject: x\r\n\r\nbare\nLF\r\n.\r\n"])
        self.assertEqual(got[-1], "554 5.5.2 mx.postern.test Error: bare "
                                  "<LF> received")

    def test_strict_rfc821_envelopes(self):
        port = self.server(["strict_rfc821_envelopes=yes"])
        got = self.replies(port, [b"EHLO c.test\r\n",
                                  b"MAIL FROM:a@c.test\r\n",
                                  b"MAIL FROM:<a@c.test>\r\n",
                                  b"RCPT TO:b@mx.postern.test\r\n",
                                  b"RCPT TO:<b@mx.postern.test>\r\n"])
        self.assertEqual(got[1:], ["501 5.1.7 Bad sender address syntax",
                                   "250 2.1.0 Ok",
                                   "501 5.1.3 Bad recipient address syntax",
                                   "250 2.1.5 Ok"])
        default = self.server([])
        got = self.replies(default, [b"EHLO c.test\r\n",
                                     b"MAIL FROM:a@c.test\r\n",
                                     b"RCPT TO:b@mx.postern.test\r\n"])
        self.assertEqual(got[1:], ["250 2.1.0 Ok", "250 2.1.5 Ok"])

    def test_client_port_logging(self):
        port = self.server(["smtpd_client_port_logging=yes"])
        sock, f = self.session(port)
        client_port = sock.getsockname()[1]
        sock.sendall(b"QUIT\r\n")
        srv.read_reply(f)
        sock.close()
        server = self.servers[port]
        server.wait_log("disconnect from localhost[127.0.0.1]:%d quit=1" %
                        client_port)
        self.assertIn(": connect from localhost[127.0.0.1]:%d\n" % client_port,
                      server.logtext())

    def all_replies(self, port, commands):
        """Every line of each reply."""
        sock, f = self.session(port)
        out = []
        for c in commands:
            sock.sendall(c)
            out.append([ln.decode().rstrip() for ln in srv.read_reply(f)])
        return sock, out

    def test_reject_footer(self):
        port = self.server([], r"smtpd_reject_footer = Call 555.\nClient "
                           r"$client_address:${client_port} at $server_name, "
                           "$myhostname\n")
        sock, got = self.all_replies(port, [b"RCPT TO:<a@b.test>\r\n",
                                            b"NOOP\r\n"])
        cport = sock.getsockname()[1]
        self.assertEqual(got[0], [
            "503-5.5.1 Error: need MAIL command",
            "503-5.5.1 Call 555.",
            "503 5.5.1 Client 127.0.0.1:%d at mx.postern.test, $myhostname"
            % cport])
        self.assertEqual(got[1], ["250 2.0.0 Ok"])  # 2XX: no footer
        # \c: the first footer line stays on the reply's line
        port = self.server([], "smtpd_reject_footer = \\cCall 555.\n")
        _, got = self.all_replies(port, [b"RCPT TO:<a@b.test>\r\n"])
        self.assertEqual(got[0], ["503 5.5.1 Error: need MAIL command "
                                  "Call 555."])
        # the log keeps the reply without the footer
        log = self.servers[port].logtext()
        self.assertNotIn("Call 555", log)

    def test_bad_reject_code_refuses_start(self):
        r = srv.serve_once(self.tmp, "smtpd_forbid_bare_newline_reject_code "
                                     "= 250\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("smtpd_forbid_bare_newline_reject_code = 250: not a "
                      "4XX or 5XX reply code", r.stderr)


if __name__ == "__main__":
    pt.main()
