/* SPDX-License-Identifier: MIT */
/* event.c - libevent behind a small interface */
#include "event/event.h"
#include "base/base.h"

#include <event2/event.h>
#include <stdlib.h>

struct event_loop {
        struct event_base *base;
        void (*turn_cb)(void *); /* after each turn's callbacks */
        void *turn_arg;
};

struct event_io {
        struct event_loop *loop;
        struct event *ev;
        int fd;
        short flags; /* of ev */
        bool armed;  /* EV_PERSIST: stays added after the callback */
        bool timed;  /* ev was added with a timeout */
        void (*cb)(int, int, void *);
        void *arg;
};

struct event_timer {
        struct event *ev;
        void (*cb)(void *);
        void *arg;
};

/* event_loop_new - a loop */
struct event_loop *event_loop_new(void)
{
        struct event_loop *l = xcalloc(1, sizeof(*l));

        l->base = event_base_new();
        if (l->base == NULL) {
                free(l);
                return NULL;
        }
        return l;
}

/* event_loop_free - release */
void event_loop_free(struct event_loop *l)
{
        if (l == NULL)
                return;
        event_base_free(l->base);
        free(l);
}

/* event_loop_on_turn - call cb once after the callbacks of each turn */
void event_loop_on_turn(struct event_loop *l, void (*cb)(void *), void *arg)
{
        l->turn_cb = cb;
        l->turn_arg = arg;
}

/* event_loop_run - dispatch, one turn (a wait and the callbacks of what
 * it found) at a time */
int event_loop_run(struct event_loop *l)
{
        for (;;) {
                int rc = event_base_loop(l->base, EVLOOP_ONCE);

                if (rc == 1) /* nothing was left to wait for */
                        return 0;
                if (l->turn_cb)
                        l->turn_cb(l->turn_arg);
                if (rc < 0)
                        return -1;
                if (event_base_got_break(l->base))
                        return 0;
        }
}

/* event_loop_exit - stop dispatching */
void event_loop_exit(struct event_loop *l)
{
        event_base_loopbreak(l->base);
}

/* event_loop_reinit - after fork */
int event_loop_reinit(struct event_loop *l)
{
        return event_reinit(l->base) < 0 ? -1 : 0;
}

/* io_trampoline - libevent flags to ours */
static void io_trampoline(evutil_socket_t fd, short what, void *arg)
{
        struct event_io *io = arg;
        int w = 0;

        if (what & EV_READ)
                w |= EVENT_READ;
        if (what & EV_WRITE)
                w |= EVENT_WRITE;
        if (what & EV_TIMEOUT)
                w |= EVENT_TIMEOUT;
        io->cb((int)fd, w, io->arg);
}

/* event_io_new - an idle watcher */
struct event_io *event_io_new(struct event_loop *l, int fd,
                              void (*cb)(int, int, void *), void *arg)
{
        struct event_io *io = xcalloc(1, sizeof(*io));

        io->loop = l;
        io->fd = fd;
        io->cb = cb;
        io->arg = arg;
        return io;
}

/* event_io_new_armed - an idle watcher whose wish outlives a callback */
struct event_io *event_io_new_armed(struct event_loop *l, int fd,
                                    void (*cb)(int, int, void *), void *arg)
{
        struct event_io *io = event_io_new(l, fd, cb, arg);

        io->armed = true;
        return io;
}

/* want_armed - event_io_want for EV_PERSIST watchers: an event still added
 * for the same directions only gets its timeout moved, which libevent does
 * without a system call */
static int want_armed(struct event_io *io, short flags, long timeout_ms)
{
        struct timeval tv;

        if (io->ev && (io->flags != flags || (flags == 0 && timeout_ms <= 0) ||
                       (io->timed && timeout_ms <= 0))) {
                /* other directions, idle, or a timeout to drop (event_add
                 * with no timeout keeps the old one) */
                event_del(io->ev);
        }
        if (flags == 0 && timeout_ms <= 0)
                return 0;
        if (io->ev && io->flags != flags) {
                event_free(io->ev);
                io->ev = NULL;
        }
        if (io->ev == NULL) {
                io->ev =
                    event_new(io->loop->base, io->fd,
                              (short)(flags | EV_PERSIST), io_trampoline, io);
                if (io->ev == NULL)
                        return -1;
                io->flags = flags;
        }
        io->timed = timeout_ms > 0;
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        return event_add(io->ev, timeout_ms > 0 ? &tv : NULL) < 0 ? -1 : 0;
}

/* event_io_want - re-arm; the libevent event is reused while the wanted
 * directions stay the same, so a busy session allocates nothing here */
int event_io_want(struct event_io *io, bool rd, bool wr, long timeout_ms)
{
        short flags = (short)((rd ? EV_READ : 0) | (wr ? EV_WRITE : 0));
        struct timeval tv;

        if (io->armed)
                return want_armed(io, flags, timeout_ms);

        if (io->ev && io->flags != flags) {
                event_free(io->ev);
                io->ev = NULL;
        } else if (io->ev) {
                event_del(io->ev);
        }
        if (flags == 0 && timeout_ms <= 0)
                return 0;
        if (io->ev == NULL) {
                io->ev =
                    event_new(io->loop->base, io->fd, flags, io_trampoline, io);
                if (io->ev == NULL)
                        return -1;
                io->flags = flags;
        }
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        return event_add(io->ev, timeout_ms > 0 ? &tv : NULL) < 0 ? -1 : 0;
}

/* event_io_free - release */
void event_io_free(struct event_io *io)
{
        if (io == NULL)
                return;
        if (io->ev)
                event_free(io->ev);
        free(io);
}

/* timer_trampoline - call the user */
static void timer_trampoline(evutil_socket_t fd, short what, void *arg)
{
        struct event_timer *t = arg;

        (void)fd;
        (void)what;
        t->cb(t->arg);
}

/* event_timer_new - a stopped timer */
struct event_timer *event_timer_new(struct event_loop *l, void (*cb)(void *),
                                    void *arg)
{
        struct event_timer *t = xcalloc(1, sizeof(*t));

        t->cb = cb;
        t->arg = arg;
        t->ev = evtimer_new(l->base, timer_trampoline, t);
        if (t->ev == NULL) {
                free(t);
                return NULL;
        }
        return t;
}

/* event_timer_add - start */
int event_timer_add(struct event_timer *t, long ms)
{
        struct timeval tv = {.tv_sec = ms / 1000,
                             .tv_usec = (ms % 1000) * 1000};

        return evtimer_add(t->ev, &tv) < 0 ? -1 : 0;
}

/* event_timer_del - stop */
void event_timer_del(struct event_timer *t)
{
        evtimer_del(t->ev);
}

/* event_timer_free - release */
void event_timer_free(struct event_timer *t)
{
        if (t == NULL)
                return;
        event_free(t->ev);
        free(t);
}

/* event_signal_new - a persistent signal watcher */
struct event_timer *event_signal_new(struct event_loop *l, int signo,
                                     void (*cb)(void *), void *arg)
{
        struct event_timer *t = xcalloc(1, sizeof(*t));

        t->cb = cb;
        t->arg = arg;
        t->ev = evsignal_new(l->base, signo, timer_trampoline, t);
        if (t->ev == NULL || evsignal_add(t->ev, NULL) < 0) {
                if (t->ev)
                        event_free(t->ev);
                free(t);
                return NULL;
        }
        return t;
}
