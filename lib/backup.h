/*
 * backup.h - backup archives of an installation (SPEC section 8), for the
 * run engine: the pre-run and checkpoint backups, restore after a failure
 * that cannot be undone, the disk-space pre-flight and rehearsals. This
 * header is the engine's interface to the module; its rooms are in
 * lib/backup/ (backup_int.h names them). It knows databases only through
 * their drivers (db/db.h: files, copy, snapshot, restore) and state.db
 * only through state.h.
 *
 * An archive is a POSIX tar (pax) stream, compressed with zstd (default,
 * multi-threaded), gzip or nothing, named
 * <backup.dir>/<app>_<YYYYMMDD_HHMMSS>[_<name>]_<type>.tar.zst (UTC; "-2",
 * "-3"... after the time when that second is taken). Its id is the file
 * name without the extension. Inside:
 *
 *   files/<path>                 the selected files: regular files, folders
 *                                and symbolic links, with mode and mtime
 *   databases/<name><ext>        each database's consistent copy, taken by
 *                                its driver's snapshot() (".sqlite", ".dump")
 *   MANIFEST.json                app, version, type, created_at, include and
 *                                exclude, the databases, and every entry's
 *                                path, type, size, mode and SHA-256
 *
 * The manifest is the last entry: each byte of the installation is read
 * once, hashed as it is written, so a file that changes during the backup
 * cannot disagree with its recorded hash. Readers verify in one pass too.
 *
 * Which files: backup.include (default: everything) less backup.exclude,
 * always less .ferry/, the backup folder, the files each database is
 * made of (its driver's files(): SQLite's file and its -wal, -shm,
 * -journal) and what cannot be restored safely (sockets,
 * devices, symbolic links that lead out of the root, names that are not
 * UTF-8), which a restore leaves alone as well. Patterns are globs on the
 * path relative to the root: '*', '?' and '[...]' within one component,
 * '**' for any number of components. An include names the top of a tree
 * ("data" takes all of data/); an exclude without '/' matches the name at
 * any depth ("*.log"), one with '/' the whole path (cache, then '/',
 * then '**': the folder and all below it).
 *
 * The archive is written to a hidden temporary name in the backup folder,
 * synced and renamed, so a failed or killed backup leaves nothing a listing
 * shows. The folder is created 0700 and archives are 0600, whatever the
 * umask. Memory stays bounded (about 40 MiB) whatever the installation's
 * size. Each backup is a row of the table `backups` in state.db.
 *
 * Locking: these take the installation's lock when the handle does not
 * hold it yet, and leave it as they found it; the engine calls them with
 * the lock held. No transaction may be open on any database of f (a
 * restore writes every page of each database).
 */
#ifndef FR_BACKUP_H
#define FR_BACKUP_H

#include "ferry_int.h"

#include <stdint.h>

/*
 * Writes a backup archive of type ("manual", "pre-run", "checkpoint",
 * "safety"; letters, digits and '-') with an optional label name (letters,
 * digits, '.', '_', '-'; NULL: none), compressed as ferry.yaml says. *out_id
 * is the new id (fr_free it). Returns 0, FERRY_EINVALID for a bad type or
 * name, FERRY_ELOCKED, FERRY_EINTERRUPTED after ferry_interrupt(), or
 * FERRY_EFAILED (disk full, unreadable file...) with nothing left behind.
 */
int fr_backup_create(ferry *f, const char *type, const char *name, char **out_id);

/*
 * Restores backup id (an id of `backup list`, or the path of an archive):
 * extracts it into a staging folder beside the root, checking every entry
 * against the manifest as it goes and refusing absolute paths, '..',
 * devices and links that lead out of the root; then, only when all of it
 * checked out, takes a safety backup (unless safety_backup is 0), moves
 * the staged files in (moving the current ones aside), restores each
 * database through its driver and records the backup's version. Any
 * failure puts everything back as it was. Returns 0, FERRY_EVERIFY when the
 * archive is damaged or unsafe (the message names the entries),
 * FERRY_EINVALID for an unknown id, FERRY_ELOCKED, FERRY_EINTERRUPTED, or
 * FERRY_EFAILED.
 */
int fr_backup_restore(ferry *f, const char *id, int safety_backup);

/*
 * The bytes a backup needs in the backup folder at most: the selected
 * files and the databases as uncompressed tar, plus room for the largest
 * database's temporary copy. Cheap (stat only). -1 on failure, with the
 * message on f.
 */
int64_t fr_backup_estimate(ferry *f);

/*
 * Copies the installation into dest_root (created if missing; it should be
 * empty) for a rehearsal: every file, folder and link under the root (not
 * include/exclude: a run needs ferry.yaml and migrations/ too) except
 * .ferry/ and the backup folder, with modes and times; absolute links
 * into the root are pointed into the copy. .ferry/state.db and each file
 * database are copied consistently by their driver's copy() (SQLite: the
 * online backup API): a database inside the root lands at the same
 * relative path; one outside lands at
 * <dest_root>/.ferry/databases/<name><snapshot_ext> (".sqlite"), and the
 * caller must point the copy's handle at it, as the copy's ferry.yaml
 * still names the original. Databases whose driver cannot copy (servers:
 * PostgreSQL) are not copied: the caller clones them. Returns 0, or -1
 * with a message appended to err.
 */
int fr_copy_installation(ferry *f, const char *dest_root, fr_buf *err);

/*
 * Where fr_copy_installation() puts the copy of file database dc under
 * real (the copy's root): the same path relative to the root, or
 * .ferry/databases/<name><ext> for one outside it. *out is NULL for a
 * database that is no files here.
 */
int fr_copy_db_path(ferry *f, const fr_dbconf *dc, const char *real, char **out, fr_buf *err);

/*
 * The reuse of a pre-run backup by a later attempt (reuse.c says when it
 * is safe). fr_backup_fingerprint: the SHA-256 of what a backup would hold
 * as stat sees it (paths, modes, sizes, mtimes of the selected files and
 * the database files) into out; 0, 1 when a database has no files to stat
 * (a server), -1 on error. fr_backup_note_prerun: notes a pre-run backup
 * just taken with the version, registry digest and fingerprint it was
 * taken at (a NULL or empty fingerprint notes none). fr_backup_reusable:
 * the id of the noted backup (the caller frees it) when it may stand for
 * a new run's at this version and registry digest, else NULL.
 */
int fr_backup_fingerprint(ferry *f, char out[65]);
void fr_backup_note_prerun(ferry *f, const char *id, const char *version, const char *registry,
                           const char *fingerprint);
char *fr_backup_reusable(ferry *f, const char *version, const char *registry);
/*
 * After a run that used backup id was rolled back to where it began: the
 * installation is again what id holds (less ferry's own bookkeeping, such
 * as its record table made in a database), so the note takes the
 * fingerprint of now. Does nothing when id is not the noted backup.
 */
void fr_backup_refresh_prerun(ferry *f, const char *id);

/*
 * Glob matching as backup.include/exclude use it (see above), exposed for
 * tests: 1 when pattern matches the whole relative path.
 */
int fr_backup_glob(const char *pattern, const char *path);

#endif
