#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pcre: tables (Postfix's pcre_table(5)) against the real postmap.

The table holds what Postfix administrators write in pcre: access and
routing maps: lookarounds, lazy and possessive quantifiers, \\d, named
groups, $n substitution (also ${n} and $(n)), $$, groups that did not
match, negation, if/endif blocks, another delimiter, comments and
continuation lines, and every flag: i (matching is caseless by default,
i makes it case-sensitive), s (. matches a newline by default), m, x, A,
E, U and X.  For every key (also keys with a newline and bytes that are
not UTF-8: PCRE2 runs in byte mode), postern map -q and postmap -q print
the same bytes and exit the same way, and so do -q - runs.

Where postern differs on purpose: a bad rule is an error naming file,
line and PCRE2's message (Postfix skips it with a warning: a skipped rule
in an access table changes who is allowed), and a pattern that hits the
match limit is a lookup error (exit 2, and 451 from smtpd) where Postfix
warns and reports "not found".

Last, postern check names a broken pcre: file and line, and smtpd uses
pcre: tables in check_client_access and check_sender_access.
"""
import os
import smtplib
import subprocess

import pt
import srv

TABLE = rb"""# access rules as in pcre_table(5)
/^(?!owner-)(.*)-outgoing@(.*)$/	550 Use ${1}@${2} instead
/^(friend@(?!my\.domain$).*)$/	550 Stick this in your pipe $1
/^noddy@my\.domain$/
	550 This user is a funny one.
	Really.
/^CASE$/i	exact case
/^case$/	any case
|^a/b$|	slashes
/^a.b$/	dot matches a newline
/^c.d$/s	dot without newline
/^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/	net $1.$(2) costs $$5
/^(x)|(y)$/	x=[$1] y=[$2]
if /\.example\.org$/
/^(?<host>www|mail)\./	REJECT $1 is not a mail host
!/^smtp/	REJECT not an smtp name
endif
/^greedy(a+)/U	ungreedy $1
/^lazy(a+?)(a*)b$/	lazy $1 then $2
/^e$/m	multi-line
/^f$/E	end only
/^g$/	dollar before a final newline
/ k \  l /x	extended
/l/A	anchored
/^xtra$/X	extra
/^u(.)$/	one byte [$1]
/^caf\xe9$/	latin-1
/^(?:(n)|(o))+$/	n=[$1] o=[$2]
if !/[@.]/
/^[a-z]++$/	bare name
endif
"""

KEYS = [b"list-outgoing@example.com", b"owner-list-outgoing@example.com",
        b"friend@example.net", b"friend@my.domain", b"noddy@my.domain",
        b"CASE", b"case", b"Case", b"a\nb", b"c\nd", b"cxd",
        b"192.0.2.1", b"1234.0.2.1", b"x", b"y", b"xy",
        b"www.example.org", b"Mail.Example.Org", b"smtp1.example.org",
        b"relay.example.org", b"bare", b"Bare", b"a/b",
        b"greedyaaa", b"lazyaaab", b"q\ne", b"e\nq", b"f", b"f\n", b"g",
        b"g\n", b"kl", b"k l", b"la", b"al", b"x", b"X", b"XTRA",
        b"ua", b"u\xff", "u\u00e9".encode(), b"caf\xe9", "caf\u00e9".encode(),
        b"nono", b"onon", b"nothing.example", b""]


def query(args, key):
    """stdout bytes and exit status of a -q KEY run"""
    p = subprocess.run(args[:-1] + [b"-q", key, args[-1]],
                       capture_output=True, timeout=600)
    return p.stdout, p.returncode


class PcreTable(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        self.cf = os.path.join(self.tmp, "pf")
        os.makedirs(self.cf)
        open(os.path.join(self.cf, "main.cf"), "w").close()
        maps = pt.run(["postconf", "-c", self.cf, "-m"])
        self.assertIn("pcre", maps.stdout.split(),
                      "Postfix without pcre: (install postfix-pcre, "
                      "scripts/install-deps)")

    def postmap(self, spec):
        return [pt.which("postmap"), "-c", self.cf, spec]

    def test_lookups_equal_postmap(self):
        table = "pcre:" + self.write("table", TABLE)
        ours, theirs = [pt.BIN, "map", table], self.postmap(table)
        for key in KEYS:
            self.assertEqual(query(ours, key), query(theirs, key), key)
        # and the results are what the rules say
        self.assertEqual(query(ours, b"192.0.2.1"),
                         (b"net 192.0 costs $5\n", 0))
        self.assertEqual(query(ours, b"Mail.Example.Org"),
                         (b"REJECT Mail is not a mail host\n", 0))
        self.assertEqual(query(ours, b"y"), (b"x=[] y=[y]\n", 0))
        # -q -: key<TAB>value for each key found
        keys = "".join("%s\n" % k.decode() for k in KEYS
                       if b"\n" not in k and k.isascii() and k)
        ours = pt.postern("map", "-q", "-", table, input=keys)
        theirs = pt.run(self.postmap(table)[:-1] + ["-q", "-", table],
                        input=keys)
        self.assertEqual((ours.stdout, ours.returncode),
                         (theirs.stdout, theirs.returncode))
        self.assertIn("Case\tany case\n", ours.stdout)

    def test_bad_rules_are_errors(self):
        for text, why in (
                ("/a(b/ x\n", "bad regular expression: missing closing "
                 "parenthesis at offset 3"),
                ("/a/q x\n", "unknown flag 'q'"),
                ("/a/\n", "no lookup result"),
                ("/(a)/ $2\n", "$n beyond the pattern's groups"),
                ("/(a)/ $0\n", "$0 in the result"),
                ("!/(a)/ $1\n", "$n in the result of a negated"),
                ("/(*UTF)a/ x\n", "bad regular expression: using UTF is "
                 "disabled"),
                ("endif\n", "ENDIF without IF"),
                ("if /a/\n/b/ c\n", "IF has no matching ENDIF"),
                ("/a b\n", "no closing /")):
            table = self.write("bad", "# first\n" + text)
            r = pt.postern("map", "-q", "a", "pcre:" + table)
            self.assertEqual(r.returncode, 2, text)
            self.assertIn("%s, line 2: %s" % (table, why), r.stderr, text)

    def test_match_limit_is_an_error(self):
        table = "pcre:" + self.write("limit", "/^(a+)+$/\tall a\n"
                                     "/^a/\tstarts with a\n")
        key = "a" * 40 + "b"
        r = pt.postern("map", "-q", key, table)
        self.assertEqual((r.stdout, r.returncode), ("", 2))
        self.assertIn("line 1: matching \"%s\": match limit exceeded" % key,
                      r.stderr)
        # Postfix warns and goes on as if the rule did not match
        theirs = pt.run(self.postmap(table)[:-1] + ["-q", key, table])
        self.assertIn("match limit exceeded", theirs.stderr)
        # keys that do not run away still work
        self.assertEqual(pt.postern("map", "-q", "aaaa", table).stdout,
                         "all a\n")

    def test_check_names_file_and_line(self):
        table = self.write("conf/sender.pcre", "/ok/\tOK\n/a(b/\tREJECT\n")
        self.write("conf/main.cf", "smtpd_sender_restrictions = "
                   "check_sender_access pcre:%s\n" % table)
        r = pt.postern("check", "-c", os.path.join(self.tmp, "conf"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("%s, line 2: bad regular expression: missing closing "
                      "parenthesis at offset 3" % table, r.stdout)


class PcreAccess(pt.TempDirTest):
    """check_client_access and check_sender_access with pcre: tables."""

    def setUp(self):
        super().setUp()
        client = self.write("client.pcre", r"""
/^127\.0\.0\.(2|3)$/	REJECT client $1 is blocked
""")
        sender = self.write("sender.pcre", r"""
/^(.+)-outgoing@(.+)$/	REJECT Use ${1}@${2} instead
/^(a+)+@runaway\.example$/	REJECT never
/^[^@]+@(?:[^.]+\.)*spam\.example$/	REJECT spam
!/@/	REJECT no domain
""")
        self.port = pt.free_port()
        server = srv.Server(os.path.join(self.tmp, "s"), (
            "mynetworks =\n"
            "smtpd_client_restrictions = check_client_access pcre:%s\n"
            "smtpd_sender_restrictions = check_sender_access pcre:%s\n"
            "smtpd_relay_restrictions = reject_unauth_destination\n"
            % (client, sender)), [("smtp", self.port, [])], workers=1)
        server.start()
        self.addCleanup(server.stop)

    def rcpt(self, sender, source="127.0.0.1"):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=60,
                          source_address=(source, 0)) as s:
            s.ehlo("client.example.org")
            code, msg = s.mail(sender)
            self.assertEqual(code, 250, msg)
            code, msg = s.rcpt("b@mx.postern.test")
            return code, msg.decode()

    def test_rejects(self):
        self.assertEqual(self.rcpt("a@example.org", source="127.0.0.3"), (
            554, "5.7.1 <unknown[127.0.0.3]>: Client host rejected: "
                 "client 3 is blocked"))
        self.assertEqual(self.rcpt("list-outgoing@example.org"), (
            554, "5.7.1 <list-outgoing@example.org>: Sender address "
                 "rejected: Use list@example.org instead"))
        self.assertEqual(self.rcpt("joe@mail.Spam.Example"), (
            554, "5.7.1 <joe@mail.Spam.Example>: Sender address "
                 "rejected: spam"))
        # a pattern table sees the whole address only, not the domain,
        # parent domains or "user@" that other tables are asked for
        # (Postfix's access(5)): "!/@/" refuses none of them
        self.assertEqual(self.rcpt("a@example.org"), (250, "2.1.5 Ok"))

    def test_match_limit_defers(self):
        sender = "a" * 40 + "b@runaway.example"
        self.assertEqual(self.rcpt(sender), (
            451, "4.3.0 <%s>: Temporary lookup failure" % sender))
        self.assertEqual(self.rcpt("a@example.org"), (250, "2.1.5 Ok"))


if __name__ == "__main__":
    pt.main()
