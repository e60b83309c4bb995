/*
 * fs.h - files and paths. Every file ferry writes for the user goes through
 * fr_write_atomic(): a temporary file beside the target, fsync, rename,
 * fsync of the folder, so a reader sees the old content or the new, never
 * a torn one.
 */
#ifndef FR_FS_H
#define FR_FS_H

#include "buf.h"

#include <stdint.h>
#include <sys/types.h>

/* Appends the whole file to out. Returns 0, or -1 with errno set. */
int fr_read_file(const char *path, fr_buf *out);

/*
 * Replaces path with data atomically. An existing file keeps its mode (and
 * owner when we may); a new one gets mode. Returns 0, or -1 with errno set.
 */
int fr_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/*
 * ferry's temporary files (atomic writes, copies) are named so that
 * recovery finds them: ".ferry-tmp.NAME.PID" beside NAME. fr_tmp_path
 * appends that name for path to out (0, or -1 out of memory, when out
 * may hold a part of it: the caller releases out either way);
 * fr_is_tmp_name says whether a file name is one; fr_sweep_tmp removes
 * every one under dir (depth folders down, symlinks and .git left alone)
 * and returns how many.
 */
#define FR_TMP_MARK "ferry-tmp."
int fr_tmp_path(fr_buf *out, const char *path);
int fr_is_tmp_name(const char *name);
int fr_sweep_tmp(const char *dir, int depth);

/* Writes all len bytes of p to fd, again after EINTR. Returns 0, or -1 with errno set. */
int fr_write_all(int fd, const void *p, size_t len);

/* fsync of the folder holding path. */
int fr_fsync_parent(const char *path);

/* mkdir -p; existing folders are fine. Returns 0, or -1 with errno set. */
int fr_mkdir_p(const char *path, mode_t mode);

/* a "/" b, without doubling slashes; an absolute b is returned as is. NULL on OOM. */
char *fr_path_join(const char *a, const char *b);

/* Free bytes for an unprivileged user where path would live (its nearest
 * existing folder); -1 when unknown. */
int64_t fr_free_bytes(const char *path);

/* rm -rf that never follows links. 0, or -1 with errno set. */
int fr_rmtree(const char *path);

/* 1 when path exists (any kind), else 0. */
int fr_exists(const char *path);

/*
 * 1 when this user could write path: an existing file and its folder (for
 * a journal or an atomic rename), an existing folder, or, when path does
 * not exist yet, the nearest existing folder above it. 0 with errno set.
 */
int fr_writable(const char *path);

/* Modification time in nanoseconds from a stat buffer. */
struct stat;
int64_t fr_mtime_ns(const struct stat *st);

/*
 * The later of the modification and the change time, in nanoseconds: what
 * the stat checks compare (the catalog, the checksum cache, the no-op
 * fingerprints). An edit that keeps the size and puts the old mtime back
 * (touch -d, cp -p, tar) still moves the change time, which no program
 * can set.
 */
int64_t fr_stamp_ns(const struct stat *st);

/* Wall-clock milliseconds since the epoch, and a monotonic clock in ms. */
int64_t fr_now_ms(void);
double fr_mono_ms(void);

/* Formats ms since the epoch as RFC 3339 UTC ("2026-11-21T12:00:00Z") into buf (>= 32). */
void fr_time_rfc3339(int64_t ms, char *buf, size_t n);

#endif
