/*
 * lock.h - the lock against concurrent runners: flock() on .ferry/lock,
 * which the kernel releases when the holder dies, so a crashed run never
 * leaves a stale lock. The holder writes "pid host since" into the file so
 * that status can say who holds it.
 */
#ifndef FR_LOCK_H
#define FR_LOCK_H

#include "util/buf.h"

typedef struct {
	int fd;      /* -1 when not held */
	int waited;  /* the last acquire found it held and had to wait */
} fr_lock;

#define FR_LOCK_INIT { -1, 0 }

/*
 * Takes the lock, waiting up to wait_seconds (0: not at all). Returns 0,
 * FERRY_ELOCKED with a message naming the holder, FERRY_EINTERRUPTED when
 * *stop became non-zero while waiting (stop may be NULL), or FERRY_EFAILED
 * when the file cannot be opened.
 */
#include <signal.h>
int fr_lock_acquire(fr_lock *l, const char *ferry_dir, int wait_seconds,
                    volatile sig_atomic_t *stop, fr_buf *err);
void fr_lock_release(fr_lock *l);

typedef struct {
	long pid;
	char host[256];
	char since[64]; /* RFC 3339 */
} fr_lock_holder;

/* 1 when another open file holds the lock (filling h), 0 when free, -1 on error. */
int fr_lock_probe(const char *ferry_dir, fr_lock_holder *h);

/* Removes the lock file, so that later runners lock a new one (unlock --force). */
int fr_lock_remove(const char *ferry_dir);

#endif
