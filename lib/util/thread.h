/*
 * thread.h - the engine's helper threads (opening PostgreSQL beside the
 * catalog scan, zstd beside the tar reader) start with every signal
 * blocked, so that SIGINT and SIGTERM reach the thread running the engine,
 * whose handlers set the stop flag.
 */
#ifndef FR_THREAD_H
#define FR_THREAD_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread; 0 or an errno. */
int fr_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
