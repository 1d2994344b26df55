/* /etc/passwd and /etc/group for the container, so that the user's name and
 * groups resolve inside it.  yurt generates new files from the image's and
 * mounts them over; the image is never edited.
 *
 * The image's lines are copied verbatim, comments and malformed lines
 * included (NSS skips those, and they are not ours to repair), except those
 * that clash with the user's entry: the same name, or the same uid (gid).
 * The user's entry is appended.  For uid 0 (--root), the image's own "root"
 * line with uid 0 is kept instead, as the image knows its root account best.
 * In a user namespace with one mapping, files of other users and the user's
 * supplementary groups show up as the overflow id 65534: an entry for it
 * (nobody / nogroup) is appended when the image has none. */
#ifndef YURT_PASSWD_H
#define YURT_PASSWD_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* Who the user is inside the container. */
struct yurt_identity {
	uid_t uid;
	gid_t gid;
	char *name;
	char *gecos;
	char *home;
	char *shell;   /* the host's login shell; it may be missing in the image */
	char *group;   /* name of the primary group */
};

#define YURT_OVERFLOW_ID 65534

/* Fills ID from the host's user database (getpwuid_r, getgrgid_r) for UID and
 * its primary group GID; or with FAKE_ROOT, as root (0, 0, /root, /bin/sh).
 * A uid or gid the database lacks gets a made-up name ("uid1234", "gid1234"),
 * home "/" and a warning, so that a job still runs on a node whose directory
 * service is missing an entry. */
int yurt_identity_from_host(struct yurt_identity *id, uid_t uid, gid_t gid, bool fake_root,
			    struct yurt_err *err);
void yurt_identity_free(struct yurt_identity *id);

/* The container's /etc/passwd, from the image's (NULL when it has none).  The
 * user's shell is ID's when SHELL_IN_IMAGE (the caller looked it up in the
 * image), else /bin/sh.  Returns malloc'd text, or NULL with err set (a
 * field containing ':' or a newline would corrupt the file). */
char *yurt_passwd_generate(const char *image_passwd, const struct yurt_identity *id,
			   bool shell_in_image, struct yurt_err *err);

/* The container's /etc/group, from the image's (may be NULL): the primary
 * group with the user as its member. */
char *yurt_group_generate(const char *image_group, const struct yurt_identity *id,
			  struct yurt_err *err);

#endif
