/* yurt: the command line.  It parses arguments into a request, hands it to
 * libyurt and turns the outcome into an exit status. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "cpulist.h"
#include "log.h"
#include "request.h"
#include "run.h"
#include "topo.h"

extern char **environ;

static const char usage_main[] =
	"Usage: yurt COMMAND [OPTIONS] ...\n"
	"Runs commands in containers, unprivileged.\n"
	"\n"
	"Commands:\n"
	"  run [OPTIONS] IMAGE [--] CMD [ARG...]   run CMD in a container of IMAGE\n"
	"  topology                                summarise this node's CPUs for binding\n"
	"  help [COMMAND]                          show help\n"
	"  version                                 show the version\n"
	"\n"
	"IMAGE is a SquashFS file or a directory holding a root filesystem.\n"
	"See 'yurt help run' and yurt(1).\n";

static const char usage_run[] =
	"Usage: yurt run [OPTIONS] IMAGE [--] CMD [ARG...]\n"
	"Runs CMD in a container of IMAGE (a SquashFS file or a root directory).\n"
	"\n"
	"Files:\n"
	"  -b, --bind SRC[:DST[:ro|rw]]  bind host SRC at DST (default: SRC), read-write\n"
	"                                unless ro; repeatable\n"
	"  -w, --workdir DIR             start in DIR (default: the current directory)\n"
	"      --no-cwd                  do not bind the current directory; start in /\n"
	"      --no-home                 do not bind $HOME\n"
	"      --private-tmp             a fresh, empty /tmp instead of the host's\n"
	"      --writable-tmpfs          let writes to the image succeed, in memory;\n"
	"                                they vanish at exit\n"
	"Environment:\n"
	"  -e, --env NAME=VALUE          set NAME (NAME alone: the host's value); repeatable\n"
	"      --env-file FILE           set NAME=VALUE lines of FILE; repeatable\n"
	"      --clean-env               start from the image's environment and the\n"
	"                                essentials (HOME USER TERM PATH SLURM_* PMI_*\n"
	"                                PMIX_* OMPI_* HWLOC_*), not the host's\n"
	"Tasks:\n"
	"  -n, --ntasks N                start N copies of CMD in the one container;\n"
	"                                each gets YURT_TASK_ID, YURT_LOCAL_ID, YURT_NTASKS\n"
	"  -c, --cpus-per-task C         cores (or threads) for each task (default 1)\n"
	"      --cpu-bind=[verbose,]TYPE none|threads|cores|sockets|ldoms|map_cpu:LIST|\n"
	"                                mask_cpu:LIST, as srun (default: cores for\n"
	"                                several tasks, none for one)\n"
	"  -m, --distribution=block|cyclic  tasks over sockets (default cyclic)\n"
	"      --mem-bind=local|none     bind memory to the tasks' NUMA domains\n"
	"  -O, --overcommit              allow more tasks than cpus\n"
	"      --cgroup=auto|require|off cpuset cgroups where delegated (default auto)\n"
	"  -l, --label                   prefix output lines with the task id\n"
	"  -K, --kill-on-bad-exit        end all tasks when one fails\n"
	"      --dry-run                 print each task's cpus, start nothing\n"
	"Identity and processes:\n"
	"      --root                    be uid 0 inside (fake root), keep capabilities\n"
	"      --pid                     new PID namespace, with yurt as its init\n"
	"      --slurm                   make Slurm and MUNGE usable inside\n"
	"Output:\n"
	"  -v, --verbose                 show each setup step (twice: more)\n"
	"  -q, --quiet                   show errors only\n"
	"  -h, --help                    show this help\n"
	"\n"
	"Exit status: CMD's own; 128+N when CMD is killed by signal N; 125 when yurt\n"
	"fails; 126 when CMD cannot be executed; 127 when CMD is not found.\n";

enum {
	OPT_ENV_FILE = 256, OPT_CLEAN_ENV, OPT_NO_CWD, OPT_NO_HOME, OPT_ROOT, OPT_PID,
	OPT_WRITABLE_TMPFS, OPT_PRIVATE_TMP, OPT_SLURM, OPT_CPU_BIND, OPT_MEM_BIND, OPT_DRY_RUN,
	OPT_CGROUP,
};

static const struct option run_options[] = {
	{ "bind", required_argument, NULL, 'b' },
	{ "env", required_argument, NULL, 'e' },
	{ "env-file", required_argument, NULL, OPT_ENV_FILE },
	{ "clean-env", no_argument, NULL, OPT_CLEAN_ENV },
	{ "workdir", required_argument, NULL, 'w' },
	{ "no-cwd", no_argument, NULL, OPT_NO_CWD },
	{ "no-home", no_argument, NULL, OPT_NO_HOME },
	{ "root", no_argument, NULL, OPT_ROOT },
	{ "pid", no_argument, NULL, OPT_PID },
	{ "writable-tmpfs", no_argument, NULL, OPT_WRITABLE_TMPFS },
	{ "private-tmp", no_argument, NULL, OPT_PRIVATE_TMP },
	{ "slurm", no_argument, NULL, OPT_SLURM },
	{ "ntasks", required_argument, NULL, 'n' },
	{ "cpus-per-task", required_argument, NULL, 'c' },
	{ "cpu-bind", required_argument, NULL, OPT_CPU_BIND },
	{ "distribution", required_argument, NULL, 'm' },
	{ "mem-bind", required_argument, NULL, OPT_MEM_BIND },
	{ "overcommit", no_argument, NULL, 'O' },
	{ "label", no_argument, NULL, 'l' },
	{ "kill-on-bad-exit", no_argument, NULL, 'K' },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static int usage_error(struct yurt_err *err, const char *command)
{
	yurt_err_hint(err, "see 'yurt help%s%s'", *command ? " " : "", command);
	return -1;
}

/* A count of at least 1, such as -n 4. */
static int parse_count(unsigned *out, const char *option, const char *arg, struct yurt_err *err)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || n < 1 || n > 1000000 || arg[0] == '-')
		return yurt_fail(err, 0, "%s %s: expected a whole number from 1 to 1000000", option, arg);
	*out = (unsigned)n;
	return 0;
}

static int parse_run(struct yurt_request *req, int argc, char **argv, struct yurt_err *err)
{
	char cwd[PATH_MAX];
	int opt;
	if (!getcwd(cwd, sizeof cwd))
		return yurt_fail(err, errno, "getcwd");
	/* '+': options end at IMAGE, so CMD's own options are left alone. */
	while ((opt = getopt_long(argc, argv, "+:b:e:w:n:c:m:OlKvqh", run_options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_count(&req->binding.ntasks, "--ntasks", optarg, err))
				return usage_error(err, "run");
			break;
		case 'c':
			if (parse_count(&req->binding.cpus_per_task, "--cpus-per-task", optarg, err))
				return usage_error(err, "run");
			break;
		case OPT_CPU_BIND:
			if (yurt_cpu_bind_parse(&req->binding, optarg, err))
				return usage_error(err, "run");
			req->cpu_bind_given = true;
			break;
		case 'm':
			if (yurt_distribution_parse(&req->binding.dist, optarg, err))
				return usage_error(err, "run");
			break;
		case OPT_MEM_BIND:
			if (yurt_mem_bind_parse(&req->binding, optarg, err))
				return usage_error(err, "run");
			break;
		case OPT_CGROUP:
			if (yurt_cgroup_mode_parse(&req->cgroup, optarg, err))
				return usage_error(err, "run");
			break;
		case 'O': req->binding.overcommit = true; break;
		case 'l': req->label = true; break;
		case 'K': req->kill_on_bad_exit = true; break;
		case OPT_DRY_RUN: req->dry_run = true; break;
		case 'b':
			if (yurt_request_add_bind(req, optarg, cwd, err))
				return usage_error(err, "run");
			break;
		case 'e':
			if (yurt_strv_push(&req->env_sets, optarg))
				return yurt_fail(err, ENOMEM, "--env");
			break;
		case OPT_ENV_FILE:
			if (yurt_strv_push(&req->env_files, optarg))
				return yurt_fail(err, ENOMEM, "--env-file");
			break;
		case 'w':
			if (optarg[0] != '/') {
				yurt_fail(err, 0, "--workdir %s: must be an absolute path", optarg);
				return usage_error(err, "run");
			}
			free(req->workdir);
			if (!(req->workdir = strdup(optarg)))
				return yurt_fail(err, ENOMEM, "--workdir");
			break;
		case OPT_CLEAN_ENV: req->clean_env = true; break;
		case OPT_NO_CWD: req->no_cwd = true; break;
		case OPT_NO_HOME: req->no_home = true; break;
		case OPT_ROOT: req->fake_root = true; break;
		case OPT_PID: req->pid_ns = true; break;
		case OPT_WRITABLE_TMPFS: req->writable_tmpfs = true; break;
		case OPT_PRIVATE_TMP: req->private_tmp = true; break;
		case OPT_SLURM: req->slurm = true; break;
		case 'v': yurt_verbosity = yurt_verbosity < 0 ? 1 : yurt_verbosity + 1; break;
		case 'q': yurt_verbosity = -1; break;
		case 'h':
			fputs(usage_run, stdout);
			exit(0);
		case ':':
			yurt_fail(err, 0, "option %s needs an argument", argv[optind - 1]);
			return usage_error(err, "run");
		default:
			yurt_fail(err, 0, "unknown option %s", argv[optind - 1]);
			return usage_error(err, "run");
		}
	}
	if (optind >= argc) {
		yurt_fail(err, 0, "missing IMAGE");
		return usage_error(err, "run");
	}
	if (!(req->image = strdup(argv[optind++])))
		return yurt_fail(err, ENOMEM, "image");
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc) {
		yurt_fail(err, 0, "missing command to run in %s", req->image);
		return usage_error(err, "run");
	}
	req->argv = argv + optind;
	return 0;
}

static int cmd_run(int argc, char **argv, struct yurt_err *err)
{
	struct yurt_request req;
	yurt_request_init(&req);
	int status = parse_run(&req, argc, argv, err);
	if (!status)
		status = yurt_run(&req, environ, err);
	yurt_request_free(&req);
	return status;
}

static int cmd_topology(struct yurt_err *err)
{
	hwloc_topology_t topology;
	_cleanup_bitmap_ hwloc_cpuset_t allowed = hwloc_bitmap_alloc();
	if (!allowed)
		return yurt_fail(err, ENOMEM, "topology");
	if (yurt_topology_load(&topology, err))
		return -1;
	int rc = yurt_allowed_cpus(topology, allowed, err);
	if (!rc)
		yurt_topology_print(stdout, topology, allowed);
	hwloc_topology_destroy(topology);
	return rc;
}

static int cmd_help(int argc, char **argv, struct yurt_err *err)
{
	if (argc < 2) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run")) {
		fputs(usage_run, stdout);
		return 0;
	}
	yurt_fail(err, 0, "no help for '%s'", argv[1]);
	return usage_error(err, "");
}

int main(int argc, char **argv)
{
	struct yurt_err err;
	int status;

	if (yurt_refuse_setid(&err)) {
		yurt_err_print(&err);
		return YURT_EXIT_LAUNCH;
	}
	const char *command = argc > 1 ? argv[1] : NULL;
	if (!command || !strcmp(command, "-h") || !strcmp(command, "--help")) {
		fputs(usage_main, command ? stdout : stderr);
		return command ? 0 : YURT_EXIT_LAUNCH;
	}
	if (!strcmp(command, "--version") || !strcmp(command, "version")) {
		printf("yurt %s\n", YURT_VERSION);
		return 0;
	}
	if (!strcmp(command, "run"))
		status = cmd_run(argc - 1, argv + 1, &err);
	else if (!strcmp(command, "topology"))
		status = cmd_topology(&err);
	else if (!strcmp(command, "help"))
		status = cmd_help(argc - 1, argv + 1, &err);
	else {
		yurt_fail(&err, 0, "unknown command '%s'", command);
		status = usage_error(&err, "");
	}
	if (status < 0) {
		yurt_err_print(&err);
		return err.status;
	}
	return status;
}
