#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"

int yurt_refuse_setid(struct yurt_err *err)
{
	struct stat st;
	if (getuid() != geteuid() || getgid() != getegid() ||
	    (stat("/proc/self/exe", &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))) {
		yurt_fail(err, 0, "refusing to run setuid or setgid");
		yurt_err_hint(err, "yurt needs no privileges: install it with mode 0755 (chmod u-s,g-s)");
		return -1;
	}
	return 0;
}

int yurt_caps_lock_down(bool keep_caps, struct yurt_err *err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return yurt_fail(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
	if (keep_caps)
		return 0;
	if (cap_reset_ambient())
		return yurt_fail(err, errno, "clear ambient capabilities");
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (cap_drop_bound(c) && errno != EINVAL)
			return yurt_fail(err, errno, "drop capability %d from the bounding set", c);
	cap_t none = cap_init();
	if (!none)
		return yurt_fail(err, errno, "cap_init");
	int rc = cap_set_proc(none);
	int saved = errno;
	cap_free(none);
	if (rc)
		return yurt_fail(err, saved, "drop capabilities");
	return 0;
}
