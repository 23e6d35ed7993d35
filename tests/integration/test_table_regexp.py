#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""regexp: tables (Postfix's regexp_table(5)) against the real postmap.

One table exercises what Postfix administrators write: $n substitution
(also ${n} and $(n)), $$, the i flag (matching is case-insensitive by
default, i makes it sensitive), negation, if/endif blocks, another
delimiter, comments and continuation lines.  For every key, postern map
-q and postmap -q must print the same result and exit the same way.
A bad rule is an error naming file and line (Postfix skips it with a
warning: a skipped rule in an access table changes who is allowed).
Last, smtpd uses such a table in check_helo_access.
"""
import os
import smtplib

import pt
import srv

TABLE = r"""# HELO and host name rules
/^mx([0-9]+)\.example\.(com|net)$/	OK host $1 in ${2}, $(1) costs $$5
/^CASE$/i	exact case
/^case$/	any case
if /\.example\.org$/
/^(www|mail)\./	REJECT $1 is not a mail host
!/^smtp/	REJECT not an smtp name
endif
|^a/b$|	slashes
/^multi/	first line
	continued
/\[([0-9.]+)\]$/	literal $1
"""

KEYS = ["mx12.example.net", "MX3.EXAMPLE.COM", "CASE", "case", "Case",
        "www.example.org", "Mail.Example.Org", "smtp1.example.org",
        "relay.example.org", "a/b", "multi.example", "[192.0.2.1]",
        "nothing.example", ""]


class RegexpTable(pt.TempDirTest):

    def test_lookups_equal_postmap(self):
        table = self.write("table", TABLE)
        cf = os.path.join(self.tmp, "pf")
        os.makedirs(cf)
        open(os.path.join(cf, "main.cf"), "w").close()
        for key in KEYS:
            ours = pt.postern("map", "-q", key, "regexp:" + table)
            theirs = pt.run(["postmap", "-c", cf, "-q", key,
                             "regexp:" + table])
            self.assertEqual((ours.stdout, ours.returncode),
                             (theirs.stdout, theirs.returncode), key)
        # and the results are what the rules say
        r = pt.postern("map", "-q", "mx12.example.net", "regexp:" + table)
        self.assertEqual(r.stdout, "OK host 12 in net, 12 costs $5\n")

    def test_bad_rules_are_errors(self):
        for text, why in (("/[a-/ x\n", "bad regular expression"),
                          ("/a/q x\n", "unknown flag 'q'"),
                          ("/a/\n", "no lookup result"),
                          ("/(a)/ $2\n", "$n beyond the pattern's groups"),
                          ("!/(a)/ $1\n", "$n in the result of a negated"),
                          ("endif\n", "ENDIF without IF"),
                          ("endif x\n", "garbage after ENDIF"),
                          ("if /a/\nif /b/\nendif\n",
                           "IF has no matching ENDIF"),
                          ("if /a/\n/b/ c\n", "IF has no matching ENDIF"),
                          ("/a b\n", "no closing /")):
            table = self.write("bad", "# first\n" + text)
            r = pt.postern("map", "-q", "a", "regexp:" + table)
            self.assertNotEqual(r.returncode, 0, text)
            self.assertIn("%s, line 2: %s" % (table, why), r.stderr, text)

    def test_smtpd_check_helo_access(self):
        table = self.write("helo", r"""/^(localhost|\[127\.0\.0\.1\])$/ REJECT You are not me
/\.dynamic\./	REJECT dynamic address $0
""")
        port = pt.free_port()
        server = srv.Server(os.path.join(self.tmp, "s"), (
            "mynetworks =\n"
            "smtpd_helo_restrictions = check_helo_access regexp:%s\n"
            "smtpd_relay_restrictions = reject_unauth_destination\n"
            % table), [("smtp", port, [])], workers=1)
        server.start()
        self.addCleanup(server.stop)
        for helo, want in (("host.dynamic.example", (554, "5.7.1 "
                            "<host.dynamic.example>: Helo command rejected: "
                            "dynamic address .dynamic.")),
                           ("LOCALHOST", (554, "5.7.1 <LOCALHOST>: Helo "
                                          "command rejected: You are not "
                                          "me")),
                           ("mail.example.org", (250, "2.1.5 Ok"))):
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
                s.ehlo(helo)
                s.mail("a@example.org")
                code, msg = s.rcpt("b@mx.postern.test")
                self.assertEqual((code, msg.decode()), want, helo)


if __name__ == "__main__":
    pt.main()
