# SPDX-License-Identifier: MIT
"""fakesmtp - a small, scriptable and deliberately hostile SMTP server in
Python's standard library, for testing postern's SMTP client.

Each behaviour is a keyword of FakeSMTP:
  starttls=False         do not announce STARTTLS
  cert=(crt, key)        certificate for STARTTLS (announced when given)
  inject=b"..."          bytes sent right after "220 Ready to start TLS" in
                         the same write (CVE-2011-0411 response injection)
  starttls_reply="454 4.7.0 TLS not available"
  rcpt={"addr": "550 5.1.1 No such user"}   per-recipient replies
  drop_in_data=True      close the connection after the first body line
  silent=True            accept connections and never say anything
  pipelining=True        announce PIPELINING
  break_tls=True         answer 220 to STARTTLS, then close instead of
                         completing the handshake
The server records every command line (self.commands, as text) and every
message (self.messages: dicts with mail, rcpts, data, tls).
"""
import socket
import ssl
import threading


class FakeSMTP:
    def __init__(self, host="127.0.0.1", starttls=True, cert=None, inject=b"",
                 starttls_reply=None, rcpt=None, drop_in_data=False,
                 silent=False, pipelining=True, greeting="220 fake ESMTP",
                 extra_ehlo=(), break_tls=False, port=0):
        self.host = host
        self.offer_tls = starttls and cert is not None
        self.cert = cert
        self.inject = inject
        self.starttls_reply = starttls_reply
        self.rcpt = rcpt or {}
        self.drop_in_data = drop_in_data
        self.silent = silent
        self.pipelining = pipelining
        self.greeting = greeting
        self.extra_ehlo = list(extra_ehlo)
        self.break_tls = break_tls
        self.ctx = None
        if cert is not None:
            # one context per server: its session tickets resume
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*cert)
        self.commands = []
        self.resumed = []
        self.messages = []
        self.connections = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET6 if ":" in host
                                  else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.held = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in self.held:
            try:
                c.close()
            except OSError:
                pass

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._session, args=(conn,),
                             daemon=True).start()

    def _session(self, conn):
        if self.silent:
            self.held.append(conn)
            return
        try:
            _Session(self, conn).run()
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


class _Session:
    def __init__(self, srv, conn):
        self.srv = srv
        self.conn = conn
        self.buf = b""
        self.tls = False

    def send(self, data):
        self.conn.sendall(data)

    def reply(self, text):
        self.send(text.encode() + b"\r\n")

    def line(self):
        while b"\n" not in self.buf:
            d = self.conn.recv(65536)
            if not d:
                raise ValueError("eof")
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.rstrip(b"\r")

    def ehlo_reply(self):
        lines = ["fake.test"]
        if self.srv.pipelining:
            lines.append("PIPELINING")
        lines += ["SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN"]
        if self.srv.offer_tls and not self.tls:
            lines.append("STARTTLS")
        lines += self.srv.extra_ehlo
        out = ""
        for i, ln in enumerate(lines):
            out += "250%s%s\r\n" % (" " if i == len(lines) - 1 else "-", ln)
        self.send(out.encode())

    def run(self):
        srv = self.srv
        self.reply(srv.greeting)
        mail, rcpts = None, []
        while True:
            ln = self.line()
            text = ln.decode("utf-8", "replace")
            with srv.lock:
                srv.commands.append(("tls " if self.tls else "") + text)
            verb = text.split(" ", 1)[0].upper().split(":", 1)[0]
            if verb in ("EHLO", "HELO"):
                self.ehlo_reply()
                mail, rcpts = None, []
            elif verb == "STARTTLS":
                if srv.starttls_reply:
                    self.reply(srv.starttls_reply)
                    continue
                self.send(b"220 2.0.0 Ready to start TLS\r\n" + srv.inject)
                if srv.break_tls:
                    self.conn.recv(65536)
                    self.send(b"\x15\x03\x03\x00\x02\x02\x28")
                    return
                self.conn = srv.ctx.wrap_socket(self.conn, server_side=True)
                with srv.lock:
                    srv.resumed.append(self.conn.session_reused)
                self.tls = True
                self.buf = b""
            elif verb == "MAIL":
                mail, rcpts = text, []
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                addr = text.split("<", 1)[1].split(">", 1)[0] if "<" in text \
                    else ""
                r = srv.rcpt.get(addr, "250 2.1.5 Ok")
                if r.startswith("2"):
                    rcpts.append(addr)
                self.reply(r)
            elif verb == "DATA":
                if not rcpts:
                    self.reply("554 5.5.1 Error: no valid recipients")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while True:
                    ln = self.line()
                    if srv.drop_in_data:
                        self.conn.close()
                        return
                    if ln == b".":
                        break
                    data += ln + b"\r\n"
                with srv.lock:
                    srv.messages.append({"mail": mail, "rcpts": rcpts,
                                         "data": data, "tls": self.tls})
                self.reply("250 2.0.0 Ok: queued as FAKE%d" %
                           len(srv.messages))
                mail, rcpts = None, []
            elif verb == "RSET":
                mail, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            else:
                self.reply("502 5.5.2 Error: command not recognized")
