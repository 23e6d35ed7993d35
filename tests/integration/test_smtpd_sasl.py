#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""SMTP AUTH on the server side, checked by a real Dovecot auth server
(smtpd_sasl_auth_enable, smtpd_sasl_type = dovecot, smtpd_sasl_path), with
real clients (Python's smtplib, swaks, Postfix's own SMTP client):

- a submission listener with smtpd_tls_auth_only offers no AUTH before
  STARTTLS (504 5.5.4 if tried), "AUTH PLAIN LOGIN" after it; alice's
  password gets 235 2.7.0, and permit_sasl_authenticated lets her relay
  where the unauthenticated client gets "Relay access denied"; the
  Received header says "(Authenticated sender: alice)" and ESMTPSA, the
  log "client=..., sasl_method=PLAIN, sasl_username=alice" (Postfix's
  lines, so pflogsumm and fail2ban read them);
- LOGIN goes through 334 challenges; "*" aborts with 501 5.7.0;
- a wrong password gets "535 5.7.8 Error: authentication failed:" and
  the warning fail2ban's postfix-sasl filter matches;
- a listener without smtpd_sasl_auth_enable answers AUTH with 503;
- smtpd_sender_login_maps with reject_sender_login_mismatch: a client
  not logged in may not use an owned address, a logged-in one only its
  own (user@domain, user+ext@domain, @domain keys), and only listed
  ones unless reject_known_sender_login_mismatch;
- smtpd_sasl_exceptions_networks: EHLO does not announce AUTH to those
  clients, which may still use it;
- reject_plaintext_session (submission services use it): "450 4.7.1
  Session encryption is required" until STARTTLS;
- smtpd_sasl_type = cyrus (Postfix's default) refuses to start;
- smtpd_sasl_path = inet:host:port reaches Dovecot's auth service over
  TCP;
- a worker does not wait for Dovecot: while one client's wrong password
  sits in Dovecot's failure delay, another client of the same worker
  authenticates; when Dovecot goes away the waiting client gets 454
  4.7.0, EHLO stops offering AUTH, and AUTH gets 454 as well.

Before, AUTH always answered "503 5.5.1 Error: authentication not
enabled" and permit_sasl_authenticated never matched: a submission
service could not authenticate anyone."""
import base64
import os
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import tempfile
import unittest

import dovecotfix
import pfpeer
import pki
import pt
import srv

# fail2ban's filter.d/postfix.conf, mode "auth" (as in Debian's fail2ban)
FAIL2BAN = re.compile(
    r"^[^[]*\[(?P<host>[^\]]*)\](?::\d+)?: SASL ((?i:LOGIN|PLAIN)|"
    r"(?:CRAM|DIGEST)-MD5) authentication failed:"
    r"(?! Connection lost to authentication server| Invalid authentication "
    r"mechanism)", re.M)


def log_line(server, text):
    """Wait for a log line containing text; the line."""
    server.wait_log(text)
    return [l for l in server.logtext().splitlines() if text in l][0]


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class SaslServer(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="postern-sasl-")
        os.makedirs(os.path.join(cls.dir, "dovecot"))
        cls.dove = dovecotfix.Dovecot(os.path.join(cls.dir, "dovecot"),
                                      {"alice": "s3cret", "bob": "b0b"}).start()
        owners = os.path.join(cls.dir, "sender_login")
        with open(owners, "w") as f:
            f.write("alice@client.example  alice\n"
                    "@shared.example       alice, bob\n")
        ca = pki.PKI(os.path.join(cls.dir, "pki"))
        crt, key = ca.issue("mx.postern.test")
        cls.ports = pt.free_ports(("sub", "plain", "none", "owned", "known", "hidden", "enc"))
        auth = ["smtpd_sasl_auth_enable=yes", "smtpd_sasl_type=dovecot",
                "smtpd_sasl_path=" + cls.dove.socket_path]
        cls.server = srv.Server(
            os.path.join(cls.dir, "srv"), (
                "smtpd_tls_security_level = may\n"
                "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                "mynetworks = 192.0.2.0/24\n"
                "smtpd_relay_restrictions = permit_mynetworks, "
                "permit_sasl_authenticated, reject_unauth_destination\n"
                "smtpd_sender_login_maps = texthash:%s\n"
                "recipient_delimiter = +\n"
                % (crt, key, owners)),
            [("sub", cls.ports["sub"], auth + [
                "smtpd_tls_auth_only=yes",
                "smtpd_sasl_authenticated_header=yes"]),
             ("plain", cls.ports["plain"], auth),
             ("none", cls.ports["none"], []),
             ("owned", cls.ports["owned"], auth + [
                 "smtpd_sender_restrictions=reject_sender_login_mismatch"]),
             ("known", cls.ports["known"], auth + [
                 "smtpd_sender_restrictions="
                 "reject_known_sender_login_mismatch"]),
             ("hidden", cls.ports["hidden"], auth + [
                 "smtpd_sasl_exceptions_networks=127.0.0.0/8"]),
             ("enc", cls.ports["enc"], [
                 "smtpd_client_restrictions=reject_plaintext_session"])],
            workers=1).start()

    @classmethod
    def tearDownClass(cls):
        problems = srv.stop_all([cls.server])
        cls.dove.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)
        assert not problems, problems

    def smtp(self, name):
        s = smtplib.SMTP("127.0.0.1", self.ports[name], timeout=120)
        self.addCleanup(s.close)
        return s

    def test_submission_after_starttls(self):
        s = self.smtp("sub")
        s.ehlo("client.example")
        self.assertFalse(s.has_extn("auth"))
        self.assertEqual(s.docmd("AUTH", "PLAIN"), (
            504, b"5.5.4 Encryption required for requested authentication "
                 b"mechanism"))
        s.starttls(context=ctx())
        s.ehlo("client.example")
        self.assertEqual(s.esmtp_features["auth"], " PLAIN LOGIN")
        # not yet authenticated: no relaying
        s.mail("alice@client.example")
        code, msg = s.rcpt("bob@elsewhere.example")
        self.assertEqual(code, 554, msg)
        self.assertIn(b"Relay access denied", msg)
        s.rset()
        self.assertEqual(s.login("alice", "s3cret"),
                         (235, b"2.7.0 Authentication successful"))
        self.assertEqual(s.docmd("AUTH", "PLAIN"),
                         (503, b"5.5.1 Error: already authenticated"))
        s.sendmail("alice@client.example", ["bob@elsewhere.example"],
                   b"Subject: relayed\r\n\r\nby alice\r\n")
        s.quit()
        log_line(self.server, "sasl_method=PLAIN, sasl_username=alice")
        self.assertRegex(self.server.logtext(), re.compile(
            r"postern/smtpd\[\d+\]: [0-9A-Z]+: client=localhost\[127\.0\.0\.1\], "
            r"sasl_method=PLAIN, sasl_username=alice$", re.M))
        body = self.server.find_message("by alice")
        self.assertIn(b"(Authenticated sender: alice)", body)
        self.assertIn(b"with ESMTPSA id", body)

    def test_login_and_abort(self):
        s = self.smtp("plain")
        s.ehlo("client.example")
        self.assertEqual(s.esmtp_features["auth"], " PLAIN LOGIN")
        code, msg = s.docmd("AUTH", "LOGIN")
        self.assertEqual((code, base64.b64decode(msg)), (334, b"Username:"))
        self.assertEqual(s.docmd("*"),
                         (501, b"5.7.0 Authentication aborted"))
        s.user, s.password = "alice", "s3cret"
        self.assertEqual(s.auth("LOGIN", s.auth_login, initial_response_ok=False),
                         (235, b"2.7.0 Authentication successful"))
        # plaintext session, no smtpd_sasl_authenticated_header: ESMTPA
        s.sendmail("alice@client.example", ["carol@elsewhere.example"],
                   b"Subject: login\r\n\r\nby login\r\n")
        body = self.server.find_message("by login")
        self.assertIn(b"with ESMTPA id", body)
        self.assertNotIn(b"Authenticated sender", body)

    def test_wrong_password(self):
        s = self.smtp("plain")
        s.ehlo("client.example")
        with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice", "wrong")
        self.assertEqual(e.exception.smtp_code, 535)
        self.assertTrue(e.exception.smtp_error.startswith(
            b"5.7.8 Error: authentication failed:"), e.exception.smtp_error)
        line = log_line(self.server, "SASL PLAIN authentication failed: "
                                    "(reason unavailable)")
        self.assertIn("warning: localhost[127.0.0.1]: SASL PLAIN "
                      "authentication failed:", line)
        # fail2ban matches what follows "warning: "
        m = FAIL2BAN.search(line.split("warning: ", 1)[1])
        self.assertIsNotNone(m, line)
        self.assertEqual(m.group("host"), "127.0.0.1")
        s.mail("x@client.example")
        self.assertEqual(s.rcpt("bob@elsewhere.example")[0], 554)

    def test_unknown_mechanism_and_syntax(self):
        s = self.smtp("plain")
        s.ehlo("client.example")
        code, msg = s.docmd("AUTH", "CRAM-MD5")
        self.assertEqual(code, 535)
        self.assertIn(b"Invalid authentication mechanism", msg)
        self.assertEqual(s.docmd("AUTH", "PLAIN a b"),
                         (501, b"5.5.4 Syntax: AUTH mechanism"))
        self.assertEqual(s.docmd("AUTH", "PLAIN !!!")[0], 535)
        s.mail("x@client.example")
        self.assertEqual(s.docmd("AUTH", "PLAIN"),
                         (503, b"5.5.1 Error: MAIL transaction in progress"))

    def test_not_enabled(self):
        s = self.smtp("none")
        s.ehlo("client.example")
        self.assertFalse(s.has_extn("auth"))
        self.assertEqual(s.docmd("AUTH", "PLAIN"),
                         (503, b"5.5.1 Error: authentication not enabled"))
        self.assertEqual(s.docmd("MAIL", "FROM:<a@client.example> AUTH=<>"),
                         (503, b"5.5.4 Error: authentication disabled"))

    def test_reject_plaintext_session(self):
        s = self.smtp("enc")
        s.ehlo("client.example")
        s.mail("a@client.example")
        self.assertEqual(s.rcpt("postmaster@mx.postern.test"),
                         (450, b"4.7.1 Session encryption is required"))
        s.rset()
        s.starttls(context=ctx())
        s.ehlo("client.example")
        s.mail("a@client.example")
        self.assertEqual(s.rcpt("postmaster@mx.postern.test")[0], 250)

    def check(self, *opts):
        """postern check of a service with AUTH through this Dovecot."""
        d = tempfile.mkdtemp(prefix="postern-sasl-probe-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "main.cf"), "w") as f:
            f.write("queue_directory = %s/queue\n" % d)
        with open(os.path.join(d, "master.cf"), "w") as f:
            f.write("127.0.0.1:2587 inet n - n - - smtpd\n" + "".join(
                "  -o %s\n" % o for o in (
                    "smtpd_sasl_auth_enable=yes", "smtpd_sasl_type=dovecot",
                    "smtpd_sasl_path=" + self.dove.socket_path) + opts))
        r = pt.postern("check", "-c", d)
        return r.stdout + r.stderr

    def test_check_asks_dovecot(self):
        self.assertNotIn("smtpd_sasl", self.check())
        out = self.check("smtpd_sasl_security_options=noplaintext",
                         "smtpd_sasl_tls_security_options=noplaintext")
        self.assertIn("warning: smtpd_sasl_tls_security_options", out)
        self.assertIn("leaves none of the mechanisms Dovecot offers", out)

    def test_exceptions_networks(self):
        # not announced to these clients, but still there
        s = self.smtp("hidden")
        s.ehlo("client.example")
        self.assertFalse(s.has_extn("auth"))
        s.esmtp_features["auth"] = "PLAIN"
        self.assertEqual(s.login("alice", "s3cret")[0], 235)

    def sender(self, port, login, sender):
        """RCPT's reply for MAIL FROM sender, logged in as login or not
        (sender restrictions apply at RCPT)."""
        s = self.smtp(port)
        s.ehlo("client.example")
        if login:
            s.login(login, {"alice": "s3cret", "bob": "b0b"}[login])
        self.assertEqual(s.mail(sender)[0], 250)
        code, msg = s.rcpt("postmaster@mx.postern.test")
        s.quit()
        return code, msg.decode()

    def test_sender_login_maps(self):
        self.assertEqual(self.sender("owned", None, "alice@client.example"), (
            553, "5.7.1 <alice@client.example>: Sender address rejected: "
                 "not logged in"))
        self.assertEqual(self.sender("owned", None, "x@other.example")[0],
                         250)
        self.assertEqual(self.sender("owned", "bob", "alice@client.example"), (
            553, "5.7.1 <alice@client.example>: Sender address rejected: "
                 "not owned by user bob"))
        self.assertEqual(self.sender("owned", "bob", "x@shared.example")[0],
                         250)
        self.assertEqual(
            self.sender("owned", "alice", "Alice+tag@Client.Example")[0], 250)
        # an address nobody owns: only the "known" variant lets bob use it
        self.assertEqual(self.sender("owned", "bob", "x@other.example")[0],
                         553)
        self.assertEqual(self.sender("known", "bob", "x@other.example")[0],
                         250)
        self.assertEqual(self.sender("known", "bob", "alice@client.example")[0],
                         553)
        self.assertIn("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 553 "
                      "5.7.1 <alice@client.example>: Sender address "
                      "rejected: not owned by user bob;",
                      self.server.logtext())

    @unittest.skipUnless(pt.have("postfix"), "postfix not installed")
    def test_postfix_client(self):
        # Postfix's own SMTP client (Cyrus SASL) relays through the
        # submission service: STARTTLS, AUTH PLAIN, then the mail
        base = pfpeer.tmpdir("postern-sasl-pf-")
        self.addCleanup(shutil.rmtree, base, True)
        pw = os.path.join(base, "sasl_passwd")
        with open(pw, "w") as f:
            f.write("[127.0.0.1]:%d alice:s3cret\n" % self.ports["sub"])
        os.chmod(base, 0o755)
        pf = pfpeer.Postfix(os.path.join(base, "pf"), {
            "relayhost": "[127.0.0.1]:%d" % self.ports["sub"],
            "smtp_tls_security_level": "encrypt",
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": "texthash:" + pw,
            "smtp_sasl_security_options": "noanonymous",
            "smtp_sasl_tls_security_options": "noanonymous",
        }).start()
        self.addCleanup(pf.stop)
        with smtplib.SMTP("127.0.0.1", pf.port, timeout=120) as c:
            c.sendmail("alice@client.example", ["erin@elsewhere.example"],
                       b"Subject: via postfix\r\n\r\nfrom postfix\r\n")
        text = pt.wait_for(lambda: pf.read(("status=sent", "status=deferred",
                                           "status=bounced")),
                           "postfix to hand the mail on")
        self.assertIn("status=sent", text)
        self.assertIn("relay=127.0.0.1[127.0.0.1]:%d" % self.ports["sub"],
                      text)
        self.server.wait_log("sasl_method=PLAIN, sasl_username=alice")
        body = self.server.find_message("from postfix")
        self.assertIn(b"(Authenticated sender: alice)", body)
        self.assertIn(b"with ESMTPSA id", body)

    @unittest.skipUnless(pt.have("swaks"), "swaks not installed")
    def test_swaks(self):
        r = pt.run(["swaks", "--server", "127.0.0.1", "--port",
                    str(self.ports["sub"]), "--tls", "--auth", "PLAIN",
                    "--auth-user", "alice", "--auth-password", "s3cret",
                    "--from", "alice@client.example", "--to",
                    "dave@elsewhere.example", "--body", "by swaks",
                    "--ehlo", "client.example"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("235 2.7.0 Authentication successful", r.stdout)
        self.assertIn("250 2.0.0 Ok: queued as", r.stdout)


class Refused(unittest.TestCase):

    def test_cyrus_refused(self):
        d = tempfile.mkdtemp(prefix="postern-sasl-cyrus-")
        self.addCleanup(shutil.rmtree, d, True)
        # postern serve itself must exit with the reason (no port probe:
        # another test may listen on any free port meanwhile)
        r = srv.serve_once(d, "smtpd_sasl_auth_enable = yes\n")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("smtpd_sasl_type = cyrus is not supported", r.stderr)
        r = pt.postern("check", "-c", os.path.join(d, "c"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("error: smtpd_sasl_auth_enable", r.stdout + r.stderr)

    def test_login_mismatch_needs_maps(self):
        d = tempfile.mkdtemp(prefix="postern-sasl-maps-")
        self.addCleanup(shutil.rmtree, d, True)
        r = srv.serve_once(d, "smtpd_sender_restrictions = "
                              "reject_sender_login_mismatch\n")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("need smtpd_sender_login_maps", r.stderr)

    def test_check_warns(self):
        d = tempfile.mkdtemp(prefix="postern-sasl-check-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "main.cf"), "w") as f:
            f.write("queue_directory = %s/queue\n" % d)
        with open(os.path.join(d, "master.cf"), "w") as f:
            f.write("127.0.0.1:2587 inet n - n - - smtpd\n"
                    "  -o smtpd_sasl_auth_enable=yes\n"
                    "  -o smtpd_sasl_type=dovecot\n"
                    "  -o smtpd_sasl_path=private/auth\n"
                    "  -o smtpd_tls_auth_only=yes\n")
        r = pt.postern("check", "-c", d)
        out = r.stdout + r.stderr
        self.assertIn("%s/queue/private/auth: No such file or directory: "
                      "AUTH is not offered" % d, out)
        self.assertIn("smtpd_tls_auth_only", out)
        self.assertIn("AUTH is never offered", out)



class InetDovecot(unittest.TestCase):
    """smtpd_sasl_path = inet:host:port: Dovecot's auth service over TCP
    (an inet_listener, as when Dovecot runs on another host)."""

    def test_inet_listener(self):
        d = tempfile.mkdtemp(prefix="postern-sasl-inet-")
        self.addCleanup(shutil.rmtree, d, True)
        os.makedirs(os.path.join(d, "dovecot"))
        dport = pt.free_port()
        dove = dovecotfix.Dovecot(os.path.join(d, "dovecot"),
                                  {"alice": "s3cret"},
                                  inet_port=dport).start()
        self.addCleanup(dove.stop)
        port = pt.free_port()
        while port == dport:
            port = pt.free_port()
        server = srv.Server(
            os.path.join(d, "srv"),
            "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\n"
            "smtpd_sasl_path = inet:127.0.0.1:%d\n" % dport,
            [("smtp", port, [])], workers=1).start()
        self.addCleanup(lambda: self.assertEqual(srv.stop_all([server]), []))
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.ehlo("client.example")
            self.assertEqual(s.esmtp_features["auth"], " PLAIN LOGIN")
            self.assertEqual(s.login("alice", "s3cret")[0], 235)


def reply(f):
    """One whole reply: (code, last line)."""
    while True:
        line = f.readline().decode()
        if line[3:4] != "-":
            return int(line[:3]), line.rstrip("\r\n")


class SlowDovecot(unittest.TestCase):
    """Dovecot holds each failure for 30 s (auth_failure_delay), and is
    killed while it holds one."""

    def test_worker_does_not_wait(self):
        d = tempfile.mkdtemp(prefix="postern-sasl-slow-")
        self.addCleanup(shutil.rmtree, d, True)
        os.makedirs(os.path.join(d, "dovecot"))
        dove = dovecotfix.Dovecot(os.path.join(d, "dovecot"),
                                  {"alice": "s3cret"},
                                  failure_delay="30 secs").start()
        self.addCleanup(dove.stop)
        port = pt.free_port()
        server = srv.Server(
            os.path.join(d, "srv"),
            "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\n"
            "smtpd_sasl_path = %s\n" % dove.socket_path,
            [("smtp", port, [])], workers=1).start()
        self.addCleanup(lambda: self.assertEqual(srv.stop_all([server]), []))
        a = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.addCleanup(a.close)
        fa = a.makefile("rb")
        reply(fa)
        a.sendall(b"EHLO a.example\r\n")
        reply(fa)
        a.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0wrong") +
                  b"\r\n")
        # the same worker serves b while a's failure waits in Dovecot
        b = smtplib.SMTP("127.0.0.1", port, timeout=120)
        self.addCleanup(b.close)
        b.ehlo("b.example")
        self.assertEqual(b.login("alice", "s3cret")[0], 235)
        b.quit()
        ready, _, _ = select.select([a], [], [], 0)
        self.assertEqual(ready, [], "a was answered before b: the worker "
                                    "waited for Dovecot")
        # Dovecot dies without answering (a stop would send the failure)
        for pid in dovecotfix.session_members(dove.proc.pid):
            os.kill(pid, signal.SIGKILL)
        self.assertEqual(reply(fa), (
            454, "454 4.7.0 Temporary authentication failure: Connection "
                 "lost to authentication server"))
        a.sendall(b"EHLO a.example\r\n")
        self.assertNotIn(b"AUTH", self.ehlo_lines(fa))
        a.sendall(b"AUTH PLAIN\r\n")
        self.assertEqual(reply(fa), (
            454, "454 4.7.0 Temporary authentication failure: Can't connect "
                 "to authentication server"))
        a.sendall(b"QUIT\r\n")
        self.assertEqual(reply(fa)[0], 221)
        server.wait_log("SASL: connection to %s closed by the server"
                        % dove.socket_path)

    @staticmethod
    def ehlo_lines(f):
        out = b""
        while True:
            line = f.readline()
            out += line
            if line[3:4] != b"-":
                return out


if __name__ == "__main__":
    pt.main()
