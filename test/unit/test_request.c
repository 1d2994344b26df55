/* Bind specifications and the plan built from a request. */
#include <criterion/criterion.h>
#include <string.h>

#include "plan.h"
#include "request.h"
#include "siteconf.h"

static struct yurt_bind parse_ok(const char *spec)
{
	struct yurt_bind b;
	struct yurt_err err;
	cr_assert_eq(yurt_bind_parse(&b, spec, "/work", &err), 0, "%s: %s", spec, err.msg);
	return b;
}

static void parse_bad(const char *spec, const char *why)
{
	struct yurt_bind b;
	struct yurt_err err;
	cr_assert_eq(yurt_bind_parse(&b, spec, "/work", &err), -1, "%s parsed", spec);
	cr_expect(strstr(err.msg, why), "%s: '%s' lacks '%s'", spec, err.msg, why);
}

Test(bind, forms)
{
	struct yurt_bind b = parse_ok("/data");
	cr_expect_str_eq(b.src, "/data");
	cr_expect_str_eq(b.dst, "/data");
	cr_expect(!b.readonly);
	yurt_bind_free(&b);
	b = parse_ok("/data:/mnt");
	cr_expect_str_eq(b.dst, "/mnt");
	yurt_bind_free(&b);
	b = parse_ok("/data:/mnt:ro");
	cr_expect(b.readonly);
	yurt_bind_free(&b);
	b = parse_ok("/data:/mnt:rw");
	cr_expect(!b.readonly);
	yurt_bind_free(&b);
	b = parse_ok("rel/dir:/x");
	cr_expect_str_eq(b.src, "/work/rel/dir");
	yurt_bind_free(&b);
	b = parse_ok("rel");
	cr_expect_str_eq(b.dst, "/work/rel");
	yurt_bind_free(&b);
}

Test(bind, errors)
{
	parse_bad("", "empty source");
	parse_bad(":/x", "empty source");
	parse_bad("/a:", "empty destination");
	parse_bad("/a:rel", "absolute");
	parse_bad("/a:/b:rx", "mode must be ro or rw");
	parse_bad("/a:/b/../c", "'..'");
	parse_bad("/a:/..", "'..'");
	parse_bad("../up", "'..'");
}

Test(bind, dotdot_only_as_a_component)
{
	struct yurt_bind b = parse_ok("/a:/b/..x/c..");
	cr_expect_str_eq(b.dst, "/b/..x/c..");
	yurt_bind_free(&b);
}

static struct yurt_host host = {
	.uid = 1000, .gid = 100, .home = "/home/u", .cwd = "/home/u/project",
	.munge_socket = "/run/munge/munge.socket.2", .slurm_conf = "/etc/slurm/slurm.conf",
};

static const struct yurt_mount *find(const struct yurt_plan *p, const char *dst)
{
	const struct yurt_mount *found = NULL;
	for (size_t i = 0; i < p->nmounts; i++)
		if (!strcmp(p->mounts[i].dst, dst))
			found = &p->mounts[i];
	return found;
}

static void build(struct yurt_plan *plan, struct yurt_request *req, struct yurt_host *h)
{
	struct yurt_siteconf site;
	struct yurt_err err;
	yurt_siteconf_init(&site);
	cr_assert_eq(yurt_plan_build(plan, req, h, &site, &err), 0, "%s", err.msg);
	yurt_siteconf_free(&site);
}

Test(plan, defaults)
{
	struct yurt_request req;
	struct yurt_plan plan;
	yurt_request_init(&req);
	build(&plan, &req, &host);
	for (const char *d = "/dev\0/proc\0/sys\0/tmp\0/home/u\0/etc/passwd\0/etc/group\0/etc/resolv.conf\0/etc/hosts\0"; *d; d += strlen(d) + 1)
		cr_expect_not_null(find(&plan, d), "no mount on %s", d);
	cr_expect_eq(find(&plan, "/proc")->kind, YURT_MOUNT_BIND);
	/* The cwd is inside the bound home: no second bind. */
	cr_expect_null(find(&plan, "/home/u/project"));
	cr_expect_str_eq(plan.workdir, "/home/u/project");
	cr_expect_eq(plan.uid, 1000);
	cr_expect_eq(plan.gid, 100);
	yurt_plan_free(&plan);
}

Test(plan, options_change_the_mounts)
{
	struct yurt_request req;
	struct yurt_plan plan;
	struct yurt_err err;
	yurt_request_init(&req);
	req.no_home = req.private_tmp = req.pid_ns = req.fake_root = true;
	cr_assert_eq(yurt_request_add_bind(&req, "/data:/mnt:ro", "/", &err), 0);
	build(&plan, &req, &host);
	cr_expect_null(find(&plan, "/home/u"));
	cr_expect_eq(find(&plan, "/tmp")->kind, YURT_MOUNT_TMPFS);
	cr_expect_eq(find(&plan, "/proc")->kind, YURT_MOUNT_PROC);
	cr_expect(find(&plan, "/mnt")->readonly);
	/* Without home, the cwd gets its own bind. */
	cr_expect_not_null(find(&plan, "/home/u/project"));
	cr_expect_eq(plan.uid, 0);
	yurt_plan_free(&plan);
	yurt_request_free(&req);
}

Test(plan, user_binds_come_after_defaults)
{
	struct yurt_request req;
	struct yurt_plan plan;
	struct yurt_err err;
	yurt_request_init(&req);
	cr_assert_eq(yurt_request_add_bind(&req, "/scratch:/tmp", "/", &err), 0);
	build(&plan, &req, &host);
	cr_expect_str_eq(find(&plan, "/tmp")->src, "/scratch");
	yurt_plan_free(&plan);
	yurt_request_free(&req);
}

Test(plan, cwd_in_system_dir_is_not_bound)
{
	struct yurt_request req;
	struct yurt_plan plan;
	struct yurt_host h = host;
	yurt_request_init(&req);
	const char *cwds[] = { "/", "/usr", "/usr/share/doc", "/etc/x", "/opt", "/lib64/y" };
	for (size_t i = 0; i < sizeof cwds / sizeof *cwds; i++) {
		h.cwd = cwds[i];
		build(&plan, &req, &h);
		if (strcmp(cwds[i], "/"))
			cr_expect_null(find(&plan, cwds[i]), "bound %s", cwds[i]);
		cr_expect(plan.workdir_fallback);
		yurt_plan_free(&plan);
	}
	h.cwd = "/opt/app/run";
	build(&plan, &req, &h);
	cr_expect_not_null(find(&plan, "/opt/app/run"));
	yurt_plan_free(&plan);
}

Test(plan, no_cwd_and_workdir)
{
	struct yurt_request req;
	struct yurt_plan plan;
	yurt_request_init(&req);
	req.no_cwd = req.no_home = true;
	build(&plan, &req, &host);
	cr_expect_null(find(&plan, "/home/u/project"));
	cr_expect_str_eq(plan.workdir, "/");
	cr_expect(!plan.workdir_fallback);
	yurt_plan_free(&plan);
	req.workdir = strdup("/data");
	build(&plan, &req, &host);
	cr_expect_str_eq(plan.workdir, "/data");
	yurt_plan_free(&plan);
	yurt_request_free(&req);
}

Test(plan, slurm_binds_munge_and_config)
{
	struct yurt_request req;
	struct yurt_plan plan;
	yurt_request_init(&req);
	req.slurm = true;
	build(&plan, &req, &host);
	cr_expect_not_null(find(&plan, "/run/munge"));
	cr_expect_not_null(find(&plan, "/etc/slurm"));
	yurt_plan_free(&plan);
}

Test(plan, system_dirs)
{
	cr_expect(yurt_is_system_dir("/"));
	cr_expect(yurt_is_system_dir("/usr/lib"));
	cr_expect(yurt_is_system_dir("/home"));
	cr_expect(!yurt_is_system_dir("/home/u"));
	cr_expect(!yurt_is_system_dir("/scratch/job"));
	cr_expect(!yurt_is_system_dir("/usrdata/x"));
}
