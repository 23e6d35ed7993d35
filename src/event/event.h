/* SPDX-License-Identifier: MIT */
/*
 * event - the thin wrapper over libevent that every daemon loop uses.
 * No libevent type appears here.  One loop per process; callbacks run on
 * that loop and must not block.
 */
#ifndef POSTERN_EVENT_H
#define POSTERN_EVENT_H

#include <stdbool.h>

#define EVENT_READ 0x1
#define EVENT_WRITE 0x2
#define EVENT_TIMEOUT 0x4

struct event_loop;
struct event_io;
struct event_timer;

/* event_loop_new - a new loop; NULL when libevent cannot start. */
struct event_loop *event_loop_new(void);
/* event_loop_free - release the loop (after every watcher is freed). */
void event_loop_free(struct event_loop *);
/* event_loop_run - run until event_loop_exit or nothing is left to wait
 * for; 0, or -1 on a libevent error. */
int event_loop_run(struct event_loop *);
/* event_loop_on_turn - have event_loop_run call cb(arg) after each turn:
 * once the callbacks of everything one wait found have run, before it
 * waits again (NULL: none).  For work that is cheaper once per turn than
 * once per callback, like writing held log lines. */
void event_loop_on_turn(struct event_loop *, void (*cb)(void *), void *arg);
/* event_loop_exit - make event_loop_run return after this callback. */
void event_loop_exit(struct event_loop *);
/* event_loop_reinit - after fork(), in the child. */
int event_loop_reinit(struct event_loop *);

/* A watched file descriptor.  cb gets EVENT_READ / EVENT_WRITE /
 * EVENT_TIMEOUT bits.  The watcher is idle until event_io_want. */
struct event_io *event_io_new(struct event_loop *, int fd,
                              void (*cb)(int fd, int what, void *arg),
                              void *arg);
/* event_io_new_armed - as event_io_new, but the wish stays armed after the
 * callback until the next event_io_want changes it: a busy socket then
 * costs no epoll_ctl per wake-up.  The callback must change or drop the
 * wish (event_io_want, event_io_free) when it no longer holds, or it is
 * called again while the condition lasts. */
struct event_io *event_io_new_armed(struct event_loop *, int fd,
                                    void (*cb)(int fd, int what, void *arg),
                                    void *arg);
/* event_io_want - wait for readability and/or writability, with a timeout
 * in milliseconds (0: none); replaces the previous wish.  Neither read nor
 * write and no timeout: idle.  A watcher from event_io_new is one-shot: idle
 * again when its callback runs.  Returns 0 or -1. */
int event_io_want(struct event_io *, bool read, bool write, long timeout_ms);
/* event_io_free - stop watching and release (NULL ok); the fd stays open. */
void event_io_free(struct event_io *);

/* A one-shot timer, re-armed by event_timer_add. */
struct event_timer *event_timer_new(struct event_loop *, void (*cb)(void *arg),
                                    void *arg);
/* event_timer_add - (re)start: fire once after ms milliseconds. */
int event_timer_add(struct event_timer *, long ms);
/* event_timer_del - stop without firing. */
void event_timer_del(struct event_timer *);
/* event_timer_free - stop and release (NULL ok). */
void event_timer_free(struct event_timer *);

/* event_signal_new - call cb on the loop when signo arrives (persistent).
 * Returned as a timer handle so it can be freed with event_timer_free. */
struct event_timer *event_signal_new(struct event_loop *, int signo,
                                     void (*cb)(void *arg), void *arg);

#endif
