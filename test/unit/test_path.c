/* Path resolution inside a root full of hostile symlinks. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"

static char root[] = "/tmp/yurt-test-path.XXXXXX";
static int root_fd = -1;

static void make(const char *rel, const char *link_target)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	if (link_target)
		cr_assert_eq(symlink(link_target, path), 0, "symlink %s", path);
	else
		cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s", path);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(root));
	make("etc", NULL);
	make("usr", NULL);
	make("usr/lib", NULL);
	make("abs", "/etc");               /* absolute: means the root's /etc */
	make("climb", "../../../../etc");  /* climbs above the root */
	make("usr/rel", "../etc");
	make("loop1", "loop2");
	make("loop2", "loop1");
	make("dangling", "/nowhere/deeper");
	make("chain", "abs");
	make("host", "/proc/self/root/etc"); /* a magic link on the host: stays a path inside */
	int fd = open(root, O_PATH | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	root_fd = fd;
	char file[4096];
	snprintf(file, sizeof file, "%s/etc/passwd", root);
	close(open(file, O_CREAT | O_WRONLY, 0644));
}

static void teardown(void)
{
	char cmd[4200];
	close(root_fd);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(path, .init = setup, .fini = teardown);

static void expect(const char *path, const char *canonical, size_t exists)
{
	struct yurt_err err;
	char *out = NULL;
	size_t len = 99;
	cr_assert_eq(yurt_path_resolve(root_fd, path, &out, &len, &err), 0, "%s: %s", path, err.msg);
	cr_expect_str_eq(out, canonical, "%s", path);
	cr_expect_eq(len, exists, "%s: exists_len %zu, expected %zu", path, len, exists);
	free(out);
}

Test(path, plain_paths)
{
	expect("/", "/", 1);
	expect("/etc", "/etc", 4);
	expect("//etc/./", "/etc", 4);
	expect("/usr/lib", "/usr/lib", 8);
}

Test(path, dotdot_stops_at_root)
{
	expect("/../../etc", "/etc", 4);
	expect("/usr/../etc", "/etc", 4);
}

Test(path, absolute_symlink_resolves_inside_root)
{
	expect("/abs/x", "/etc/x", 4);
	expect("/abs", "/etc", 4);
	expect("/chain/passwd", "/etc/passwd", 11);
}

Test(path, climbing_relative_symlink_stays_inside)
{
	expect("/climb/x/y", "/etc/x/y", 4);
	expect("/usr/rel/x", "/etc/x", 4);
}

Test(path, missing_components_are_literal)
{
	expect("/home/user", "/home/user", 0);
	expect("/etc/a/b/../c", "/etc/a/c", 4);
	expect("/dangling/x", "/nowhere/deeper/x", 0);
	expect("/home/../etc", "/etc", 4);
}

Test(path, magic_host_link_is_only_a_name)
{
	expect("/host/x", "/proc/self/root/etc/x", 0);
}

Test(path, symlink_loop_is_an_error)
{
	struct yurt_err err;
	char *out = NULL;
	size_t len;
	cr_assert_eq(yurt_path_resolve(root_fd, "/loop1/x", &out, &len, &err), -1);
	cr_expect_eq(err.errnum, ELOOP);
}

Test(path, file_in_the_middle_is_an_error)
{
	struct yurt_err err;
	char *out = NULL;
	size_t len;
	cr_assert_eq(yurt_path_resolve(root_fd, "/etc/passwd/x", &out, &len, &err), -1);
	cr_expect_eq(err.errnum, ENOTDIR);
}

Test(path, create_makes_directories_and_a_file)
{
	struct yurt_err err;
	struct stat st;
	char p[4200];
	cr_assert_eq(yurt_path_create(root_fd, "/new/a/b", 0, &err), 0, "%s", err.msg);
	snprintf(p, sizeof p, "%s/new/a/b", root);
	cr_expect(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	cr_assert_eq(yurt_path_create(root_fd, "/new/f/file", 1, &err), 0, "%s", err.msg);
	snprintf(p, sizeof p, "%s/new/f/file", root);
	cr_expect(stat(p, &st) == 0 && S_ISREG(st.st_mode));
	/* Existing directories are fine. */
	cr_expect_eq(yurt_path_create(root_fd, "/new/a", 0, &err), 0);
}

Test(path, is_within)
{
	cr_expect(yurt_path_is_within("/home/u", "/home"));
	cr_expect(yurt_path_is_within("/home", "/home"));
	cr_expect(!yurt_path_is_within("/homework", "/home"));
	cr_expect(yurt_path_is_within("/anything", "/"));
}
