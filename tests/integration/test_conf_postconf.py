#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern conf against Debian's own postconf on the same main.cf files.

Fixtures are the main.cf settings of seeds 001-004 (tests/data/conf); each
is read by both programs with -c DIR and the answers must be identical.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import pt  # noqa: E402

FIXTURES = os.path.join(pt.SRC, "tests", "data", "conf")
POSTCONF = pt.which("postconf")


def read(d):
    with open(os.path.join(d, "main.cf")) as f:
        return f.read()


def postconf(*args):
    # postconf's warnings (missing master.cf, unused parameters) go to
    # stderr; only stdout is compared.
    return pt.run([POSTCONF] + list(args))


class ConfAgainstPostconf(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        if POSTCONF is None:
            self.fail("postconf is not installed (scripts/install-deps)")

    def fixture(self, name):
        """A private copy, so the paths both tools see are the same."""
        d = os.path.join(self.tmp, name)
        shutil.copytree(os.path.join(FIXTURES, name), d)
        open(os.path.join(d, "master.cf"), "w").close()
        return d

    def same(self, d, *flags):
        ours = pt.postern("conf", "-c", d, *flags)
        theirs = postconf("-c", d, *flags)
        self.assertEqual(ours.returncode, 0, ours.stderr)
        self.assertEqual(theirs.returncode, 0, theirs.stderr)
        self.assertTrue(ours.stdout.strip(), "postern printed nothing")
        self.assertEqual(ours.stdout, theirs.stdout,
                         "postern conf -c %s %s differs from postconf" %
                         (d, " ".join(flags)))
        return ours

    def test_seeds_n_and_nx(self):
        for seed in ("seed001", "seed002", "seed003", "seed004"):
            with self.subTest(seed=seed):
                d = self.fixture(seed)
                self.same(d, "-n")
                self.same(d, "-nx")

    def test_nx_expands_data_directory(self):
        d = self.fixture("seed001")
        out = self.same(d, "-nx").stdout
        self.assertIn("smtpd_tls_session_cache_database = "
                      "btree:/var/lib/postfix/smtpd_scache\n", out)

    def test_relational_expressions(self):
        # Postfix 3's ${{text} op {text} ? {a} : {b}}, with "level"
        d = os.path.join(self.tmp, "expr")
        os.makedirs(d)
        with open(os.path.join(d, "main.cf"), "w") as f:
            f.write("compatibility_level = 3.6\n"
                    "myhostname = mx.example\n"
                    "smtpd_tls_fingerprint_digest = ${{$compatibility_level}"
                    " <level {3.6} ? {md5} : {sha256}}\n"
                    "smtp_tls_fingerprint_digest = ${{3} <=level {3.0} ? "
                    "{sha256} : {md5}}\n"
                    "smtpd_banner = ${{10} < {9} ? {lt} : {ge}} "
                    "${{abc} < {abd}?{s-lt}:{s-ge}} [${{x} == {x}}] "
                    "[${{x} != {x}}] ${ {$myhostname} == {mx.example} ? "
                    "{mine} : {other}} ${{a}=={a}?text} ${{a}=={b}:else}\n")
        self.same(d, "-nx")

    def test_config_directory_expansion(self):
        d = self.fixture("seed004")
        out = self.same(d, "-nx").stdout
        self.assertIn("smtp_tls_CApath = %s/SSL/certs\n" % d, out)

    def test_named_parameters(self):
        d = self.fixture("seed001")
        names = ["smtp_tls_security_level", "smtpd_use_tls",
                 "smtp_tls_policy_maps", "message_size_limit",
                 "queue_directory", "smtpd_timeout", "maximal_queue_lifetime",
                 "smtp_tls_secure_cert_match", "tls_high_cipherlist"]
        self.same(d, *names)
        self.same(d, "-h", *names)
        self.same(d, "-x", *names)

    def test_defaults_match_postfix(self):
        # Every parameter postern knows has Postfix 3.7's default, except
        # the ones postern deliberately computes or makes safer.
        differ = {
            "compatibility_level", "config_directory", "mail_version",
            "mail_name", "myhostname", "mydomain", "mynetworks",
            "mynetworks_style", "relay_domains", "smtpd_relay_restrictions",
            "smtputf8_enable", "smtp_tls_dane_insecure_mx_policy",
            "smtpd_tls_fingerprint_digest", "smtp_tls_fingerprint_digest",
            "lmtp_tls_fingerprint_digest",
            "syslog_name",
            "smtpd_forbid_bare_newline", "default_database_type",
            # computed: from the compatibility level, for the running program
            "append_dot_mydomain", "process_name", "process_id",
            # no passwd lookups: empty, any local user
            "local_recipient_maps",
        }
        ours = pt.postern("conf", "-d")
        self.assertEqual(ours.returncode, 0, ours.stderr)
        theirs = dict(l.split(" =", 1) for l in
                      postconf("-d").stdout.splitlines())
        checked = 0
        for line in ours.stdout.splitlines():
            name, value = line.split(" =", 1)
            if name in differ or name not in theirs:
                continue
            checked += 1
            self.assertEqual(value.strip(), theirs[name].strip(), name)
        self.assertGreater(checked, 150)

    def test_edit_like_postconf(self):
        text = ("# head comment\nmyhostname = a.example\n"
                "smtpd_recipient_restrictions =\n    permit_mynetworks\n"
                "    # inner comment\n    reject_unauth_destination\n\n"
                "relayhost = [x]:25\nmyhostname = b.example\n# tail\n")
        a = os.path.join(self.tmp, "a")
        b = os.path.join(self.tmp, "b")
        for d in (a, b):
            os.mkdir(d)
            with open(os.path.join(d, "main.cf"), "w") as f:
                f.write(text)
        edits = ["smtpd_recipient_restrictions = permit_mynetworks, "
                 "reject", "myhostname=z.example", "newparam = 1"]
        pt.postern("conf", "-c", a, "-e", *edits, check=True)
        postconf("-c", b, "-e", *edits)
        self.assertEqual(read(a), read(b))
        self.assertIn("# inner comment", read(a))
        pt.postern("conf", "-c", a, "-X", "relayhost", "myhostname",
                   check=True)
        postconf("-c", b, "-X", "relayhost", "myhostname")
        self.assertEqual(read(a), read(b))
        self.assertNotIn("relayhost", read(a))
        # no temporary file left behind
        self.assertEqual(sorted(os.listdir(a)), ["main.cf"])

    def test_edit_without_final_newline(self):
        # postconf glues the new line to an unterminated last line
        # ("# tailnewparam = 1"); postern keeps lines apart.
        d = os.path.join(self.tmp, "n")
        os.mkdir(d)
        with open(os.path.join(d, "main.cf"), "w") as f:
            f.write("myhostname = a.example\n# tail")
        os.chmod(os.path.join(d, "main.cf"), 0o640)
        pt.postern("conf", "-c", d, "-e", "newparam = 1", check=True)
        with open(os.path.join(d, "main.cf")) as f:
            self.assertEqual(f.read(), "myhostname = a.example\n# tail\n"
                             "newparam = 1\n")
        self.assertEqual(os.stat(os.path.join(d, "main.cf")).st_mode & 0o777,
                         0o640)


class ConfErrors(pt.TempDirTest):

    def conf(self, text, *args):
        d = os.path.join(self.tmp, "c")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "main.cf"), "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode())
        return d, pt.postern("conf", "-c", d, *args)

    def test_bad_value_names_file_line_parameter(self):
        d, r = self.conf("myhostname = x\n\nsmtpd_timeout = soon\n", "-n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s/main.cf, line 3: parameter smtpd_timeout:" % d,
                      r.stderr)

    def test_bad_level(self):
        d, r = self.conf("smtp_tls_security_level = secur\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 1: parameter smtp_tls_security_level", r.stderr)

    def test_unknown_parameter_warns_with_line(self):
        d, r = self.conf("# x\nsmtpd_tls_ask_cert = yes\n", "-n")
        self.assertEqual(r.returncode, 0)
        self.assertIn("main.cf, line 2: unknown parameter: "
                      "smtpd_tls_ask_cert=yes", r.stderr)
        self.assertIn("smtpd_tls_ask_ccert", r.stderr)  # the suggestion

    def test_parameter_used_by_master_cf_is_known(self):
        # Postfix counts a master.cf -o reference as a use of a main.cf
        # parameter of the administrator's own
        d = os.path.join(self.tmp, "c")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "master.cf"), "w") as f:
            f.write("smtp inet n - n - - smtpd\n"
                    "  -o smtpd_milters=$my_milters\n"
                    "  -o smtpd_recipient_restrictions=${my_rcpt}\n")
        d, r = self.conf("my_milters = inet:127.0.0.1:8891\n"
                         "my_rcpt = reject_unauth_destination\n"
                         "my_milters_old = x\nmy = y\n", "-n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("unknown parameter: my_milters=", r.stderr)
        self.assertNotIn("unknown parameter: my_rcpt=", r.stderr)
        # a longer or shorter name is not the one referred to
        self.assertIn("line 3: unknown parameter: my_milters_old=x",
                      r.stderr)
        self.assertIn("line 4: unknown parameter: my=y", r.stderr)

    def test_unimplemented_parameter_warns_with_line(self):
        d, r = self.conf("allow_mail_to_commands = alias\n"
                         "smtpd_sasl_auth_enable = no\n"
                         "smtp_tls_per_site = hash:/etc/postfix/tls_per_site\n"
                         "smtp_tls_session_cache_database = btree:/x\n", "-n")
        self.assertEqual(r.returncode, 0)
        self.assertIn("main.cf, line 1: allow_mail_to_commands=alias: "
                      "accepted for Postfix compatibility but not "
                      "implemented by postern: the setting has no effect",
                      r.stderr)
        self.assertIn("line 3: smtp_tls_per_site=", r.stderr)
        # the default value of one, and one whose purpose postern serves
        # another way (tickets, a cache in memory): no warning
        self.assertNotIn("smtpd_sasl_auth_enable", r.stderr)
        self.assertNotIn("smtp_tls_session_cache_database", r.stderr)
        self.assertEqual(r.stderr.count("not implemented"), 2, r.stderr)

    def test_missing_equals(self):
        d, r = self.conf("myhostname = x\ngarbage line\n", "-n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 2: missing '=' after attribute name", r.stderr)

    def test_expansion_loop(self):
        d, r = self.conf("a = $b\nb = $a\nmyhostname = $a\n", "-n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("myhostname", r.stderr)
        self.assertIn("nesting", r.stderr)

    def test_override(self):
        d, r = self.conf("myhostname = x.example\n", "-o",
                         "myhostname=y.example", "-x", "myhostname",
                         "myorigin")
        self.assertEqual(r.stdout,
                         "myhostname = y.example\nmyorigin = y.example\n")

    def test_environment_config_dir(self):
        d, _ = self.conf("relayhost = [smart.example]:587\n")
        r = pt.postern("conf", "-h", "relayhost",
                       env={"POSTERN_CONFIG_DIR": d})
        self.assertEqual(r.stdout, "[smart.example]:587\n")

    def test_unknown_option_and_name(self):
        r = pt.postern("conf", "-Q")
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage:", r.stderr)
        d, r = self.conf("", "no_such_parameter")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no_such_parameter: unknown parameter", r.stderr)


if __name__ == "__main__":
    pt.main()
