# SPDX-License-Identifier: MIT
"""pfpeer - a private Postfix instance (Debian's package) as a test peer.

PEERS.md's recipe: its own configuration, queue and data directories, a
maillog_file and the postlog service, loopback only, started with
`postfix -c DIR start` (under script(1), because postfix explains a failed
start only on a terminal) and stopped in the test's cleanup.  The system
Postfix is never touched.
"""
import os
import shutil
import tempfile

import pt

# Every service a private instance needs besides its smtpd listeners.
MASTER_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
retry     unix  -       -       n       -       -       error
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
# A whole master.cf with one smtpd on 127.0.0.1:{port}.
MASTER = "127.0.0.1:{port} inet n - n - - smtpd\n" + MASTER_SERVICES


def tmpdir(prefix):
    """A new directory below /tmp that Postfix's unprivileged processes
    can walk (world-searchable; maillog_file must also lie below a
    maillog_file_prefixes entry): the place for an instance's base and
    the files it reads.  The caller removes it."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


class Postfix:
    """One instance under base (which must lie below /tmp and be
    world-searchable: Postfix's unprivileged processes walk it)."""

    def __init__(self, base, params, port=None):
        self.base = base
        self.conf = os.path.join(base, "conf")
        self.log = os.path.join(base, "maillog")
        self.port = port or pt.free_port()
        data = os.path.join(base, "data")
        for d in (self.conf, data, os.path.join(base, "queue")):
            os.makedirs(d)
        os.chmod(base, 0o755)
        shutil.chown(data, "postfix")
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": os.path.join(base, "queue"),
            "data_directory": data,
            "maillog_file": self.log,
            "maillog_file_prefixes": "/tmp",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "in_flow_delay": "0",
            "smtp_connect_timeout": "10s",
            "smtp_helo_timeout": "30s",
            "smtp_starttls_timeout": "30s",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
        }
        settings.update(params)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in settings.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER.format(port=self.port))

    def start(self):
        r = pt.run(["script", "-qc", "postfix -c %s start" % self.conf,
                    "/dev/null"])
        text = pt.wait_for(
            lambda: self.read(("daemon started", "fatal:")),
            "postfix started: %s %s" %
            (r.stdout, pt.run(["postfix", "-c", self.conf,
                               "check"]).stderr))
        if "fatal:" in text:
            self.stop()
            raise AssertionError("postfix did not start: " + text)
        return self

    def stop(self):
        pt.run(["postfix", "-c", self.conf, "stop"])
        pt.wait_for(lambda: pt.run(["postfix", "-c", self.conf,
                                    "status"]).returncode != 0,
                    "postfix stopped")

    def read(self, words=None):
        """The log; with words, only once it holds one of them."""
        try:
            with open(self.log, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return None
        if words is None:
            return text
        return text if any(w in text for w in words) else None


def side_by_side(tmp, pf_params, main_cf):
    """A private Postfix (pf_params, under tmp/pf) and a postern serve
    (main_cf, under tmp/postern), each on its own port of 127.0.0.1,
    started, to be given the same mail: (pf, server, postern's port).
    tmp is a tmpdir(); stop both with stop_side_by_side."""
    import srv
    pf = Postfix(os.path.join(tmp, "pf"), pf_params)
    pf.start()
    port = pt.free_port()
    while port == pf.port:
        port = pt.free_port()
    server = srv.Server(os.path.join(tmp, "postern"), main_cf,
                        [("smtp", port, [])], workers=1).start()
    return pf, server, port


def stop_side_by_side(pf, server, tmp):
    """Stop what side_by_side started and remove tmp."""
    import srv
    pf.stop()
    srv.stop_and_clean(server, tmp)
