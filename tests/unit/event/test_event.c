/* SPDX-License-Identifier: MIT */
/* test_event.c - one-shot and armed watchers on a real socket pair */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <unistd.h>

#include "event/event.h"

/* What a callback saw, and what it does next. */
struct probe {
        struct event_loop *loop;
        struct event_io *io;
        int calls;
        int what[8];
        int stop_after; /* event_loop_exit at this many calls; 0 never */
        int rewant;     /* 0 leave the wish, 1 read again, 2 idle */
};

/* on_io - record the call, then act as the probe says */
static void on_io(int fd, int what, void *arg)
{
        struct probe *p = arg;

        (void)fd;
        if (p->calls < 8)
                p->what[p->calls] = what;
        p->calls++;
        if (p->rewant == 1)
                assert_int_equal(event_io_want(p->io, true, false, 0), 0);
        else if (p->rewant == 2)
                assert_int_equal(event_io_want(p->io, false, false, 0), 0);
        if (p->stop_after && p->calls >= p->stop_after)
                event_loop_exit(p->loop);
}

/* run - a watcher on one end of a socket pair holding one unread byte */
static void run(struct probe *p, bool armed, bool rd, bool wr, long ms,
                bool data)
{
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        if (data)
                assert_int_equal(write(sv[1], "x", 1), 1);
        p->loop = event_loop_new();
        assert_non_null(p->loop);
        p->io = armed ? event_io_new_armed(p->loop, sv[0], on_io, p)
                      : event_io_new(p->loop, sv[0], on_io, p);
        assert_int_equal(event_io_want(p->io, rd, wr, ms), 0);
        assert_int_equal(event_loop_run(p->loop), 0);
        event_io_free(p->io);
        event_loop_free(p->loop);
        close(sv[0]);
        close(sv[1]);
}

/* test_one_shot - a plain watcher fires once, then the loop has nothing
 * left and returns */
static void test_one_shot(void **state)
{
        struct probe p = {0};

        (void)state;
        run(&p, false, true, false, 0, true);
        assert_int_equal(p.calls, 1);
        assert_int_equal(p.what[0], EVENT_READ);
}

/* test_armed_stays - an armed watcher keeps firing while the byte stays
 * unread and the callback changes nothing */
static void test_armed_stays(void **state)
{
        struct probe p = {.stop_after = 3};

        (void)state;
        run(&p, true, true, false, 0, true);
        assert_int_equal(p.calls, 3);
        for (int i = 0; i < 3; i++)
                assert_int_equal(p.what[i], EVENT_READ);
        /* wanting the same again is no change either */
        struct probe q = {.stop_after = 3, .rewant = 1};
        run(&q, true, true, false, 0, true);
        assert_int_equal(q.calls, 3);
}

/* test_armed_idle - wanting nothing stops an armed watcher: the loop
 * returns after one call */
static void test_armed_idle(void **state)
{
        struct probe p = {.rewant = 2};

        (void)state;
        run(&p, true, true, false, 0, true);
        assert_int_equal(p.calls, 1);
}

/* test_armed_timeout - no data: the timeout fires, then idle ends it; a
 * write wish on a writable socket fires at once */
static void test_armed_timeout(void **state)
{
        struct probe p = {.rewant = 2};

        (void)state;
        run(&p, true, true, false, 20, false);
        assert_int_equal(p.calls, 1);
        assert_int_equal(p.what[0], EVENT_TIMEOUT);
        struct probe w = {.rewant = 2};
        run(&w, true, false, true, 0, false);
        assert_int_equal(w.calls, 1);
        assert_int_equal(w.what[0], EVENT_WRITE);
}

/* on_end - the guard timer: stop the loop */
static void on_end(void *arg)
{
        event_loop_exit(arg);
}

/* test_armed_drops_timeout - a wish without a timeout after one with a
 * timeout really has none: the old timeout must not fire again (libevent
 * keeps an event's timeout when it is added again without one) */
static void test_armed_drops_timeout(void **state)
{
        struct probe p = {.rewant = 1};
        int sv[2];

        (void)state;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        p.loop = event_loop_new();
        p.io = event_io_new_armed(p.loop, sv[0], on_io, &p);
        assert_int_equal(event_io_want(p.io, true, false, 10), 0);
        struct event_timer *end = event_timer_new(p.loop, on_end, p.loop);
        assert_int_equal(event_timer_add(end, 200), 0);
        assert_int_equal(event_loop_run(p.loop), 0);
        assert_int_equal(p.calls, 1);
        assert_int_equal(p.what[0], EVENT_TIMEOUT);
        event_timer_free(end);
        event_io_free(p.io);
        event_loop_free(p.loop);
        close(sv[0]);
        close(sv[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_one_shot),
            cmocka_unit_test(test_armed_stays),
            cmocka_unit_test(test_armed_idle),
            cmocka_unit_test(test_armed_timeout),
            cmocka_unit_test(test_armed_drops_timeout),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
