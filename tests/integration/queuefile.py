# SPDX-License-Identifier: MIT
"""The parts of a postern queue file (docs/queue-format.md), for tests
that check what was queued: the message and the envelope records."""


def records(buf):
    """(tag, value) pairs of a record sequence (TAG SP LEN SP VALUE LF)."""
    out, i = [], 0
    while i < len(buf):
        sp1 = buf.index(b" ", i)
        sp2 = buf.index(b" ", sp1 + 1)
        n = int(buf[sp1 + 1:sp2])
        tag = buf[i:sp1].decode()
        val = buf[sp2 + 1:sp2 + 1 + n]
        assert buf[sp2 + 1 + n:sp2 + 2 + n] == b"\n", "bad record end"
        out.append((tag, val.decode("utf-8", "surrogateescape")))
        i = sp2 + 2 + n
    return out


def _lens(data):
    assert data.startswith(b"POSTERN-QUEUE 1\n"), data[:20]
    return int(data[16:32], 16), int(data[33:41], 16)


def message(data):
    """The message (headers and body, as queued) of a queue file."""
    body_len, _ = _lens(data)
    return data[69:69 + body_len]


def envelope(data):
    """The envelope records of a queue file, as (tag, value) pairs."""
    body_len, env_len = _lens(data)
    return records(data[69 + body_len:69 + body_len + env_len])


def sender(data):
    return [v for t, v in envelope(data) if t == "sender"][0]


def rcpts(data):
    return [v for t, v in envelope(data) if t == "rcpt"]


def rcpt_fields(data):
    """Each recipient with the records that belong to it (notify, orcpt,
    rstate...), as (address, {tag: value})."""
    out = []
    for tag, value in envelope(data):
        if tag == "rcpt":
            out.append((value, {}))
        elif out and tag in ("orcpt", "notify", "rstate", "rreason",
                             "rnext"):
            out[-1][1][tag] = value
    return out
