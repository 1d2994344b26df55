/* Starting the command: PATH search with the container's PATH, and the
 * shell's exit statuses for what cannot be run. */
#ifndef YURT_EXEC_H
#define YURT_EXEC_H

#include "error.h"

/* Searches argv[0] in the PATH of ENVP (the container's, not yurt's own) and
 * execs it.  Returns only on failure: status 127 when nothing was found, 126
 * when something was found but could not be executed. */
int yurt_exec(char *const argv[], char *const envp[], struct yurt_err *err);

#endif
