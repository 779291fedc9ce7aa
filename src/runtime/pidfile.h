/*
 * pidfile.h - the PID file of a daemon (JWTD_PID_FILE): claimed before start-up, written
 * once the process serves, removed at a clean exit. Init scripts and logrotate read it to
 * signal the process.
 */
#ifndef JWTD_RUNTIME_PIDFILE_H
#define JWTD_RUNTIME_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads the process id in path. Returns it, 0 when the file is missing, or -1 when it
 * cannot be read or holds no positive decimal number.
 */
pid_t pidfile_read(const char *path);
/*
 * Checks that path may become this process's PID file: missing, stale (names no live
 * process), unreadable garbage, or naming this process. Returns 0, or ERR_CONFLICT with a
 * message in err (cap bytes) when it names another live process.
 */
int pidfile_check(const char *path, char *err, size_t cap);
/*
 * Writes this process's id and a newline to path atomically (mode 0644), replacing what
 * was there. Returns 0 or ERR_IO with a message in err.
 */
int pidfile_write(const char *path, char *err, size_t cap);
/* Removes path if it still names this process (another instance may have taken it over). */
void pidfile_remove(const char *path);

#endif
