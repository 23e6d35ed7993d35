#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""sender_dependent_relayhost_maps: postern's queue manager sends mail for
the same remote domain to a different relay host according to the
envelope sender (the address, then @domain, the null sender by
empty_address_relayhost_maps_lookup_key), DUNNO and unlisted senders go
to relayhost, and a transport_maps next hop still wins.  Four scripted
SMTP servers on loopback stand for the relays; each records what it was
given, and the log names the relay of each delivery.

Before, the parameter refused the start: a Postfix main.cf that relays
each sender domain through its own provider could not be used."""
import os
import shutil
import smtplib
import tempfile
import unittest

import pt
import qmgrfix


class SenderRelay(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-sdrelay-")
        cls.relays = {n: qmgrfix.FakeSmtp()
                      for n in ("default", "one", "alice", "direct")}
        maps = os.path.join(cls.tmp, "sender_relay")
        with open(maps, "w") as f:
            f.write("alice@one.test  [127.0.0.1]:%d\n"
                    "@one.test       [127.0.0.1]:%d\n"
                    "@two.test       DUNNO\n"
                    "<>              [127.0.0.1]:%d\n"
                    % (cls.relays["alice"].port, cls.relays["one"].port,
                       cls.relays["one"].port))
        cls.mta = qmgrfix.Mta(os.path.join(cls.tmp, "mta"), (
            "smtp_tls_security_level = none\n"
            "relayhost = [127.0.0.1]:%d\n"
            "sender_dependent_relayhost_maps = texthash:%s\n"
            "transport_maps = inline:{ direct.test=smtp:[127.0.0.1]:%d }\n"
            % (cls.relays["default"].port, maps,
               cls.relays["direct"].port)))
        cls.mta.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.mta.stop()
        problems = cls.mta.problems()
        for r in cls.relays.values():
            r.close()
        shutil.rmtree(cls.tmp, True)
        if problems or rc != 0:
            raise AssertionError("postern serve exit %s: %s" %
                                 (rc, "\n".join(problems)))

    def send(self, sender, rcpt, token):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=60) as s:
            s.sendmail(sender, [rcpt], "Subject: %s\r\n\r\n%s\r\n"
                       % (token, token))

    def relay_of(self, token):
        """The relay that received the message carrying token."""
        def find():
            for name, r in self.relays.items():
                with r.lock:
                    for _, _, data in r.messages:
                        if token.encode() in data:
                            return name
            return None
        return pt.wait_for(find, "a relay to receive %s" % token)

    def test_by_sender(self):
        cases = [
            ("alice@one.test", "x@remote.test", "alice"),  # the address
            ("Bob@One.Test", "x@remote.test", "one"),      # @domain
            ("carol@two.test", "x@remote.test", "default"),  # DUNNO
            ("dave@three.test", "x@remote.test", "default"),  # unlisted
            ("", "x@remote.test", "one"),                  # <>
            ("alice@one.test", "x@direct.test", "direct"),  # transport wins
        ]
        for i, (sender, rcpt, want) in enumerate(cases):
            token = "sdrelay-%d" % i
            self.send(sender, rcpt, token)
            self.assertEqual(self.relay_of(token), want, (sender, rcpt))
        # the log names the relay of the delivery, as Postfix's does
        self.mta.wait_log("relay=127.0.0.1[127.0.0.1]:%d"
                          % self.relays["alice"].port)


if __name__ == "__main__":
    pt.main()
