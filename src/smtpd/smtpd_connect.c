/* SPDX-License-Identifier: MIT */
/*
 * smtpd_connect.c - the client sockets of the server's helpers (Dovecot's
 * auth service, policy services, milters): a UNIX socket path or
 * inet:host:port, connected without blocking on the connect itself, and
 * the non-blocking reads and writes they all do.
 */
#include "smtpd/smtpd_int.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* connect_inet - "host:port" ("[v6]:port"; a name is looked up here) */
static int connect_inet(const char *hp, bool *pending)
{
        const char *colon = strrchr(hp, ':');
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_NUMERICSERV},
                        *ai = NULL;
        int fd, rc;

        if (colon == NULL || colon == hp || colon[1] == 0) {
                errno = EINVAL;
                return -1;
        }
        char *host = xstrndup(hp, (size_t)(colon - hp));
        size_t n = strlen(host);
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
                memmove(host, host + 1, n - 2);
                host[n - 2] = 0;
        }
        rc = getaddrinfo(host, colon + 1, &hints, &ai);
        free(host);
        if (rc != 0) {
                errno = EHOSTUNREACH;
                return -1;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
        rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
        if (rc < 0 && fd >= 0 && errno == EINPROGRESS) {
                *pending = true;
                return fd;
        }
        if (rc < 0 && fd >= 0) {
                int e = errno;
                close(fd);
                errno = e;
                return -1;
        }
        return fd;
}

/* smtpd_connect_start - a non-blocking socket to target */
int smtpd_connect_start(const char *target, bool *pending)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        *pending = false;
        if (str_has_prefix(target, "inet:"))
                return connect_inet(target + 5, pending);
        if (strlen(target) >= sizeof(sa.sun_path)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        memcpy(sa.sun_path, target, strlen(target) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        /* a UNIX connect is done at once (EAGAIN, a full listen queue,
         * is a failure to try again later, not a connect in progress) */
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                errno = e;
                return -1;
        }
        return fd;
}

/* smtpd_connect_result - whether a pending connect succeeded */
int smtpd_connect_result(int fd)
{
        int e = 0;
        socklen_t l = sizeof(e);

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
                return -1;
        if (e) {
                errno = e;
                return -1;
        }
        return 0;
}

/* smtpd_conn_send - out from *off on, until sent or the socket is full */
int smtpd_conn_send(int fd, const struct strbuf *out, size_t *off)
{
        while (*off < out->len) {
                ssize_t n =
                    send(fd, out->s + *off, out->len - *off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                if (n <= 0) {
                        if (n == 0)
                                errno = EPIPE;
                        return -1;
                }
                *off += (size_t)n;
        }
        return 0;
}

/* smtpd_conn_recv - what the socket has, up to max bytes in in */
int smtpd_conn_recv(int fd, struct strbuf *in, size_t max)
{
        char buf[16384];

        while (in->len < max) {
                size_t room = max - in->len;
                ssize_t n =
                    recv(fd, buf, room < sizeof(buf) ? room : sizeof(buf), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                if (n <= 0) {
                        if (n == 0)
                                errno = 0; /* the end of the stream */
                        return -1;
                }
                strbuf_add(in, buf, (size_t)n);
        }
        return 0;
}
