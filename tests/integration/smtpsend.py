# SPDX-License-Identifier: MIT
"""smtpsend - run the smtp_send test tool (postern's SMTP client) and parse
what it prints: one dict per recipient, plus the log on stderr."""
import os
import re

import pt

TOOL = os.path.join(os.path.dirname(pt.BIN), "smtp_send")

LINE = re.compile(r"^rcpt=<([^>]*)> status=(\S+) dsn=(\S*) text=(.*)$")


def send(confdir, nexthop, rcpts, extra=(), timeout=300):
    """Deliver one message; returns (results by address, stderr text)."""
    args = [TOOL, "-c", confdir, "-q", os.path.join(confdir, "queue")]
    args += list(extra) + [nexthop] + list(rcpts)
    p = pt.run(args, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("smtp_send failed (%d): %s\n%s" %
                             (p.returncode, p.stdout, p.stderr))
    res = {}
    for ln in p.stdout.splitlines():
        m = LINE.match(ln)
        if m:
            res.setdefault(m.group(1), []).append(
                {"status": m.group(2), "dsn": m.group(3),
                 "text": m.group(4)})
    return res, p.stderr


def write_main_cf(d, **params):
    """A client main.cf with short timeouts and the given parameters."""
    os.makedirs(d, exist_ok=True)
    base = {"myhostname": "client.test", "smtp_tls_loglevel": "1",
            "smtp_connect_timeout": "10s", "smtp_helo_timeout": "10s"}
    base.update(params)
    with open(os.path.join(d, "main.cf"), "w") as f:
        for k, v in base.items():
            f.write("%s = %s\n" % (k, v))
    return d
