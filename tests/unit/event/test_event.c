/* SPDX-License-Identifier: MIT */
/* test_event.c - one-shot and armed watchers on a real socket pair, and
 * the end-of-turn hook */
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

/* A turn log: which timers had run each time the turn hook was called. */
struct turns {
        struct event_loop *loop;
        struct event_timer *t[3];
        int fired;   /* timer callbacks so far */
        int hooks;   /* turn hook calls so far */
        int seen[8]; /* fired at each hook call */
        bool chain;  /* the first timer starts the third */
};

/* on_timer - count; the first may start the third for a later turn */
static void on_timer(void *arg)
{
        struct turns *tu = arg;

        if (tu->fired++ == 0 && tu->chain)
                assert_int_equal(event_timer_add(tu->t[2], 0), 0);
}

/* on_turn_hook - record how many timers had run by the end of the turn */
static void on_turn_hook(void *arg)
{
        struct turns *tu = arg;

        if (tu->hooks < 8)
                tu->seen[tu->hooks] = tu->fired;
        tu->hooks++;
}

/* run_turns - two timers due at once, then the loop runs dry */
static void run_turns(struct turns *tu)
{
        tu->loop = event_loop_new();
        assert_non_null(tu->loop);
        for (int i = 0; i < 3; i++) {
                tu->t[i] = event_timer_new(tu->loop, on_timer, tu);
                assert_non_null(tu->t[i]);
        }
        event_loop_on_turn(tu->loop, on_turn_hook, tu);
        assert_int_equal(event_timer_add(tu->t[0], 0), 0);
        assert_int_equal(event_timer_add(tu->t[1], 0), 0);
        assert_int_equal(event_loop_run(tu->loop), 0);
        for (int i = 0; i < 3; i++)
                event_timer_free(tu->t[i]);
        event_loop_free(tu->loop);
}

/* test_turn_hook_once - two timers due together are one turn: the hook
 * runs once, after both */
static void test_turn_hook_once(void **state)
{
        struct turns tu = {0};

        (void)state;
        run_turns(&tu);
        assert_int_equal(tu.fired, 2);
        assert_int_equal(tu.hooks, 1);
        assert_int_equal(tu.seen[0], 2);
}

/* test_turn_hook_later_turn - a timer started by a callback runs in the
 * next turn, after the hook of the first */
static void test_turn_hook_later_turn(void **state)
{
        struct turns tu = {.chain = true};

        (void)state;
        run_turns(&tu);
        assert_int_equal(tu.fired, 3);
        assert_int_equal(tu.hooks, 2);
        assert_int_equal(tu.seen[0], 2);
        assert_int_equal(tu.seen[1], 3);
}

/* test_turn_hook_exit - event_loop_exit ends the run after the turn,
 * and the hook still runs for it */
static void test_turn_hook_exit(void **state)
{
        struct probe p = {.stop_after = 1, .rewant = 0};
        struct turns tu = {0};
        int sv[2];

        (void)state;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(write(sv[1], "x", 1), 1);
        p.loop = event_loop_new();
        assert_non_null(p.loop);
        p.io = event_io_new_armed(p.loop, sv[0], on_io, &p);
        assert_int_equal(event_io_want(p.io, true, false, 0), 0);
        event_loop_on_turn(p.loop, on_turn_hook, &tu);
        /* armed and readable forever: only the exit ends this run */
        assert_int_equal(event_loop_run(p.loop), 0);
        assert_int_equal(p.calls, 1);
        assert_int_equal(tu.hooks, 1);
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
            cmocka_unit_test(test_turn_hook_once),
            cmocka_unit_test(test_turn_hook_later_turn),
            cmocka_unit_test(test_turn_hook_exit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
